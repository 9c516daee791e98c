/**
 * Runs the `incident-bot` CLI (src/cli/main.ts, transpiled on the fly) in a child process, as a
 * user runs it: argv in, stdout/stderr/exit code out. Usage: node cliProcess.js <args…>
 */
require('./tsRegister');
const { main } = require('../../src/cli/main.ts');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`crashed: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 70;
  },
);
