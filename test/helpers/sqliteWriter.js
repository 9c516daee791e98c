/**
 * Appends events to one incident through the real SqliteStore, from a worker thread or a child
 * process (its own connection to the file).
 *
 * Job: { file, incidentId, name, count, sharedEvery, crash }
 * - event i gets key `shared-<i / sharedEvery>` when i % sharedEvery === 0 (both writers use the
 *   same shared keys), else `<name>-<i>`.
 * - worker thread: posts 'ready', waits for 'go', appends, posts the result, closes.
 * - child process (job as JSON in argv[2]): appends, sends the result, then kills itself with
 *   SIGKILL without closing the store (a crash right after the appends returned).
 */
const { isMainThread, parentPort, workerData } = require('node:worker_threads');
require('./tsRegister');
const { DateTime } = require('luxon');
const { openSqliteStore } = require('../../src/store/sqlite.ts');

async function run(job) {
  const store = openSqliteStore({ file: job.file });
  const result = { appended: 0, duplicates: 0, seqs: [], errors: [], startedAt: 0, finishedAt: 0 };
  const t0 = DateTime.fromISO('2025-03-04T10:00:00.000Z', { zone: 'utc' });
  result.startedAt = Date.now();
  for (let i = 0; i < job.count; i++) {
    const key = i % job.sharedEvery === 0 ? `shared-${i / job.sharedEvery}` : `${job.name}-${i}`;
    const at = t0.plus({ milliseconds: i });
    const event = {
      type: 'timeline.entry',
      occurredAt: at,
      recordedAt: DateTime.utc(),
      actor: { id: job.name, name: job.name },
      source: 'command',
      key,
      text: `${job.name} ${i}`,
    };
    try {
      const r = await store.append(job.incidentId, [event]);
      result.appended += r.appended.length;
      result.duplicates += r.duplicates.length;
      result.seqs.push(...r.appended.map((e) => e.seq));
    } catch (err) {
      result.errors.push(`${err.name}: ${err.message}`);
    }
  }
  result.finishedAt = Date.now();
  return { store, result };
}

if (!isMainThread) {
  parentPort.once('message', async () => {
    const { store, result } = await run(workerData);
    await store.close();
    parentPort.postMessage(result);
  });
  parentPort.postMessage('ready');
} else if (process.send) {
  run(JSON.parse(process.argv[2])).then(({ result }) => {
    process.send(result, () => process.kill(process.pid, 'SIGKILL'));
  });
}
