/**
 * Runs the shared store contract against a real MongoDB when MONGODB_URI is set (one fresh
 * database per test, dropped afterwards), plus a multi-replica race test. Without MONGODB_URI
 * the suite is reported as skipped, loudly.
 */
import { randomBytes } from 'node:crypto';
import { DateTime } from 'luxon';
import mongoose from 'mongoose';
import type { NewEvent } from '../../src/core/model';
import { IncidentClosedError } from '../../src/store/store';
import { parseMongoConfig, type MongoConfig } from '../../src/store/mongo/config';
import { openMongoStore, type MongoStore } from '../../src/store/mongo/store';
import { describeStoreContract, type StoreHarness } from './storeContract';

const uri = process.env.MONGODB_URI;

function freshConfig(): MongoConfig {
  const base = parseMongoConfig({ ...process.env, MONGODB_URI: uri });
  return { ...base, dbName: `incident_bot_test_${Date.now()}_${randomBytes(4).toString('hex')}` };
}

async function dropDatabase(config: MongoConfig): Promise<void> {
  const conn = await mongoose
    .createConnection(config.uri, { dbName: config.dbName, serverSelectionTimeoutMS: 5000 })
    .asPromise();
  try {
    await conn.dropDatabase();
  } finally {
    await conn.close();
  }
}

interface MongoHarness extends StoreHarness {
  open(): Promise<MongoStore>;
}

async function makeHarness(): Promise<MongoHarness> {
  const config = freshConfig();
  const opened: MongoStore[] = [];
  return {
    async open() {
      const store = await openMongoStore(config);
      opened.push(store);
      return store;
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      await dropDatabase(config);
    },
  };
}

if (!uri) {
  console.warn(
    'MongoDB contract suite SKIPPED: MONGODB_URI is not set (no MongoDB server on this machine). Set MONGODB_URI=mongodb://localhost:27017 to run it.',
  );
  describe.skip('mongodb store contract (needs MONGODB_URI)', () => {
    test.skip('contract', () => undefined);
  });
} else {
  describeStoreContract('mongodb', makeHarness);

  describe('mongodb replicas', () => {
    let harness: MongoHarness;
    beforeEach(async () => {
      harness = await makeHarness();
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    const T0 = DateTime.fromISO('2025-03-04T10:00:00.000Z', { zone: 'utc' });
    const note = (text: string, key?: string): NewEvent => ({
      type: 'timeline.entry',
      text,
      occurredAt: T0,
      recordedAt: T0,
      actor: { id: 'U1', name: 'Ana' },
      source: 'message',
      ...(key ? { key } : {}),
    });
    const summary = {
      title: 'x',
      severity: 'sev2',
      status: 'investigating',
      zone: 'eu',
    } as const;

    test('two replicas number incidents and record keyed events without duplicates', async () => {
      const a = await harness.open();
      const b = await harness.open();
      expect(a.connection).not.toBe(b.connection);
      const created = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? a : b).createIncident({ team: 'T1', summary, events: [note(`open ${i}`)] }),
        ),
      );
      const numbers = created.map((r) => r.incident.number).sort((x, y) => x - y);
      expect(numbers).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

      const target = created[0].incident.id;
      // Both replicas receive the same Slack retries (same keys) at the same time.
      const results = await Promise.all(
        [a, b, a, b].map((s) =>
          s.append(
            target,
            Array.from({ length: 25 }, (_, i) => note(`slack ${i}`, `slack:Ev${i}`)),
          ),
        ),
      );
      expect(results.reduce((n, r) => n + r.appended.length, 0)).toBe(25);
      expect(results.reduce((n, r) => n + r.duplicates.length, 0)).toBe(75);
      const events = await b.loadEvents(target);
      const keys = events.flatMap((e) => (e.key ? [e.key] : []));
      expect(keys).toHaveLength(25);
      expect(new Set(keys).size).toBe(25);
      // Gap-free on every topology: seqs follow from the batch version (no counter to burn).
      expect(events.map((e) => e.seq).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 26 }, (_, i) => i + 1),
      );
    });

    /**
     * A writer that dies after inserting its batch but before applying it (incident projection,
     * outbox rows, inbox completions) is simulated by inserting such a batch directly.
     */
    async function insertUnappliedBatch(
      store: MongoStore,
      incidentId: string,
      fields: {
        v: number;
        first: number;
        status: string;
        summary: object;
        createdAt?: Date;
        effectId?: mongoose.Types.ObjectId;
      },
    ) {
      const id = new mongoose.Types.ObjectId(incidentId);
      await store.connection.collection('batches').insertOne({
        incidentId: id,
        v: fields.v,
        first: fields.first,
        last: fields.first,
        events: [
          {
            seq: fields.first,
            type: 'timeline.entry',
            occurredAt: T0.toJSDate(),
            recordedAt: T0.toJSDate(),
            actor: { id: 'U1', name: 'Ana' },
            source: 'message',
            payload: { text: 'written by a replica that died' },
          },
        ],
        status: fields.status,
        summary: fields.summary,
        effects: [
          {
            _id: fields.effectId ?? new mongoose.Types.ObjectId(),
            key: `card:${incidentId}`,
            kind: 'card.refresh',
            incidentId: id,
            payload: JSON.stringify({ why: 'crash test' }),
            notBefore: T0.toJSDate(),
            spacingMs: 0,
          },
        ],
        inboxDone: [],
        applied: false,
        schemaVersion: 1,
        createdAt: fields.createdAt ?? new Date(),
      });
    }

    test('a batch its writer never applied is applied by the next writer, in order', async () => {
      const a = await harness.open();
      const b = await harness.open();
      const { incident } = await a.createIncident({ team: 'T1', summary, events: [note('open')] });
      await insertUnappliedBatch(a, incident.id, {
        v: 2,
        first: 2,
        status: 'monitoring',
        summary: { status: 'monitoring' },
      });
      // The events are already part of the record (one document: all or nothing).
      expect((await b.loadEvents(incident.id)).map((e) => e.seq)).toEqual([1, 2]);
      const r = await b.append(incident.id, [note('after the crash')], { title: 'renamed' });
      expect(r.appended.map((e) => e.seq)).toEqual([3]);
      expect(await a.getIncident(incident.id)).toMatchObject({
        status: 'monitoring',
        title: 'renamed',
      });
      const claimed = await a.claimEffects({
        owner: 'r1',
        now: T0.plus({ minutes: 1 }),
        leaseUntil: T0.plus({ minutes: 2 }),
        limit: 10,
      });
      expect(claimed.map((e) => [e.kind, e.payload])).toEqual([
        ['card.refresh', { why: 'crash test' }],
      ]);
    });

    test("requireOpen is decided on the record, even before a dead writer's close is applied", async () => {
      const a = await harness.open();
      const { incident } = await a.createIncident({ team: 'T1', summary, events: [note('open')] });
      await insertUnappliedBatch(a, incident.id, {
        v: 2,
        first: 2,
        status: 'closed',
        summary: { status: 'closed' },
      });
      await expect(
        a.commit({ incidentId: incident.id, requireOpen: true, events: [note('too late')] }),
      ).rejects.toBeInstanceOf(IncidentClosedError);
      expect((await a.loadEvents(incident.id)).map((e) => e.seq)).toEqual([1, 2]);
    });

    test('the outbox sweeper applies a stale unapplied batch without any new write', async () => {
      const a = await harness.open();
      const { incident } = await a.createIncident({ team: 'T1', summary, events: [note('open')] });
      await insertUnappliedBatch(a, incident.id, {
        v: 2,
        first: 2,
        status: 'identified',
        summary: { status: 'identified' },
        createdAt: new Date(Date.now() - 60_000),
      });
      const claimed = await a.claimEffects({
        owner: 'r1',
        now: T0.plus({ minutes: 1 }),
        leaseUntil: T0.plus({ minutes: 2 }),
        limit: 10,
      });
      expect(claimed.map((e) => e.kind)).toEqual(['card.refresh']);
      expect((await a.getIncident(incident.id))?.status).toBe('identified');
    });

    test('effects a completed request owes reach the outbox once, by the sweeper if the completer died', async () => {
      const a = await harness.open();
      const b = await harness.open();
      const { item } = await a.enqueueInbox({
        key: 'cmd:Tdied',
        kind: 'command',
        partition: 'ch:C1',
        body: '{}',
        receivedAt: T0,
      });
      // The completer's single-document update landed, then the process died before it inserted
      // the effects into the outbox: simulated by writing that update directly.
      const effectId = new mongoose.Types.ObjectId();
      await a.connection.collection('inbox').updateOne(
        { _id: new mongoose.Types.ObjectId(item.id) },
        {
          $set: {
            state: 'done',
            doneAt: new Date(Date.now() - 60_000),
            effectsPending: true,
            effects: [
              {
                _id: effectId,
                key: 'reply:cmd:Tdied',
                kind: 'slack.reply',
                payload: JSON.stringify({ text: 'owed' }),
                notBefore: T0.toJSDate(),
                spacingMs: 0,
              },
            ],
          },
        },
      );
      // The request is done: completing it again (a re-run) adds nothing.
      expect(
        await b.completeInbox(
          [item.id],
          [{ key: 'reply:cmd:Tdied', kind: 'slack.reply', payload: 1 }],
        ),
      ).toEqual({ done: [], effects: [] });
      const claim = (s: MongoStore, owner: string) =>
        s.claimEffects({
          owner,
          now: DateTime.utc(),
          leaseUntil: DateTime.utc().plus({ minutes: 1 }),
          limit: 10,
        });
      // Both replicas sweep (the effect's id is fixed): one row, claimed once.
      const [x, y] = await Promise.all([claim(a, 'r1'), claim(b, 'r2')]);
      const claimed = [...x, ...y];
      expect(claimed.map((e) => [e.id, e.key, e.payload])).toEqual([
        [effectId.toHexString(), 'reply:cmd:Tdied', { text: 'owed' }],
      ]);
      await (x.length ? a : b).completeEffect(claimed[0].id, x.length ? 'r1' : 'r2');
      expect([...(await claim(a, 'r1')), ...(await claim(b, 'r2'))]).toEqual([]);
      const doc = await a.connection
        .collection('inbox')
        .findOne({ _id: new mongoose.Types.ObjectId(item.id) });
      expect(doc?.effectsPending).toBeUndefined();
    });

    test('pruning keeps an effect an unapplied batch would insert again (its writer died mid-way)', async () => {
      const a = await harness.open();
      const { incident } = await a.createIncident({ team: 'T1', summary, events: [note('open')] });
      const effectId = new mongoose.Types.ObjectId();
      const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
      // The writer inserted the batch 3 h ago, then the effect row, which was delivered 2 h ago;
      // it died before marking the batch applied.
      await insertUnappliedBatch(a, incident.id, {
        v: 2,
        first: 2,
        status: 'identified',
        summary: { status: 'identified' },
        createdAt: hoursAgo(3),
        effectId,
      });
      await a.connection.collection('effects').insertOne({
        _id: effectId,
        key: `card:${incident.id}`,
        kind: 'card.refresh',
        incidentId: new mongoose.Types.ObjectId(incident.id),
        payload: '{}',
        notBefore: hoursAgo(3),
        spacingMs: 0,
        state: 'done',
        attempts: 1,
        redo: false,
        doneAt: hoursAgo(2),
        schemaVersion: 1,
        createdAt: hoursAgo(3),
        updatedAt: hoursAgo(2),
      });
      const cutoffs = {
        inboxBefore: DateTime.utc().minus({ hours: 1 }),
        effectsBefore: DateTime.utc().minus({ hours: 1 }),
        deadEffectsBefore: DateTime.utc().minus({ hours: 1 }),
      };
      expect((await a.pruneDone(cutoffs)).effects).toBe(0);
      // The sweeper applies the batch: the row is there, so the effect is not owed again.
      const claimed = await a.claimEffects({
        owner: 'r1',
        now: DateTime.utc(),
        leaseUntil: DateTime.utc().plus({ minutes: 1 }),
        limit: 10,
      });
      expect(claimed).toEqual([]);
      expect((await a.getIncident(incident.id))?.status).toBe('identified');
      // Applied now: the done effect may go.
      expect((await a.pruneDone(cutoffs)).effects).toBe(1);
    });

    test('pruning keeps a done request whose owed effects are not in the outbox yet', async () => {
      const a = await harness.open();
      const { item } = await a.enqueueInbox({
        key: 'cmd:Tcarrier',
        kind: 'command',
        partition: 'ch:C1',
        body: '{}',
        receivedAt: T0,
      });
      const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
      // Completed 3 h ago with an owed reply; the completer died before the outbox insert.
      await a.connection.collection('inbox').updateOne(
        { _id: new mongoose.Types.ObjectId(item.id) },
        {
          $set: {
            state: 'done',
            doneAt: hoursAgo(3),
            effectsPending: true,
            effects: [
              {
                _id: new mongoose.Types.ObjectId(),
                key: 'reply:cmd:Tcarrier',
                kind: 'slack.reply',
                payload: '{}',
                notBefore: hoursAgo(3),
                spacingMs: 0,
              },
            ],
          },
        },
      );
      const cutoffs = {
        inboxBefore: DateTime.utc().minus({ hours: 1 }),
        effectsBefore: DateTime.utc().minus({ hours: 1 }),
        deadEffectsBefore: DateTime.utc().minus({ hours: 1 }),
      };
      expect((await a.pruneDone(cutoffs)).inbox).toBe(0);
      const claimed = await a.claimEffects({
        owner: 'r1',
        now: DateTime.utc(),
        leaseUntil: DateTime.utc().plus({ minutes: 1 }),
        limit: 10,
      });
      expect(claimed.map((e) => e.key)).toEqual(['reply:cmd:Tcarrier']);
      // Its effects are in the outbox now: the request may go.
      expect((await a.pruneDone(cutoffs)).inbox).toBe(1);
    });

    test('a database written by 0.1 (one document per event) is converted at start', async () => {
      const a = await harness.open();
      const id = new mongoose.Types.ObjectId();
      const now = new Date();
      await a.connection.collection('incidents').insertOne({
        _id: id,
        team: 'T1',
        number: 1,
        title: 'old',
        severity: 'sev2',
        status: 'identified',
        zone: 'UTC',
        schemaVersion: 1,
        createdAt: now,
        updatedAt: now,
      });
      const legacy = (seq: number, key?: string) => ({
        incidentId: id,
        seq,
        type: 'timeline.entry',
        occurredAt: T0.toJSDate(),
        recordedAt: T0.toJSDate(),
        actor: { id: 'U1', name: 'Ana' },
        source: 'message',
        ...(key ? { key } : {}),
        payload: { text: `legacy ${seq}` },
        schemaVersion: 1,
        createdAt: now,
      });
      // seq 3 is missing: a gap the 0.1 counter left after a lost race; kept as it was.
      await a.connection
        .collection('events')
        .insertMany([legacy(1), legacy(2, 'slack:Ev1'), legacy(4)]);
      const b = await harness.open();
      expect((await b.loadEvents(id.toHexString())).map((e) => e.seq)).toEqual([1, 2, 4]);
      expect(await b.hasEventKey('slack:Ev1')).toBe(true);
      const r = await b.append(id.toHexString(), [note('new', 'slack:Ev1'), note('new 2')], {
        status: 'monitoring',
      });
      expect(r.appended.map((e) => e.seq)).toEqual([5]);
      expect((await b.getIncident(id.toHexString()))?.status).toBe('monitoring');
      const again = await harness.open(); // a second start converts nothing twice
      expect((await again.loadEvents(id.toHexString())).length).toBe(4);
    });

    test('ping answers, and a closed store reports StoreUnavailableError', async () => {
      const a = await harness.open();
      await expect(a.ping()).resolves.toBeUndefined();
      await a.close();
      await expect(a.ping()).rejects.toThrow(/closed/);
    });
  });
}
