import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { webApi } from '@slack/bolt';
import { IncidentService, type Incident } from '../../src/app/service';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite';
import {
  buildStatusCard,
  cardBlockId,
  createStatusCards,
  rateLimitedFor,
  type StatusCardDeps,
  type StatusCardsHandle,
} from '../../src/slack/statusCard';

const ALICE = { id: 'U_ALICE', name: 'Alice' };
const BOB = { id: 'U_BOB', name: 'Bob' };
const T0 = DateTime.fromISO('2025-03-04T18:00:00Z', { zone: 'utc' }); // 10:00 PST

interface UpdateCall {
  channel: string;
  ts: string;
  text: string;
  at: number;
}

function rateLimitError(retryAfter: number): Error {
  return Object.assign(new Error(`rate limited, retry in ${retryAfter}s`), {
    code: 'slack_webapi_rate_limited_error',
    retryAfter,
  });
}

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-card-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('status cards', () => {
  let store: SqliteStore;
  let service: IncidentService;
  let incidentId: string;
  let updates: UpdateCall[];
  let updateImpl: (args: { channel: string; ts: string; text: string }) => Promise<unknown>;
  let pinsList: jest.Mock;
  let posts: { channel: string; text: string; blocks?: unknown[] }[];
  let pins: string[];
  let warnings: string[];
  let cards: StatusCardsHandle | undefined;
  let clockNow: DateTime;

  // The cards read the incident on timers; the store answers from its worker thread, which jest's
  // fake timers do not wait for. So the cards read a snapshot kept current by this test.
  let snapshot: Incident;
  const refreshSnapshot = async () => {
    snapshot = await service.load(incidentId);
  };
  const deps = (): StatusCardDeps => ({
    service: new Proxy(service, {
      get: (target, prop, receiver) =>
        prop === 'load' ? async () => snapshot : Reflect.get(target, prop, receiver),
    }),
    // A stand-in for the two WebClient methods the cards call (chat.update, pins.list).
    client: {
      chat: {
        update: async (args: { channel: string; ts: string; text: string }) => {
          updates.push({ channel: args.channel, ts: args.ts, text: args.text, at: Date.now() });
          return updateImpl(args);
        },
      },
      pins: { list: pinsList },
    } as unknown as webApi.WebClient,
    slack: {
      post: async (channel, text, blocks) => {
        posts.push({ channel, text, blocks });
        return { ts: '1741111111.000100' };
      },
      pin: async (_channel, ts) => {
        pins.push(ts);
      },
    },
    logger: {
      warn: (_obj, msg) => warnings.push(msg ?? ''),
      debug: () => undefined,
    },
    clock: () => clockNow,
  });

  beforeEach(async () => {
    n += 1;
    store = openSqliteStore({ dataDir: path.join(dir, `s${n}`) });
    clockNow = T0.plus({ seconds: 30 });
    service = new IncidentService({ store, render: () => '', clock: () => clockNow });
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
    await refreshSnapshot();
    clockNow = T0.plus({ minutes: 65 });
    updates = [];
    updateImpl = async () => ({ ok: true });
    pinsList = jest.fn(async () => ({ ok: true, items: [] }));
    posts = [];
    pins = [];
    warnings = [];
    cards = undefined;
  });

  afterEach(async () => {
    cards?.stop();
    jest.useRealTimers();
    await store.close();
  });

  const log = async (text: string, minutes: number) => {
    const res = await service.log(incidentId, text, {
      actor: ALICE,
      source: 'command',
      at: T0.plus({ minutes }),
    });
    await refreshSnapshot();
    return res;
  };

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

  it('create posts the card in the incident channel, pins it and remembers its ts', async () => {
    cards = createStatusCards(deps(), { intervalMs: 3000 });
    const ts = await cards.create(await service.load(incidentId));
    expect(ts).toBe('1741111111.000100');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.channel).toBe('C_INC');
    expect(posts[0]!.text).toContain('INC-1 Checkout down');
    expect(pins).toEqual(['1741111111.000100']);
    expect(cards.cardTs(incidentId)).toBe(ts);
    // A second create (a retried /incident start) does not post a second card.
    expect(await cards.create(await service.load(incidentId))).toBe(ts);
    expect(posts).toHaveLength(1);
  });

  it('coalesces 1,000 refreshes over 10 s into at most ceil(10/3)+1 updates, the last with the latest state', async () => {
    jest.useFakeTimers({ now: Date.now() });
    cards = createStatusCards(deps(), { intervalMs: 3000 });
    await cards.create(await service.load(incidentId));
    const start = Date.now();
    for (let i = 0; i < 1000; i++) {
      if (i === 999) await log('the very last entry', 60);
      cards.refresh(incidentId);
      await jest.advanceTimersByTimeAsync(10);
    }
    await jest.advanceTimersByTimeAsync(3000);
    const elapsed = Date.now() - start;
    const bound = Math.ceil(elapsed / 3000) + 1;
    expect(updates.length).toBeLessThanOrEqual(bound);
    expect(updates.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < updates.length; i++) {
      expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(3000);
    }
    expect(updates.every((u) => u.ts === '1741111111.000100' && u.channel === 'C_INC')).toBe(true);
    const lastCard = await service.load(incidentId);
    expect(updates.at(-1)!.text).toBe(buildStatusCard(lastCard, clockNow).text);
    // And nothing more once quiet.
    const count = updates.length;
    await jest.advanceTimersByTimeAsync(20_000);
    expect(updates).toHaveLength(count);
  });

  it('updates at once when idle (leading), then once at the end of the interval (trailing)', async () => {
    jest.useFakeTimers({ now: Date.now() });
    cards = createStatusCards(deps(), { intervalMs: 3000 });
    await cards.create(await service.load(incidentId));
    await jest.advanceTimersByTimeAsync(5000);
    cards.refresh(incidentId);
    await jest.advanceTimersByTimeAsync(0);
    expect(updates).toHaveLength(1);
    cards.refresh(incidentId);
    cards.refresh(incidentId);
    await jest.advanceTimersByTimeAsync(2900);
    expect(updates).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(100);
    expect(updates).toHaveLength(2);
  });

  it('respects Retry-After on a 429, then sends the latest state once; never throws', async () => {
    jest.useFakeTimers({ now: Date.now() });
    cards = createStatusCards(deps(), { intervalMs: 3000 });
    await cards.create(await service.load(incidentId));
    await jest.advanceTimersByTimeAsync(3000);
    let limited = true;
    updateImpl = async () => {
      if (limited) {
        limited = false;
        throw rateLimitError(7);
      }
      return { ok: true };
    };
    cards.refresh(incidentId);
    await jest.advanceTimersByTimeAsync(0);
    expect(updates).toHaveLength(1);
    const limitedAt = updates[0]!.at;
    expect(warnings.some((w) => /rate-limited/.test(w))).toBe(true);
    for (let i = 0; i < 50; i++) {
      cards.refresh(incidentId);
      await jest.advanceTimersByTimeAsync(100);
    }
    await log('written during the rate limit', 50);
    cards.refresh(incidentId);
    await jest.advanceTimersByTimeAsync(1800); // 6.8 s after the 429: still waiting
    expect(updates).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(300);
    expect(updates).toHaveLength(2);
    expect(updates[1]!.at - limitedAt).toBeGreaterThanOrEqual(7000);
    expect(updates[1]!.text).toBe(buildStatusCard(await service.load(incidentId), clockNow).text);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(updates).toHaveLength(2);
  });

  it('logs other update failures and keeps working', async () => {
    jest.useFakeTimers({ now: Date.now() });
    cards = createStatusCards(deps(), { intervalMs: 1000 });
    await cards.create(await service.load(incidentId));
    await jest.advanceTimersByTimeAsync(1000);
    updateImpl = async () => {
      throw Object.assign(new Error('boom'), { code: 'slack_webapi_request_error' });
    };
    cards.refresh(incidentId);
    await jest.advanceTimersByTimeAsync(0);
    expect(warnings).toContain('status card update failed');
    updateImpl = async () => ({ ok: true });
    await jest.advanceTimersByTimeAsync(1000);
    cards.refresh(incidentId);
    await jest.advanceTimersByTimeAsync(0);
    expect(updates).toHaveLength(2);
  });

  it('stop() clears pending timers', async () => {
    jest.useFakeTimers({ now: Date.now() });
    cards = createStatusCards(deps(), { intervalMs: 3000 });
    await cards.create(await service.load(incidentId));
    cards.refresh(incidentId); // within the interval: a trailing update is scheduled
    cards.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    cards.refresh(incidentId);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(updates).toHaveLength(0);
  });

  it('flush() sends pending updates at once', async () => {
    cards = createStatusCards(deps(), { intervalMs: 60_000 });
    await cards.create(await service.load(incidentId));
    cards.refresh(incidentId);
    expect(updates).toHaveLength(0);
    await cards.flush();
    expect(updates).toHaveLength(1);
  });

  it('after a restart, finds the pinned card once through pins.list', async () => {
    const blocks = buildStatusCard(await service.load(incidentId), clockNow).blocks;
    pinsList.mockResolvedValue({
      ok: true,
      items: [
        { type: 'message', message: { ts: '1741000000.000001', text: 'other pin' } },
        { type: 'message', message: { ts: '1741000000.000002', blocks } },
      ],
    });
    cards = createStatusCards(deps(), { intervalMs: 10 });
    cards.refresh(incidentId);
    await cards.flush();
    expect(pinsList).toHaveBeenCalledWith({ channel: 'C_INC' });
    expect(updates.map((u) => u.ts)).toEqual(['1741000000.000002']);
    await new Promise((r) => setTimeout(r, 20));
    cards.refresh(incidentId);
    await cards.flush();
    expect(pinsList).toHaveBeenCalledTimes(1);
    expect(updates).toHaveLength(2);
  });

  it('without a card to update, asks pins.list once and sends nothing', async () => {
    cards = createStatusCards(deps(), { intervalMs: 10 });
    for (let i = 0; i < 3; i++) {
      cards.refresh(incidentId);
      await cards.flush();
      await new Promise((r) => setTimeout(r, 15));
    }
    expect(pinsList).toHaveBeenCalledTimes(1);
    expect(updates).toHaveLength(0);
  });

  it('with a real WebClient (rejectRateLimitedCalls), waits out a real 429 and then updates once', async () => {
    const seen: { at: number; body: string }[] = [];
    let first = true;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ at: Date.now(), body: new URLSearchParams(body).get('blocks') ?? body });
        if (first) {
          first = false;
          res.writeHead(429, { 'Retry-After': '1', 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, channel: 'C_INC', ts: '1741111111.000100' }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const client = new webApi.WebClient('xoxb-test', {
        slackApiUrl: `http://127.0.0.1:${port}/api/`,
        rejectRateLimitedCalls: true,
        logLevel: webApi.LogLevel.ERROR,
      });
      cards = createStatusCards({ ...deps(), client }, { intervalMs: 100 });
      await cards.create(await service.load(incidentId));
      await new Promise((r) => setTimeout(r, 150));
      cards.refresh(incidentId);
      await new Promise((r) => setTimeout(r, 50));
      await log('after the 429', 70);
      for (let i = 0; i < 20; i++) {
        cards.refresh(incidentId);
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, 1200));
      await cards.flush();
      expect(seen).toHaveLength(2);
      expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1000);
      expect(seen[1]!.body).toContain('after the 429');
    } finally {
      server.close();
    }
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
