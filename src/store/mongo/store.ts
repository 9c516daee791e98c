/**
 * MongoDB adapter (mongoose 8).
 *
 * - Collections: incidents, batches (the log: one document per write), effects (outbox), inbox,
 *   counters, postmortems; see models/ and README "Running on MongoDB".
 * - No multi-document transactions, on any topology. Every write to an incident's record is ONE
 *   batch document (atomic on every server); the unique {incidentId, v} index is the optimistic
 *   lock that makes writes conditional and seqs gap-free, and the unique sparse `keys` index
 *   records an idempotency key once. The incident document, outbox rows and inbox completions
 *   a batch carries are applied after the insert, idempotently, by the writer or (if it died)
 *   by the next writer or the outbox sweeper. See models/batch.ts.
 * - INC numbers come from `counters` (findOneAndUpdate + $inc + upsert), race-free across
 *   replicas; a create that loses a key race leaves its number unused.
 * - Consistency: writes use the configured write concern (majority by default); reads go to the
 *   primary with read concern `majority` when writes are majority-acknowledged (so a read sees
 *   every write acknowledged before it), `local` otherwise (a majority read could miss one's
 *   own w:1 write).
 * - Filters are built only from validated strings, numbers and ObjectIds; the connection also
 *   has `sanitizeFilter: true`, so an object smuggled in as a value is matched literally.
 * - Failures of MongoDB (unreachable, timeouts, write concern errors) are StoreUnavailableError;
 *   caller mistakes (bad values, unknown incident) are plain Errors, as in the SQLite adapter.
 */
import { DateTime } from 'luxon';
import mongoose, { type Connection, type Model, type Types } from 'mongoose';
import {
  EVENT_TYPES,
  SOURCES,
  isSeverity,
  isStatus,
  type NewEvent,
  type Status,
  type StoredEvent,
} from '../../core/model';
import { eventPayload } from '../../core/serialize';
import {
  ConflictError,
  IncidentClosedError,
  StoreUnavailableError,
  type AppendResult,
  type CommitInput,
  type CommitResult,
  type CreateIncidentInput,
  type CreateIncidentResult,
  type InboxCompletion,
  type InboxItem,
  type InboxKind,
  type IncidentRecord,
  type IncidentStore,
  type IncidentSummary,
  type ListFilter,
  type NewEffect,
  type NewInboxItem,
  type PruneOptions,
  type PruneResult,
  type RenderedPostmortem,
  type StoredEffect,
  type ClaimEffectsOptions,
  type ClaimInboxOptions,
} from '../store';
import { describeMongoHosts, redactUri, type MongoConfig } from './config';
import {
  BATCH_VERSION_INDEX,
  EVENT_KEY_INDEX,
  batchModel,
  type BatchDoc,
  type BatchEffectDoc,
  type BatchEventDoc,
} from './models/batch';
import { counterModel, incidentCounterId, type CounterDoc } from './models/counter';
import {
  INCIDENT_KEY_INDEX,
  INCIDENT_NUMBER_INDEX,
  incidentModel,
  type IncidentDoc,
} from './models/incident';
import {
  EFFECT_PENDING_KEY_INDEX,
  INBOX_KEY_INDEX,
  effectModel,
  inboxModel,
  type EffectDoc,
  type InboxDoc,
} from './models/outbox';
import { postmortemModel, type PostmortemDoc } from './models/postmortem';

/** pino-compatible logger (only these three methods are used). */
export interface MongoLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OpenMongoStoreOptions {
  logger?: MongoLogger;
  /** Create the collections' indexes at start (idempotent; default true). */
  ensureIndexes?: boolean;
}

/** A caller mistake (bad value, unknown incident): not an outage. */
export class MongoStoreInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MongoStoreInputError';
  }
}

const MAX_ID_LENGTH = 512;
const OBJECT_ID = /^[0-9a-f]{24}$/i;
const SLACK_ID = /^[A-Za-z0-9_-]+$/;
const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const SOURCE_SET: ReadonlySet<string> = new Set(SOURCES);

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * Returns `value` when it is a plain, non-empty string (at most 512 characters); throws
 * otherwise. Used on every id, team, key and channel before it goes into a filter, so user input
 * such as `{ $ne: null }` can never become a query operator.
 */
export function assertPlainId(value: unknown, what: string): string {
  if (typeof value !== 'string') {
    throw new MongoStoreInputError(`${what} must be a string, got ${describeValue(value)}`);
  }
  if (value === '' || value.length > MAX_ID_LENGTH) {
    throw new MongoStoreInputError(
      `${what} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
    );
  }
  return value;
}

/** A Slack-style id (channel, user, team): letters, digits, `_` and `-` only. */
export function isSlackId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_ID_LENGTH && SLACK_ID.test(value);
}

/** The ObjectId of a store id, or undefined when it cannot be one (so nothing matches). */
export function objectIdOf(id: unknown, what = 'incident id'): Types.ObjectId | undefined {
  const s = assertPlainId(id, what);
  return OBJECT_ID.test(s) ? new mongoose.Types.ObjectId(s) : undefined;
}

function utc(d: Date): DateTime {
  return DateTime.fromMillis(d.getTime(), { zone: 'utc' });
}

function toDate(t: unknown, what: string): Date {
  if (!DateTime.isDateTime(t)) throw new MongoStoreInputError(`${what} must be a luxon DateTime`);
  if (!t.isValid) {
    throw new MongoStoreInputError(`${what} is invalid: ${t.invalidExplanation ?? 'unknown'}`);
  }
  return t.toJSDate();
}

/** An event as stored, without the fields allocated at insert (incidentId, seq). */
export type EventFields = Pick<
  BatchEventDoc,
  'type' | 'occurredAt' | 'recordedAt' | 'actor' | 'source' | 'key' | 'payload'
>;

/** Validates an event and converts it to its document fields (payload with JSON semantics). */
export function eventToDoc(e: NewEvent): EventFields {
  const where = `event ${JSON.stringify(e?.type)}`;
  if (!EVENT_TYPE_SET.has(e?.type)) {
    throw new MongoStoreInputError(`unknown event type ${JSON.stringify(e?.type)}`);
  }
  if (typeof e.actor?.id !== 'string' || typeof e.actor?.name !== 'string') {
    throw new MongoStoreInputError(`${where}: actor must have string id and name`);
  }
  if (!SOURCE_SET.has(e.source)) {
    throw new MongoStoreInputError(`${where}: unknown source ${JSON.stringify(e.source)}`);
  }
  const doc: EventFields = {
    type: e.type,
    occurredAt: toDate(e.occurredAt, `${where}: occurredAt`),
    recordedAt: toDate(e.recordedAt, `${where}: recordedAt`),
    actor: { id: e.actor.id, name: e.actor.name },
    source: e.source,
    // Same semantics as the JSON export and the SQLite adapter: undefined fields disappear.
    payload: JSON.parse(JSON.stringify(eventPayload(e))) as Record<string, unknown>,
  };
  if (e.key !== undefined) doc.key = assertPlainId(e.key, `${where}: key`);
  return doc;
}

/** Rebuilds the StoredEvent from its document: common fields, `key` only when set, payload. */
export function eventFromDoc(d: EventFields & { seq: number }): StoredEvent {
  const e: Record<string, unknown> = {
    type: d.type,
    occurredAt: utc(d.occurredAt),
    recordedAt: utc(d.recordedAt),
    actor: { id: d.actor.id, name: d.actor.name },
    source: d.source,
  };
  if (typeof d.key === 'string') e.key = d.key;
  Object.assign(e, d.payload ?? {});
  e.seq = d.seq;
  return e as unknown as StoredEvent;
}

export function incidentFromDoc(d: IncidentDoc): IncidentRecord {
  const r: IncidentRecord = {
    id: d._id.toHexString(),
    team: d.team,
    number: d.number,
    title: d.title,
    severity: d.severity,
    status: d.status,
    zone: d.zone,
    createdAt: utc(d.createdAt),
    updatedAt: utc(d.updatedAt),
  };
  if (typeof d.channel === 'string') r.channel = d.channel;
  return r;
}

/** Validates summary fields; returns only the ones given. */
export function checkSummary(s: Partial<IncidentSummary>): Partial<IncidentSummary> {
  const out: Partial<IncidentSummary> = {};
  for (const name of ['title', 'zone'] as const) {
    const v: unknown = s[name];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new MongoStoreInputError(`summary.${name} must be a string`);
    out[name] = v;
  }
  if (s.severity !== undefined) {
    if (!isSeverity(s.severity)) {
      throw new MongoStoreInputError(
        `summary.severity: unknown severity ${describeValue(s.severity)}`,
      );
    }
    out.severity = s.severity;
  }
  if (s.status !== undefined) {
    if (!isStatus(s.status)) {
      throw new MongoStoreInputError(`summary.status: unknown status ${describeValue(s.status)}`);
    }
    out.status = s.status;
  }
  if (s.channel !== undefined) {
    if (!isSlackId(s.channel)) {
      throw new MongoStoreInputError(
        `summary.channel must be a Slack channel id (letters, digits, _ and -), got ${describeValue(s.channel)}`,
      );
    }
    out.channel = s.channel;
  }
  return out;
}

/** The index named in a duplicate-key error (code 11000), or undefined for any other error. */
export function duplicateKeyIndex(err: unknown): string | undefined {
  const e = err as { code?: number; message?: string; errmsg?: string } | undefined;
  if (e?.code !== 11000) return undefined;
  const m = /index: (\S+) dup key/.exec(e.errmsg ?? e.message ?? '');
  return m ? m[1] : '';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const noopLogger: MongoLogger = { info() {}, warn() {}, error() {} };

/** How long a batch may stay unapplied before the sweeper applies it (its writer died). */
const SWEEP_AFTER_MS = 5_000;
/** Attempts of one write against racing writers before giving up. */
const MAX_ATTEMPTS = 200;

interface Head {
  v: number;
  last: number;
  status: Status;
  /** Whether the head batch (and so every batch before it) is applied. */
  applied: boolean;
}

interface BatchInput {
  expectedSeq?: number;
  requireOpen: boolean;
  events: NewEvent[];
  docs: EventFields[];
  summary: Partial<IncidentSummary>;
  effects: NewEffect[];
  inboxDone: Types.ObjectId[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function effectFromDoc(d: EffectDoc): StoredEffect {
  const e: StoredEffect = {
    id: d._id.toHexString(),
    key: d.key,
    kind: d.kind,
    payload: JSON.parse(d.payload) as unknown,
    notBefore: utc(d.notBefore),
    state: d.state,
    attempts: d.attempts,
  };
  if (d.incidentId) e.incidentId = d.incidentId.toHexString();
  // spacingMs: see NewEffect (coalescing rate limit).
  if (d.spacingMs > 0) (e as StoredEffect & { spacingMs?: number }).spacingMs = d.spacingMs;
  if (typeof d.lastError === 'string') e.lastError = d.lastError;
  return e;
}

export function inboxFromDoc(d: InboxDoc): InboxItem {
  return {
    id: d._id.toHexString(),
    key: d.key,
    kind: d.kind as InboxKind,
    partition: d.partition,
    body: d.body,
    receivedAt: utc(d.receivedAt),
    state: d.state,
    attempts: d.attempts,
  };
}

function effectToBatchDoc(e: NewEffect, now: Date): BatchEffectDoc {
  if (typeof e?.key !== 'string' || e.key === '') {
    throw new MongoStoreInputError('effect key is required');
  }
  if (typeof e.kind !== 'string' || e.kind === '') {
    throw new MongoStoreInputError('effect kind is required');
  }
  const spacing = (e as NewEffect & { spacingMs?: number }).spacingMs ?? 0;
  if (!Number.isFinite(spacing) || spacing < 0) {
    throw new MongoStoreInputError('effect spacingMs must be >= 0');
  }
  const doc: BatchEffectDoc = {
    _id: new mongoose.Types.ObjectId(),
    key: assertPlainId(e.key, 'effect key'),
    kind: e.kind,
    payload: JSON.stringify(e.payload ?? null),
    notBefore: e.notBefore === undefined ? now : toDate(e.notBefore, 'effect notBefore'),
    spacingMs: Math.floor(spacing),
  };
  if (e.incidentId !== undefined) {
    const oid = objectIdOf(e.incidentId, 'effect incidentId');
    if (!oid) throw new MongoStoreInputError(`effect: unknown incident ${e.incidentId}`);
    doc.incidentId = oid;
  }
  return doc;
}

/**
 * The claim clause for leases held by a dead earlier incarnation of this instance: owner starts
 * with `prefix` (matched literally) and is not `owner` itself.
 */
function takeOverClause(prefix: string | undefined, owner: string): Record<string, unknown>[] {
  if (!prefix) return [];
  const literal = assertPlainId(prefix, 'takeOverPrefix').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Two conditions in $and (not one operator object): the same on every wire-compatible server.
  return [
    {
      $and: [
        { owner: mongoose.trusted({ $regex: `^${literal}` }) },
        { owner: mongoose.trusted({ $ne: owner }) },
      ],
    },
  ];
}

/** Ids the store handed out (ObjectId hex); anything else is a caller mistake. */
function oidList(ids: readonly string[], what: string): Types.ObjectId[] {
  if (!Array.isArray(ids)) throw new MongoStoreInputError(`${what}: ids must be an array`);
  return ids.map((id) => {
    const oid = objectIdOf(id, what);
    if (!oid) throw new MongoStoreInputError(`${what}: unknown id ${JSON.stringify(id)}`);
    return oid;
  });
}

export class MongoStore implements IncidentStore {
  readonly kind = 'mongodb' as const;
  /** Hosts of the connection string, without credentials (for messages and logs). */
  readonly hosts: string;
  /**
   * Whether the deployment supports multi-document transactions (replica set / sharded
   * cluster). Informational only: no guarantee of this adapter depends on transactions.
   */
  readonly transactions: boolean;
  private closed = false;
  private readonly log: MongoLogger;
  private readonly Incident: Model<IncidentDoc>;
  private readonly Batch: Model<BatchDoc>;
  private readonly Counter: Model<CounterDoc>;
  private readonly Postmortem: Model<PostmortemDoc>;
  private readonly Effect: Model<EffectDoc>;
  private readonly Inbox: Model<InboxDoc>;
  /** Writes of this process to one incident queue up (fewer lost races between replicas). */
  private readonly lanes = new Map<string, Promise<unknown>>();

  /** Prefer openMongoStore(); this wraps an existing connection (made with bufferCommands off). */
  constructor(
    readonly connection: Connection,
    opts: {
      hosts: string;
      logger?: MongoLogger;
      transactions?: boolean;
    },
  ) {
    this.hosts = opts.hosts;
    this.transactions = opts.transactions ?? false;
    this.log = opts.logger ?? noopLogger;
    this.Incident = incidentModel(connection);
    this.Batch = batchModel(connection);
    this.Counter = counterModel(connection);
    this.Postmortem = postmortemModel(connection);
    this.Effect = effectModel(connection);
    this.Inbox = inboxModel(connection);
    const ctx = { store: 'mongodb', hosts: this.hosts };
    // An 'error' event without a listener would crash the process: always listen.
    connection.on('error', (err: unknown) =>
      this.log.error({ ...ctx, err: errorText(err) }, 'MongoDB connection error'),
    );
    connection.on('disconnected', () => {
      if (!this.closed) {
        this.log.warn(ctx, 'MongoDB disconnected; writes fail until the driver reconnects');
      }
    });
    connection.on('reconnected', () => this.log.info(ctx, 'MongoDB reconnected'));
  }

  /**
   * Creates every collection's indexes (idempotent). An index of ours whose definition changed
   * (e.g. the key indexes, partial before, sparse now) is dropped by name and created anew.
   */
  async ensureIndexes(): Promise<void> {
    await this.run('ensureIndexes', 'all collections', async () => {
      for (const m of [
        this.Incident,
        this.Batch,
        this.Counter,
        this.Postmortem,
        this.Effect,
        this.Inbox,
      ] as Model<unknown>[]) {
        await m.createCollection().catch((err: unknown) => {
          // 48 NamespaceExists: another replica (or an earlier start) created it.
          if ((err as { code?: number }).code !== 48) throw err;
        });
        for (const [fields, declared] of m.schema.indexes()) {
          // Our declarations use plain booleans (no mongoose [value, message] pairs).
          const options = declared as mongoose.mongo.CreateIndexesOptions;
          try {
            await m.collection.createIndex(fields as Record<string, 1 | -1>, options);
          } catch (err) {
            const code = (err as { code?: number }).code;
            // 85 IndexOptionsConflict, 86 IndexKeySpecsConflict: an older definition.
            if ((code !== 85 && code !== 86) || typeof options.name !== 'string') throw err;
            this.log.warn(
              { store: 'mongodb', index: options.name },
              'MongoDB index definition changed: recreating it',
            );
            await m.collection.dropIndex(options.name);
            await m.collection.createIndex(fields as Record<string, 1 | -1>, options);
          }
        }
      }
    });
  }

  /**
   * Converts a database written by 0.1 (collection `events`, one document per event, seqs from a
   * counter) to batches: each incident's legacy events become its batch v1, already applied.
   * Idempotent and safe to run from several replicas at once (the unique {incidentId, v} index
   * lets one conversion win); `events` is renamed to `events_v1` afterwards and kept.
   */
  async convertLegacyEvents(): Promise<number> {
    return this.run('convertLegacyEvents', 'events -> batches', async () => {
      const db = this.connection.db;
      if (!db) return 0;
      const legacy = await db.listCollections({ name: 'events' }).toArray();
      if (legacy.length === 0) return 0;
      const events = db.collection('events');
      const ids = (await events.distinct('incidentId')) as Types.ObjectId[];
      let converted = 0;
      for (const incidentId of ids) {
        if (await this.Batch.exists({ incidentId }).exec()) continue;
        const incident = await this.Incident.findById(incidentId).lean<IncidentDoc>().exec();
        if (!incident) continue;
        const docs = await events.find({ incidentId }).sort({ seq: 1 }).toArray();
        const batchEvents = docs.map((d) => ({
          seq: d.seq as number,
          type: d.type as BatchEventDoc['type'],
          occurredAt: d.occurredAt as Date,
          recordedAt: d.recordedAt as Date,
          actor: d.actor as BatchEventDoc['actor'],
          source: d.source as BatchEventDoc['source'],
          ...(typeof d.key === 'string' ? { key: d.key } : {}),
          payload: (d.payload ?? {}) as Record<string, unknown>,
        }));
        const keys = batchEvents.flatMap((e) => (e.key === undefined ? [] : [e.key]));
        try {
          await this.Batch.create([
            {
              incidentId,
              v: 1,
              first: 1,
              last: batchEvents.at(-1)?.seq ?? 0,
              events: batchEvents,
              ...(keys.length > 0 ? { keys } : {}),
              status: incident.status,
              summary: {},
              effects: [],
              inboxDone: [],
              applied: true,
            },
          ]);
          converted += 1;
        } catch (err) {
          if (duplicateKeyIndex(err) !== BATCH_VERSION_INDEX) throw err;
        }
      }
      await this.Incident.updateMany(
        { appliedV: mongoose.trusted({ $exists: false }) },
        { $set: { appliedV: 0 } },
      ).exec();
      await events.rename('events_v1').catch((err: unknown) => {
        // 26 NamespaceNotFound / 48 NamespaceExists: another replica renamed it first.
        const e = err as { code?: number; message?: string };
        const gone =
          e.code === 26 || /namespace does not exist|ns not found/i.test(e.message ?? '');
        if (!gone && e.code !== 48) throw err;
      });
      if (converted > 0) {
        this.log.info({ store: 'mongodb', converted }, 'converted 0.1 event documents to batches');
      }
      return converted;
    });
  }

  /** Runs a database operation; MongoDB failures become StoreUnavailableError with context. */
  private async run<T>(op: string, context: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) {
      throw new StoreUnavailableError(`MongoDB store is closed (${op}, ${context})`);
    }
    try {
      return await fn();
    } catch (err) {
      if (
        err instanceof MongoStoreInputError ||
        err instanceof StoreUnavailableError ||
        err instanceof ConflictError ||
        err instanceof IncidentClosedError
      ) {
        throw err;
      }
      throw new StoreUnavailableError(
        `MongoDB at ${this.hosts}: ${op} failed (${context}): ${errorText(err)}`,
        err,
      );
    }
  }

  /** Runs `fn` after this process's earlier writes to the same incident. */
  private inLane<T>(incidentId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.lanes.get(incidentId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.lanes.set(incidentId, tail);
    void tail.then(() => {
      if (this.lanes.get(incidentId) === tail) this.lanes.delete(incidentId);
    });
    return next;
  }

  /** Atomically adds 1 to a counter; returns the new value. */
  private async nextNumber(counterId: string): Promise<number> {
    const inc = () =>
      this.Counter.findOneAndUpdate(
        { _id: counterId },
        { $inc: { seq: 1 } },
        { upsert: true, new: true, lean: true },
      ).exec();
    let doc: CounterDoc | null;
    try {
      doc = await inc();
    } catch (err) {
      // Two first-ever upserts of one counter can race on _id; the loser simply retries.
      if (duplicateKeyIndex(err) === undefined) throw err;
      doc = await inc();
    }
    if (!doc || typeof doc.seq !== 'number') throw new Error(`counter ${counterId} not returned`);
    return doc.seq;
  }

  /** Moves the team's counter past the highest stored number (e.g. after a migration). */
  private async resyncIncidentCounter(team: string): Promise<void> {
    const top = await this.Incident.findOne({ team }, { number: 1 })
      .sort({ number: -1 })
      .lean<Pick<IncidentDoc, 'number'>>()
      .exec();
    await this.Counter.updateOne(
      { _id: incidentCounterId(team) },
      { $max: { seq: top?.number ?? 0 } },
      { upsert: true },
    ).exec();
  }

  private async findIncidentByKey(key: string): Promise<IncidentDoc | null> {
    return this.Incident.findOne({ key }).lean<IncidentDoc>().exec();
  }

  /** The incident's newest batch (its write version, last seq and status). */
  private async head(incident: IncidentDoc): Promise<Head> {
    const top = await this.Batch.findOne(
      { incidentId: incident._id },
      { v: 1, last: 1, status: 1, applied: 1 },
    )
      .sort({ v: -1 })
      .lean<Pick<BatchDoc, 'v' | 'last' | 'status' | 'applied'>>()
      .exec();
    if (!top) return { v: 0, last: 0, status: incident.status, applied: true };
    return { v: top.v, last: top.last, status: top.status, applied: top.applied };
  }

  /**
   * Writes one batch for the incident: the conditional, all-or-nothing write behind commit,
   * append, updateSummary and effect outcomes (see models/batch.ts). Re-reads and retries when
   * another writer took the next version first, unless the record moved past `expectedSeq`
   * (ConflictError). Returns undefined when there is nothing to write.
   */
  private async writeBatch(
    incident: IncidentDoc,
    input: BatchInput,
  ): Promise<{ result: AppendResult; effects: StoredEffect[] }> {
    const isDuplicate: boolean[] = input.docs.map(() => false);
    const seen = new Set<string>();
    input.docs.forEach((d, i) => {
      if (d.key === undefined) return;
      if (seen.has(d.key)) isDuplicate[i] = true;
      seen.add(d.key);
    });
    const keys = [...seen];
    const now = new Date();
    const effects = input.effects.map((e) => effectToBatchDoc(e, now));
    for (let attempt = 1; ; attempt++) {
      let head = await this.head(incident);
      if (!head.applied) {
        // A batch a writer has not applied yet (in flight, or it died): its projection first,
        // as the projection applies in version order.
        await this.applyPending(incident._id);
        head = await this.head(incident);
      }
      if (input.requireOpen && head.status === 'closed') {
        throw new IncidentClosedError(`incident ${incident.number} is closed`);
      }
      if (input.expectedSeq !== undefined && head.last !== input.expectedSeq) {
        throw new ConflictError(
          `the record is at ${head.last}, the decision was made at ${input.expectedSeq}`,
        );
      }
      if (keys.length > 0) {
        // Keys are validated strings; trusted() lets this one $in through sanitizeFilter.
        const found = await this.Batch.find({ keys: mongoose.trusted({ $in: keys }) }, { keys: 1 })
          .lean<Pick<BatchDoc, 'keys'>[]>()
          .exec();
        const recorded = new Set(found.flatMap((f) => f.keys ?? []));
        input.docs.forEach((d, i) => {
          if (d.key !== undefined && recorded.has(d.key)) isDuplicate[i] = true;
        });
      }
      const todo = input.docs.map((_, i) => i).filter((i) => !isDuplicate[i]);
      const changes = checkSummary(input.summary);
      const result: AppendResult = { appended: [], duplicates: [] };
      if (
        todo.length === 0 &&
        Object.keys(changes).length === 0 &&
        effects.length === 0 &&
        input.inboxDone.length === 0
      ) {
        input.events.forEach((e) => result.duplicates.push(e));
        return { result, effects: [] };
      }
      const events = todo.map((i, j) => ({ ...input.docs[i], seq: head.last + 1 + j }));
      const batchKeys = events.flatMap((e) => (e.key === undefined ? [] : [e.key]));
      const batch = {
        _id: new mongoose.Types.ObjectId(),
        incidentId: incident._id,
        v: head.v + 1,
        first: head.last + 1,
        last: head.last + events.length,
        events,
        ...(batchKeys.length > 0 ? { keys: batchKeys } : {}),
        status: changes.status ?? head.status,
        summary: changes,
        effects,
        inboxDone: input.inboxDone,
        applied: false,
      };
      try {
        await this.Batch.create([batch]);
      } catch (err) {
        const index = duplicateKeyIndex(err);
        if (
          (index === BATCH_VERSION_INDEX || index === EVENT_KEY_INDEX) &&
          attempt < MAX_ATTEMPTS
        ) {
          // Lost a race: re-read the head (and the keys) and decide again.
          if (attempt > 3) await sleep(Math.random() * Math.min(50, attempt * 2));
          continue;
        }
        throw err;
      }
      const stored = new Map<number, StoredEvent>();
      todo.forEach((i, j) => stored.set(i, eventFromDoc(events[j])));
      input.events.forEach((e, i) => {
        const s = stored.get(i);
        if (s) result.appended.push(s);
        else result.duplicates.push(e);
      });
      // Every earlier batch is applied (head.applied), so applying this one keeps the order.
      const added = await this.applyBatches([batch]);
      return {
        result,
        effects: added.filter((e) => effects.some((b) => b._id.equals(e.id))).map((e) => e),
      };
    }
  }

  /**
   * Applies the incident's unapplied batches in version order: the incident projection
   * (conditional on `appliedV`, so each batch is applied once and in order), the outbox rows
   * (fixed ids: inserting twice is a no-op) and the inbox completions. Idempotent; safe to run
   * from several replicas at once. Returns the effects inserted as new rows by this call.
   */
  private async applyPending(incidentId: Types.ObjectId): Promise<StoredEffect[]> {
    const pending = await this.Batch.find({ incidentId, applied: false })
      .sort({ v: 1 })
      .lean<BatchDoc[]>()
      .exec();
    return this.applyBatches(pending);
  }

  /** Applies these batches of one incident, in the given (version) order. */
  private async applyBatches(
    batches: Pick<BatchDoc, '_id' | 'incidentId' | 'v' | 'summary' | 'effects' | 'inboxDone'>[],
  ): Promise<StoredEffect[]> {
    const added: StoredEffect[] = [];
    for (const b of batches) {
      await this.Incident.updateOne(
        { _id: b.incidentId, appliedV: mongoose.trusted({ $lt: b.v }) },
        { $set: { ...b.summary, appliedV: b.v } },
        { runValidators: true },
      ).exec();
      for (const e of b.effects) {
        const stored = await this.insertEffect(e);
        if (stored) added.push(stored);
      }
      if (b.inboxDone.length > 0) await this.markInboxDone(b.inboxDone);
      await this.Batch.updateOne({ _id: b._id }, { $set: { applied: true } }).exec();
    }
    return added;
  }

  /**
   * Inserts an outbox row unless its key is pending (then the pending one takes the newest
   * payload, and is delivered once more when it is being delivered right now). Returns the new
   * row, or undefined when coalesced or already inserted (a re-applied batch).
   */
  private async insertEffect(e: BatchEffectDoc): Promise<StoredEffect | undefined> {
    if (await this.Effect.exists({ _id: e._id }).exec()) return undefined;
    const now = new Date();
    let notBefore = e.notBefore;
    if (e.spacingMs > 0) {
      const last = await this.Effect.findOne({ key: e.key, state: 'done' }, { doneAt: 1 })
        .sort({ doneAt: -1 })
        .lean<Pick<EffectDoc, 'doneAt'>>()
        .exec();
      if (last?.doneAt) {
        notBefore = new Date(Math.max(notBefore.getTime(), last.doneAt.getTime() + e.spacingMs));
      }
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const [doc] = await this.Effect.create([
          {
            _id: e._id,
            key: e.key,
            pendingKey: e.key,
            kind: e.kind,
            ...(e.incidentId ? { incidentId: e.incidentId } : {}),
            payload: e.payload,
            notBefore,
            spacingMs: e.spacingMs,
            state: 'pending',
            attempts: 0,
            redo: false,
          },
        ]);
        return effectFromDoc(doc.toObject());
      } catch (err) {
        const index = duplicateKeyIndex(err);
        if (index === '_id_') return undefined;
        if (index !== EFFECT_PENDING_KEY_INDEX) throw err;
      }
      // Coalesce into the pending one: newest payload; redo when its lease is live.
      const live = await this.Effect.updateOne(
        { pendingKey: e.key, leaseUntil: mongoose.trusted({ $gte: now }) },
        { $set: { payload: e.payload, redo: true } },
      ).exec();
      if (live.matchedCount > 0) return undefined;
      const idle = await this.Effect.updateOne(
        { pendingKey: e.key },
        { $set: { payload: e.payload } },
      ).exec();
      if (idle.matchedCount > 0) return undefined;
      // The pending one completed in between: insert again.
    }
    throw new Error(`effect ${e.key}: could not insert or coalesce`);
  }

  private async markInboxDone(ids: Types.ObjectId[]): Promise<void> {
    await this.Inbox.updateMany(
      { _id: mongoose.trusted({ $in: ids }), state: 'pending' },
      { $set: { state: 'done', doneAt: new Date() }, $unset: { owner: 1, leaseUntil: 1 } },
    ).exec();
  }

  /** Applies batches left unapplied for a while (their writer died): projection, outbox, inbox. */
  private async sweep(): Promise<void> {
    const stale = await this.Batch.find(
      {
        applied: false,
        createdAt: mongoose.trusted({ $lt: new Date(Date.now() - SWEEP_AFTER_MS) }),
      },
      { incidentId: 1 },
    )
      .limit(100)
      .lean<Pick<BatchDoc, 'incidentId'>[]>()
      .exec();
    const ids = new Map(stale.map((b) => [b.incidentId.toHexString(), b.incidentId]));
    for (const [hex, oid] of ids) {
      await this.inLane(hex, () => this.applyPending(oid));
    }
    // Completed requests whose owed effects did not reach the outbox (the completer died).
    const owed = await this.Inbox.find(
      {
        effectsPending: true,
        doneAt: mongoose.trusted({ $lt: new Date(Date.now() - SWEEP_AFTER_MS) }),
      },
      { effects: 1 },
    )
      .limit(100)
      .lean<Pick<InboxDoc, '_id' | 'effects'>[]>()
      .exec();
    for (const item of owed) await this.applyInboxEffects(item._id, item.effects ?? []);
  }

  private async incidentOrThrow(incidentId: string, what: string): Promise<IncidentDoc> {
    const oid = objectIdOf(incidentId);
    const doc = oid ? await this.Incident.findById(oid).lean<IncidentDoc>().exec() : null;
    if (!doc) {
      throw new MongoStoreInputError(
        `cannot ${what} incident ${JSON.stringify(incidentId)}: no such incident`,
      );
    }
    return doc;
  }

  async createIncident(input: CreateIncidentInput): Promise<CreateIncidentResult> {
    const team = assertPlainId(input?.team, 'createIncident: team');
    const s = input.summary;
    if (typeof s?.title !== 'string' || typeof s.zone !== 'string' || !s.severity || !s.status) {
      throw new MongoStoreInputError(
        'createIncident: summary needs title, severity, status and zone',
      );
    }
    const summary = checkSummary(s);
    const key =
      input.key === undefined ? undefined : assertPlainId(input.key, 'createIncident: key');
    const docs = input.events.map(eventToDoc);
    const given = input.number;
    if (given !== undefined && (!Number.isSafeInteger(given) || given < 1)) {
      throw new MongoStoreInputError('createIncident: number must be a whole number >= 1');
    }
    const createdAt =
      input.createdAt === undefined
        ? undefined
        : toDate(input.createdAt, 'createIncident createdAt');
    const context = `team ${team}${key === undefined ? '' : `, key ${key}`}`;
    return this.run('createIncident', context, async () => {
      for (let attempt = 0; ; attempt++) {
        if (key !== undefined) {
          const existing = await this.findIncidentByKey(key);
          if (existing) return { incident: incidentFromDoc(existing), created: false, events: [] };
        }
        const number = given ?? (await this.nextNumber(incidentCounterId(team)));
        let saved: IncidentDoc;
        try {
          const [doc] = await this.Incident.create([
            {
              team,
              number,
              ...summary,
              ...(key === undefined ? {} : { key }),
              ...(createdAt === undefined ? {} : { createdAt, updatedAt: createdAt }),
              appliedV: 0,
            },
          ]);
          saved = doc.toObject();
        } catch (err) {
          const index = duplicateKeyIndex(err);
          if (key !== undefined && index === INCIDENT_KEY_INDEX) continue; // the winner is found above
          if (index === INCIDENT_NUMBER_INDEX && given !== undefined) {
            throw new MongoStoreInputError(`team ${team} already has INC-${given}`);
          }
          if (index === INCIDENT_NUMBER_INDEX && attempt < 3) {
            // The counter is behind the stored numbers (e.g. data copied in): catch up, retry.
            await this.resyncIncidentCounter(team);
            continue;
          }
          throw err;
        }
        if (given !== undefined) await this.resyncIncidentCounter(team);
        // The opening batch (v 1). A crash before it leaves an incident with an empty record.
        const { result } = await this.inLane(saved._id.toHexString(), () =>
          this.writeBatch(saved, {
            requireOpen: false,
            events: input.events,
            docs,
            summary: summary,
            effects: [],
            inboxDone: [],
          }),
        );
        const fresh = await this.Incident.findById(saved._id).lean<IncidentDoc>().exec();
        return {
          incident: incidentFromDoc(fresh ?? saved),
          created: true,
          events: result.appended,
        };
      }
    });
  }

  async append(
    incidentId: string,
    events: NewEvent[],
    summary?: Partial<IncidentSummary>,
  ): Promise<AppendResult> {
    const docs = events.map(eventToDoc);
    const changes = checkSummary(summary ?? {});
    const context = `incident ${incidentId}, ${events.length} event(s)`;
    return this.run('append', context, async () => {
      const incident = await this.incidentOrThrow(incidentId, 'append to');
      const { result } = await this.inLane(incidentId, () =>
        this.writeBatch(incident, {
          requireOpen: false,
          events,
          docs,
          summary: changes,
          effects: [],
          inboxDone: [],
        }),
      );
      return result;
    });
  }

  async updateSummary(incidentId: string, summary: Partial<IncidentSummary>): Promise<void> {
    const changes = checkSummary(summary);
    await this.run('updateSummary', `incident ${incidentId}`, async () => {
      const incident = await this.incidentOrThrow(incidentId, 'update');
      await this.inLane(incidentId, () =>
        this.writeBatch(incident, {
          requireOpen: false,
          events: [],
          docs: [],
          summary: changes,
          effects: [],
          inboxDone: [],
        }),
      );
    });
  }

  async commit(input: CommitInput): Promise<CommitResult> {
    const docs = (input?.events ?? []).map(eventToDoc);
    const changes = checkSummary(input.summary ?? {});
    if (input.expectedSeq !== undefined && !Number.isSafeInteger(input.expectedSeq)) {
      throw new MongoStoreInputError('commit: expectedSeq must be an integer');
    }
    const inboxDone = oidList(input.inboxDone ?? [], 'commit inboxDone');
    const effects = input.effects ?? [];
    const context = `incident ${input.incidentId}, ${docs.length} event(s)`;
    return this.run('commit', context, async () => {
      const incident = await this.incidentOrThrow(input.incidentId, 'commit to');
      const { result, effects: added } = await this.inLane(input.incidentId, () =>
        this.writeBatch(incident, {
          expectedSeq: input.expectedSeq,
          requireOpen: input.requireOpen === true,
          events: input.events ?? [],
          docs,
          summary: changes,
          effects,
          inboxDone,
        }),
      );
      return { ...result, effects: added };
    });
  }

  async enqueueInbox(item: NewInboxItem): Promise<{ item: InboxItem; inserted: boolean }> {
    const key = assertPlainId(item?.key, 'inbox key');
    const receivedAt = toDate(item.receivedAt, 'inbox receivedAt');
    if (typeof item.body !== 'string' || typeof item.partition !== 'string') {
      throw new MongoStoreInputError('inbox body and partition must be strings');
    }
    const lease = item.lease
      ? {
          owner: assertPlainId(item.lease.owner, 'inbox lease owner'),
          leaseUntil: toDate(item.lease.until, 'inbox lease until'),
        }
      : undefined;
    return this.run('enqueueInbox', `key ${key}`, async () => {
      try {
        const [doc] = await this.Inbox.create([
          {
            key,
            kind: item.kind,
            partition: item.partition,
            body: item.body,
            receivedAt,
            state: 'pending',
            // Leased at once by the replica that received it (it processes the item next).
            attempts: lease ? 1 : 0,
            ...(lease ?? {}),
          },
        ]);
        return { item: inboxFromDoc(doc.toObject()), inserted: true };
      } catch (err) {
        if (duplicateKeyIndex(err) !== INBOX_KEY_INDEX) throw err;
        const existing = await this.Inbox.findOne({ key }).lean<InboxDoc>().exec();
        if (!existing) throw err;
        return { item: inboxFromDoc(existing), inserted: false };
      }
    });
  }

  async claimInbox(opts: ClaimInboxOptions): Promise<InboxItem[]> {
    const owner = assertPlainId(opts?.owner, 'claimInbox owner');
    const now = toDate(opts.now, 'claimInbox now');
    const until = toDate(opts.leaseUntil, 'claimInbox leaseUntil');
    const ids = opts.ids === undefined ? undefined : oidList(opts.ids, 'claimInbox');
    const takeOver = ids ? [] : takeOverClause(opts.takeOverPrefix, owner);
    return this.run('claimInbox', `owner ${owner}`, async () => {
      const out: InboxItem[] = [];
      while (out.length < opts.limit) {
        const filter: Record<string, unknown> = {
          state: 'pending',
          $or: [{ leaseUntil: null }, { leaseUntil: mongoose.trusted({ $lt: now }) }, ...takeOver],
        };
        if (ids) filter._id = mongoose.trusted({ $in: ids });
        const doc = await this.Inbox.findOneAndUpdate(
          filter,
          { $set: { owner, leaseUntil: until }, $inc: { attempts: 1 } },
          { sort: { _id: 1 }, new: true },
        )
          .lean<InboxDoc>()
          .exec();
        if (!doc) break;
        out.push(inboxFromDoc(doc));
      }
      return out;
    });
  }

  async completeInbox(ids: string[], effects: NewEffect[] = []): Promise<InboxCompletion> {
    const oids = oidList(ids, 'completeInbox');
    const now = new Date();
    // Outbox ids fixed now: applying the embedded effects twice inserts each row once.
    const docs = effects.map((e) => effectToBatchDoc(e, now));
    return this.run('completeInbox', `${oids.length} item(s)`, async () => {
      const done: Types.ObjectId[] = [];
      let carrier: Types.ObjectId | undefined;
      for (const oid of oids) {
        // ONE document update: pending → done, with the owed effects embedded (the first item
        // that moves carries them). A second completion matches nothing and adds nothing.
        const carry = docs.length > 0 && carrier === undefined;
        const res = await this.Inbox.updateOne(
          { _id: oid, state: 'pending' },
          {
            $set: {
              state: 'done',
              doneAt: now,
              ...(carry ? { effects: docs, effectsPending: true } : {}),
            },
            $unset: { owner: 1, leaseUntil: 1 },
          },
        ).exec();
        if (res.matchedCount === 0) continue;
        done.push(oid);
        if (carry) carrier = oid;
      }
      const added = carrier ? await this.applyInboxEffects(carrier, docs) : [];
      return { done: done.map((o) => o.toHexString()), effects: added };
    });
  }

  /**
   * Inserts the effects a completed inbox item carries into the outbox (idempotent: fixed ids),
   * then clears its `effectsPending` flag. Run by the completer, or by the sweeper when the
   * completer died in between.
   */
  private async applyInboxEffects(
    inboxId: Types.ObjectId,
    docs: BatchEffectDoc[],
  ): Promise<StoredEffect[]> {
    const added: StoredEffect[] = [];
    for (const d of docs) {
      const stored = await this.insertEffect(d);
      if (stored) added.push(stored);
    }
    await this.Inbox.updateOne(
      { _id: inboxId, effectsPending: true },
      { $unset: { effectsPending: 1 } },
    ).exec();
    return added;
  }

  async addEffects(effects: NewEffect[]): Promise<StoredEffect[]> {
    const now = new Date();
    const docs = effects.map((e) => effectToBatchDoc(e, now));
    return this.run('addEffects', `${docs.length} effect(s)`, async () => {
      const out: StoredEffect[] = [];
      for (const d of docs) {
        const stored = await this.insertEffect(d);
        if (stored) out.push(stored);
      }
      return out;
    });
  }

  async claimEffects(opts: ClaimEffectsOptions): Promise<StoredEffect[]> {
    const owner = assertPlainId(opts?.owner, 'claimEffects owner');
    const now = toDate(opts.now, 'claimEffects now');
    const until = toDate(opts.leaseUntil, 'claimEffects leaseUntil');
    const takeOver = takeOverClause(opts.takeOverPrefix, owner);
    return this.run('claimEffects', `owner ${owner}`, async () => {
      await this.sweep();
      const out: StoredEffect[] = [];
      while (out.length < opts.limit) {
        const doc = await this.Effect.findOneAndUpdate(
          {
            state: 'pending',
            notBefore: mongoose.trusted({ $lte: now }),
            $or: [
              { leaseUntil: null },
              { leaseUntil: mongoose.trusted({ $lt: now }) },
              ...takeOver,
            ],
          },
          { $set: { owner, leaseUntil: until }, $inc: { attempts: 1 } },
          { sort: { notBefore: 1, _id: 1 }, new: true },
        )
          .lean<EffectDoc>()
          .exec();
        if (!doc) break;
        out.push(effectFromDoc(doc));
      }
      return out;
    });
  }

  /**
   * Housekeeping (see IncidentStore.pruneDone). The sweeper may still apply a batch whose writer
   * died, or the effects a completed inbox item carries (`effectsPending`), and applying them
   * re-inserts effects unless their rows (fixed ids) still exist: so no effect is deleted that
   * was finished after the oldest such batch or item was written (minus a minute for clocks of
   * replicas that disagree), and an inbox item whose effects are not applied yet is kept.
   * Applying a batch only marks pending inbox items done, so deleting done ones is safe.
   */
  async pruneDone(opts: PruneOptions): Promise<PruneResult> {
    const inboxBefore = toDate(opts.inboxBefore, 'pruneDone inboxBefore');
    const effectsBefore = toDate(opts.effectsBefore, 'pruneDone effectsBefore');
    const deadBefore = toDate(opts.deadEffectsBefore, 'pruneDone deadEffectsBefore');
    return this.run('pruneDone', 'inbox and outbox', async () => {
      const oldest = await this.Batch.findOne({ applied: false }, { createdAt: 1 })
        .sort({ createdAt: 1 })
        .lean<Pick<BatchDoc, 'createdAt'>>()
        .exec();
      const carrying = await this.Inbox.findOne({ effectsPending: true }, { doneAt: 1 })
        .sort({ doneAt: 1 })
        .lean<Pick<InboxDoc, 'doneAt'>>()
        .exec();
      const guard = Math.min(
        oldest ? oldest.createdAt.getTime() - 60_000 : Infinity,
        carrying?.doneAt ? carrying.doneAt.getTime() - 60_000 : Infinity,
      );
      const cap = (d: Date): Date => new Date(Math.min(d.getTime(), guard));
      const inbox = await this.Inbox.deleteMany({
        state: 'done',
        doneAt: mongoose.trusted({ $lt: inboxBefore }),
        effectsPending: mongoose.trusted({ $ne: true }),
      }).exec();
      const effects = await this.Effect.deleteMany({
        state: 'done',
        doneAt: mongoose.trusted({ $lt: cap(effectsBefore) }),
      }).exec();
      const dead = await this.Effect.deleteMany({
        state: 'dead',
        doneAt: mongoose.trusted({ $lt: cap(deadBefore) }),
      }).exec();
      return {
        inbox: inbox.deletedCount,
        effects: effects.deletedCount,
        deadEffects: dead.deletedCount,
      };
    });
  }

  async nextEffectDue(): Promise<DateTime | undefined> {
    return this.run('nextEffectDue', 'outbox', async () => {
      const docs = await this.Effect.find({ state: 'pending' }, { notBefore: 1, leaseUntil: 1 })
        .lean<Pick<EffectDoc, 'notBefore' | 'leaseUntil'>[]>()
        .exec();
      let t: number | undefined;
      for (const d of docs) {
        const due = Math.max(d.notBefore.getTime(), d.leaseUntil?.getTime() ?? 0);
        t = t === undefined ? due : Math.min(t, due);
      }
      return t === undefined ? undefined : DateTime.fromMillis(t, { zone: 'utc' });
    });
  }

  async completeEffect(
    id: string,
    owner: string,
    outcome?: { incidentId?: string; events?: NewEvent[]; effects?: NewEffect[] },
  ): Promise<void> {
    const [oid] = oidList([id], 'completeEffect');
    assertPlainId(owner, 'completeEffect owner');
    const events = outcome?.events ?? [];
    const docs = events.map(eventToDoc);
    await this.run('completeEffect', `effect ${id}`, async () => {
      const row = await this.Effect.findOne({ _id: oid, state: 'pending', owner })
        .lean<EffectDoc>()
        .exec();
      if (!row) return; // the lease was lost: another replica owns it now
      // The outcome first (one batch: events and follow-up effects together), then the effect
      // done: a crash in between redelivers the effect (at least once), never loses the outcome.
      const incidentId = outcome?.incidentId ?? row.incidentId?.toHexString();
      if (events.length > 0) {
        if (incidentId === undefined) {
          throw new MongoStoreInputError('effect outcome events need an incident');
        }
        const incident = await this.incidentOrThrow(incidentId, 'record an outcome for');
        await this.inLane(incidentId, () =>
          this.writeBatch(incident, {
            requireOpen: false,
            events,
            docs,
            summary: {},
            effects: outcome?.effects ?? [],
            inboxDone: [],
          }),
        );
      } else if ((outcome?.effects ?? []).length > 0) {
        const now = new Date();
        for (const e of outcome?.effects ?? []) await this.insertEffect(effectToBatchDoc(e, now));
      }
      const now = new Date();
      if (row.redo) {
        await this.Effect.updateOne(
          { _id: oid, state: 'pending', owner },
          {
            $set: { redo: false, attempts: 0, notBefore: new Date(now.getTime() + row.spacingMs) },
            $unset: { owner: 1, leaseUntil: 1, lastError: 1 },
          },
        ).exec();
      } else {
        await this.Effect.updateOne(
          { _id: oid, state: 'pending', owner },
          {
            $set: { state: 'done', doneAt: now },
            $unset: { pendingKey: 1, owner: 1, leaseUntil: 1 },
          },
        ).exec();
      }
    });
  }

  async failEffect(
    id: string,
    owner: string,
    failure: { error: string; retryAt?: DateTime; dead?: boolean },
  ): Promise<void> {
    const [oid] = oidList([id], 'failEffect');
    assertPlainId(owner, 'failEffect owner');
    const retryAt =
      failure?.retryAt === undefined ? new Date() : toDate(failure.retryAt, 'failEffect retryAt');
    const error = String(failure?.error ?? '');
    await this.run('failEffect', `effect ${id}`, async () => {
      if (failure.dead) {
        await this.Effect.updateOne(
          { _id: oid, state: 'pending', owner },
          {
            $set: { state: 'dead', doneAt: new Date(), lastError: error, redo: false },
            $unset: { pendingKey: 1, owner: 1, leaseUntil: 1 },
          },
        ).exec();
      } else {
        await this.Effect.updateOne(
          { _id: oid, state: 'pending', owner },
          { $set: { notBefore: retryAt, lastError: error }, $unset: { owner: 1, leaseUntil: 1 } },
        ).exec();
      }
    });
  }

  async getIncident(incidentId: string): Promise<IncidentRecord | undefined> {
    const oid = objectIdOf(incidentId);
    if (!oid) return undefined;
    const doc = await this.run('getIncident', `incident ${incidentId}`, () =>
      this.Incident.findById(oid).lean<IncidentDoc>().exec(),
    );
    return doc ? incidentFromDoc(doc) : undefined;
  }

  async findByNumber(team: string, number: number): Promise<IncidentRecord | undefined> {
    assertPlainId(team, 'team');
    if (!Number.isSafeInteger(number)) return undefined;
    const doc = await this.run('findByNumber', `team ${team}, INC-${number}`, () =>
      this.Incident.findOne({ team, number }).lean<IncidentDoc>().exec(),
    );
    return doc ? incidentFromDoc(doc) : undefined;
  }

  async findByChannel(channel: string): Promise<IncidentRecord | undefined> {
    assertPlainId(channel, 'channel');
    // Only Slack ids are ever stored (checkSummary), so anything else cannot match.
    if (!isSlackId(channel)) return undefined;
    const doc = await this.run('findByChannel', `channel ${channel}`, () =>
      this.Incident.findOne({ channel })
        .sort({ createdAt: -1, _id: -1 })
        .lean<IncidentDoc>()
        .exec(),
    );
    return doc ? incidentFromDoc(doc) : undefined;
  }

  async findByKey(key: string): Promise<IncidentRecord | undefined> {
    assertPlainId(key, 'key');
    const doc = await this.run('findByKey', `key ${key}`, () => this.findIncidentByKey(key));
    return doc ? incidentFromDoc(doc) : undefined;
  }

  /**
   * The pending inbox items and pending effects (for `incident-bot migrate`), without claiming
   * them.
   */
  async pendingQueues(): Promise<{ inbox: NewInboxItem[]; effects: NewEffect[] }> {
    return this.run('pendingQueues', 'inbox and outbox', async () => {
      const inbox = await this.Inbox.find({ state: 'pending' })
        .sort({ _id: 1 })
        .lean<InboxDoc[]>()
        .exec();
      const effects = await this.Effect.find({ state: 'pending' })
        .sort({ _id: 1 })
        .lean<EffectDoc[]>()
        .exec();
      return {
        inbox: inbox.map((d) => {
          const { key, kind, partition, body, receivedAt } = inboxFromDoc(d);
          return { key, kind, partition, body, receivedAt };
        }),
        effects: effects.map((d) => {
          const e = effectFromDoc(d);
          const out: NewEffect & { spacingMs?: number } = {
            key: e.key,
            kind: e.kind,
            payload: e.payload,
            ...(e.notBefore ? { notBefore: e.notBefore } : {}),
          };
          if (e.incidentId !== undefined) out.incidentId = e.incidentId;
          if (d.spacingMs > 0) out.spacingMs = d.spacingMs;
          return out;
        }),
      };
    });
  }

  async listIncidents(filter: ListFilter = {}): Promise<IncidentRecord[]> {
    const query: Record<string, unknown> = {};
    if (filter.team !== undefined) query.team = assertPlainId(filter.team, 'filter.team');
    if (filter.status !== undefined) {
      if (!Array.isArray(filter.status)) {
        throw new MongoStoreInputError('filter.status must be an array of statuses');
      }
      for (const st of filter.status) {
        if (!isStatus(st)) {
          throw new MongoStoreInputError(`filter.status: unknown status ${describeValue(st)}`);
        }
      }
      // Validated enum values; trusted() lets this one $in through sanitizeFilter.
      query.status = mongoose.trusted({ $in: [...filter.status] });
    }
    const docs = await this.run('listIncidents', JSON.stringify(filter), () =>
      this.Incident.find(query)
        .sort({ createdAt: -1, number: -1, _id: -1 })
        .lean<IncidentDoc[]>()
        .exec(),
    );
    return docs.map(incidentFromDoc);
  }

  async listTeams(): Promise<string[]> {
    const teams = await this.run('listTeams', 'all teams', () =>
      this.Incident.distinct<string>('team').exec(),
    );
    return teams.map(String).sort();
  }

  async loadEvents(incidentId: string): Promise<StoredEvent[]> {
    const oid = objectIdOf(incidentId);
    if (!oid) return [];
    const batches = await this.run('loadEvents', `incident ${incidentId}`, () =>
      this.Batch.find({ incidentId: oid }, { events: 1 }).lean<Pick<BatchDoc, 'events'>[]>().exec(),
    );
    const events = batches.flatMap((b) => b.events);
    events.sort((x, y) => x.occurredAt.getTime() - y.occurredAt.getTime() || x.seq - y.seq);
    return events.map(eventFromDoc);
  }

  async hasEventKey(key: string): Promise<boolean> {
    assertPlainId(key, 'key');
    const found = await this.run('hasEventKey', `key ${key}`, () =>
      this.Batch.exists({ keys: key }).exec(),
    );
    return found !== null;
  }

  async savePostmortem(p: RenderedPostmortem): Promise<void> {
    const oid = objectIdOf(p?.incidentId);
    const renderedAt = toDate(p.renderedAt, 'postmortem renderedAt');
    if (p.format !== 'md' && p.format !== 'json') {
      throw new MongoStoreInputError(
        `postmortem format must be md or json, got ${describeValue(p.format)}`,
      );
    }
    if (typeof p.template !== 'string' || typeof p.content !== 'string') {
      throw new MongoStoreInputError('postmortem template and content must be strings');
    }
    await this.run('savePostmortem', `incident ${p.incidentId}`, async () => {
      if (!oid || !(await this.Incident.exists({ _id: oid }).exec())) {
        throw new MongoStoreInputError(
          `cannot save postmortem: no incident ${JSON.stringify(p.incidentId)}`,
        );
      }
      await this.Postmortem.create({
        incidentId: oid,
        template: p.template,
        format: p.format,
        content: p.content,
        renderedAt,
      });
    });
  }

  async latestPostmortem(incidentId: string): Promise<RenderedPostmortem | undefined> {
    const oid = objectIdOf(incidentId);
    if (!oid) return undefined;
    const doc = await this.run('latestPostmortem', `incident ${incidentId}`, () =>
      this.Postmortem.findOne({ incidentId: oid })
        .sort({ renderedAt: -1, _id: -1 })
        .lean<PostmortemDoc>()
        .exec(),
    );
    if (!doc) return undefined;
    return {
      incidentId: doc.incidentId.toHexString(),
      template: doc.template,
      format: doc.format,
      content: doc.content,
      renderedAt: utc(doc.renderedAt),
    };
  }

  /** Round trip to the server; throws StoreUnavailableError when it is not reachable. */
  async ping(): Promise<void> {
    await this.run('ping', 'health check', async () => {
      const db = this.connection.db;
      if (this.connection.readyState !== mongoose.ConnectionStates.connected || !db) {
        throw new Error('not connected (the driver keeps retrying in the background)');
      }
      await db.command({ ping: 1 });
    });
  }

  /** Closes the connection; idempotent. Later calls reject with StoreUnavailableError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }
}

/** The options given to mongoose.createConnection for this config. */
export function connectionOptions(config: MongoConfig): mongoose.ConnectOptions {
  return {
    dbName: config.dbName,
    maxPoolSize: config.maxPoolSize,
    minPoolSize: config.minPoolSize,
    serverSelectionTimeoutMS: config.serverSelectionTimeoutMS,
    connectTimeoutMS: config.connectTimeoutMS,
    socketTimeoutMS: config.socketTimeoutMS,
    writeConcern: { w: config.writeConcern, wtimeoutMS: config.writeTimeoutMS },
    // Read your own acknowledged writes: see the module comment.
    readConcern: { level: config.writeConcern === 'majority' ? 'majority' : 'local' },
    readPreference: 'primary',
    retryWrites: true,
    retryReads: true,
    sanitizeFilter: true,
    // Fail after serverSelectionTimeoutMS instead of queueing commands while disconnected.
    bufferCommands: false,
    // Indexes are created explicitly (and awaited) by openMongoStore.
    autoIndex: false,
    autoCreate: false,
  };
}

/**
 * Connects, creates the indexes and returns the store. Fails fast (within
 * serverSelectionTimeoutMS) with StoreUnavailableError naming the hosts when MongoDB is
 * unreachable.
 */
export async function openMongoStore(
  config: MongoConfig,
  optsOrLogger: OpenMongoStoreOptions | MongoLogger = {},
): Promise<MongoStore> {
  const opts: OpenMongoStoreOptions =
    typeof (optsOrLogger as Partial<MongoLogger>).info === 'function'
      ? { logger: optsOrLogger as MongoLogger }
      : (optsOrLogger as OpenMongoStoreOptions);
  const hosts = describeMongoHosts(config.uri);
  const conn = mongoose.createConnection(config.uri, connectionOptions(config));
  // Until the store listens, swallow 'error' events: asPromise() reports the failure.
  const onEarlyError = () => {};
  conn.on('error', onEarlyError);
  try {
    await conn.asPromise();
  } catch (err) {
    await conn.close(true).catch(() => undefined);
    const reason = redactSecrets(errorText(err), config.uri);
    throw new StoreUnavailableError(
      `Could not connect to MongoDB at ${hosts} within ${config.serverSelectionTimeoutMS} ms: ${reason}`,
      err,
    );
  }
  let transactions = false;
  try {
    // Transactions need a replica set member or mongos; a standalone server has neither.
    const hello = conn.db ? await helloOrIsMaster(conn.db) : undefined;
    transactions = typeof hello?.setName === 'string' || hello?.msg === 'isdbgrid';
  } catch (err) {
    await conn.close(true).catch(() => undefined);
    throw new StoreUnavailableError(
      `MongoDB at ${hosts}: hello/isMaster failed: ${errorText(err)}`,
      err,
    );
  }
  const store = new MongoStore(conn, {
    hosts,
    logger: opts.logger,
    transactions,
  });
  conn.off('error', onEarlyError);
  if (opts.ensureIndexes !== false) {
    try {
      await store.ensureIndexes();
      await store.convertLegacyEvents();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }
  opts.logger?.info(
    { store: 'mongodb', hosts, db: config.dbName, transactions },
    'MongoDB store ready',
  );
  return store;
}

/** Codes a server answers with for a command it does not know (CommandNotFound, older forms). */
const COMMAND_NOT_FOUND = new Set([59, 13390]);

/**
 * The server's `hello` answer, or its `isMaster` answer when the server does not know `hello`
 * (servers before 4.4.2 / 5.0, and some wire-compatible servers). Only "command not found" falls
 * back; any other failure (auth, network) is reported as it is.
 */
export async function helloOrIsMaster(db: {
  admin(): { command(cmd: Record<string, unknown>): Promise<Record<string, unknown>> };
}): Promise<Record<string, unknown>> {
  try {
    return await db.admin().command({ hello: 1 });
  } catch (err) {
    const e = err as { code?: number; codeName?: string; message?: string };
    const notFound =
      (e.code !== undefined && COMMAND_NOT_FOUND.has(e.code)) ||
      e.codeName === 'CommandNotFound' ||
      /no such (?:cmd|command)/i.test(e.message ?? '');
    if (!notFound) throw err;
    return db.admin().command({ isMaster: 1 });
  }
}

/** Removes the URI and its password from a driver message, should either appear in it. */
function redactSecrets(text: string, uri: string): string {
  let out = text.split(uri).join(redactUri(uri));
  const password = /^mongodb(?:\+srv)?:\/\/[^:/?#@]*:([^@/?#]+)@/.exec(uri)?.[1];
  if (password) {
    for (const p of new Set([password, safeDecode(password)])) out = out.split(p).join('***');
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
