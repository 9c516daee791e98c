/**
 * `incident-bot migrate`: SQLite -> SQLite always (real CLI runs in a child process, exit codes),
 * and SQLite -> MongoDB -> SQLite when MONGODB_URI is set (skipped loudly otherwise).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { eventToJSON } from '../../src/core/serialize';
import type { NewEvent } from '../../src/core/model';
import { main } from '../../src/cli/main';
import { migrateStores, migrationKey } from '../../src/cli/migrate';
import { openSqliteStore } from '../../src/store/sqlite';
import type { IncidentStore } from '../../src/store/store';

const CLI = path.join(__dirname, '..', 'helpers', 'cliProcess.js');
const T0 = DateTime.fromISO('2025-03-04T10:00:00.000Z', { zone: 'utc' });
const MONGODB_URI = process.env.MONGODB_URI;

// Each CLI run is a fresh Node process that transpiles the sources: allow for a loaded machine.
jest.setTimeout(180_000);

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const note = (text: string, minutes: number, key?: string): NewEvent => ({
  type: 'timeline.entry',
  text,
  occurredAt: T0.plus({ minutes }),
  recordedAt: T0.plus({ minutes, seconds: 1 }),
  actor: { id: 'U1', name: 'Ana' },
  source: 'message',
  ...(key ? { key } : {}),
});

const summary = (title: string) =>
  ({ title, severity: 'sev2', status: 'investigating', zone: 'Europe/Paris' }) as const;

/** Two teams; INC-1..3 in T1 (INC-2 closed, with a postmortem, 1200 events), INC-1 in T2. */
async function seed(store: IncidentStore): Promise<void> {
  const a = await store.createIncident({
    team: 'T1',
    summary: { ...summary('Checkout errors'), channel: 'C_ONE' },
    events: [note('opened', 0, 'cmd:1')],
    key: 'import:abc',
  });
  await store.append(a.incident.id, [note('rollback', 5), note('better', 9, 'evt:9')], {
    status: 'monitoring',
  });
  const b = await store.createIncident({
    team: 'T1',
    summary: summary('Search empty'),
    events: [],
  });
  const many = Array.from({ length: 1200 }, (_, i) => note(`line ${i}`, i % 90));
  await store.append(b.incident.id, many);
  await store.append(b.incident.id, [note('closed', 100)], { status: 'closed' });
  await store.savePostmortem({
    incidentId: b.incident.id,
    template: 'default',
    format: 'md',
    content: '# INC-2 draft\n',
    renderedAt: T0.plus({ hours: 3 }),
  });
  await store.createIncident({ team: 'T1', summary: summary('Third'), events: [note('x', 1)] });
  await store.createIncident({
    team: 'T2',
    summary: summary('Other team'),
    events: [note('y', 2)],
  });
}

/** Everything a user can see of a store: incidents by team/number, records, latest postmortems. */
async function snapshot(store: IncidentStore, numberShift = 0) {
  const incidents = (await store.listIncidents()).sort(
    (x, y) => x.team.localeCompare(y.team) || x.number - y.number,
  );
  return Promise.all(
    incidents.map(async (i) => ({
      team: i.team,
      number: i.number - numberShift,
      title: i.title,
      status: i.status,
      severity: i.severity,
      zone: i.zone,
      channel: i.channel,
      createdAt: i.createdAt.toMillis(),
      events: (await store.loadEvents(i.id)).map((e) => eventToJSON(e)),
      postmortem: (await store.latestPostmortem(i.id))?.content,
    })),
  );
}

describe('incident-bot migrate, SQLite -> SQLite', () => {
  let dir: string;
  let from: string;
  let to: string;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'migrate-'));
    from = path.join(dir, 'from.sqlite');
    to = path.join(dir, 'to.sqlite');
    const s = openSqliteStore({ file: from });
    await seed(s);
    await s.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function both<T>(fn: (src: IncidentStore, dst: IncidentStore) => Promise<T>): Promise<T> {
    const src = openSqliteStore({ file: from });
    const dst = openSqliteStore({ file: to });
    try {
      return await fn(src, dst);
    } finally {
      await src.close();
      await dst.close();
    }
  }

  test('copies everything, verifies, and copies nothing twice when run again', async () => {
    const first = await cli(['migrate', '--from', from, '--to', to]);
    expect(first.err).toContain(`Migrating ${from} -> ${to}`);
    expect(first.out).toContain('4 incident(s): 4 created, 1206 event(s), 1 postmortem(s)');
    expect(first.out).toContain('Verified: 4 incident(s)');
    expect(first.code).toBe(0);
    await both(async (src, dst) => {
      expect(await snapshot(dst)).toEqual(await snapshot(src));
      const src1 = await src.findByNumber('T1', 1);
      expect((await dst.findByKey(migrationKey(src1!.id)))?.number).toBe(1);
    });

    const again = await cli(['migrate', '--from', from, '--to', to]);
    expect(again.code).toBe(0);
    expect(again.out).toContain('4 incident(s): 0 created, 0 event(s), 0 postmortem(s)');
    await both(async (src, dst) => {
      expect(await snapshot(dst)).toEqual(await snapshot(src));
      // A new incident in the target after the copy gets the next number.
      const next = await dst.createIncident({ team: 'T1', summary: summary('new'), events: [] });
      expect(next.incident.number).toBe(4);
    });
  });

  test('resumes after an interruption: the copy holds a prefix, the next run completes it', async () => {
    await both(async (src, dst) => {
      // Fail the second append (INC-2's third chunk of 500 events): a crash mid-copy.
      let appends = 0;
      const failing = new Proxy(dst, {
        get(target, prop, receiver) {
          if (prop === 'append') {
            return (...args: Parameters<IncidentStore['append']>) => {
              appends += 1;
              if (appends === 2) throw new Error('connection lost');
              return target.append(...args);
            };
          }
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      await expect(migrateStores(src, failing, { renumber: 'none', chunk: 500 })).rejects.toThrow(
        'connection lost',
      );
      const partial = await dst.findByNumber('T1', 2);
      expect((await dst.loadEvents(partial!.id)).length).toBe(1000);
    });
    const resumed = await cli(['migrate', '--from', from, '--to', to]);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toContain('Verified: 4 incident(s)');
    await both(async (src, dst) => expect(await snapshot(dst)).toEqual(await snapshot(src)));
  });

  test('refuses to write over other incidents with the same numbers unless told how to renumber', async () => {
    const other = openSqliteStore({ file: to });
    await other.createIncident({ team: 'T1', summary: summary('already here'), events: [] });
    await other.createIncident({ team: 'T1', summary: summary('here too'), events: [] });
    await other.close();

    const refused = await cli(['migrate', '--from', from, '--to', to]);
    expect(refused.code).toBe(3);
    expect(refused.err).toContain('T1 INC-1 ("already here"), T1 INC-2 ("here too")');
    expect(refused.err).toContain('Nothing was written');
    expect(refused.err).toContain('--renumber next');
    await both(async (_src, dst) => expect((await dst.listIncidents()).length).toBe(2));

    const offset = await cli(['migrate', '--from', from, '--to', to, '--renumber', 'offset']);
    expect(offset.code).toBe(0);
    await both(async (src, dst) => {
      const t1 = (await dst.listIncidents({ team: 'T1' })).map((i) => i.number).sort();
      expect(t1).toEqual([1, 2, 3, 4, 5]);
      expect((await dst.findByNumber('T1', 4))?.title).toBe('Search empty');
      // Per team: T2 had no incident in the target, so its numbers stay.
      expect((await dst.findByNumber('T2', 1))?.title).toBe('Other team');
      const records = async (st: IncidentStore) =>
        (await snapshot(st))
          .filter((c) => c.title !== 'already here' && c.title !== 'here too')
          .map((c) => ({ ...c, number: undefined }));
      expect(await records(dst)).toEqual(await records(src));
    });
    // Resumable and idempotent with the same renumbering.
    const again = await cli(['migrate', '--from', from, '--to', to, '--renumber', 'offset']);
    expect(again.code).toBe(0);
    expect(again.out).toContain('0 created, 0 event(s)');
  });

  test("--renumber next gives the copies the target's next numbers", async () => {
    const other = openSqliteStore({ file: to });
    await other.createIncident({ team: 'T1', summary: summary('already here'), events: [] });
    await other.close();
    const r = await cli([
      'migrate',
      '--from',
      from,
      '--to',
      to,
      '--renumber',
      'next',
      '--team',
      'T1',
    ]);
    expect(r.code).toBe(0);
    await both(async (_src, dst) => {
      expect(
        (await dst.listIncidents({ team: 'T1' })).map((i) => [i.number, i.title]).sort(),
      ).toEqual([
        [1, 'already here'],
        [2, 'Checkout errors'],
        [3, 'Search empty'],
        [4, 'Third'],
      ]);
      expect(await dst.listTeams()).toEqual(['T1']);
    });
  });

  test('bad arguments: usage errors exit 2; a missing source or the same store twice exit 3', async () => {
    const run = async (args: string[]) => {
      let out = '';
      let err = '';
      const code = await main(['migrate', ...args], {
        stdout: { write: (x: string) => (out += x) },
        stderr: { write: (x: string) => (err += x) },
        env: {},
      });
      return { code, out, err };
    };
    const missing = await run(['--from', from]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("required option '--to <store>' not specified");
    const badChoice = await run(['--from', from, '--to', to, '--renumber', 'shift']);
    expect(badChoice.code).toBe(2);
    expect(badChoice.err).toContain('Allowed choices are next, offset');
    const badOffset = await run([
      '--from',
      from,
      '--to',
      to,
      '--renumber',
      'offset',
      '--offset',
      'x',
    ]);
    expect(badOffset.code).toBe(2);
    expect(badOffset.err).toContain('--offset must be a whole number');
    const offsetAlone = await run(['--from', from, '--to', to, '--offset', '3']);
    expect(offsetAlone.code).toBe(3);
    expect(offsetAlone.err).toContain('--offset needs --renumber offset');
    const same = await run(['--from', from, '--to', from]);
    expect(same.code).toBe(3);
    expect(same.err).toContain('the same store');
    const nowhere = await run([
      '--from',
      path.join(dir, 'no', 'such', 'dir', 'x.sqlite'),
      '--to',
      to,
    ]);
    expect(nowhere.code).toBe(3);
    expect(nowhere.err).toMatch(/^incident-bot migrate: no SQLite file at .*x\.sqlite/m);
    // A real process, too: the exit code reaches the shell.
    const real = await cli(['migrate', '--from', from, '--to', from]);
    expect(real.code).toBe(3);
  });
});

if (!MONGODB_URI) {
  console.warn(
    'MongoDB migrate tests SKIPPED: MONGODB_URI is not set (no MongoDB server on this machine).',
  );
  describe.skip('incident-bot migrate with MongoDB (needs MONGODB_URI)', () => {
    test.skip('SQLite -> MongoDB -> SQLite', () => undefined);
  });
} else {
  describe('incident-bot migrate with MongoDB', () => {
    let dir: string;
    let mongo: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'migrate-mongo-'));
      const db = `incident_bot_migrate_${Date.now()}_${randomBytes(4).toString('hex')}`;
      const u = new URL(MONGODB_URI);
      u.pathname = `/${db}`;
      mongo = u.toString();
    });
    afterEach(async () => {
      rmSync(dir, { recursive: true, force: true });
      const { openLocation } = await import('../../src/cli/migrate');
      const store = (await openLocation(mongo, process.env)) as unknown as {
        connection: { dropDatabase(): Promise<unknown> };
        close(): Promise<void>;
      };
      await store.connection.dropDatabase();
      await store.close();
    });

    test('SQLite -> MongoDB -> SQLite keeps everything; each direction is idempotent', async () => {
      const from = path.join(dir, 'from.sqlite');
      const back = path.join(dir, 'back.sqlite');
      const s = openSqliteStore({ file: from });
      await seed(s);
      const expected = await snapshot(s);
      await s.close();

      const there = await cli(['migrate', '--from', from, '--to', mongo]);
      expect(there.err).not.toContain(new URL(MONGODB_URI).password || '\u0000');
      expect([there.code, there.err]).toEqual([0, expect.any(String)]);
      expect((await cli(['migrate', '--from', from, '--to', mongo])).out).toContain(
        '0 created, 0 event(s)',
      );
      const { openLocation } = await import('../../src/cli/migrate');
      const m = await openLocation(mongo, process.env);
      try {
        expect(await snapshot(m)).toEqual(expected);
      } finally {
        await m.close();
      }

      const home = await cli(['migrate', '--from', mongo, '--to', back]);
      expect([home.code, home.err]).toEqual([0, expect.any(String)]);
      expect((await cli(['migrate', '--from', mongo, '--to', back])).out).toContain(
        '0 created, 0 event(s)',
      );
      const b = openSqliteStore({ file: back });
      try {
        expect(await snapshot(b)).toEqual(expected);
      } finally {
        await b.close();
      }
    });
  });
}
