/**
 * The CLI process entry for tests: the same `run` that bin/incident-bot.js calls, on the .ts
 * sources (no build needed). Usage: node test/helpers/cliEntry.js <cli args…>
 */
require('./tsRegister');
void require('../../src/cli/main.ts').run(process.argv.slice(2));
