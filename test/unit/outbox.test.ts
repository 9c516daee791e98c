import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import {
  PermanentEffectError,
  RetryableEffectError,
  type EffectHandler,
  type Subscriber,
} from '../../src/app/effects';
import { EffectDispatcher, SubscriberRegistry, backoffDelay } from '../../src/app/outbox';
import type { Incident } from '../../src/app/service';
import type { NewEvent, StoredEvent } from '../../src/core/model';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite';

const actor = { id: 'U1', name: 'Una' };

function note(text: string, key?: string): NewEvent {
  const t = DateTime.utc();
  return {
    type: 'timeline.entry',
    occurredAt: t,
    recordedAt: t,
    actor,
    source: 'command',
    text,
    ...(key ? { key } : {}),
  } as NewEvent;
}

interface EffectRow {
  key: string;
  state: string;
  attempts: number;
  last_error: string | null;
  not_before: number;
}

describe('SubscriberRegistry', () => {
  it('collects every subscriber’s effects and finds the handler of a kind', () => {
    const handler: EffectHandler = async () => undefined;
    const card: Subscriber = {
      name: 'card',
      effectsFor: (incident) => [
        { key: `card:${incident.record.id}`, kind: 'card.refresh', payload: null },
      ],
      handlers: { 'card.refresh': handler },
    };
    const pager: Subscriber = {
      name: 'pager',
      effectsFor: (_i, appended) =>
        appended.map((e) => ({ key: `page:${e.seq}`, kind: 'page.trigger', payload: e.seq })),
    };
    const registry = new SubscriberRegistry().register(card).register(pager);
    const incident = { record: { id: 'I1' } } as unknown as Incident;
    const appended = [{ seq: 7 }, { seq: 8 }] as unknown as StoredEvent[];
    expect(registry.effectsFor(incident, appended, DateTime.utc()).map((e) => e.key)).toEqual([
      'card:I1',
      'page:7',
      'page:8',
    ]);
    expect(registry.effectsFor(incident, [], DateTime.utc())).toEqual([]);
    expect(registry.handler('card.refresh')).toBe(handler);
    expect(registry.handler('nope')).toBeUndefined();
    expect(() =>
      registry.register({ name: 'other', handlers: { 'card.refresh': handler } }),
    ).toThrow(/already handled by card/);
    expect(() => registry.register({ name: 'card' })).toThrow(/already registered/);
  });
});

describe('backoffDelay', () => {
  it('doubles from the base up to the maximum', () => {
    const p = { baseMs: 1000, maxMs: 10_000, maxAttempts: 10 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, p))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });
});

describe('EffectDispatcher', () => {
  let dir: string;
  let file: string;
  let store: SqliteStore;
  const stores: SqliteStore[] = [];
  let now: DateTime;
  const clock = () => now;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    file = join(dir, 'db.sqlite');
    store = openSqliteStore({ file });
    stores.push(store);
    now = DateTime.utc();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  function rows(): EffectRow[] {
    const db = new Database(file, { readonly: true });
    try {
      return db
        .prepare('SELECT key, state, attempts, last_error, not_before FROM effects ORDER BY id')
        .all() as EffectRow[];
    } finally {
      db.close();
    }
  }

  async function incident(): Promise<string> {
    const { incident: rec } = await store.createIncident({
      team: 'T1',
      summary: { title: 't', severity: 'sev2', status: 'investigating', zone: 'UTC' },
      events: [note('opened')],
    });
    return rec.id;
  }

  function dispatcher(handlers: Record<string, EffectHandler>, extra = {}): EffectDispatcher {
    const registry = new SubscriberRegistry().register({ name: 'test', handlers });
    return new EffectDispatcher({ store, registry, clock, owner: 'd1', ...extra });
  }

  it('delivers a due effect once and records its outcome events and follow-up effects', async () => {
    const id = await incident();
    const seen: string[] = [];
    const registry = new SubscriberRegistry().register({
      name: 'test',
      handlers: {
        'x.first': async (e, ctx) => {
          seen.push(`${e.key}@${ctx.attempt}:${ctx.incident?.record.id ?? '-'}`);
          return {
            events: [note('delivered', 'delivered:1')],
            effects: [{ key: 'second', kind: 'x.second', incidentId: id, payload: {} }],
          };
        },
        'x.second': async (e) => {
          seen.push(e.key);
        },
      },
    });
    const d2 = new EffectDispatcher({
      store,
      registry,
      clock,
      owner: 'd1',
      loadIncident: async (incidentId) =>
        ({ record: { id: incidentId }, events: [], state: {} }) as unknown as Incident,
    });
    await store.addEffects([{ key: 'first', kind: 'x.first', incidentId: id, payload: 1 }]);
    expect(await d2.runOnce()).toBe(1);
    expect(await d2.runOnce()).toBe(1);
    expect(await d2.runOnce()).toBe(0);
    expect(seen).toEqual([`first@1:${id}`, 'second']);
    const texts = (await store.loadEvents(id)).map((e) =>
      e.type === 'timeline.entry' ? e.text : '',
    );
    expect(texts).toEqual(['opened', 'delivered']);
    expect(rows().map((r) => [r.key, r.state])).toEqual([
      ['first', 'done'],
      ['second', 'done'],
    ]);
  });

  it('retries failures with exponential backoff and gives up after maxAttempts', async () => {
    let calls = 0;
    const d = dispatcher(
      {
        'x.flaky': async () => {
          calls += 1;
          throw new Error('HTTP 503');
        },
      },
      { backoff: { baseMs: 1000, maxMs: 60_000, maxAttempts: 3 } },
    );
    await store.addEffects([{ key: 'f', kind: 'x.flaky', payload: null }]);
    const start = now;
    expect(await d.runOnce()).toBe(1);
    expect(rows()[0]).toMatchObject({ state: 'pending', attempts: 1, last_error: 'HTTP 503' });
    expect(rows()[0].not_before).toBe(start.toMillis() + 1000);
    now = start.plus({ milliseconds: 999 });
    expect(await d.runOnce()).toBe(0);
    now = start.plus({ milliseconds: 1000 });
    expect(await d.runOnce()).toBe(1);
    expect(rows()[0].not_before).toBe(now.toMillis() + 2000);
    now = now.plus({ milliseconds: 2000 });
    expect(await d.runOnce()).toBe(1);
    expect(rows()[0]).toMatchObject({ state: 'dead', attempts: 3 });
    expect(rows()[0].last_error).toBe('gave up after 3 attempts: HTTP 503');
    now = now.plus({ days: 1 });
    expect(await d.runOnce()).toBe(0);
    expect(calls).toBe(3);
  });

  it('honours RetryableEffectError.retryAt (Slack Retry-After)', async () => {
    const retryAt = now.plus({ seconds: 30 });
    const d = dispatcher({
      'x.limited': async (_e, ctx) => {
        if (ctx.attempt === 1) throw new RetryableEffectError('ratelimited', retryAt);
      },
    });
    await store.addEffects([{ key: 'l', kind: 'x.limited', payload: null }]);
    await d.runOnce();
    expect(rows()[0]).toMatchObject({ state: 'pending', not_before: retryAt.toMillis() });
    now = retryAt.minus({ milliseconds: 1 });
    expect(await d.runOnce()).toBe(0);
    now = retryAt;
    expect(await d.runOnce()).toBe(1);
    expect(rows()[0]).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('counts a Retry-After (afterMs) from when the failure is recorded, not from the delivery start', async () => {
    const started = now;
    const d = dispatcher({
      'x.slow': async (_e, ctx) => {
        if (ctx.attempt > 1) return;
        // The call took 700 ms before Slack answered 429 with Retry-After: 1.
        now = now.plus({ milliseconds: 700 });
        throw new RetryableEffectError('ratelimited', { afterMs: 1000 });
      },
    });
    await store.addEffects([{ key: 's', kind: 'x.slow', payload: null }]);
    await d.runOnce();
    const due = started.plus({ milliseconds: 1700 });
    expect(rows()[0]).toMatchObject({ state: 'pending', not_before: due.toMillis() });
    now = due.minus({ milliseconds: 1 });
    expect(await d.runOnce()).toBe(0);
    now = due;
    expect(await d.runOnce()).toBe(1);
    expect(rows()[0]).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('marks a PermanentEffectError dead with its reason, never retried, recording its outcome', async () => {
    const id = await incident();
    const d = dispatcher({
      'x.bad': async () => {
        throw new PermanentEffectError('channel_not_found', {
          events: [note('could not post', 'failed:1')],
        });
      },
    });
    await store.addEffects([{ key: 'b', kind: 'x.bad', incidentId: id, payload: null }]);
    await d.runOnce();
    expect(rows()[0]).toMatchObject({ state: 'dead', last_error: 'channel_not_found' });
    now = now.plus({ days: 1 });
    expect(await d.runOnce()).toBe(0);
    const texts = (await store.loadEvents(id)).map((e) =>
      e.type === 'timeline.entry' ? e.text : '',
    );
    expect(texts).toContain('could not post');
  });

  it('retries an effect whose kind has no handler (another replica may be newer)', async () => {
    const d = dispatcher({});
    await store.addEffects([{ key: 'u', kind: 'x.unknown', payload: null }]);
    await d.runOnce();
    expect(rows()[0]).toMatchObject({ state: 'pending', attempts: 1 });
    expect(rows()[0].last_error).toMatch(/no handler is registered for x.unknown/);
  });

  it('wakes up for new effects without polling, and stop() waits for the delivery in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let startedDelivery!: () => void;
    const started = new Promise<void>((r) => (startedDelivery = r));
    const delivered: string[] = [];
    const d = dispatcher(
      {
        'x.slow': async (e) => {
          startedDelivery();
          await gate;
          delivered.push(e.key);
        },
      },
      { idlePollMs: 3_600_000 },
    );
    now = DateTime.utc().plus({ minutes: 1 }); // the clock is ahead: everything added is due
    d.start();
    await store.addEffects([{ key: 'w', kind: 'x.slow', payload: null }]);
    d.wake();
    await started;
    const stopping = d.stop();
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(delivered).toEqual(['w']);
    expect(rows()[0].state).toBe('done');
  });

  it("a restarted instance (same instanceId) takes over its dead predecessor's effects at once; another instance waits for the lease", async () => {
    const delivered: string[] = [];
    const handlers: Record<string, EffectHandler> = {
      'x.t': async (e) => {
        delivered.push(e.key);
      },
    };
    const registry = new SubscriberRegistry().register({ name: 't', handlers });
    await store.addEffects(
      Array.from({ length: 5 }, (_, i) => ({ key: `t${i}`, kind: 'x.t', payload: i })),
    );
    // The killed incarnation claimed them all with a one-hour lease and never finished.
    const held = await store.claimEffects({
      owner: 'web-1/dead-incarnation',
      now,
      leaseUntil: now.plus({ hours: 1 }),
      limit: 10,
    });
    expect(held).toHaveLength(5);
    const other = new EffectDispatcher({ store, registry, clock, instanceId: 'web-2' });
    expect(await other.runOnce()).toBe(0);
    const restarted = new EffectDispatcher({
      store,
      registry,
      clock,
      instanceId: 'web-1',
      batchSize: 2,
    });
    expect(restarted.owner).toMatch(/^web-1\//);
    // Full rounds keep taking over; the round that finds fewer ends the takeover.
    expect(await restarted.runOnce()).toBe(2);
    expect(await restarted.runOnce()).toBe(2);
    expect(await restarted.runOnce()).toBe(1);
    expect(await restarted.runOnce()).toBe(0);
    expect(delivered.sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(rows().every((r) => r.state === 'done' && r.attempts === 2)).toBe(true);
  });

  it('delivers each effect once when two replicas on two connections dispatch at the same time', async () => {
    const other = openSqliteStore({ file });
    stores.push(other);
    const counts = new Map<string, number>();
    const handler: EffectHandler = async (e) => {
      counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
      await new Promise((r) => setImmediate(r));
    };
    const registry = new SubscriberRegistry().register({ name: 't', handlers: { 'x.n': handler } });
    const a = new EffectDispatcher({ store, registry, clock, owner: 'a', batchSize: 4 });
    const b = new EffectDispatcher({ store: other, registry, clock, owner: 'b', batchSize: 4 });
    await store.addEffects(
      Array.from({ length: 40 }, (_, i) => ({ key: `n${i}`, kind: 'x.n', payload: i })),
    );
    const drain = async (d: EffectDispatcher) => {
      while ((await d.runOnce()) > 0);
    };
    await Promise.all([drain(a), drain(b)]);
    expect(counts.size).toBe(40);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});
