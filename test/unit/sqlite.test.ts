import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import type { NewEvent } from '../../src/core/model';
import {
  DEFAULT_SQLITE_FILE_NAME,
  SchemaVersionError,
  openSqliteStore,
  sqliteFilePath,
  type SqliteStore,
} from '../../src/store/sqlite';
import { SQLITE_MIGRATIONS, migrate, type SqliteMigration } from '../../src/store/sqliteMigrations';
import { StoreUnavailableError, type IncidentSummary } from '../../src/store/store';

const WRITER = path.join(__dirname, '..', 'helpers', 'sqliteWriter.js');
const SUMMARY: IncidentSummary = {
  title: 'Checkout errors',
  severity: 'sev2',
  status: 'investigating',
  zone: 'eu',
};
const T0 = DateTime.fromISO('2025-03-04T10:00:00.000Z', { zone: 'utc' });

function note(text: string, key?: string): NewEvent {
  return {
    type: 'timeline.entry',
    occurredAt: T0,
    recordedAt: T0,
    actor: { id: 'U1', name: 'Alice' },
    source: 'command',
    text,
    ...(key ? { key } : {}),
  };
}

interface WriterResult {
  appended: number;
  duplicates: number;
  seqs: number[];
  errors: string[];
  /** Epoch ms before the first and after the last append. */
  startedAt: number;
  finishedAt: number;
}

interface WriterJob {
  file: string;
  incidentId: string;
  name: string;
  count: number;
  sharedEvery: number;
}

let dir: string;
let n = 0;
const opened: SqliteStore[] = [];

function freshFile(): string {
  n += 1;
  return path.join(dir, `unit-${n}.sqlite`);
}

function open(file: string, busyTimeoutMs?: number): SqliteStore {
  const s = openSqliteStore({ file, busyTimeoutMs });
  opened.push(s);
  return s;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-sqlite-unit-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('opening', () => {
  it('uses WAL, synchronous FULL, a busy timeout and foreign keys', async () => {
    const file = freshFile();
    const store = open(file);
    expect(store.kind).toBe('sqlite');
    expect(await store.settings()).toEqual({
      file,
      journalMode: 'wal',
      synchronous: 2, // FULL
      busyTimeoutMs: 5000,
      foreignKeys: true,
      schemaVersion: SQLITE_MIGRATIONS.length,
    });
    // WAL and the schema version are persistent: another connection sees them in the file.
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
    } finally {
      raw.close();
    }
  });

  it('commits claims and inbox completions (relaxed batches) and is back to FULL after them', async () => {
    const file = freshFile();
    const store = open(file);
    const now = DateTime.utc();
    const { item } = await store.enqueueInbox({
      key: 'evt:Ev_RELAXED',
      kind: 'event',
      partition: 'ch:C1',
      body: '{}',
      receivedAt: now,
    });
    const claimed = await store.claimInbox({
      owner: 'o1',
      now,
      leaseUntil: now.plus({ minutes: 1 }),
      limit: 10,
    });
    expect(claimed.map((i) => i.id)).toEqual([item.id]);
    expect((await store.settings()).synchronous).toBe(2);
    await store.completeInbox([item.id]);
    expect((await store.settings()).synchronous).toBe(2);
    // Committed: another connection sees the item done.
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.prepare('SELECT state FROM inbox WHERE key = ?').get('evt:Ev_RELAXED')).toEqual({
        state: 'done',
      });
    } finally {
      raw.close();
    }
  });

  it('puts the file in <dataDir>/incident-bot.sqlite (mkdir -p) unless `file` is given', () => {
    const dataDir = path.join(dir, 'nested', 'data');
    const store = open(sqliteFilePath({ dataDir }));
    expect(store.file).toBe(path.join(dataDir, DEFAULT_SQLITE_FILE_NAME));
    expect(statSync(store.file).isFile()).toBe(true);

    const file = freshFile();
    const unused = path.join(dir, 'unused-data-dir');
    const viaOpen = openSqliteStore({ dataDir: unused, file });
    opened.push(viaOpen);
    expect(viaOpen.file).toBe(file);
    expect(existsSync(unused)).toBe(false);

    expect(sqliteFilePath()).toBe(path.join('data', DEFAULT_SQLITE_FILE_NAME));
  });

  it('reports an unopenable path as StoreUnavailableError', () => {
    const blocker = path.join(dir, `blocker-${n}`);
    writeFileSync(blocker, 'not a directory');
    expect(() => openSqliteStore({ file: path.join(blocker, 'x.sqlite') })).toThrow(
      StoreUnavailableError,
    );
  });

  it('reports a file that is not a database as StoreUnavailableError', () => {
    const file = freshFile();
    writeFileSync(file, 'this is not an sqlite database, just some text '.repeat(100));
    expect(() => openSqliteStore({ file })).toThrow(StoreUnavailableError);
    expect(() => openSqliteStore({ file })).toThrow(/not a database/);
  });
});

describe('migrations', () => {
  it('sets user_version to the number of migrations, and reopening runs none and keeps data', async () => {
    const file = freshFile();
    const first = open(file);
    const { incident } = await first.createIncident({
      team: 'T1',
      summary: SUMMARY,
      events: [note('hello')],
    });
    await first.close();

    const raw = new Database(file);
    try {
      expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
      expect(migrate(raw, file)).toEqual([]); // nothing pending
    } finally {
      raw.close();
    }

    const again = open(file);
    expect((await again.settings()).schemaVersion).toBe(SQLITE_MIGRATIONS.length);
    expect(
      (await again.loadEvents(incident.id)).map((e) => e.type === 'timeline.entry' && e.text),
    ).toEqual(['hello']);
  });

  it('upgrades an older file in order, once, keeping its data', () => {
    const file = freshFile();
    const v1Up = jest.fn((db: Database.Database) => db.exec('CREATE TABLE t (a TEXT)'));
    const v2Up = jest.fn((db: Database.Database) =>
      db.exec("ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'"),
    );
    const v1: SqliteMigration = { version: 1, description: 't', up: v1Up };
    const v2: SqliteMigration = { version: 2, description: 't.b', up: v2Up };
    const db = new Database(file);
    try {
      expect(migrate(db, file, [v1])).toEqual([1]);
      db.prepare("INSERT INTO t (a) VALUES ('kept')").run();
      expect(migrate(db, file, [v1, v2])).toEqual([2]);
      expect(migrate(db, file, [v1, v2])).toEqual([]);
      expect(v1Up).toHaveBeenCalledTimes(1);
      expect(v2Up).toHaveBeenCalledTimes(1);
      expect(db.pragma('user_version', { simple: true })).toBe(2);
      expect(db.prepare('SELECT a, b FROM t').all()).toEqual([{ a: 'kept', b: 'x' }]);
    } finally {
      db.close();
    }
  });

  it('rolls a failing migration back entirely, leaving the version unchanged', () => {
    const file = freshFile();
    const db = new Database(file);
    try {
      const broken: SqliteMigration = {
        version: 1,
        description: 'half done',
        up(d) {
          d.exec('CREATE TABLE half (a TEXT)');
          throw new Error('boom');
        },
      };
      expect(() => migrate(db, file, [broken])).toThrow('boom');
      expect(db.pragma('user_version', { simple: true })).toBe(0);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").all()).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('refuses a file written by a newer schema version, with a clear error, leaving it untouched', () => {
    const file = freshFile();
    const newer = SQLITE_MIGRATIONS.length + 5;
    const raw = new Database(file);
    raw.pragma(`user_version = ${newer}`);
    raw.close();

    let err: unknown;
    try {
      openSqliteStore({ file });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaVersionError);
    expect((err as Error).message).toContain(`schema version ${newer}`);
    expect((err as Error).message).toContain(`supports up to version ${SQLITE_MIGRATIONS.length}`);
    expect((err as Error).message).toMatch(/newer incident-bot/);

    const check = new Database(file, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(newer);
      expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual(
        [],
      );
    } finally {
      check.close();
    }
  });
});

describe('errors', () => {
  it('rejects every call on a closed store with StoreUnavailableError', async () => {
    const store = openSqliteStore({ file: freshFile() });
    await store.close();
    await store.close(); // idempotent
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.append('x', [note('a')])).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.listIncidents()).rejects.toThrow(/closed/);
  });

  it('waits for another connection’s write lock, and reports SQLITE_BUSY after the timeout', async () => {
    const file = freshFile();
    const store = open(file, 100);
    const { incident } = await store.createIncident({ team: 'T1', summary: SUMMARY, events: [] });
    const locker = new Database(file);
    try {
      locker.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      const err = await store
        .append(incident.id, [note('blocked', 'k-blocked')])
        .catch((e: unknown) => e);
      expect(Date.now() - started).toBeGreaterThanOrEqual(80);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toMatch(/append failed \[SQLITE_BUSY\]/);
      expect((err as Error).cause).toMatchObject({ name: 'SqliteError', code: 'SQLITE_BUSY' });
      // Reads are not blocked by a writer in WAL mode.
      await expect(store.getIncident(incident.id)).resolves.toMatchObject({ number: 1 });
      locker.exec('COMMIT');
    } finally {
      locker.close();
    }
    const ok = await store.append(incident.id, [note('after', 'k-blocked')]);
    expect(ok.appended.map((e) => e.seq)).toEqual([1]);
  });

  it('validates events before writing and keeps foreign keys', async () => {
    const store = open(freshFile());
    const { incident } = await store.createIncident({ team: 'T1', summary: SUMMARY, events: [] });
    const bad = { ...note('bad', 'k-bad'), occurredAt: DateTime.fromISO('not a time') } as NewEvent;
    await expect(store.append(incident.id, [note('ok', 'k-ok'), bad])).rejects.toThrow(
      /occurredAt is invalid/,
    );
    const unknown = { ...note('?'), type: 'no.such.type' } as unknown as NewEvent;
    await expect(store.append(incident.id, [unknown])).rejects.toThrow(/unknown event type/);
    // The whole call was refused: the valid event in it was not recorded either.
    expect(await store.hasEventKey('k-ok')).toBe(false);
    await expect(
      store.append(incident.id, [note('x')], { severity: 'sev9' as 'sev1' }),
    ).rejects.toThrow(/severity/);
    await expect(
      store.savePostmortem({
        incidentId: 'nope',
        template: 'default',
        format: 'md',
        content: '',
        renderedAt: T0,
      }),
    ).rejects.toThrow(/no incident/);
  });
});

describe('durability and concurrency', () => {
  it('keeps appends that returned even if the process is killed without closing', async () => {
    const file = freshFile();
    const setup = open(file);
    const { incident } = await setup.createIncident({ team: 'T1', summary: SUMMARY, events: [] });
    const job: WriterJob = {
      file,
      incidentId: incident.id,
      name: 'crash',
      count: 100,
      sharedEvery: 1000,
    };
    const child = fork(WRITER, [JSON.stringify(job)], { stdio: 'pipe' });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const [result, signal] = await Promise.all([
      new Promise<WriterResult>((resolve) =>
        child.once('message', (m) => resolve(m as WriterResult)),
      ),
      new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_code, sig) => resolve(sig)),
      ),
    ]);
    expect(stderr).toBe('');
    expect(signal).toBe('SIGKILL');
    expect(result).toMatchObject({ appended: 100, duplicates: 0, errors: [] });
    await setup.close();

    const after = open(file);
    const events = await after.loadEvents(incident.id);
    expect(events.length).toBe(100);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('two worker threads appending in parallel store every unique event once, without SQLITE_BUSY', async () => {
    const file = freshFile();
    const setup = open(file);
    const { incident } = await setup.createIncident({ team: 'T1', summary: SUMMARY, events: [] });
    const count = 300;
    const sharedEvery = 6; // keys shared-0 … shared-49 are written by both workers
    const shared = count / sharedEvery;

    const workers = ['A', 'B'].map(
      (name) =>
        new Worker(WRITER, {
          workerData: {
            file,
            incidentId: incident.id,
            name,
            count,
            sharedEvery,
          } satisfies WriterJob,
        }),
    );
    try {
      await Promise.all(
        workers.map((w) => new Promise<void>((resolve) => w.once('message', () => resolve()))),
      );
      const done = workers.map(
        (w) =>
          new Promise<WriterResult>((resolve, reject) => {
            w.once('message', (m) => resolve(m as WriterResult));
            w.once('error', reject);
          }),
      );
      workers.forEach((w) => w.postMessage('go'));
      const [a, b] = await Promise.all(done);

      expect(a.errors).toEqual([]);
      expect(b.errors).toEqual([]);
      const unique = 2 * count - shared;
      expect(a.appended + b.appended).toBe(unique);
      expect(a.duplicates + b.duplicates).toBe(shared);
      expect([...a.seqs, ...b.seqs].sort((x, y) => x - y)).toEqual(
        Array.from({ length: unique }, (_, i) => i + 1),
      );
      // The writers really ran at the same time (so they contended for the write lock). Their
      // seqs need not interleave: SQLite's busy handler is not fair, one writer may win a streak.
      expect(a.startedAt).toBeLessThan(b.finishedAt);
      expect(b.startedAt).toBeLessThan(a.finishedAt);

      const events = await setup.loadEvents(incident.id);
      expect(events.length).toBe(unique);
      const keys = events.map((e) => e.key);
      expect(new Set(keys).size).toBe(unique);
      for (let i = 0; i < shared; i++) expect(keys).toContain(`shared-${i}`);
      expect(new Set(events.map((e) => e.seq)).size).toBe(unique);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});

describe('loading a log again', () => {
  it('fetches only the new events, sees other connections’ appends, and keeps the stored order', async () => {
    const file = freshFile();
    const first = open(file);
    const second = open(file);
    const { incident } = await first.createIncident({
      team: 'T1',
      summary: SUMMARY,
      events: [note('one'), { ...note('two'), occurredAt: T0.plus({ minutes: 5 }) }],
    });
    const before = await first.loadEvents(incident.id);
    expect(before.map((e) => (e.type === 'timeline.entry' ? e.text : ''))).toEqual(['one', 'two']);
    // Another connection appends, one event backdated between the two already loaded.
    await second.append(incident.id, [
      { ...note('three'), occurredAt: T0.plus({ minutes: 10 }) },
      { ...note('backdated'), occurredAt: T0.plus({ minutes: 2 }) },
    ]);
    const after = await first.loadEvents(incident.id);
    expect(after.map((e) => (e.type === 'timeline.entry' ? e.text : ''))).toEqual([
      'one',
      'backdated',
      'two',
      'three',
    ]);
    expect(after.map((e) => e.seq)).toEqual([1, 4, 2, 3]);
    // The same as a fresh connection reads it; each load answers its own array.
    expect(after).toEqual(await open(file).loadEvents(incident.id));
    expect(before).toHaveLength(2);
    after.pop();
    expect(await first.loadEvents(incident.id)).toHaveLength(4);
  });
});
