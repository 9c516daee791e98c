/**
 * MongoDB adapter (mongoose 8).
 *
 * - Collections: incidents, events (one document per event), counters, postmortems; see
 *   models/ and docs/mongodb.md.
 * - Numbering is race-free across replicas: `counters` documents are incremented atomically
 *   (findOneAndUpdate + $inc + upsert). Event seq is allocated the same way, in blocks.
 * - Idempotency rests on unique partial indexes on `key`; duplicate-key errors (11000) on them
 *   mean "already recorded", anything else is a failure.
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
import mongoose, { type ClientSession, type Connection, type Model, type Types } from 'mongoose';
import {
  EVENT_TYPES,
  SOURCES,
  isSeverity,
  isStatus,
  type NewEvent,
  type StoredEvent,
} from '../../core/model';
import { eventPayload } from '../../core/serialize';
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
} from '../store';
import { describeMongoHosts, redactUri, type MongoConfig } from './config';
import { counterModel, eventCounterId, incidentCounterId, type CounterDoc } from './models/counter';
import { EVENT_KEY_INDEX, eventModel, type EventDoc } from './models/event';
import {
  INCIDENT_KEY_INDEX,
  INCIDENT_NUMBER_INDEX,
  incidentModel,
  type IncidentDoc,
} from './models/incident';
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
  EventDoc,
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

interface WriteErrorLike {
  code?: number;
  index?: number;
  errmsg?: string;
  err?: { code?: number; index?: number; errmsg?: string };
}

/** The index named in a duplicate-key error (code 11000), or undefined for any other error. */
export function duplicateKeyIndex(err: unknown): string | undefined {
  const e = err as { code?: number; message?: string; errmsg?: string } | undefined;
  if (e?.code !== 11000) return undefined;
  const m = /index: (\S+) dup key/.exec(e.errmsg ?? e.message ?? '');
  return m ? m[1] : '';
}

/**
 * For an unordered insertMany error: the positions that failed only because their `key` was
 * already recorded. Returns undefined when anything else went wrong (other write errors, write
 * concern errors, network errors): the whole call is then a failure.
 */
export function duplicateKeyPositions(err: unknown, keyIndex: string): Set<number> | undefined {
  const e = err as {
    writeErrors?: WriteErrorLike[];
    writeConcernErrors?: unknown[];
    result?: { getWriteConcernError?: () => unknown };
  };
  if (!Array.isArray(e?.writeErrors) || e.writeErrors.length === 0) return undefined;
  if (e.result?.getWriteConcernError?.() || (e.writeConcernErrors?.length ?? 0) > 0) {
    return undefined;
  }
  const positions = new Set<number>();
  for (const we of e.writeErrors) {
    // Mongoose re-wraps the driver's WriteError as { err, index }: read both shapes.
    const code = we.code ?? we.err?.code;
    const index = we.index ?? we.err?.index;
    const msg = we.errmsg ?? we.err?.errmsg ?? '';
    if (code !== 11000 || typeof index !== 'number' || !msg.includes(keyIndex)) return undefined;
    positions.add(index);
  }
  return positions;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const noopLogger: MongoLogger = { info() {}, warn() {}, error() {} };

export class MongoStore implements IncidentStore {
  readonly kind = 'mongodb' as const;
  /** Hosts of the connection string, without credentials (for messages and logs). */
  readonly hosts: string;
  /** Whether writes run in transactions (replica set / sharded cluster). */
  readonly transactions: boolean;
  private readonly writeConcern: { w: 'majority' | number; wtimeoutMS: number };
  private closed = false;
  private readonly log: MongoLogger;
  private readonly Incident: Model<IncidentDoc>;
  private readonly Event: Model<EventDoc>;
  private readonly Counter: Model<CounterDoc>;
  private readonly Postmortem: Model<PostmortemDoc>;

  /** Prefer openMongoStore(); this wraps an existing connection (made with bufferCommands off). */
  constructor(
    readonly connection: Connection,
    opts: {
      hosts: string;
      logger?: MongoLogger;
      transactions?: boolean;
      writeConcern?: { w: 'majority' | number; wtimeoutMS: number };
    },
  ) {
    this.hosts = opts.hosts;
    this.transactions = opts.transactions ?? false;
    this.writeConcern = opts.writeConcern ?? { w: 'majority', wtimeoutMS: 10_000 };
    this.log = opts.logger ?? noopLogger;
    this.Incident = incidentModel(connection);
    this.Event = eventModel(connection);
    this.Counter = counterModel(connection);
    this.Postmortem = postmortemModel(connection);
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

  /** Creates every collection's indexes (idempotent). */
  async ensureIndexes(): Promise<void> {
    await this.run('ensureIndexes', 'all collections', async () => {
      for (const m of [
        this.Incident,
        this.Event,
        this.Counter,
        this.Postmortem,
      ] as Model<unknown>[]) {
        await m.createCollection().catch((err: unknown) => {
          // 48 NamespaceExists: another replica (or an earlier start) created it.
          if ((err as { code?: number }).code !== 48) throw err;
        });
        await m.createIndexes();
      }
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
      if (err instanceof MongoStoreInputError || err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(
        `MongoDB at ${this.hosts}: ${op} failed (${context}): ${errorText(err)}`,
        err,
      );
    }
  }

  /** Atomically adds `n` to a counter; returns the new (last allocated) value. */
  private async nextSeq(
    counterId: string,
    n: number,
    session: ClientSession | null,
  ): Promise<number> {
    const inc = () =>
      this.Counter.findOneAndUpdate(
        { _id: counterId },
        { $inc: { seq: n } },
        { upsert: true, new: true, lean: true, session },
      ).exec();
    let doc: CounterDoc | null;
    try {
      doc = await inc();
    } catch (err) {
      // Two first-ever upserts of one counter can race on _id; the loser simply retries
      // (inside a transaction the whole transaction is retried instead).
      if (session || duplicateKeyIndex(err) === undefined) throw err;
      doc = await inc();
    }
    if (!doc || typeof doc.seq !== 'number') throw new Error(`counter ${counterId} not returned`);
    return doc.seq;
  }

  /** Moves the team's counter past the highest stored number (e.g. after an import). */
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

  private async findByKey(key: string, session: ClientSession | null): Promise<IncidentDoc | null> {
    return this.Incident.findOne({ key }).session(session).lean<IncidentDoc>().exec();
  }

  /**
   * Runs `fn` in a transaction when the deployment supports them (replica set, sharded
   * cluster): seq and INC numbers are then gap-free even when replicas race on the same key,
   * because the loser's counter increment is rolled back. A key lost to a concurrent commit
   * (duplicate key) retries the whole transaction, which then sees the winner. On a standalone
   * server `fn` runs without a session.
   */
  private async transact<T>(fn: (session: ClientSession | null) => Promise<T>): Promise<T> {
    if (!this.transactions) return fn(null);
    for (let attempt = 1; ; attempt++) {
      const session = await this.connection.startSession();
      try {
        let result: T | undefined;
        await session.withTransaction(
          async () => {
            result = await fn(session);
          },
          { readConcern: { level: 'snapshot' }, writeConcern: this.writeConcern },
        );
        return result as T;
      } catch (err) {
        const index = duplicateKeyIndex(err);
        if (attempt >= 10 || (index !== EVENT_KEY_INDEX && index !== INCIDENT_KEY_INDEX)) throw err;
      } finally {
        await session.endSession();
      }
    }
  }

  /**
   * Inserts events with fresh seqs, skipping keys repeated in the call or already recorded.
   * Without transactions (standalone server), a key recorded concurrently by another replica
   * fails on the unique index and is reported as a duplicate; its allocated seq stays unused
   * (seq is then increasing but may have gaps). With transactions, see transact().
   */
  private async insertEvents(
    incidentId: Types.ObjectId,
    events: NewEvent[],
    docs: EventFields[],
    session: ClientSession | null,
  ) {
    const isDuplicate: boolean[] = events.map(() => false);
    const seen = new Set<string>();
    docs.forEach((d, i) => {
      if (d.key === undefined) return;
      if (seen.has(d.key)) isDuplicate[i] = true;
      seen.add(d.key);
    });
    const keys = [...seen];
    if (keys.length > 0) {
      // Keys are validated strings; trusted() lets this one $in through sanitizeFilter.
      const found = await this.Event.find({ key: mongoose.trusted({ $in: keys }) }, { key: 1 })
        .session(session)
        .lean<Pick<EventDoc, 'key'>[]>()
        .exec();
      const recorded = new Set(found.map((f) => f.key));
      docs.forEach((d, i) => {
        if (d.key !== undefined && recorded.has(d.key)) isDuplicate[i] = true;
      });
    }
    const todo = docs.map((_, i) => i).filter((i) => !isDuplicate[i]);
    const stored = new Map<number, StoredEvent>();
    if (todo.length > 0) {
      const last = await this.nextSeq(
        eventCounterId(incidentId.toHexString()),
        todo.length,
        session,
      );
      const first = last - todo.length + 1;
      const rows = todo.map((i, j) => ({ ...docs[i], incidentId, seq: first + j }));
      let lost = new Set<number>();
      try {
        await this.Event.insertMany(rows, {
          ordered: false,
          throwOnValidationError: true,
          session: session ?? undefined,
        });
      } catch (err) {
        // In a transaction any error aborts it: transact() retries and the pre-check then
        // sees the winner's keys.
        if (session) throw err;
        const positions = duplicateKeyPositions(err, EVENT_KEY_INDEX);
        if (!positions) throw err;
        lost = positions;
      }
      rows.forEach((row, j) => {
        if (lost.has(j)) isDuplicate[todo[j]] = true;
        else stored.set(todo[j], eventFromDoc(row));
      });
    }
    const result: AppendResult = { appended: [], duplicates: [] };
    events.forEach((e, i) => {
      const s = stored.get(i);
      if (s) result.appended.push(s);
      else result.duplicates.push(e);
    });
    return result;
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
    const context = `team ${team}${key === undefined ? '' : `, key ${key}`}`;
    return this.run('createIncident', context, async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.transact(async (session): Promise<CreateIncidentResult> => {
            if (key !== undefined) {
              const existing = await this.findByKey(key, session);
              if (existing) {
                return { incident: incidentFromDoc(existing), created: false, events: [] };
              }
            }
            const number = await this.nextSeq(incidentCounterId(team), 1, session);
            const [doc] = await this.Incident.create([{ team, number, ...summary, key }], {
              session,
            });
            const saved: IncidentDoc = doc.toObject();
            const { appended } = await this.insertEvents(saved._id, input.events, docs, session);
            return { incident: incidentFromDoc(saved), created: true, events: appended };
          });
        } catch (err) {
          const index = duplicateKeyIndex(err);
          if (key !== undefined && index === INCIDENT_KEY_INDEX) {
            // Another replica created it first: return the winner.
            const winner = await this.findByKey(key, null);
            if (winner) return { incident: incidentFromDoc(winner), created: false, events: [] };
          }
          if (index === INCIDENT_NUMBER_INDEX && attempt < 3) {
            // The counter is behind the stored numbers (e.g. data copied in): catch up, retry.
            await this.resyncIncidentCounter(team);
            continue;
          }
          throw err;
        }
      }
    });
  }

  async append(
    incidentId: string,
    events: NewEvent[],
    summary?: Partial<IncidentSummary>,
  ): Promise<AppendResult> {
    const oid = objectIdOf(incidentId);
    const docs = events.map(eventToDoc);
    const changes = checkSummary(summary ?? {});
    const context = `incident ${incidentId}, ${events.length} event(s)`;
    return this.run('append', context, () =>
      this.transact(async (session) => {
        if (!oid || !(await this.Incident.exists({ _id: oid }).session(session).exec())) {
          throw new MongoStoreInputError(
            `cannot append to incident ${JSON.stringify(incidentId)}: no such incident`,
          );
        }
        const result = await this.insertEvents(oid, events, docs, session);
        if (result.appended.length > 0 || Object.keys(changes).length > 0) {
          // timestamps: also sets updatedAt.
          await this.Incident.updateOne(
            { _id: oid },
            { $set: changes },
            { runValidators: true, session: session ?? undefined },
          ).exec();
        }
        return result;
      }),
    );
  }

  async updateSummary(incidentId: string, summary: Partial<IncidentSummary>): Promise<void> {
    const oid = objectIdOf(incidentId);
    const changes = checkSummary(summary);
    await this.run('updateSummary', `incident ${incidentId}`, async () => {
      const res = oid
        ? await this.Incident.updateOne(
            { _id: oid },
            { $set: changes },
            { runValidators: true },
          ).exec()
        : undefined;
      if (!res || res.matchedCount === 0) {
        throw new MongoStoreInputError(
          `cannot update incident ${JSON.stringify(incidentId)}: no such incident`,
        );
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
    const docs = await this.run('loadEvents', `incident ${incidentId}`, () =>
      this.Event.find({ incidentId: oid })
        .sort({ occurredAt: 1, seq: 1 })
        .lean<EventDoc[]>()
        .exec(),
    );
    return docs.map(eventFromDoc);
  }

  async hasEventKey(key: string): Promise<boolean> {
    assertPlainId(key, 'key');
    const found = await this.run('hasEventKey', `key ${key}`, () =>
      this.Event.exists({ key }).exec(),
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
    const hello = await conn.db?.admin().command({ hello: 1 });
    transactions = typeof hello?.setName === 'string' || hello?.msg === 'isdbgrid';
  } catch (err) {
    await conn.close(true).catch(() => undefined);
    throw new StoreUnavailableError(`MongoDB at ${hosts}: hello failed: ${errorText(err)}`, err);
  }
  const store = new MongoStore(conn, {
    hosts,
    logger: opts.logger,
    transactions,
    writeConcern: { w: config.writeConcern, wtimeoutMS: config.writeTimeoutMS },
  });
  conn.off('error', onEarlyError);
  if (opts.ensureIndexes !== false) {
    try {
      await store.ensureIndexes();
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
