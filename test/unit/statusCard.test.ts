/**
 * The status card: what it shows (buildStatusCard), which commits owe a refresh (effectsFor),
 * how the store coalesces and spaces those refreshes, and the card.post / card.refresh handlers
 * against the Slack Web API emulator (Retry-After, a deleted card, recovery from the pins).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { webApi } from '@slack/bolt';
import { IncidentService, type Incident } from '../../src/app/service';
import { EffectDispatcher, SubscriberRegistry } from '../../src/app/outbox';
import {
  PermanentEffectError,
  RetryableEffectError,
  type EffectContext,
  type Subscriber,
} from '../../src/app/effects';
import type { EventType, StoredEvent } from '../../src/core/model';
import type { StoredEffect } from '../../src/store/store';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite';
import {
  buildStatusCard,
  CARD_POST,
  CARD_REFRESH,
  cardBlockId,
  cardPostEffect,
  rateLimitedFor,
  statusCardSubscriber,
} from '../../src/slack/statusCard';
import { createSlackOps } from '../../src/slack/webOps';
import { startSlackEmulator, type SlackEmulator } from '../helpers/slackEmulator';

const ALICE = { id: 'U_ALICE', name: 'Alice' };
const BOB = { id: 'U_BOB', name: 'Bob' };
const T0 = DateTime.fromISO('2025-03-04T18:00:00Z', { zone: 'utc' }); // 10:00 PST

function rateLimitError(retryAfter: number): Error {
  return Object.assign(new Error(`rate limited, retry in ${retryAfter}s`), {
    code: 'slack_webapi_rate_limited_error',
    retryAfter,
  });
}

const quiet = {
  warn: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  error: () => undefined,
};

let dir: string;
let n = 0;
let emulator: SlackEmulator;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-card-'));
  emulator = await startSlackEmulator({ channels: [{ id: 'C_INC', name: 'inc-1' }] });
});
afterAll(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('status cards', () => {
  let store: SqliteStore;
  let service: IncidentService;
  let incidentId: string;
  let clockNow: DateTime;
  let subscriber: Subscriber;
  let warnings: string[];

  /** A WebClient on the emulator that rejects rate-limited calls (as the app's card client). */
  const client = (): webApi.WebClient =>
    new webApi.WebClient('xoxb-test', {
      slackApiUrl: emulator.url,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      logLevel: webApi.LogLevel.ERROR,
    });

  beforeEach(async () => {
    n += 1;
    emulator.reset();
    emulator.addChannel({ id: 'C_INC', name: 'inc-1' });
    store = openSqliteStore({ dataDir: path.join(dir, `s${n}`) });
    clockNow = T0.plus({ seconds: 30 });
    service = new IncidentService({ store, render: () => '', clock: () => clockNow });
    warnings = [];
    const c = client();
    subscriber = statusCardSubscriber({
      client: c,
      slack: createSlackOps(c, quiet),
      logger: { warn: (_o, msg) => warnings.push(msg ?? ''), debug: () => undefined },
      config: { statusCardIntervalMs: 60_000 },
    });
    const { incident } = await service.start(
      {
        team: 'T1',
        title: 'Checkout down',
        severity: 'sev2',
        zone: 'America/Los_Angeles',
        detectedAt: T0,
      },
      { actor: ALICE, source: 'command', at: T0 },
    );
    incidentId = incident.record.id;
    await service.attachChannel(incidentId, 'C_INC', 'inc-1', { actor: ALICE, source: 'command' });
    clockNow = T0.plus({ minutes: 65 });
  });

  afterEach(async () => {
    await store.close();
  });

  const log = async (text: string, minutes: number) =>
    service.log(incidentId, text, {
      actor: ALICE,
      source: 'command',
      at: T0.plus({ minutes }),
    });

  describe('buildStatusCard', () => {
    it('shows title, number, severity, status, commander, duration, open hypotheses and the latest entries', async () => {
      const ctx = { actor: BOB, source: 'command' as const };
      await service.assignRole(incidentId, 'commander', ALICE, {
        ...ctx,
        at: T0.plus({ minutes: 1 }),
      });
      for (let i = 1; i <= 6; i++) await log(`step ${i}`, i * 5);
      await service.raiseHypothesis(incidentId, 'DB pool exhausted', {
        ...ctx,
        at: T0.plus({ minutes: 31 }),
      });
      await service.raiseHypothesis(incidentId, 'bad deploy <v2>', {
        ...ctx,
        at: T0.plus({ minutes: 32 }),
      });
      await service.ruleOut(incidentId, 'H1', 'pool at 20%', {
        ...ctx,
        at: T0.plus({ minutes: 40 }),
      });
      const card = buildStatusCard(await service.load(incidentId), clockNow);
      const all = JSON.stringify(card.blocks);
      expect(card.blocks[0]).toMatchObject({
        type: 'header',
        block_id: cardBlockId(incidentId),
        text: { text: 'INC-1 · Checkout down' },
      });
      expect(all).toContain('*Severity*\\nSEV2');
      expect(all).toContain('*Status*\\nInvestigating');
      expect(all).toContain('*Commander*\\nAlice');
      expect(all).toContain('*Duration*\\n1h 5m so far');
      // Only open hypotheses, user text escaped for mrkdwn.
      expect(all).toContain('• *H2* bad deploy &lt;v2&gt;');
      expect(all).not.toContain('• *H1*');
      // The last five timeline entries, in the incident's zone.
      const latest = (card.blocks[3] as { text: { text: string } }).text.text.split('\n');
      expect(latest[0]).toBe('*Latest on the timeline*');
      expect(latest).toHaveLength(6);
      expect(latest.at(-1)).toBe('`10:40 PST` — H1 ruled out (DB pool exhausted): pool at 20%');
      expect(latest).toContain('`10:30 PST` — step 6');
      expect(latest.join('\n')).not.toContain('step 4');
      expect(card.text).toBe(
        'INC-1 Checkout down — SEV2, investigating, 1h 5m so far, commander Alice; open hypotheses: H2',
      );
    });

    it('escapes user text so a title cannot mention everyone', async () => {
      await service.record(
        incidentId,
        { actor: ALICE, source: 'command' },
        'incident.title_changed',
        {
          title: 'DB <!channel> & <@U_BOB>',
        },
      );
      const card = buildStatusCard(await service.load(incidentId), clockNow);
      expect(card.text).toContain('DB &lt;!channel&gt; &amp; &lt;@U_BOB&gt;');
      expect(card.text).not.toContain('<!channel>');
      // The header is plain_text: shown as typed, never parsed.
      expect(card.blocks[0]).toMatchObject({
        text: { type: 'plain_text', text: 'INC-1 · DB <!channel> & <@U_BOB>' },
      });
    });

    it('stops the clock at resolution', async () => {
      await service.resolve(incidentId, 'rolled back', {
        actor: ALICE,
        source: 'command',
        at: T0.plus({ minutes: 135 }),
      });
      clockNow = T0.plus({ hours: 5 });
      const card = buildStatusCard(await service.load(incidentId), clockNow);
      expect(JSON.stringify(card.blocks)).toContain('*Duration*\\n2h 15m (resolved)');
      expect(JSON.stringify(card.blocks)).toContain('*Commander*\\n_unassigned_');
      expect(JSON.stringify(card.blocks)).toContain('_none_');
    });
  });

  // ---- which commits owe a refresh -------------------------------------------------------------

  describe('effectsFor', () => {
    /** The card effects owed by `events` appended to the incident as it is now. */
    const owedFor = async (
      ...events: ({ type: EventType } & Record<string, unknown>)[]
    ): Promise<string[]> => {
      const before = await service.load(incidentId);
      const last = before.events.reduce((m, e) => Math.max(m, e.seq), 0);
      const appended = events.map(
        (e, i) =>
          ({
            ...e,
            seq: last + i + 1,
            occurredAt: clockNow,
            recordedAt: clockNow,
            actor: ALICE,
            source: 'message',
          }) as unknown as StoredEvent,
      );
      const all = [...before.events, ...appended];
      const { foldIncident } = await import('../../src/core/fold');
      const after: Incident = { record: before.record, events: all, state: foldIncident(all) };
      return (subscriber.effectsFor?.(after, appended, clockNow) ?? []).map(
        (e) => `${e.kind} ${e.key} ${e.spacingMs ?? 0}`,
      );
    };
    const refresh = () => [`card.refresh card:${incidentId} 60000`];

    it('a change the card shows owes one coalesced, spaced card.refresh', async () => {
      expect(await owedFor({ type: 'timeline.entry', text: 'restarted' })).toEqual(refresh());
      expect(await owedFor({ type: 'hypothesis.raised', text: 'DNS' })).toEqual(refresh());
      expect(await owedFor({ type: 'severity.changed', severity: 'sev1' })).toEqual(refresh());
      expect(
        await owedFor(
          { type: 'timeline.entry', text: 'a' },
          { type: 'status.changed', status: 'identified' },
        ),
      ).toEqual(refresh());
    });

    it('plain chat capture and bookkeeping the card does not show owe nothing', async () => {
      const msg = { channel: 'C_INC', ts: '1741111111.000200', user: 'U_BOB', text: 'hello' };
      expect(await owedFor({ type: 'chat.message', ...msg })).toEqual([]);
      expect(await owedFor({ type: 'status_card.posted', channel: 'C_INC', ts: '1.0' })).toEqual(
        [],
      );
      expect(
        await owedFor({ type: 'reminder.sent', kind: 'update', due: clockNow.toISO() ?? '' }),
      ).toEqual([]);
      // An edit / delete / unpin of a message that is not on the card changes nothing there.
      await service.recordMessage((await service.load(incidentId)).record, msg, {
        actor: BOB,
        source: 'message',
      });
      expect(
        await owedFor({ type: 'chat.message_edited', channel: 'C_INC', ts: msg.ts, text: 'hi' }),
      ).toEqual([]);
      expect(await owedFor({ type: 'chat.message_deleted', channel: 'C_INC', ts: msg.ts })).toEqual(
        [],
      );
      expect(await owedFor({ type: 'message.unpinned', channel: 'C_INC', ts: msg.ts })).toEqual([]);
      // Once pinned (on the timeline, so on the card) its edits and its unpin show.
      expect(await owedFor({ type: 'message.pinned', channel: 'C_INC', ts: msg.ts })).toEqual(
        refresh(),
      );
      await service.recordMessageChange(
        (await service.load(incidentId)).record,
        'message.pinned',
        { channel: 'C_INC', ts: msg.ts },
        { actor: BOB, source: 'message' },
      );
      expect(
        await owedFor({ type: 'chat.message_edited', channel: 'C_INC', ts: msg.ts, text: 'hi' }),
      ).toEqual(refresh());
      expect(await owedFor({ type: 'message.unpinned', channel: 'C_INC', ts: msg.ts })).toEqual(
        refresh(),
      );
    });
  });

  // ---- coalescing and spacing in the store -------------------------------------------------------

  describe('through the store', () => {
    beforeEach(() => {
      service.useSubscribers(new SubscriberRegistry().register(subscriber));
    });

    /** Claims what is due at `at` (real instants: the store spaces deliveries by its own clock). */
    const claim = (at: DateTime) =>
      store.claimEffects({
        owner: 'test',
        now: at,
        leaseUntil: at.plus({ minutes: 10 }),
        limit: 100,
      });

    it('many commits owe one refresh; messages owe none; a delivery spaces the next by spacingMs', async () => {
      for (let i = 0; i < 200; i++) await log(`step ${i}`, 1);
      const record = (await service.load(incidentId)).record;
      for (let i = 0; i < 50; i++) {
        await service.recordMessage(
          record,
          {
            channel: 'C_INC',
            ts: `1741111111.${String(i).padStart(6, '0')}`,
            user: 'U_BOB',
            text: `m${i}`,
          },
          { actor: BOB, source: 'message' },
        );
      }
      const first = await claim(DateTime.utc());
      expect(first.map((e) => e.key)).toEqual([`card:${incidentId}`]);
      await store.completeEffect(first[0]!.id, 'test');
      const doneAt = DateTime.utc();
      // A change after the delivery owes a refresh, not before spacingMs (60 s here) has passed.
      await log('after the update', 2);
      expect(await claim(DateTime.utc())).toEqual([]);
      const later = await claim(doneAt.plus({ seconds: 61 }));
      expect(later.map((e) => e.key)).toEqual([`card:${incidentId}`]);
    });

    it('a pin through the message path owes a refresh (a plain message does not)', async () => {
      const record = (await service.load(incidentId)).record;
      const ref = { channel: 'C_INC', ts: '1741111111.000300' };
      await service.recordMessage(
        record,
        { ...ref, user: 'U_BOB', text: 'rolled back' },
        {
          actor: BOB,
          source: 'message',
        },
      );
      expect(await claim(DateTime.utc())).toEqual([]);
      await service.recordMessageChange(record, 'message.pinned', ref, {
        actor: BOB,
        source: 'message',
      });
      expect((await claim(DateTime.utc())).map((e) => e.key)).toEqual([`card:${incidentId}`]);
    });

    it('a change while the card is being updated is delivered once more afterwards', async () => {
      await log('one', 1);
      const [running] = await claim(DateTime.utc());
      expect(running?.key).toBe(`card:${incidentId}`);
      await log('two', 2); // coalesced into the running one: marked to run again
      await store.completeEffect(running!.id, 'test');
      const again = await claim(DateTime.utc().plus({ seconds: 61 }));
      expect(again.map((e) => e.id)).toEqual([running!.id]);
    });
  });

  // ---- the handlers against the emulator -----------------------------------------------------------

  describe('handlers', () => {
    const ctxFor = async (attempt = 1): Promise<EffectContext> => ({
      now: clockNow,
      incident: await service.load(incidentId),
      attempt,
    });
    const effect = (kind: string, payload: unknown = {}): StoredEffect => ({
      id: '1',
      key: kind === CARD_POST ? `card-post:${incidentId}` : `card:${incidentId}`,
      kind,
      incidentId,
      payload,
      state: 'pending',
      attempts: 1,
    });
    const handler = (kind: string) => subscriber.handlers![kind]!;

    const postCard = async (): Promise<string> => {
      const out = await handler(CARD_POST)(effect(CARD_POST, { channel: 'C_INC' }), await ctxFor());
      const posted = out?.events?.find((e) => e.type === 'status_card.posted');
      expect(posted).toMatchObject({ channel: 'C_INC', source: 'system' });
      await store.append(incidentId, out!.events!);
      return (posted as { ts: string }).ts;
    };

    it('card.post posts and pins the card once and records its ts; card.refresh updates it', async () => {
      const ts = await postCard();
      expect(emulator.pins.has(`C_INC:${ts}`)).toBe(true);
      expect((await service.load(incidentId)).state.statusCard).toEqual({ channel: 'C_INC', ts });
      // Owed once: delivered again, it sees the recorded card and posts nothing.
      const again = await handler(CARD_POST)(
        effect(CARD_POST, { channel: 'C_INC' }),
        await ctxFor(2),
      );
      expect(again?.events ?? []).toEqual([]);
      expect(emulator.callsTo('chat.postMessage')).toHaveLength(1);

      await log('cache flushed', 60);
      const out = await handler(CARD_REFRESH)(effect(CARD_REFRESH), await ctxFor());
      expect(out?.events ?? []).toEqual([]);
      const [update] = emulator.callsTo('chat.update');
      expect(update?.params).toMatchObject({ channel: 'C_INC', ts });
      expect(String(update?.params.blocks)).toContain('cache flushed');
      // The ts came from the record: the pins were not searched.
      expect(emulator.callsTo('pins.list')).toEqual([]);
    });

    it('a card posted before the event existed is found in the pins once, and recorded', async () => {
      const card = buildStatusCard(await service.load(incidentId), clockNow);
      const posted = await client().chat.postMessage({
        channel: 'C_INC',
        text: card.text,
        blocks: card.blocks,
      });
      await client().pins.add({ channel: 'C_INC', timestamp: posted.ts! });
      const out = await handler(CARD_REFRESH)(effect(CARD_REFRESH), await ctxFor());
      expect(emulator.callsTo('chat.update')[0]?.params.ts).toBe(posted.ts);
      expect(out?.events).toEqual([
        expect.objectContaining({ type: 'status_card.posted', channel: 'C_INC', ts: posted.ts }),
      ]);
      await store.append(incidentId, out!.events!);
      await handler(CARD_REFRESH)(effect(CARD_REFRESH), await ctxFor());
      expect(emulator.callsTo('pins.list')).toHaveLength(1);
      expect(emulator.callsTo('chat.update')).toHaveLength(2);
    });

    it('no card (none recorded, none pinned): nothing to update', async () => {
      await expect(handler(CARD_REFRESH)(effect(CARD_REFRESH), await ctxFor())).resolves.toEqual(
        {},
      );
      expect(emulator.callsTo('chat.update')).toEqual([]);
    });

    it('a 429 is retried no earlier than Retry-After; a deleted card is dead', async () => {
      await postCard();
      emulator.rateLimitNext('chat.update', 7);
      const limited = handler(CARD_REFRESH)(effect(CARD_REFRESH), await ctxFor());
      await expect(limited).rejects.toBeInstanceOf(RetryableEffectError);
      const err = (await limited.catch((e: unknown) => e)) as RetryableEffectError;
      // Seven seconds from Slack's answer: the dispatcher adds them when it records the failure.
      expect(err.afterMs).toBe(7000);
      expect(err.retryAt).toBeUndefined();

      emulator.messages.splice(0, emulator.messages.length);
      const gone = handler(CARD_REFRESH)(effect(CARD_REFRESH), await ctxFor());
      await expect(gone).rejects.toBeInstanceOf(PermanentEffectError);
      await expect(gone).rejects.toThrow('message_not_found');
    });

    it('through the dispatcher: Retry-After respected, then delivered; not found: dead', async () => {
      const registry = new SubscriberRegistry().register(subscriber);
      service.useSubscribers(registry);
      let dispatcherNow = DateTime.utc();
      const dead: string[] = [];
      const dispatcher = new EffectDispatcher({
        store,
        registry,
        loadIncident: (id) => service.load(id),
        clock: () => dispatcherNow,
        logger: {
          ...quiet,
          warn: (o: unknown, msg?: string) =>
            msg === 'effect dead' && dead.push(String((o as { reason: string }).reason)),
        },
      });
      await postCard();
      await log('first', 61);
      emulator.rateLimitNext('chat.update', 30);
      expect(await dispatcher.runOnce()).toBe(1); // 429
      dispatcherNow = dispatcherNow.plus({ seconds: 29 });
      expect(await dispatcher.runOnce()).toBe(0); // not before Retry-After
      dispatcherNow = dispatcherNow.plus({ seconds: 2 });
      expect(await dispatcher.runOnce()).toBe(1); // delivered
      const updates = emulator.callsTo('chat.update');
      expect(updates.map((c) => c.status)).toEqual([429, 200]);
      expect(String(updates[1]!.params.blocks)).toContain('first');

      emulator.messages.splice(0, emulator.messages.length); // the card was deleted
      await log('second', 62);
      dispatcherNow = dispatcherNow.plus({ seconds: 120 });
      expect(await dispatcher.runOnce()).toBe(1);
      expect(dead).toEqual(['Slack answered message_not_found']);
      dispatcherNow = dispatcherNow.plus({ hours: 1 });
      expect(await dispatcher.runOnce()).toBe(0); // never retried
      await dispatcher.stop();
    });

    it('card.post names the card in the effect key, once per incident', () => {
      expect(cardPostEffect(incidentId, 'C_INC')).toMatchObject({
        key: `card-post:${incidentId}`,
        kind: CARD_POST,
      });
      expect(cardBlockId(incidentId)).toBe(`incident_status:${incidentId}`);
    });
  });
});

describe('rateLimitedFor', () => {
  it('reads Retry-After from the WebClient error shapes', () => {
    expect(rateLimitedFor(rateLimitError(12))).toBe(12);
    expect(
      rateLimitedFor({
        code: 'slack_webapi_platform_error',
        data: { error: 'ratelimited', response_metadata: { retryAfter: 4 } },
      }),
    ).toBe(4);
    expect(
      rateLimitedFor({
        code: 'slack_webapi_http_error',
        statusCode: 429,
        headers: { 'retry-after': '3' },
      }),
    ).toBe(3);
    expect(rateLimitedFor({ code: 'slack_webapi_platform_error', data: { error: 'nope' } })).toBe(
      undefined,
    );
    expect(rateLimitedFor(new Error('x'))).toBeUndefined();
  });
});
