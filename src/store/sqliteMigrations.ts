/**
 * Schema migrations of the SQLite store, versioned in code.
 *
 * The schema version of a file is `PRAGMA user_version`: the number of migrations applied. A
 * migration is never edited once released; changes go in a new migration appended to the list.
 * Times are stored as epoch milliseconds (UTC), so they sort numerically.
 */
import type Database from 'better-sqlite3';

export interface SqliteMigration {
  /** 1-based; equals the position in SQLITE_MIGRATIONS + 1 and the resulting user_version. */
  version: number;
  description: string;
  up(db: Database.Database): void;
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    description: 'incidents, events, postmortems',
    up(db) {
      db.exec(`
        CREATE TABLE incidents (
          id          TEXT PRIMARY KEY,
          team        TEXT NOT NULL,
          number      INTEGER NOT NULL CHECK (number > 0),
          key         TEXT UNIQUE,
          title       TEXT NOT NULL,
          severity    TEXT NOT NULL,
          status      TEXT NOT NULL,
          zone        TEXT NOT NULL,
          channel     TEXT,
          created_at  INTEGER NOT NULL,
          updated_at  INTEGER NOT NULL,
          UNIQUE (team, number)
        );
        CREATE INDEX incidents_channel ON incidents (channel);
        CREATE INDEX incidents_status ON incidents (status);
        CREATE INDEX incidents_created ON incidents (created_at);

        CREATE TABLE events (
          incident_id  TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
          seq          INTEGER NOT NULL CHECK (seq > 0),
          type         TEXT NOT NULL,
          occurred_at  INTEGER NOT NULL,
          recorded_at  INTEGER NOT NULL,
          actor_id     TEXT NOT NULL,
          actor_name   TEXT NOT NULL,
          source       TEXT NOT NULL,
          key          TEXT,
          payload      TEXT NOT NULL CHECK (json_valid(payload)),
          PRIMARY KEY (incident_id, seq)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX events_key ON events (key) WHERE key IS NOT NULL;
        CREATE INDEX events_timeline ON events (incident_id, occurred_at, seq);

        CREATE TABLE postmortems (
          id           INTEGER PRIMARY KEY AUTOINCREMENT,
          incident_id  TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
          template     TEXT NOT NULL,
          format       TEXT NOT NULL CHECK (format IN ('md', 'json')),
          content      TEXT NOT NULL,
          rendered_at  INTEGER NOT NULL
        );
        CREATE INDEX postmortems_latest ON postmortems (incident_id, rendered_at, id);
      `);
    },
  },
  {
    version: 2,
    description: 'request path: inbox (received Slack requests) and effects (the outbox)',
    up(db) {
      db.exec(`
        CREATE TABLE inbox (
          id           INTEGER PRIMARY KEY AUTOINCREMENT,
          key          TEXT NOT NULL UNIQUE,
          kind         TEXT NOT NULL,
          partition    TEXT NOT NULL,
          body         TEXT NOT NULL,
          received_at  INTEGER NOT NULL,
          state        TEXT NOT NULL CHECK (state IN ('pending', 'done')),
          attempts     INTEGER NOT NULL DEFAULT 0,
          lease_owner  TEXT,
          lease_until  INTEGER,
          done_at      INTEGER
        );
        CREATE INDEX inbox_pending ON inbox (state, id);

        CREATE TABLE effects (
          id           INTEGER PRIMARY KEY AUTOINCREMENT,
          key          TEXT NOT NULL,
          kind         TEXT NOT NULL,
          incident_id  TEXT,
          payload      TEXT NOT NULL CHECK (json_valid(payload)),
          not_before   INTEGER NOT NULL,
          spacing_ms   INTEGER NOT NULL DEFAULT 0,
          state        TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
          attempts     INTEGER NOT NULL DEFAULT 0,
          lease_owner  TEXT,
          lease_until  INTEGER,
          last_error   TEXT,
          redo         INTEGER NOT NULL DEFAULT 0,
          created_at   INTEGER NOT NULL,
          done_at      INTEGER
        );
        CREATE UNIQUE INDEX effects_pending_key ON effects (key) WHERE state = 'pending';
        CREATE INDEX effects_key ON effects (key, state, done_at);
        CREATE INDEX effects_due ON effects (state, not_before, id);
      `);
    },
  },
];

/** The schema version this build writes and understands. */
export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS.length;

/** The file was written by a newer incident-bot; this build must not touch it. */
export class SchemaVersionError extends Error {
  constructor(
    readonly file: string,
    readonly fileVersion: number,
    readonly supportedVersion: number,
  ) {
    super(
      `SQLite store ${file} has schema version ${fileVersion}, but this incident-bot supports ` +
        `up to version ${supportedVersion}; it was written by a newer incident-bot. ` +
        `Upgrade incident-bot (or point it at another data file); the file was left untouched.`,
    );
    this.name = 'SchemaVersionError';
  }
}

/**
 * Brings the schema up to date. Each pending migration runs in its own IMMEDIATE transaction
 * together with the user_version bump, so a crash leaves the file at a consistent version and
 * two processes opening the same fresh file never both migrate. Returns the versions applied.
 */
export function migrate(
  db: Database.Database,
  file: string,
  migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS,
): number[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i} has version ${m.version}`);
  });
  const applied: number[] = [];
  const readVersion = (): number => db.pragma('user_version', { simple: true }) as number;
  const check = (v: number): void => {
    if (v > migrations.length) throw new SchemaVersionError(file, v, migrations.length);
  };
  check(readVersion());
  for (const m of migrations) {
    // Cheap check without taking the write lock; re-checked inside the transaction.
    if (readVersion() >= m.version) continue;
    const step = db.transaction(() => {
      const current = readVersion();
      check(current);
      if (current >= m.version) return;
      m.up(db);
      // user_version is in the database header, so this is part of the transaction.
      db.pragma(`user_version = ${m.version}`);
      applied.push(m.version);
    });
    step.immediate();
  }
  return applied;
}
