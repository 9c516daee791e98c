/**
 * MongoDB adapter checks that need no server: schemas (validation, casting, indexes), event
 * document round trip, filter sanitising, settings, and failing fast when MongoDB is unreachable.
 */
import { DateTime } from 'luxon';
import mongoose, { type Schema } from 'mongoose';
import type { NewEvent } from '../../src/core/model';
import { eventToJSON } from '../../src/core/serialize';
import { StoreUnavailableError } from '../../src/store/store';
import {
  MongoConfigError,
  describeMongoHosts,
  parseMongoConfig,
  redactUri,
} from '../../src/store/mongo/config';
import { counterModel, counterSchema } from '../../src/store/mongo/models/counter';
import {
  BATCH_VERSION_INDEX,
  EVENT_KEY_INDEX,
  batchModel,
  batchSchema,
} from '../../src/store/mongo/models/batch';
import {
  INCIDENT_KEY_INDEX,
  incidentModel,
  incidentSchema,
} from '../../src/store/mongo/models/incident';
import { postmortemModel, postmortemSchema } from '../../src/store/mongo/models/postmortem';
import {
  MongoStore,
  MongoStoreInputError,
  assertPlainId,
  connectionOptions,
  duplicateKeyIndex,
  eventFromDoc,
  eventToDoc,
  helloOrIsMaster,
  incidentFromDoc,
  objectIdOf,
  openMongoStore,
} from '../../src/store/mongo/store';

// A connection that is never opened: models compile and validate without a server.
const conn = mongoose.createConnection();
const Incident = incidentModel(conn);
const Batch = batchModel(conn);
const Counter = counterModel(conn);
const Postmortem = postmortemModel(conn);

afterAll(async () => {
  await conn.close();
});

const t = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });
const actor = { id: 'U1', name: 'Ana' };
const common = {
  occurredAt: t('2024-05-01T10:00:00.123Z'),
  recordedAt: t('2024-05-01T10:00:01.456Z'),
  actor,
  source: 'command' as const,
};

function indexOf(schema: Schema, name: string): [Record<string, unknown>, Record<string, unknown>] {
  const found = schema.indexes().find(([, opts]) => opts?.name === name);
  if (!found) throw new Error(`no index ${name}`);
  return found as [Record<string, unknown>, Record<string, unknown>];
}

describe('incident schema', () => {
  const valid = {
    team: 'T1',
    number: '3',
    title: 'Checkout down',
    severity: 'sev2',
    status: 'investigating',
    zone: '',
    channel: 'C123',
  };

  test('accepts a valid incident, casting the number and defaulting schemaVersion', () => {
    const doc = new Incident(valid);
    expect(doc.validateSync()).toBeUndefined();
    expect(doc.number).toBe(3);
    expect(doc.zone).toBe('');
    expect(doc.schemaVersion).toBe(1);
  });

  test('rejects a bad severity and status, and missing required fields', () => {
    const err = new Incident({ ...valid, severity: 'sev9', status: 'panicking' }).validateSync();
    expect(Object.keys(err?.errors ?? {}).sort()).toEqual(['severity', 'status']);
    expect(err?.errors.severity.kind).toBe('enum');

    const missing = new Incident({ severity: 'sev1', status: 'resolved' }).validateSync();
    expect(Object.keys(missing?.errors ?? {}).sort()).toEqual(['number', 'team', 'title', 'zone']);
  });

  test('rejects a non-numeric or fractional number', () => {
    expect(new Incident({ ...valid, number: 'ten' }).validateSync()?.errors.number.name).toBe(
      'CastError',
    );
    expect(new Incident({ ...valid, number: 1.5 }).validateSync()?.errors.number).toBeDefined();
    expect(new Incident({ ...valid, number: 0 }).validateSync()?.errors.number.kind).toBe('min');
  });

  test('unknown fields are refused (strict: throw)', () => {
    expect(() => new Incident({ ...valid, sevrity: 'sev1' })).toThrow(/sevrity/);
  });

  test('declares the unique and lookup indexes', () => {
    expect(indexOf(incidentSchema, 'team_number_unique')).toEqual([
      { team: 1, number: 1 },
      expect.objectContaining({ unique: true }),
    ]);
    expect(indexOf(incidentSchema, INCIDENT_KEY_INDEX)).toEqual([
      { key: 1 },
      expect.objectContaining({ unique: true, sparse: true }),
    ]);
    expect(indexOf(incidentSchema, 'channel')).toEqual([
      { channel: 1 },
      expect.objectContaining({ sparse: true }),
    ]);
    expect(indexOf(incidentSchema, 'status_team_createdAt')[0]).toEqual({
      status: 1,
      team: 1,
      createdAt: -1,
    });
    expect(incidentSchema.get('timestamps')).toBe(true);
  });
});

describe('batch schema (the log: one document per write)', () => {
  const event = {
    seq: 1,
    type: 'timeline.entry',
    occurredAt: '2024-05-01T10:00:00.123Z',
    recordedAt: 1714557601456,
    actor: { id: 'U1', name: '' },
    source: 'message',
    payload: { text: 'rolled back' },
  };
  const base = {
    incidentId: new mongoose.Types.ObjectId(),
    v: 1,
    first: 1,
    last: 1,
    events: [event],
    status: 'investigating',
  };

  test('casts ISO strings and epoch numbers to Dates, keeping milliseconds', () => {
    const doc = new Batch(base);
    expect(doc.validateSync()).toBeUndefined();
    expect(doc.events[0].occurredAt).toBeInstanceOf(Date);
    expect(doc.events[0].occurredAt.toISOString()).toBe('2024-05-01T10:00:00.123Z');
    expect(doc.events[0].recordedAt.toISOString()).toBe('2024-05-01T10:00:01.456Z');
    // No keyed events: the field is absent, so the sparse unique index skips the batch.
    expect(doc.toObject().keys).toBeUndefined();
    expect(doc.applied).toBe(false);
  });

  test('rejects a bad event type, bad source, bad date and missing actor', () => {
    const err = new Batch({
      ...base,
      events: [
        {
          ...event,
          type: 'incident.exploded',
          source: 'carrier-pigeon',
          occurredAt: 'yesterday',
          actor: {},
        },
      ],
    }).validateSync();
    expect(Object.keys(err?.errors ?? {}).sort()).toEqual([
      'events.0.actor.id',
      'events.0.actor.name',
      'events.0.occurredAt',
      'events.0.source',
      'events.0.type',
    ]);
    expect(err?.errors['events.0.type'].kind).toBe('enum');
  });

  test('v and seq must be positive integers, incidentId an ObjectId, status known', () => {
    const err = new Batch({
      ...base,
      v: 0,
      incidentId: 'not-an-id',
      status: 'lost',
      events: [{ ...event, seq: 0 }],
    }).validateSync();
    expect(Object.keys(err?.errors ?? {}).sort()).toEqual([
      'events.0.seq',
      'incidentId',
      'status',
      'v',
    ]);
  });

  test('declares unique {incidentId, v} (the optimistic lock) and the unique sparse keys', () => {
    expect(indexOf(batchSchema, BATCH_VERSION_INDEX)).toEqual([
      { incidentId: 1, v: 1 },
      expect.objectContaining({ unique: true }),
    ]);
    expect(indexOf(batchSchema, EVENT_KEY_INDEX)).toEqual([
      { keys: 1 },
      expect.objectContaining({ unique: true, sparse: true }),
    ]);
    expect(batchSchema.get('timestamps')).toEqual({ createdAt: true, updatedAt: false });
  });
});

describe('counter and postmortem schemas', () => {
  test('counter _id is a string and seq a number', () => {
    const doc = new Counter({ _id: 'incident:T1', seq: '4' });
    expect(doc.validateSync()).toBeUndefined();
    expect(doc._id).toBe('incident:T1');
    expect(doc.seq).toBe(4);
    expect(new Counter({ _id: 'x' }).validateSync()?.errors.seq.kind).toBe('required');
    expect(counterSchema.path('_id').instance).toBe('String');
  });

  test('postmortem: format enum, empty content allowed, index on {incidentId, renderedAt}', () => {
    const ok = new Postmortem({
      incidentId: new mongoose.Types.ObjectId(),
      template: 'default',
      format: 'md',
      content: '',
      renderedAt: '2024-05-02T00:00:00Z',
    });
    expect(ok.validateSync()).toBeUndefined();
    const bad = new Postmortem({ template: 'default', format: 'pdf' }).validateSync();
    expect(Object.keys(bad?.errors ?? {}).sort()).toEqual([
      'content',
      'format',
      'incidentId',
      'renderedAt',
    ]);
    expect(postmortemSchema.indexes().map(([fields]) => fields)).toEqual([
      { incidentId: 1, renderedAt: -1 },
    ]);
  });

  test('models are per connection, so replicas can coexist in one process', () => {
    const other = mongoose.createConnection();
    try {
      expect(incidentModel(other)).not.toBe(Incident);
      expect(incidentModel(other).db).toBe(other);
      expect(incidentModel(conn)).toBe(Incident);
    } finally {
      void other.close();
    }
  });
});

describe('event documents round trip exactly', () => {
  const events: NewEvent[] = [
    {
      ...common,
      type: 'incident.opened',
      title: 'Checkout down',
      severity: 'sev1',
      zone: 'eu',
      key: 'open-1',
    },
    { ...common, type: 'incident.detected' },
    {
      ...common,
      type: 'chat.message',
      source: 'message',
      channel: 'C1',
      ts: '1714557600.000123',
      user: 'U2',
      text: '{"$ne": null} is just text',
      files: [{ name: 'graph.png', url: 'https://x/graph.png' }],
      key: 'Ev123',
    },
    { ...common, type: 'role.assigned', role: 'commander', user: { id: 'U3', name: 'Bo' } },
    { ...common, type: 'impact.set', text: '5% errors', startedAt: '2024-05-01T09:55:00.000Z' },
    { ...common, type: 'resolved', how: undefined },
  ];

  test.each(events.map((e) => [e.type, e] as const))('%s', (_type, e) => {
    const fields = eventToDoc(e);
    const doc = new Batch({
      incidentId: new mongoose.Types.ObjectId(),
      v: 3,
      first: 7,
      last: 7,
      events: [{ ...fields, seq: 7 }],
      status: 'investigating',
    });
    expect(doc.validateSync()).toBeUndefined();
    const back = eventFromDoc(doc.toObject().events[0]);
    const expected = eventToJSON({ ...e, seq: 7 });
    expect(eventToJSON(back)).toEqual(expected);
    expect(back.occurredAt.toMillis()).toBe(e.occurredAt.toMillis());
    expect(back.occurredAt.zoneName).toBe('UTC');
    expect('key' in back).toBe(e.key !== undefined);
    // Type-specific fields go to the payload; undefined ones disappear (as in JSON).
    expect(Object.keys(fields.payload)).not.toContain('occurredAt');
    expect(Object.keys(fields.payload)).not.toContain('how');
  });

  test('rejects malformed events before any write', () => {
    const bad = { ...common, type: 'nope' } as unknown as NewEvent;
    expect(() => eventToDoc(bad)).toThrow(MongoStoreInputError);
    const badKey = { ...common, type: 'closed', key: { $ne: null } } as unknown as NewEvent;
    expect(() => eventToDoc(badKey)).toThrow(/key must be a string/);
    const badTime = { ...common, type: 'closed', occurredAt: '2024-01-01' } as unknown as NewEvent;
    expect(() => eventToDoc(badTime)).toThrow(/luxon DateTime/);
  });

  test('incident documents become records (channel only when set)', () => {
    const doc = new Incident({
      team: 'T1',
      number: 2,
      title: 'x',
      severity: 'sev3',
      status: 'monitoring',
      zone: 'us',
    }).toObject();
    doc.createdAt = new Date('2024-05-01T10:00:00.001Z');
    doc.updatedAt = new Date('2024-05-01T11:00:00.002Z');
    const rec = incidentFromDoc(doc);
    expect(rec.id).toBe(doc._id.toHexString());
    expect(rec.createdAt.toISO()).toBe('2024-05-01T10:00:00.001Z');
    expect(rec.updatedAt.toMillis()).toBe(doc.updatedAt.getTime());
    expect('channel' in rec).toBe(false);
  });
});

describe('user input never becomes a query operator', () => {
  test('sanitizeFilter wraps an operator object in $eq', () => {
    const filter = mongoose.sanitizeFilter({ channel: { $ne: null } });
    expect(filter).toEqual({ channel: { $eq: { $ne: null } } });
  });

  test('the connection is opened with sanitizeFilter and no command buffering', () => {
    const opts = connectionOptions(parseMongoConfig({ MONGODB_URI: 'mongodb://h/db' }));
    expect(opts).toMatchObject({ sanitizeFilter: true, bufferCommands: false });
  });

  test('a query on a sanitizing connection matches the operator literally', () => {
    const c = mongoose.createConnection('mongodb://127.0.0.1:1/x', {
      sanitizeFilter: true,
      serverSelectionTimeoutMS: 100,
    });
    c.asPromise().catch(() => undefined);
    try {
      const q = incidentModel(c).find({ channel: { $ne: null } as unknown as string });
      // _castConditions is what exec() runs first; the public API exposes the result.
      (q as unknown as { _castConditions(): void })._castConditions();
      expect(q.getFilter()).toEqual({ channel: { $eq: { $ne: null } } });
    } finally {
      void c.close();
    }
  });

  test('assertPlainId accepts strings and rejects objects, arrays, numbers and empty', () => {
    expect(assertPlainId('C123', 'channel')).toBe('C123');
    expect(() => assertPlainId({ $ne: null }, 'channel')).toThrow(
      'channel must be a string, got an object',
    );
    expect(() => assertPlainId(['a'], 'team')).toThrow(/an array/);
    expect(() => assertPlainId(5, 'key')).toThrow(/number 5/);
    expect(() => assertPlainId('', 'key')).toThrow(/non-empty/);
    expect(() => assertPlainId({ $gt: '' }, 'key')).toThrow(MongoStoreInputError);
  });

  test('objectIdOf: hex ids only; other strings match nothing, objects throw', () => {
    const id = new mongoose.Types.ObjectId().toHexString();
    expect(objectIdOf(id)?.toHexString()).toBe(id);
    expect(objectIdOf('INC-1')).toBeUndefined();
    expect(() => objectIdOf({ $ne: null })).toThrow(MongoStoreInputError);
  });
});

describe('duplicate-key classification', () => {
  test('reads the index from a single duplicate-key error', () => {
    const err = Object.assign(
      new Error(
        'E11000 duplicate key error collection: db.incidents index: incident_key_unique dup key: { key: "x" }',
      ),
      { code: 11000 },
    );
    expect(duplicateKeyIndex(err)).toBe('incident_key_unique');
    expect(duplicateKeyIndex(new Error('network'))).toBeUndefined();
  });
});

describe('parseMongoConfig', () => {
  test('defaults', () => {
    expect(parseMongoConfig({ MONGODB_URI: 'mongodb://localhost:27017' })).toEqual({
      uri: 'mongodb://localhost:27017',
      dbName: 'incident-bot',
      maxPoolSize: 10,
      minPoolSize: 0,
      serverSelectionTimeoutMS: 5000,
      connectTimeoutMS: 10000,
      socketTimeoutMS: 0,
      writeConcern: 'majority',
      writeTimeoutMS: 10000,
    });
  });

  test('explicit values, db name from the URI path or MONGODB_DB', () => {
    const c = parseMongoConfig({
      MONGODB_URI: 'mongodb://h1,h2,h3/ops?replicaSet=rs0',
      MONGODB_MAX_POOL_SIZE: '50',
      MONGODB_MIN_POOL_SIZE: '50',
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '100',
      MONGODB_CONNECT_TIMEOUT_MS: '2000',
      MONGODB_SOCKET_TIMEOUT_MS: '60000',
      MONGODB_WRITE_CONCERN: '2',
      MONGODB_WRITE_TIMEOUT_MS: '0',
    });
    expect(c).toMatchObject({
      dbName: 'ops',
      maxPoolSize: 50,
      minPoolSize: 50,
      serverSelectionTimeoutMS: 100,
      connectTimeoutMS: 2000,
      socketTimeoutMS: 60000,
      writeConcern: 2,
      writeTimeoutMS: 0,
    });
    expect(
      parseMongoConfig({
        MONGODB_URI: 'mongodb://h/ops',
        MONGODB_DB: 'other',
        MONGODB_MIN_POOL_SIZE: '',
      }).dbName,
    ).toBe('other');
  });

  const cases: [string, Record<string, string>, RegExp][] = [
    ['missing URI', { MONGODB_URI: '' }, /MONGODB_URI is required/],
    ['http URI', { MONGODB_URI: 'http://x' }, /MONGODB_URI must be a mongodb:\/\//],
    [
      'pool size 0',
      { MONGODB_MAX_POOL_SIZE: '0' },
      /MONGODB_MAX_POOL_SIZE must be an integer from 1 to 1000 \(got "0"\)/,
    ],
    ['pool size "ten"', { MONGODB_MAX_POOL_SIZE: 'ten' }, /MONGODB_MAX_POOL_SIZE .*"ten"/],
    ['pool size 2.5', { MONGODB_MAX_POOL_SIZE: '2.5' }, /MONGODB_MAX_POOL_SIZE/],
    [
      'min > max',
      { MONGODB_MAX_POOL_SIZE: '5', MONGODB_MIN_POOL_SIZE: '6' },
      /MONGODB_MIN_POOL_SIZE must be an integer from 0 to MONGODB_MAX_POOL_SIZE \(5\) \(got 6\)/,
    ],
    [
      'negative timeout',
      { MONGODB_SERVER_SELECTION_TIMEOUT_MS: '-1' },
      /MONGODB_SERVER_SELECTION_TIMEOUT_MS must be an integer from 100 to 120000/,
    ],
    ['negative socket timeout', { MONGODB_SOCKET_TIMEOUT_MS: '-5' }, /MONGODB_SOCKET_TIMEOUT_MS/],
    [
      'write concern "all"',
      { MONGODB_WRITE_CONCERN: 'all' },
      /MONGODB_WRITE_CONCERN must be "majority" or an integer >= 0 \(got "all"\)/,
    ],
    ['write concern -1', { MONGODB_WRITE_CONCERN: '-1' }, /MONGODB_WRITE_CONCERN/],
    ['bad db name', { MONGODB_DB: 'a.b' }, /MONGODB_DB must be a database name/],
  ];
  test.each(cases)('rejects %s', (_name, env, message) => {
    const run = () => parseMongoConfig({ MONGODB_URI: 'mongodb://localhost', ...env });
    expect(run).toThrow(MongoConfigError);
    expect(run).toThrow(message);
  });

  test('lists every bad setting in one error', () => {
    let err: unknown;
    try {
      parseMongoConfig({
        MONGODB_URI: 'mongodb://localhost',
        MONGODB_MAX_POOL_SIZE: '3',
        MONGODB_MIN_POOL_SIZE: '4',
        MONGODB_CONNECT_TIMEOUT_MS: '-10',
        MONGODB_WRITE_CONCERN: 'most',
        MONGODB_WRITE_TIMEOUT_MS: 'soon',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MongoConfigError);
    const { problems, message } = err as MongoConfigError;
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual([
      'MONGODB_CONNECT_TIMEOUT_MS',
      'MONGODB_MIN_POOL_SIZE',
      'MONGODB_WRITE_CONCERN',
      'MONGODB_WRITE_TIMEOUT_MS',
    ]);
    expect(message.split('\n')[0]).toBe('Invalid MongoDB settings:');
    expect(message.split('\n')).toHaveLength(5);
  });

  test('host descriptions never contain credentials', () => {
    expect(describeMongoHosts('mongodb://u:pw@h1,h2:27018/db?replicaSet=rs0')).toBe(
      'h1:27017,h2:27018',
    );
    expect(describeMongoHosts('mongodb+srv://u:pw@cluster0.example.net/db')).toBe(
      'cluster0.example.net',
    );
    expect(redactUri('mongodb://u:pw@h1/db')).toBe('mongodb://u:***@h1/db');
  });
});

describe('unreachable MongoDB', () => {
  test('openMongoStore fails fast with a clear message naming the host, not the password', async () => {
    const config = parseMongoConfig({
      MONGODB_URI: 'mongodb://bot:s3cret@127.0.0.1:1/x',
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '300',
    });
    const started = Date.now();
    const err = await openMongoStore(config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    const message = (err as Error).message;
    expect(message).toMatch(/^Could not connect to MongoDB at 127\.0\.0\.1:1 within 300 ms: \S/);
    expect(message).not.toContain('s3cret');
  });

  test('operations on a store without a server fail with StoreUnavailableError, bad input first', async () => {
    const config = parseMongoConfig({
      MONGODB_URI: 'mongodb://127.0.0.1:1/x',
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '100',
    });
    const c = mongoose.createConnection(config.uri, connectionOptions(config));
    await c.asPromise().catch(() => undefined);
    const warnings: string[] = [];
    const logger = {
      info() {},
      warn: (_o: object, m?: string) => warnings.push(m ?? ''),
      error() {},
    };
    const store = new MongoStore(c, { hosts: '127.0.0.1:1', logger });
    const id = new mongoose.Types.ObjectId().toHexString();
    try {
      await expect(store.getIncident(id)).rejects.toThrow(StoreUnavailableError);
      await expect(store.getIncident(id)).rejects.toThrow(
        /MongoDB at 127\.0\.0\.1:1: getIncident failed \(incident [0-9a-f]{24}\)/,
      );
      await expect(store.append(id, [{ ...common, type: 'closed' }])).rejects.toThrow(
        StoreUnavailableError,
      );
      await expect(store.ping()).rejects.toThrow(StoreUnavailableError);
      await expect(store.listTeams()).rejects.toThrow(StoreUnavailableError);
      // Injection attempts are refused before reaching MongoDB.
      const sneaky = { $ne: null } as unknown as string;
      await expect(store.findByChannel(sneaky)).rejects.toThrow(MongoStoreInputError);
      await expect(store.hasEventKey(sneaky)).rejects.toThrow(MongoStoreInputError);
      await expect(store.findByNumber(sneaky, 1)).rejects.toThrow(MongoStoreInputError);
      await expect(store.listIncidents({ team: sneaky })).rejects.toThrow(MongoStoreInputError);
      await expect(store.updateSummary(id, { channel: sneaky })).rejects.toThrow(
        /summary.channel must be a Slack channel id/,
      );
      // Ids that cannot exist answer "not found" without a query.
      await expect(store.getIncident('INC-1')).resolves.toBeUndefined();
      await expect(store.loadEvents('nope')).resolves.toEqual([]);
      await expect(store.findByChannel('#general')).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
    await expect(store.getIncident(id)).rejects.toThrow(/closed/);
    await store.close(); // idempotent
  });
});

describe('server handshake check: hello, else isMaster', () => {
  function fakeDb(answers: Record<string, () => Record<string, unknown>>) {
    const asked: string[] = [];
    return {
      asked,
      admin: () => ({
        async command(cmd: Record<string, unknown>) {
          const name = Object.keys(cmd)[0];
          asked.push(name);
          return answers[name]();
        },
      }),
    };
  }
  const notFound = (name: string) => () => {
    throw Object.assign(new Error(`no such command: '${name}'`), {
      code: 59,
      codeName: 'CommandNotFound',
    });
  };

  test('uses hello when the server knows it', async () => {
    const db = fakeDb({ hello: () => ({ setName: 'rs0', isWritablePrimary: true }) });
    await expect(helloOrIsMaster(db)).resolves.toEqual({ setName: 'rs0', isWritablePrimary: true });
    expect(db.asked).toEqual(['hello']);
  });

  test('falls back to isMaster when hello is an unknown command (MongoDB < 4.4.2)', async () => {
    const db = fakeDb({ hello: notFound('hello'), isMaster: () => ({ ismaster: true }) });
    await expect(helloOrIsMaster(db)).resolves.toEqual({ ismaster: true });
    expect(db.asked).toEqual(['hello', 'isMaster']);
  });

  test('any other failure (auth, network) is reported, not retried with isMaster', async () => {
    const db = fakeDb({
      hello: () => {
        throw Object.assign(new Error('command hello requires authentication'), { code: 13 });
      },
      isMaster: () => ({ ismaster: true }),
    });
    await expect(helloOrIsMaster(db)).rejects.toThrow(/requires authentication/);
    expect(db.asked).toEqual(['hello']);
  });
});
