/**
 * A child process with its own SqliteStore on a shared file, running a "raise hypothesis"
 * use-case N times: decide H<n> on the loaded record, commit conditionally on that version, re-run
 * on ConflictError. Sends back the ids it was told. Job (JSON in argv[2]): { file, incidentId,
 * name, count }.
 */
require('./tsRegister');
const { DateTime } = require('luxon');
const { openSqliteStore } = require('../../src/store/sqlite.ts');
const { ConflictError } = require('../../src/store/store.ts');

async function raise(store, job, i) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const log = await store.loadEvents(job.incidentId);
    const version = Math.max(...log.map((e) => e.seq));
    const n = log.filter((e) => e.type === 'hypothesis.raised').length + 1;
    const now = DateTime.utc();
    try {
      await store.commit({
        incidentId: job.incidentId,
        expectedSeq: version,
        requireOpen: true,
        events: [
          {
            type: 'hypothesis.raised',
            occurredAt: now,
            recordedAt: now,
            actor: { id: job.name, name: job.name },
            source: 'command',
            text: `H${n} ${job.name}-${i}`,
          },
        ],
        effects: [{ key: `reply:${job.name}-${i}`, kind: 'slack.reply', payload: { id: `H${n}` } }],
      });
      return `H${n}`;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw new Error('too many conflicts');
}

async function main() {
  const job = JSON.parse(process.argv[2]);
  const store = openSqliteStore({ file: job.file });
  const ids = await Promise.all(Array.from({ length: job.count }, (_, i) => raise(store, job, i)));
  await store.close();
  process.send({ ids }, () => process.exit(0));
}

main().catch((err) => {
  process.send({ error: String(err && err.stack) }, () => process.exit(1));
});
