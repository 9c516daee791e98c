/**
 * The real bot (src/main.ts) in a child process, configured by its environment, for the crash
 * test: it sends `{ port }` to the parent once it listens. The parent kills it with SIGKILL.
 */
require('./tsRegister');
const { main } = require('../../src/main.ts');

main().then(
  (bot) => process.send({ port: bot.port }),
  (err) => {
    process.send({ error: String(err && err.stack) });
    process.exit(1);
  },
);
