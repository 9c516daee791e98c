import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite';
import { describeStoreContract, type StoreHarness } from './storeContract';

let dir: string;
let counter = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-sqlite-contract-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describeStoreContract('sqlite', async (): Promise<StoreHarness> => {
  counter += 1;
  const file = path.join(dir, `store-${counter}.sqlite`);
  const opened: SqliteStore[] = [];
  return {
    async open() {
      const store = openSqliteStore({ file });
      opened.push(store);
      return store;
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
});

describe('sqlite request path: two processes on one file', () => {
  function runCommitter(job: object): Promise<{ ids?: string[]; error?: string }> {
    return new Promise((resolve, reject) => {
      const child = fork(path.join(__dirname, '../helpers/sqliteCommitter.js'), [
        JSON.stringify(job),
      ]);
      let answer: { ids?: string[]; error?: string } | undefined;
      child.on('message', (m) => (answer = m as typeof answer));
      child.on('error', reject);
      child.on('exit', () =>
        answer ? resolve(answer) : reject(new Error('committer exited without answering')),
      );
    });
  }

  it('gives 20 concurrent hypotheses from two processes 20 distinct ids, each as stored', async () => {
    const file = path.join(dir, 'two-processes.sqlite');
    const store = openSqliteStore({ file });
    try {
      const t = DateTime.utc();
      const { incident } = await store.createIncident({
        team: 'T1',
        summary: { title: 'two', severity: 'sev2', status: 'investigating', zone: 'UTC' },
        events: [
          {
            type: 'incident.opened',
            occurredAt: t,
            recordedAt: t,
            actor: { id: 'U1', name: 'one' },
            source: 'command',
            title: 'two',
            severity: 'sev2',
            zone: 'UTC',
          },
        ],
      });
      const [a, b] = await Promise.all([
        runCommitter({ file, incidentId: incident.id, name: 'p1', count: 10 }),
        runCommitter({ file, incidentId: incident.id, name: 'p2', count: 10 }),
      ]);
      expect(a.error).toBeUndefined();
      expect(b.error).toBeUndefined();
      const told = new Map<string, string>();
      a.ids!.forEach((id, i) => told.set(`p1-${i}`, id));
      b.ids!.forEach((id, i) => told.set(`p2-${i}`, id));
      expect(new Set(told.values()).size).toBe(20);
      const stored = (await store.loadEvents(incident.id))
        .filter((e) => e.type === 'hypothesis.raised')
        .sort((x, y) => x.seq - y.seq);
      expect(stored).toHaveLength(20);
      stored.forEach((e, i) => {
        const [id, who] = (e.type === 'hypothesis.raised' ? e.text : '').split(' ');
        expect(id).toBe(`H${i + 1}`); // the record's order gives the id …
        expect(told.get(who)).toBe(id); // … and the process was told that id
      });
      // Every committed decision wrote its reply effect with it, once.
      const now = DateTime.utc();
      const effects = await store.claimEffects({
        owner: 't',
        now,
        leaseUntil: now.plus({ minutes: 1 }),
        limit: 100,
      });
      expect(effects).toHaveLength(20);
    } finally {
      await store.close();
    }
  });
});
