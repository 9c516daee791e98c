/**
 * Housekeeping over a real SQLite store with an injected clock: finished inbox items and effects
 * go once their retention has passed (dead effects kept longer), pending ones and the record stay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { Housekeeping } from '../../src/app/housekeeping';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite';

const retention = { inboxHours: 72, effectHours: 24, deadEffectDays: 30, intervalMinutes: 60 };
const logger = { info: () => undefined, warn: () => undefined };

describe('Housekeeping', () => {
  let dir: string;
  let store: SqliteStore;
  let now: DateTime;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'housekeeping-'));
    store = openSqliteStore({ file: join(dir, 'db.sqlite') });
    now = DateTime.utc();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deletes by age with the retention settings, done ones first, dead ones much later', async () => {
    const t = DateTime.utc();
    for (const key of ['evt:1', 'evt:2']) {
      await store.enqueueInbox({
        key,
        kind: 'event',
        partition: 'ch:C1',
        body: '{}',
        receivedAt: t,
      });
    }
    const items = await store.claimInbox({
      owner: 'a',
      now: t,
      leaseUntil: t.plus({ minutes: 1 }),
      limit: 10,
    });
    await store.completeInbox([items[0].id]);
    await store.addEffects([
      { key: 'ok', kind: 'x', payload: 1 },
      { key: 'bad', kind: 'x', payload: 2 },
      { key: 'owed', kind: 'x', payload: 3, notBefore: t.plus({ days: 365 }) },
    ]);
    const effects = await store.claimEffects({
      owner: 'a',
      now: t,
      leaseUntil: t.plus({ minutes: 1 }),
      limit: 10,
    });
    const byKey = new Map(effects.map((e) => [e.key, e]));
    await store.completeEffect(byKey.get('ok')!.id, 'a');
    await store.failEffect(byKey.get('bad')!.id, 'a', { error: 'channel_not_found', dead: true });

    const hk = new Housekeeping({ store, retention, clock: () => now, logger });
    expect(await hk.runOnce()).toEqual({ inbox: 0, effects: 0, deadEffects: 0 });
    now = now.plus({ hours: 25 });
    expect(await hk.runOnce()).toEqual({ inbox: 0, effects: 1, deadEffects: 0 });
    now = now.plus({ hours: 48 });
    expect(await hk.runOnce()).toEqual({ inbox: 1, effects: 0, deadEffects: 0 });
    now = now.plus({ days: 30 });
    expect(await hk.runOnce()).toEqual({ inbox: 0, effects: 0, deadEffects: 1 });
    // What is still owed stays: the pending request and the pending effect.
    const later = now.plus({ days: 400 });
    const inbox = await store.claimInbox({
      owner: 'b',
      now: later,
      leaseUntil: later.plus({ minutes: 1 }),
      limit: 10,
    });
    expect(inbox.map((i) => i.key)).toEqual(['evt:2']);
    const owed = await store.claimEffects({
      owner: 'b',
      now: later,
      leaseUntil: later.plus({ minutes: 1 }),
      limit: 10,
    });
    expect(owed.map((e) => e.key)).toEqual(['owed']);
  });

  it('runs at start, with the cut-offs of the injected clock; never with an interval of 0', async () => {
    const calls: DateTime[] = [];
    let called!: () => void;
    const first = new Promise<void>((resolve) => (called = resolve));
    const fake = {
      pruneDone: async (o: { inboxBefore: DateTime }) => {
        calls.push(o.inboxBefore);
        called();
        return { inbox: 0, effects: 0, deadEffects: 0 };
      },
    };
    const off = new Housekeeping({
      store: fake,
      retention: { ...retention, intervalMinutes: 0 },
      clock: () => now,
      logger,
    });
    off.start();
    await off.stop();
    expect(calls).toHaveLength(0);

    const on = new Housekeeping({ store: fake, retention, clock: () => now, logger });
    on.start();
    await first;
    await on.stop();
    expect(calls.map((c) => c.toMillis())).toEqual([now.minus({ hours: 72 }).toMillis()]);
  });
});
