/**
 * Embedded SQLite adapter (better-sqlite3).
 *
 * - WAL journal with `synchronous = FULL`: every append is durable (fsynced) when it returns.
 * - Every write is one `BEGIN IMMEDIATE` transaction, so several connections (instances,
 *   threads, processes) on one file serialise on the write lock; `busy_timeout` makes them
 *   wait for it instead of failing.
 * - Times are stored as epoch milliseconds (UTC); type-specific event fields as a JSON payload.
 * - The driver is synchronous; the methods are `async` so callers see the same interface as
 *   the MongoDB adapter, and every failure arrives as a rejection.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import {
  EVENT_TYPES,
  SOURCES,
  isSeverity,
  isStatus,
  type EventType,
  type NewEvent,
  type Severity,
  type Status,
  type StoredEvent,
} from '../core/model';
import { eventPayload } from '../core/serialize';
import {
  StoreUnavailableError,
  type AppendResult,
  type CreateIncidentInput,
  type CreateIncidentResult,
  type IncidentRecord,
  type IncidentStore,
  type IncidentSummary,
  type ListFilter,
  type RenderedPostmortem,
} from './store';
import { migrate } from './sqliteMigrations';

export { SQLITE_SCHEMA_VERSION, SchemaVersionError } from './sqliteMigrations';

export const DEFAULT_SQLITE_FILE_NAME = 'incident-bot.sqlite';
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface SqliteStoreOptions {
  /** Directory of the default file `<dataDir>/incident-bot.sqlite` (default `./data`). */
  dataDir?: string;
  /** Exact database file; wins over `dataDir`. */
  file?: string;
  /** How long a write waits for another connection's lock (default 5000 ms). */
  busyTimeoutMs?: number;
}

/** Effective connection settings, for tests and diagnostics. */
export interface SqliteSettings {
  file: string;
  journalMode: string;
  /** 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
  synchronous: number;
  busyTimeoutMs: number;
  foreignKeys: boolean;
  schemaVersion: number;
}

export function sqliteFilePath(opts: SqliteStoreOptions = {}): string {
  return opts.file ?? path.join(opts.dataDir ?? './data', DEFAULT_SQLITE_FILE_NAME);
}

/** Opens (creating and migrating when needed) the SQLite store. */
export function openSqliteStore(opts: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(sqliteFilePath(opts), { busyTimeoutMs: opts.busyTimeoutMs });
}

interface IncidentRow {
  id: string;
  team: string;
  number: number;
  key: string | null;
  title: string;
  severity: string;
  status: string;
  zone: string;
  channel: string | null;
  created_at: number;
  updated_at: number;
}

interface EventRow {
  seq: number;
  type: string;
  occurred_at: number;
  recorded_at: number;
  actor_id: string;
  actor_name: string;
  source: string;
  key: string | null;
  payload: string;
}

interface PostmortemRow {
  incident_id: string;
  template: string;
  format: string;
  content: string;
  rendered_at: number;
}

/** An event validated and serialised for insertion (done before taking the write lock). */
interface PreparedEvent {
  event: NewEvent;
  type: EventType;
  occurredAt: number;
  recordedAt: number;
  actorId: string;
  actorName: string;
  source: string;
  key: string | null;
  payload: string;
}

/** Summary columns for the COALESCE update: null leaves the column unchanged. */
interface SummaryParams {
  title: string | null;
  severity: Severity | null;
  status: Status | null;
  zone: string | null;
  channel: string | null;
}

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const SOURCE_SET: ReadonlySet<string> = new Set(SOURCES);

/** SQLite result codes that mean "the store cannot do its job right now", not a caller bug. */
const UNAVAILABLE_CODE =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL|NOMEM|PERM|AUTH)/;

/**
 * A better-sqlite3 error, recognised by shape: the native addon binds its error class once per
 * process, so when the JS wrapper is loaded more than once (test runners with a module registry
 * per file) `instanceof Database.SqliteError` is not reliable.
 */
function sqliteCode(err: unknown): string | undefined {
  // No instanceof at all: the bound class may even come from another realm (jest's per-file VM
  // contexts), where it is not an instance of this realm's Error.
  if (typeof err === 'object' && err !== null) {
    const { name, code } = err as { name?: unknown; code?: unknown };
    if (name === 'SqliteError' && typeof code === 'string') return code;
  }
  return undefined;
}

function isUnavailable(err: unknown): boolean {
  const code = sqliteCode(err);
  if (code !== undefined) return UNAVAILABLE_CODE.test(code);
  // better-sqlite3 throws a TypeError when the connection was closed underneath us.
  const { name, message } = (err ?? {}) as { name?: unknown; message?: unknown };
  return (
    name === 'TypeError' &&
    typeof message === 'string' &&
    /database connection is not open/i.test(message)
  );
}

function utc(ms: number): DateTime {
  return DateTime.fromMillis(ms, { zone: 'utc' });
}

function toMillis(t: unknown, what: string): number {
  if (!DateTime.isDateTime(t)) throw new Error(`${what} must be a luxon DateTime`);
  if (!t.isValid) throw new Error(`${what} is invalid: ${t.invalidExplanation ?? 'unknown'}`);
  return t.toMillis();
}

function prepareEvent(e: NewEvent): PreparedEvent {
  const where = `event ${JSON.stringify(e?.type)}`;
  if (!EVENT_TYPE_SET.has(e?.type))
    throw new Error(`unknown event type ${JSON.stringify(e?.type)}`);
  if (typeof e.actor?.id !== 'string' || typeof e.actor?.name !== 'string') {
    throw new Error(`${where}: actor must have string id and name`);
  }
  if (!SOURCE_SET.has(e.source))
    throw new Error(`${where}: unknown source ${JSON.stringify(e.source)}`);
  if (e.key !== undefined && typeof e.key !== 'string')
    throw new Error(`${where}: key must be a string`);
  return {
    event: e,
    type: e.type,
    occurredAt: toMillis(e.occurredAt, `${where}: occurredAt`),
    recordedAt: toMillis(e.recordedAt, `${where}: recordedAt`),
    actorId: e.actor.id,
    actorName: e.actor.name,
    source: e.source,
    key: e.key ?? null,
    payload: JSON.stringify(eventPayload(e)),
  };
}

function summaryParams(s: Partial<IncidentSummary>): SummaryParams {
  const str = (v: unknown, name: string): string | null => {
    if (v === undefined) return null;
    if (typeof v !== 'string') throw new Error(`summary.${name} must be a string`);
    return v;
  };
  if (s.severity !== undefined && !isSeverity(s.severity)) {
    throw new Error(`summary.severity: unknown severity ${JSON.stringify(s.severity)}`);
  }
  if (s.status !== undefined && !isStatus(s.status)) {
    throw new Error(`summary.status: unknown status ${JSON.stringify(s.status)}`);
  }
  return {
    title: str(s.title, 'title'),
    severity: s.severity ?? null,
    status: s.status ?? null,
    zone: str(s.zone, 'zone'),
    channel: str(s.channel, 'channel'),
  };
}

function hasSummaryChange(p: SummaryParams): boolean {
  return Object.values(p).some((v) => v !== null);
}

function rowToIncident(r: IncidentRow): IncidentRecord {
  const rec: IncidentRecord = {
    id: r.id,
    team: r.team,
    number: r.number,
    title: r.title,
    severity: r.severity as Severity,
    status: r.status as Status,
    zone: r.zone,
    createdAt: utc(r.created_at),
    updatedAt: utc(r.updated_at),
  };
  if (r.channel !== null) rec.channel = r.channel;
  return rec;
}

function rowToEvent(r: EventRow): StoredEvent {
  if (!EVENT_TYPE_SET.has(r.type)) throw new Error(`stored event has unknown type ${r.type}`);
  const payload = JSON.parse(r.payload) as Record<string, unknown>;
  const e: Record<string, unknown> = {
    type: r.type,
    occurredAt: utc(r.occurred_at),
    recordedAt: utc(r.recorded_at),
    actor: { id: r.actor_id, name: r.actor_name },
    source: r.source,
  };
  if (r.key !== null) e.key = r.key;
  Object.assign(e, payload);
  e.seq = r.seq;
  return e as unknown as StoredEvent;
}

function storedFromPrepared(p: PreparedEvent, seq: number): StoredEvent {
  const e: Record<string, unknown> = {
    ...p.event,
    occurredAt: utc(p.occurredAt),
    recordedAt: utc(p.recordedAt),
    seq,
  };
  if (p.key === null) delete e.key;
  return e as unknown as StoredEvent;
}

function prepareStatements(db: Database.Database) {
  const incidentCols =
    'id, team, number, key, title, severity, status, zone, channel, created_at, updated_at';
  return {
    incidentById: db.prepare<[string], IncidentRow>(
      `SELECT ${incidentCols} FROM incidents WHERE id = ?`,
    ),
    incidentExists: db.prepare<[string], { one: 1 }>(`SELECT 1 AS one FROM incidents WHERE id = ?`),
    incidentByKey: db.prepare<[string], IncidentRow>(
      `SELECT ${incidentCols} FROM incidents WHERE key = ?`,
    ),
    incidentByNumber: db.prepare<[string, number], IncidentRow>(
      `SELECT ${incidentCols} FROM incidents WHERE team = ? AND number = ?`,
    ),
    incidentByChannel: db.prepare<[string], IncidentRow>(
      `SELECT ${incidentCols} FROM incidents WHERE channel = ?
       ORDER BY created_at DESC, rowid DESC LIMIT 1`,
    ),
    listIncidents: db.prepare<[{ team: string | null; statuses: string | null }], IncidentRow>(
      `SELECT ${incidentCols} FROM incidents
       WHERE (@team IS NULL OR team = @team)
         AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
       ORDER BY created_at DESC, rowid DESC`,
    ),
    listTeams: db.prepare<[], { team: string }>(
      `SELECT DISTINCT team FROM incidents ORDER BY team`,
    ),
    nextNumber: db.prepare<[string], { n: number }>(
      `SELECT COALESCE(MAX(number), 0) + 1 AS n FROM incidents WHERE team = ?`,
    ),
    insertIncident: db.prepare<[IncidentRow]>(
      `INSERT INTO incidents (${incidentCols}) VALUES
       (@id, @team, @number, @key, @title, @severity, @status, @zone, @channel, @created_at, @updated_at)`,
    ),
    updateSummary: db.prepare<[SummaryParams & { id: string; now: number }]>(
      `UPDATE incidents SET
         title = COALESCE(@title, title),
         severity = COALESCE(@severity, severity),
         status = COALESCE(@status, status),
         zone = COALESCE(@zone, zone),
         channel = COALESCE(@channel, channel),
         updated_at = @now
       WHERE id = @id`,
    ),
    maxSeq: db.prepare<[string], { m: number }>(
      `SELECT COALESCE(MAX(seq), 0) AS m FROM events WHERE incident_id = ?`,
    ),
    insertEvent: db.prepare<[EventRow & { incident_id: string }]>(
      `INSERT INTO events
         (incident_id, seq, type, occurred_at, recorded_at, actor_id, actor_name, source, key, payload)
       VALUES
         (@incident_id, @seq, @type, @occurred_at, @recorded_at, @actor_id, @actor_name, @source, @key, @payload)
       ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING`,
    ),
    loadEvents: db.prepare<[string], EventRow>(
      `SELECT seq, type, occurred_at, recorded_at, actor_id, actor_name, source, key, payload
       FROM events WHERE incident_id = ? ORDER BY occurred_at, seq`,
    ),
    hasEventKey: db.prepare<[string], { one: 1 }>(`SELECT 1 AS one FROM events WHERE key = ?`),
    insertPostmortem: db.prepare<[PostmortemRow]>(
      `INSERT INTO postmortems (incident_id, template, format, content, rendered_at)
       VALUES (@incident_id, @template, @format, @content, @rendered_at)`,
    ),
    latestPostmortem: db.prepare<[string], PostmortemRow>(
      `SELECT incident_id, template, format, content, rendered_at FROM postmortems
       WHERE incident_id = ? ORDER BY rendered_at DESC, id DESC LIMIT 1`,
    ),
    ping: db.prepare<[], { one: number }>(`SELECT 1 AS one`),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

export class SqliteStore implements IncidentStore {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private readonly db: Database.Database;
  private closed = false;
  private readonly st: Statements;
  private readonly createTx: (
    input: CreateIncidentInput,
    events: PreparedEvent[],
  ) => CreateIncidentResult;
  private readonly appendTx: (
    id: string,
    events: PreparedEvent[],
    summary: SummaryParams,
  ) => AppendResult;

  constructor(file: string, opts: { busyTimeoutMs?: number } = {}) {
    this.file = file;
    const busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    let db: Database.Database;
    try {
      if (file !== ':memory:' && !file.startsWith('file:')) {
        mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      }
      db = new Database(file, { timeout: busyTimeoutMs });
    } catch (err) {
      throw new StoreUnavailableError(
        `cannot open SQLite store ${file}: ${(err as Error).message}`,
        err,
      );
    }
    this.db = db;
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db, file);
      this.st = prepareStatements(db);
    } catch (err) {
      db.close();
      if (isUnavailable(err)) {
        throw new StoreUnavailableError(
          `cannot open SQLite store ${file}: ${(err as Error).message}`,
          err,
        );
      }
      throw err;
    }
    this.createTx = this.db.transaction(this.createInTx.bind(this)).immediate;
    this.appendTx = this.db.transaction(this.appendInTx.bind(this)).immediate;
  }

  /** Runs `fn`, turning low-level SQLite failures into StoreUnavailableError. */
  private guard<T>(op: string, fn: () => T): T {
    if (this.closed) throw new StoreUnavailableError(`SQLite store ${this.file} is closed (${op})`);
    try {
      return fn();
    } catch (err) {
      if (isUnavailable(err)) {
        const sqlite = sqliteCode(err);
        const code = sqlite ? ` [${sqlite}]` : '';
        throw new StoreUnavailableError(
          `SQLite store ${this.file}: ${op} failed${code}: ${String((err as { message?: unknown }).message)}`,
          err,
        );
      }
      throw err;
    }
  }

  /** Inserts events after `lastSeq`, skipping recorded keys. Must run inside a transaction. */
  private insertEvents(incidentId: string, events: PreparedEvent[], lastSeq: number): AppendResult {
    const appended: StoredEvent[] = [];
    const duplicates: NewEvent[] = [];
    let seq = lastSeq;
    for (const p of events) {
      const info = this.st.insertEvent.run({
        incident_id: incidentId,
        seq: seq + 1,
        type: p.type,
        occurred_at: p.occurredAt,
        recorded_at: p.recordedAt,
        actor_id: p.actorId,
        actor_name: p.actorName,
        source: p.source,
        key: p.key,
        payload: p.payload,
      });
      if (info.changes === 1) {
        seq += 1;
        appended.push(storedFromPrepared(p, seq));
      } else {
        duplicates.push(p.event);
      }
    }
    return { appended, duplicates };
  }

  private createInTx(input: CreateIncidentInput, events: PreparedEvent[]): CreateIncidentResult {
    if (input.key !== undefined) {
      const existing = this.st.incidentByKey.get(input.key);
      if (existing) return { incident: rowToIncident(existing), created: false, events: [] };
    }
    const s = input.summary;
    const now = Date.now();
    const row: IncidentRow = {
      id: randomUUID(),
      team: input.team,
      number: this.st.nextNumber.get(input.team)?.n ?? 1,
      key: input.key ?? null,
      title: s.title,
      severity: s.severity,
      status: s.status,
      zone: s.zone,
      channel: s.channel ?? null,
      created_at: now,
      updated_at: now,
    };
    this.st.insertIncident.run(row);
    const { appended } = this.insertEvents(row.id, events, 0);
    return { incident: rowToIncident(row), created: true, events: appended };
  }

  private appendInTx(id: string, events: PreparedEvent[], summary: SummaryParams): AppendResult {
    if (!this.st.incidentExists.get(id)) {
      throw new Error(`cannot append to incident ${JSON.stringify(id)}: no such incident`);
    }
    const result = this.insertEvents(id, events, this.st.maxSeq.get(id)?.m ?? 0);
    if (result.appended.length > 0 || hasSummaryChange(summary)) {
      this.st.updateSummary.run({ ...summary, id, now: Date.now() });
    }
    return result;
  }

  async createIncident(input: CreateIncidentInput): Promise<CreateIncidentResult> {
    if (typeof input.team !== 'string' || input.team === '') {
      throw new Error('createIncident: team is required');
    }
    const s = input.summary;
    if (typeof s?.title !== 'string' || typeof s.zone !== 'string' || !s.severity || !s.status) {
      throw new Error('createIncident: summary needs title, severity, status and zone');
    }
    summaryParams(s); // validates values before taking the write lock
    const events = input.events.map(prepareEvent);
    return this.guard('createIncident', () => this.createTx(input, events));
  }

  async append(
    incidentId: string,
    events: NewEvent[],
    summary?: Partial<IncidentSummary>,
  ): Promise<AppendResult> {
    const prepared = events.map(prepareEvent);
    const params = summaryParams(summary ?? {});
    return this.guard('append', () => this.appendTx(incidentId, prepared, params));
  }

  async updateSummary(incidentId: string, summary: Partial<IncidentSummary>): Promise<void> {
    const params = summaryParams(summary);
    const info = this.guard('updateSummary', () =>
      this.st.updateSummary.run({ ...params, id: incidentId, now: Date.now() }),
    );
    if (info.changes === 0) {
      throw new Error(`cannot update incident ${JSON.stringify(incidentId)}: no such incident`);
    }
  }

  async getIncident(incidentId: string): Promise<IncidentRecord | undefined> {
    const row = this.guard('getIncident', () => this.st.incidentById.get(incidentId));
    return row && rowToIncident(row);
  }

  async findByNumber(team: string, number: number): Promise<IncidentRecord | undefined> {
    const row = this.guard('findByNumber', () => this.st.incidentByNumber.get(team, number));
    return row && rowToIncident(row);
  }

  async findByChannel(channel: string): Promise<IncidentRecord | undefined> {
    const row = this.guard('findByChannel', () => this.st.incidentByChannel.get(channel));
    return row && rowToIncident(row);
  }

  async listIncidents(filter: ListFilter = {}): Promise<IncidentRecord[]> {
    const params = {
      team: filter.team ?? null,
      statuses: filter.status ? JSON.stringify(filter.status) : null,
    };
    return this.guard('listIncidents', () => this.st.listIncidents.all(params)).map(rowToIncident);
  }

  async listTeams(): Promise<string[]> {
    return this.guard('listTeams', () => this.st.listTeams.all()).map((r) => r.team);
  }

  async loadEvents(incidentId: string): Promise<StoredEvent[]> {
    return this.guard('loadEvents', () => this.st.loadEvents.all(incidentId)).map(rowToEvent);
  }

  async hasEventKey(key: string): Promise<boolean> {
    return this.guard('hasEventKey', () => this.st.hasEventKey.get(key)) !== undefined;
  }

  async savePostmortem(p: RenderedPostmortem): Promise<void> {
    const renderedAt = toMillis(p.renderedAt, 'postmortem renderedAt');
    if (p.format !== 'md' && p.format !== 'json') {
      throw new Error(`postmortem format must be md or json, got ${JSON.stringify(p.format)}`);
    }
    this.guard('savePostmortem', () => {
      if (!this.st.incidentExists.get(p.incidentId)) {
        throw new Error(`cannot save postmortem: no incident ${JSON.stringify(p.incidentId)}`);
      }
      this.st.insertPostmortem.run({
        incident_id: p.incidentId,
        template: p.template,
        format: p.format,
        content: p.content,
        rendered_at: renderedAt,
      });
    });
  }

  async latestPostmortem(incidentId: string): Promise<RenderedPostmortem | undefined> {
    const row = this.guard('latestPostmortem', () => this.st.latestPostmortem.get(incidentId));
    if (!row) return undefined;
    return {
      incidentId: row.incident_id,
      template: row.template,
      format: row.format as 'md' | 'json',
      content: row.content,
      renderedAt: utc(row.rendered_at),
    };
  }

  // ---- request path: placeholders until this adapter implements them -------------------------
  // TODO(issue 8/12): replaced by the real inbox / commit / outbox implementation.
  enqueueInbox(): never {
    throw new Error('enqueueInbox: not implemented by this adapter yet');
  }
  claimInbox(): never {
    throw new Error('claimInbox: not implemented by this adapter yet');
  }
  completeInbox(): never {
    throw new Error('completeInbox: not implemented by this adapter yet');
  }
  commit(): never {
    throw new Error('commit: not implemented by this adapter yet');
  }
  addEffects(): never {
    throw new Error('addEffects: not implemented by this adapter yet');
  }
  claimEffects(): never {
    throw new Error('claimEffects: not implemented by this adapter yet');
  }
  completeEffect(): never {
    throw new Error('completeEffect: not implemented by this adapter yet');
  }
  failEffect(): never {
    throw new Error('failEffect: not implemented by this adapter yet');
  }

  async ping(): Promise<void> {
    this.guard('ping', () => this.st.ping.get());
  }

  /** Effective pragmas of this connection. */
  settings(): SqliteSettings {
    return this.guard('settings', () => ({
      file: this.file,
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
      busyTimeoutMs: Number(this.db.pragma('busy_timeout', { simple: true })),
      foreignKeys: Number(this.db.pragma('foreign_keys', { simple: true })) === 1,
      schemaVersion: Number(this.db.pragma('user_version', { simple: true })),
    }));
  }

  /** Closes the connection; idempotent. Later calls reject with StoreUnavailableError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
