/**
 * Embedded SQLite adapter (better-sqlite3).
 *
 * - The connection lives in a worker thread (sqliteWorker.ts): no query, fsync or wait for
 *   another process's lock runs on the caller's event loop. Opening (pragmas, migrations) is
 *   done once, synchronously, at start-up, before the worker takes over.
 * - WAL journal with `synchronous = FULL`: every write is durable (fsynced) when its promise
 *   resolves. Writes waiting together are committed in one transaction (group commit), each in
 *   its own savepoint so one failing write does not undo the others. Exception: claims
 *   (`claimInbox`, `claimEffects`) and `completeInbox` without effects, when nothing else is in
 *   their batch, commit without an fsync (WAL, synchronous = NORMAL): they survive a crash or
 *   kill -9 of the process at once, and a power failure once the next FULL commit has synced the
 *   WAL; before that a power failure can only undo them, which makes an item or effect be
 *   processed again (idempotent by key), never loses or changes what was recorded.
 * - Writes take the write lock with `BEGIN IMMEDIATE`, so several connections (instances,
 *   threads, processes) on one file serialise on it; `busy_timeout` makes them wait for it
 *   (in the worker) instead of failing.
 * - Times are stored as epoch milliseconds (UTC); type-specific event fields as a JSON payload.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
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
  ConflictError,
  IncidentClosedError,
  StoreUnavailableError,
  type AppendResult,
  type CommitInput,
  type CommitResult,
  type InboxCompletion,
  type InboxItem,
  type InboxKind,
  type NewEffect,
  type NewInboxItem,
  type StoredEffect,
  type CreateIncidentInput,
  type CreateIncidentResult,
  type IncidentRecord,
  type IncidentStore,
  type IncidentSummary,
  type ListFilter,
  type PruneOptions,
  type PruneResult,
  type RenderedPostmortem,
  type ClaimEffectsOptions,
  type ClaimInboxOptions,
} from './store';
import { migrate } from './sqliteMigrations';
import {
  sqliteWorkerMain,
  type EffectInW,
  type EffectRowW,
  type EventInW,
  type InboxRowW,
  type IncidentRowW,
  type WorkerResponse,
} from './sqliteWorker';

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

/** An incident row as the worker returns it (one shape, defined beside the SQL). */
type IncidentRow = IncidentRowW;

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

function eventRow(p: PreparedEvent): EventInW {
  return {
    type: p.type,
    occurred_at: p.occurredAt,
    recorded_at: p.recordedAt,
    actor_id: p.actorId,
    actor_name: p.actorName,
    source: p.source,
    key: p.key,
    payload: p.payload,
  };
}

function splitAppended(prepared: PreparedEvent[], seqs: (number | null)[]): AppendResult {
  const appended: StoredEvent[] = [];
  const duplicates: NewEvent[] = [];
  prepared.forEach((p, i) => {
    const seq = seqs[i];
    if (typeof seq === 'number') appended.push(storedFromPrepared(p, seq));
    else duplicates.push(p.event);
  });
  return { appended, duplicates };
}

function effectRow(e: NewEffect): EffectInW {
  if (typeof e?.key !== 'string' || e.key === '') throw new Error('effect key is required');
  if (typeof e.kind !== 'string' || e.kind === '') throw new Error('effect kind is required');
  const payload = JSON.stringify(e.payload ?? null);
  const spacing = e.spacingMs ?? 0;
  if (!Number.isFinite(spacing) || spacing < 0) throw new Error('effect spacingMs must be >= 0');
  return {
    key: e.key,
    kind: e.kind,
    incident_id: e.incidentId ?? null,
    payload,
    // Without notBefore an effect is due at once, whatever clock the claimant uses.
    not_before: e.notBefore === undefined ? 0 : toMillis(e.notBefore, 'effect notBefore'),
    spacing_ms: Math.floor(spacing),
  };
}

function rowToEffect(r: EffectRowW): StoredEffect {
  const e: StoredEffect = {
    id: String(r.id),
    key: r.key,
    kind: r.kind,
    payload: JSON.parse(r.payload) as unknown,
    state: r.state as StoredEffect['state'],
    attempts: r.attempts,
  };
  if (r.not_before > 0) e.notBefore = utc(r.not_before);
  if (r.incident_id !== null) e.incidentId = r.incident_id;
  if (r.spacing_ms > 0) e.spacingMs = r.spacing_ms;
  if (r.last_error !== null) e.lastError = r.last_error;
  return e;
}

const INBOX_KINDS: ReadonlySet<string> = new Set([
  'command',
  'event',
  'action',
  'view',
  'shortcut',
]);

function rowToInbox(r: InboxRowW): InboxItem {
  return {
    id: String(r.id),
    key: r.key,
    kind: r.kind as InboxKind,
    partition: r.partition,
    body: r.body,
    receivedAt: utc(r.received_at),
    state: r.state as InboxItem['state'],
    attempts: r.attempts,
  };
}

function numericIds(ids: readonly string[], what: string): number[] {
  return ids.map((id) => {
    const n = Number(id);
    if (!Number.isSafeInteger(n)) throw new Error(`${what}: unknown id ${JSON.stringify(id)}`);
    return n;
  });
}

/** Loads the worker body as JavaScript, whether this module runs compiled or from TS sources. */
function workerSource(): string {
  return `(${sqliteWorkerMain.toString()})()`;
}

/** Bounds of the events kept in memory by `loadEvents` (incidents, events in all). */
const EVENT_CACHE_INCIDENTS = 16;
const EVENT_CACHE_MAX_EVENTS = 50_000;

/** The stored order of a log: occurredAt, then seq. */
function byTimeline(a: StoredEvent, b: StoredEvent): number {
  return a.occurredAt.toMillis() - b.occurredAt.toMillis() || a.seq - b.seq;
}

interface Pending {
  op: string;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class SqliteStore implements IncidentStore {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private readonly worker: Worker;
  private closed = false;
  /** Set when the worker died or could not open the file: every call then rejects with it. */
  private broken?: StoreUnavailableError;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited: Promise<void>;

  constructor(file: string, opts: { busyTimeoutMs?: number } = {}) {
    this.file = file;
    const busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (file === ':memory:') {
      throw new Error(
        'SqliteStore needs a file: an in-memory database is private to one connection',
      );
    }
    // Open once here, synchronously, at start-up: errors (unopenable path, not a database, a
    // newer schema) surface from the constructor, and the schema is migrated before the worker
    // (which only ever sees a current schema) opens its own connection.
    let db: Database.Database;
    try {
      if (!file.startsWith('file:'))
        mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      db = new Database(file, { timeout: busyTimeoutMs });
    } catch (err) {
      throw new StoreUnavailableError(
        `cannot open SQLite store ${file}: ${(err as Error).message}`,
        err,
      );
    }
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db, file);
    } catch (err) {
      if (isUnavailable(err)) {
        throw new StoreUnavailableError(
          `cannot open SQLite store ${file}: ${(err as Error).message}`,
          err,
        );
      }
      throw err;
    } finally {
      db.close();
    }
    this.worker = new Worker(workerSource(), {
      eval: true,
      workerData: { file, driver: require.resolve('better-sqlite3'), busyTimeoutMs },
    });
    // Keeps the process alive only while a call is waiting for its answer.
    this.worker.unref();
    this.worker.on('message', (msg: WorkerResponse) => this.onMessage(msg));
    this.worker.on('error', (err) => this.fail(`the SQLite worker failed: ${err.message}`, err));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        if (!this.closed) this.fail(`the SQLite worker exited (code ${code})`);
        resolve();
      });
    });
  }

  private onMessage(msg: WorkerResponse): void {
    if (msg.id === 0) {
      if (msg.err) this.fail(`cannot open SQLite store ${this.file}: ${msg.err.message}`, msg.err);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (this.pending.size === 0) this.worker.unref();
    if (msg.err) p.reject(this.toError(p.op, msg.err));
    else p.resolve(msg.ok);
  }

  private fail(message: string, cause?: unknown): void {
    this.broken ??= new StoreUnavailableError(`SQLite store ${this.file}: ${message}`, cause);
    for (const p of this.pending.values()) p.reject(this.broken);
    this.pending.clear();
    this.worker.unref();
  }

  private toError(op: string, e: NonNullable<WorkerResponse['err']>): Error {
    if (e.name === 'ConflictError') return new ConflictError(e.message);
    if (e.name === 'IncidentClosedError') return new IncidentClosedError(e.message);
    const shaped = { name: e.name, code: e.code, message: e.message };
    if (isUnavailable(shaped)) {
      const code = e.code ? ` [${e.code}]` : '';
      return new StoreUnavailableError(
        `SQLite store ${this.file}: ${op} failed${code}: ${e.message}`,
        shaped,
      );
    }
    return new Error(e.message);
  }

  /** Sends one operation to the worker; resolves with its result once it is durable. */
  private call<T>(op: string, ...args: unknown[]): Promise<T> {
    if (this.closed) {
      return Promise.reject(
        new StoreUnavailableError(`SQLite store ${this.file} is closed (${op})`),
      );
    }
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { op, resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  async createIncident(input: CreateIncidentInput): Promise<CreateIncidentResult> {
    if (typeof input.team !== 'string' || input.team === '') {
      throw new Error('createIncident: team is required');
    }
    const s = input.summary;
    if (typeof s?.title !== 'string' || typeof s.zone !== 'string' || !s.severity || !s.status) {
      throw new Error('createIncident: summary needs title, severity, status and zone');
    }
    const summary = summaryParams(s);
    if (input.number !== undefined && (!Number.isSafeInteger(input.number) || input.number < 1)) {
      throw new Error('createIncident: number must be a whole number >= 1');
    }
    const prepared = input.events.map(prepareEvent);
    const res = await this.call<{ row: IncidentRowW; created: boolean; seqs: (number | null)[] }>(
      'createIncident',
      {
        team: input.team,
        key: input.key ?? null,
        summary,
        number: input.number ?? null,
        createdAt: input.createdAt === undefined ? null : toMillis(input.createdAt, 'createdAt'),
      },
      prepared.map(eventRow),
      Date.now(),
    );
    return {
      incident: rowToIncident(res.row),
      created: res.created,
      events: res.created ? splitAppended(prepared, res.seqs).appended : [],
    };
  }

  async append(
    incidentId: string,
    events: NewEvent[],
    summary?: Partial<IncidentSummary>,
  ): Promise<AppendResult> {
    const prepared = events.map(prepareEvent);
    const params = summaryParams(summary ?? {});
    const seqs = await this.call<(number | null)[]>(
      'append',
      incidentId,
      prepared.map(eventRow),
      params,
      Date.now(),
    );
    return splitAppended(prepared, seqs);
  }

  async updateSummary(incidentId: string, summary: Partial<IncidentSummary>): Promise<void> {
    const params = summaryParams(summary);
    const changes = await this.call<number>('updateSummary', incidentId, params, Date.now());
    if (changes === 0) {
      throw new Error(`cannot update incident ${JSON.stringify(incidentId)}: no such incident`);
    }
  }

  async getIncident(incidentId: string): Promise<IncidentRecord | undefined> {
    const row = await this.call<IncidentRow | undefined>('getIncident', incidentId);
    return row && rowToIncident(row);
  }

  async findByNumber(team: string, number: number): Promise<IncidentRecord | undefined> {
    const row = await this.call<IncidentRow | undefined>('findByNumber', team, number);
    return row && rowToIncident(row);
  }

  async findByKey(key: string): Promise<IncidentRecord | undefined> {
    const row = await this.call<IncidentRow | undefined>('findByKey', key);
    return row && rowToIncident(row);
  }

  async findByChannel(channel: string): Promise<IncidentRecord | undefined> {
    const row = await this.call<IncidentRow | undefined>('findByChannel', channel);
    return row && rowToIncident(row);
  }

  async listIncidents(filter: ListFilter = {}): Promise<IncidentRecord[]> {
    const params = {
      team: filter.team ?? null,
      statuses: filter.status ? JSON.stringify(filter.status) : null,
    };
    return (await this.call<IncidentRow[]>('listIncidents', params)).map(rowToIncident);
  }

  async listTeams(): Promise<string[]> {
    return this.call<string[]>('listTeams');
  }

  /**
   * The incident's events. An incident's log is append-only and its seqs are given under the
   * write lock (max + 1), so once a load has seen seq N it has seen every event up to N: the
   * events already converted are kept (a few incidents, a bounded number of events) and a load
   * fetches only those after the last seq it has, from the worker. Each call answers a new
   * array; the events in it are frozen (shared with later loads).
   */
  async loadEvents(incidentId: string): Promise<StoredEvent[]> {
    const base = this.eventCache.get(incidentId);
    const after = base?.lastSeq ?? 0;
    const rows = await this.call<EventRow[]>('loadEventsAfter', incidentId, after);
    // Another load of this incident may have updated (or evicted) the entry meanwhile.
    let entry = this.eventCache.get(incidentId);
    if (!entry || entry.lastSeq < after) entry = base ?? { events: [], lastSeq: 0 };
    const known = entry.lastSeq;
    const fresh = rows.filter((r) => r.seq > known).map((r) => Object.freeze(rowToEvent(r)));
    if (fresh.length > 0) {
      const events = entry.events.concat(fresh);
      const last = entry.events[entry.events.length - 1];
      // A backdated event (occurredAt before the last one kept) sorts the log again.
      if (last && byTimeline(last, fresh[0]) > 0) events.sort(byTimeline);
      entry = { events, lastSeq: fresh.reduce((m, e) => Math.max(m, e.seq), known) };
    }
    this.cacheEvents(incidentId, entry);
    return entry.events.slice();
  }

  private readonly eventCache = new Map<string, { events: StoredEvent[]; lastSeq: number }>();

  /** Keeps the entry as the most recently used; evicts the least recently used over the bounds. */
  private cacheEvents(id: string, entry: { events: StoredEvent[]; lastSeq: number }): void {
    this.eventCache.delete(id);
    if (entry.events.length > EVENT_CACHE_MAX_EVENTS) return;
    this.eventCache.set(id, entry);
    let total = 0;
    for (const e of this.eventCache.values()) total += e.events.length;
    for (const [key, e] of this.eventCache) {
      if (this.eventCache.size <= EVENT_CACHE_INCIDENTS && total <= EVENT_CACHE_MAX_EVENTS) break;
      if (key === id) continue;
      this.eventCache.delete(key);
      total -= e.events.length;
    }
  }

  async hasEventKey(key: string): Promise<boolean> {
    return this.call<boolean>('hasEventKey', key);
  }

  async savePostmortem(p: RenderedPostmortem): Promise<void> {
    const renderedAt = toMillis(p.renderedAt, 'postmortem renderedAt');
    if (p.format !== 'md' && p.format !== 'json') {
      throw new Error(`postmortem format must be md or json, got ${JSON.stringify(p.format)}`);
    }
    const row: PostmortemRow = {
      incident_id: p.incidentId,
      template: p.template,
      format: p.format,
      content: p.content,
      rendered_at: renderedAt,
    };
    await this.call<void>('savePostmortem', row);
  }

  async latestPostmortem(incidentId: string): Promise<RenderedPostmortem | undefined> {
    const row = await this.call<PostmortemRow | undefined>('latestPostmortem', incidentId);
    if (!row) return undefined;
    return {
      incidentId: row.incident_id,
      template: row.template,
      format: row.format as 'md' | 'json',
      content: row.content,
      renderedAt: utc(row.rendered_at),
    };
  }

  // ---- the request path --------------------------------------------------------------------

  async enqueueInbox(item: NewInboxItem): Promise<{ item: InboxItem; inserted: boolean }> {
    if (typeof item?.key !== 'string' || item.key === '') throw new Error('inbox key is required');
    if (!INBOX_KINDS.has(item.kind)) throw new Error(`unknown inbox kind ${String(item.kind)}`);
    if (typeof item.partition !== 'string' || item.partition === '') {
      throw new Error('inbox partition is required');
    }
    if (typeof item.body !== 'string') throw new Error('inbox body must be a string');
    const res = await this.call<{ row: InboxRowW; inserted: boolean }>('enqueueInbox', {
      key: item.key,
      kind: item.kind,
      partition: item.partition,
      body: item.body,
      received_at: toMillis(item.receivedAt, 'inbox receivedAt'),
      lease_owner: item.lease?.owner ?? null,
      lease_until: item.lease ? toMillis(item.lease.until, 'inbox lease until') : null,
      attempts: item.lease ? 1 : 0,
    });
    return { item: rowToInbox(res.row), inserted: res.inserted };
  }

  async claimInbox(opts: ClaimInboxOptions): Promise<InboxItem[]> {
    const rows = await this.call<InboxRowW[]>(
      'claimInbox',
      opts.owner,
      toMillis(opts.now, 'now'),
      toMillis(opts.leaseUntil, 'leaseUntil'),
      Math.max(0, Math.floor(opts.limit)),
      opts.ids === undefined ? null : numericIds(opts.ids, 'claimInbox'),
      opts.takeOverPrefix || null,
    );
    return rows.map(rowToInbox);
  }

  async completeInbox(ids: string[], effects: NewEffect[] = []): Promise<InboxCompletion> {
    if (ids.length === 0) return { done: [], effects: [] };
    const res = await this.call<{ done: number[]; effects: EffectRowW[] }>(
      'completeInbox',
      numericIds(ids, 'completeInbox'),
      effects.map((e) => effectRow(e)),
      Date.now(),
    );
    return { done: res.done.map(String), effects: res.effects.map(rowToEffect) };
  }

  async commit(input: CommitInput): Promise<CommitResult> {
    const prepared = input.events.map(prepareEvent);
    const now = Date.now();
    const res = await this.call<{ seqs: (number | null)[]; effects: EffectRowW[] }>(
      'commit',
      {
        incidentId: input.incidentId,
        expectedSeq: input.expectedSeq ?? null,
        requireOpen: input.requireOpen,
        events: prepared.map(eventRow),
        summary: summaryParams(input.summary ?? {}),
        effects: (input.effects ?? []).map((e) => effectRow(e)),
        inboxDone: numericIds(input.inboxDone ?? [], 'commit inboxDone'),
      },
      now,
    );
    return { ...splitAppended(prepared, res.seqs), effects: res.effects.map(rowToEffect) };
  }

  async addEffects(effects: NewEffect[]): Promise<StoredEffect[]> {
    if (effects.length === 0) return [];
    const now = Date.now();
    const rows = await this.call<EffectRowW[]>(
      'addEffects',
      effects.map((e) => effectRow(e)),
      now,
    );
    return rows.map(rowToEffect);
  }

  async claimEffects(opts: ClaimEffectsOptions): Promise<StoredEffect[]> {
    const rows = await this.call<EffectRowW[]>(
      'claimEffects',
      opts.owner,
      toMillis(opts.now, 'now'),
      toMillis(opts.leaseUntil, 'leaseUntil'),
      Math.max(0, Math.floor(opts.limit)),
      opts.takeOverPrefix || null,
    );
    return rows.map(rowToEffect);
  }

  async pruneDone(opts: PruneOptions): Promise<PruneResult> {
    const cutoffs = {
      inbox: toMillis(opts.inboxBefore, 'pruneDone inboxBefore'),
      effects: toMillis(opts.effectsBefore, 'pruneDone effectsBefore'),
      dead: toMillis(opts.deadEffectsBefore, 'pruneDone deadEffectsBefore'),
    };
    // In chunks: each is one short write in the worker, so requests interleave with a big prune.
    const CHUNK = 500;
    const total: PruneResult = { inbox: 0, effects: 0, deadEffects: 0 };
    for (;;) {
      const n = await this.call<PruneResult>('pruneDone', cutoffs, CHUNK);
      total.inbox += n.inbox;
      total.effects += n.effects;
      total.deadEffects += n.deadEffects;
      if (n.inbox < CHUNK && n.effects < CHUNK && n.deadEffects < CHUNK) return total;
    }
  }

  async nextEffectDue(): Promise<DateTime | undefined> {
    const t = await this.call<number | null>('nextEffectDue');
    return t === null ? undefined : utc(t);
  }

  async completeEffect(
    id: string,
    owner: string,
    outcome: { incidentId?: string; events?: NewEvent[]; effects?: NewEffect[] } = {},
  ): Promise<void> {
    const prepared = (outcome.events ?? []).map(prepareEvent);
    const now = Date.now();
    await this.call<boolean>(
      'completeEffect',
      numericIds([id], 'completeEffect')[0],
      owner,
      {
        incidentId: outcome.incidentId ?? null,
        events: prepared.map(eventRow),
        effects: (outcome.effects ?? []).map((e) => effectRow(e)),
      },
      now,
    );
  }

  async failEffect(
    id: string,
    owner: string,
    failure: { error: string; retryAt?: DateTime; dead?: boolean },
  ): Promise<void> {
    await this.call<boolean>(
      'failEffect',
      numericIds([id], 'failEffect')[0],
      owner,
      {
        error: String(failure.error),
        retryAt:
          failure.retryAt === undefined ? null : toMillis(failure.retryAt, 'failEffect retryAt'),
        dead: failure.dead === true,
      },
      Date.now(),
    );
  }

  async ping(): Promise<void> {
    await this.call<unknown>('ping');
  }

  /** Effective pragmas of the worker's connection. */
  async settings(): Promise<SqliteSettings> {
    const s = await this.call<Omit<SqliteSettings, 'file'>>('settings');
    return { file: this.file, ...s };
  }

  /**
   * Finishes the calls already sent, then closes the connection; idempotent. Later calls reject
   * with StoreUnavailableError.
   */
  async close(): Promise<void> {
    if (this.closed) return this.exited;
    this.closed = true;
    this.worker.ref();
    this.worker.postMessage('close');
    await this.exited;
  }
}
