/**
 * The reply subscriber's delivery decisions, table-driven over the Web API's failure shapes (a
 * fake WebClient and fetch): what is retried (and from when), what is dead, what the user is told;
 * and how a request collects the effects it owes.
 */
import type { webApi } from '@slack/bolt';
import { DateTime } from 'luxon';
import { PermanentEffectError, RetryableEffectError } from '../../src/app/effects';
import { owe, runAsRequest } from '../../src/app/requestContext';
import { createLogger } from '../../src/logger';
import {
  EPHEMERAL,
  REPLY,
  replyEffects,
  replySubscriber,
  type ChannelLinePayload,
  type EphemeralPayload,
} from '../../src/slack/replies';
import type { StoredEffect } from '../../src/store/store';

const NOW = DateTime.fromISO('2025-03-04T10:00:00.000Z', { zone: 'utc' });

/** Errors shaped as @slack/web-api throws them. */
const platform = (error: string) =>
  Object.assign(new Error(`An API error occurred: ${error}`), {
    code: 'slack_webapi_platform_error',
    data: { ok: false, error },
  });
const rateLimited = (retryAfter: number) =>
  Object.assign(new Error('rate limited'), {
    code: 'slack_webapi_rate_limited_error',
    retryAfter,
  });
const network = () =>
  Object.assign(new Error('socket hang up'), { code: 'slack_webapi_request_error' });
const http = (statusCode: number) =>
  Object.assign(new Error(`HTTP ${statusCode}`), {
    code: 'slack_webapi_http_error',
    statusCode,
    headers: {},
  });

interface Fake {
  calls: { method: string; args: Record<string, unknown> }[];
  fail: Map<string, unknown[]>;
  history: unknown[];
}

function fakeClient(): { client: webApi.WebClient; fake: Fake } {
  const fake: Fake = { calls: [], fail: new Map(), history: [] };
  const method =
    (name: string, answer: () => unknown = () => ({ ok: true })) =>
    async (args: Record<string, unknown>) => {
      fake.calls.push({ method: name, args });
      const err = fake.fail.get(name)?.shift();
      if (err) throw err;
      return answer();
    };
  const client = {
    chat: {
      postMessage: method('chat.postMessage', () => ({ ok: true, ts: '1.000100' })),
      postEphemeral: method('chat.postEphemeral'),
    },
    conversations: {
      history: method('conversations.history', () => ({ ok: true, messages: fake.history })),
      replies: method('conversations.replies', () => ({ ok: true, messages: fake.history })),
    },
  };
  // Only the methods the subscriber calls are faked.
  return { client: client as unknown as webApi.WebClient, fake };
}

function stored(kind: string, key: string, payload: unknown, attempts = 1): StoredEffect {
  return { id: '1', key, kind, payload, state: 'pending', attempts };
}

const ephemeralPayload = (over: Partial<EphemeralPayload> = {}): EphemeralPayload => ({
  channel: 'C1',
  user: 'U1',
  text: 'Logged in INC-1 at 10:00.',
  receivedAt: NOW.toISO() as string,
  ...over,
});

const linePayload = (over: Partial<ChannelLinePayload> = {}): ChannelLinePayload => ({
  channel: 'C1',
  text: '📝 10:00 — rolled back (Alice)',
  owedAt: NOW.toISO() as string,
  then: { key: 'ephemeral:cmd:T1', payload: ephemeralPayload() },
  ...over,
});

function setup(fetchAnswer?: () => Response | Promise<Response>) {
  const { client, fake } = fakeClient();
  const posted: { url: string; body: Record<string, unknown> }[] = [];
  const fetchFake = (async (url: string | URL | Request, init?: RequestInit) => {
    posted.push({
      url: String(url),
      body: JSON.parse(String(init?.body)) as Record<string, unknown>,
    });
    return fetchAnswer ? fetchAnswer() : new Response('ok', { status: 200 });
  }) as typeof fetch;
  const sub = replySubscriber({
    config: { botToken: 'xoxb-unit' },
    logger: createLogger('silent'),
    client,
    fetch: fetchFake,
  });
  const handle = (e: StoredEffect) => {
    const h = sub.handlers?.[e.kind];
    if (!h) throw new Error(`no handler for ${e.kind}`);
    return h(e, { now: NOW, attempt: e.attempts });
  };
  return { fake, posted, handle };
}

describe('slack.reply (the in-channel line)', () => {
  it('posts the line with its key as message metadata, then owes the ephemeral answer', async () => {
    const { fake, handle } = setup();
    const out = await handle(stored(REPLY, 'reply:cmd:T1', linePayload()));
    expect(fake.calls).toEqual([
      {
        method: 'chat.postMessage',
        args: {
          channel: 'C1',
          text: '📝 10:00 — rolled back (Alice)',
          metadata: { event_type: 'incident_bot_effect', event_payload: { key: 'reply:cmd:T1' } },
        },
      },
    ]);
    expect(out?.effects).toEqual([
      { key: 'ephemeral:cmd:T1', kind: EPHEMERAL, payload: ephemeralPayload() },
    ]);
  });

  it.each([
    ['a 429', 'retry', rateLimited(7), 7000],
    ['a network failure', 'retry', network(), undefined],
    ['HTTP 503', 'retry', http(503), undefined],
    ['Slack internal_error', 'retry', platform('internal_error'), undefined],
    ['HTTP 400', 'dead', http(400), undefined],
    ['invalid_auth', 'dead', platform('invalid_auth'), undefined],
  ])('on %s: %s', async (_what, outcome, err, retryAt) => {
    const { fake, handle } = setup();
    fake.fail.set('chat.postMessage', [err]);
    const res = handle(stored(REPLY, 'reply:cmd:T1', linePayload()));
    if (outcome === 'retry') {
      const e = await res.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RetryableEffectError);
      // Retry-After counts from the answer: the dispatcher adds it when it records the failure.
      expect((e as RetryableEffectError).afterMs).toBe(retryAt);
    } else {
      await expect(res).rejects.toBeInstanceOf(PermanentEffectError);
    }
  });

  it('tells the user in the ephemeral answer when the bot cannot post in the channel (dead, not retried)', async () => {
    const { fake, handle } = setup();
    fake.fail.set('chat.postMessage', [platform('not_in_channel')]);
    const e = (await handle(stored(REPLY, 'reply:cmd:T1', linePayload())).catch(
      (x: unknown) => x,
    )) as PermanentEffectError;
    expect(e).toBeInstanceOf(PermanentEffectError);
    const [answer] = e.outcome?.effects ?? [];
    expect((answer.payload as EphemeralPayload).text).toBe(
      "Logged in INC-1 at 10:00.\n_(Recorded, but I can't post in this channel — invite me with `/invite` to show updates here.)_",
    );
    // Posted elsewhere (close clicked in another channel): the note names that channel.
    fake.fail.set('chat.postMessage', [platform('channel_not_found')]);
    const other = (await handle(
      stored(REPLY, 'reply:cmd:T2', linePayload({ channel: 'C_INC', elsewhere: true })),
    ).catch((x: unknown) => x)) as PermanentEffectError;
    expect((other.outcome?.effects?.[0].payload as EphemeralPayload).text).toContain(
      "I can't post in <#C_INC>",
    );
  });

  it('on a redelivery, finds the line already posted by its key and does not post it again', async () => {
    const { fake, handle } = setup();
    fake.history = [
      { ts: '1.1', text: 'someone else' },
      {
        ts: '1.2',
        text: '📝 10:00 — rolled back (Alice)',
        metadata: { event_type: 'incident_bot_effect', event_payload: { key: 'reply:cmd:T1' } },
      },
    ];
    const out = await handle(stored(REPLY, 'reply:cmd:T1', linePayload(), 2));
    expect(fake.calls.map((c) => c.method)).toEqual(['conversations.history']);
    expect(fake.calls[0].args).toMatchObject({
      channel: 'C1',
      include_all_metadata: true,
      oldest: (NOW.minus({ minutes: 1 }).toMillis() / 1000).toFixed(6),
    });
    expect(out?.effects?.map((e) => e.key)).toEqual(['ephemeral:cmd:T1']);
    // Another key in the history: posted.
    const again = setup();
    again.fake.history = fake.history;
    await again.handle(stored(REPLY, 'reply:cmd:T9', linePayload(), 2));
    expect(again.fake.calls.map((c) => c.method)).toEqual([
      'conversations.history',
      'chat.postMessage',
    ]);
  });

  it('posts when the history cannot be read (at least once), but waits when it is rate-limited', async () => {
    const { fake, handle } = setup();
    fake.fail.set('conversations.history', [platform('missing_scope')]);
    await handle(stored(REPLY, 'reply:cmd:T1', linePayload(), 3));
    expect(fake.calls.map((c) => c.method)).toEqual(['conversations.history', 'chat.postMessage']);
    fake.fail.set('conversations.history', [rateLimited(3)]);
    await expect(handle(stored(REPLY, 'reply:cmd:T1', linePayload(), 4))).rejects.toBeInstanceOf(
      RetryableEffectError,
    );
  });
});

describe('slack.ephemeral', () => {
  it('goes to the response_url while the request is younger than 29 minutes', async () => {
    const { fake, posted, handle } = setup();
    await handle(
      stored(
        EPHEMERAL,
        'ephemeral:act:T1',
        ephemeralPayload({ responseUrl: 'http://r/1', replaceOriginal: true }),
      ),
    );
    expect(posted).toEqual([
      {
        url: 'http://r/1',
        body: {
          response_type: 'ephemeral',
          replace_original: true,
          text: 'Logged in INC-1 at 10:00.',
        },
      },
    ]);
    expect(fake.calls).toEqual([]);
  });

  it('uses chat.postEphemeral once the response_url is too old, or when it refuses', async () => {
    const old = setup();
    await old.handle(
      stored(
        EPHEMERAL,
        'ephemeral:cmd:T1',
        ephemeralPayload({
          responseUrl: 'http://r/1',
          receivedAt: NOW.minus({ minutes: 29 }).toISO() as string,
        }),
      ),
    );
    expect(old.posted).toEqual([]);
    expect(old.fake.calls.map((c) => [c.method, c.args.channel, c.args.user])).toEqual([
      ['chat.postEphemeral', 'C1', 'U1'],
    ]);
    const refused = setup(() => new Response('expired_url', { status: 404 }));
    await refused.handle(
      stored(EPHEMERAL, 'ephemeral:cmd:T2', ephemeralPayload({ responseUrl: 'http://r/2' })),
    );
    expect(refused.posted).toHaveLength(1);
    expect(refused.fake.calls.map((c) => c.method)).toEqual(['chat.postEphemeral']);
  });

  it('retries a response_url answering 429 after its Retry-After, or 5xx with backoff', async () => {
    const limited = setup(
      () => new Response('slow down', { status: 429, headers: { 'retry-after': '5' } }),
    );
    const e = await limited
      .handle(stored(EPHEMERAL, 'ephemeral:cmd:T1', ephemeralPayload({ responseUrl: 'http://r' })))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RetryableEffectError);
    expect((e as RetryableEffectError).afterMs).toBe(5000);
    const down = setup(() => new Response('oops', { status: 502 }));
    await expect(
      down.handle(
        stored(EPHEMERAL, 'ephemeral:cmd:T1', ephemeralPayload({ responseUrl: 'http://r' })),
      ),
    ).rejects.toBeInstanceOf(RetryableEffectError);
  });

  it('sends a DM when there is no channel, or when the user cannot be reached in it', async () => {
    const none = setup();
    await none.handle(stored(EPHEMERAL, 'ephemeral:view:V1', ephemeralPayload({ channel: '' })));
    expect(none.fake.calls.map((c) => [c.method, c.args.channel])).toEqual([
      ['chat.postMessage', 'U1'],
    ]);
    const out = setup();
    out.fake.fail.set('chat.postEphemeral', [platform('user_not_in_channel')]);
    await out.handle(stored(EPHEMERAL, 'ephemeral:cmd:T1', ephemeralPayload()));
    expect(out.fake.calls.map((c) => [c.method, c.args.channel])).toEqual([
      ['chat.postEphemeral', 'C1'],
      ['chat.postMessage', 'U1'],
    ]);
  });
});

describe('owing replies on a request', () => {
  it('collects the effects a request owes, keys suffixed when owed twice; none outside a request', async () => {
    const info = { receivedAt: NOW, recovered: false, key: 'cmd:T1' };
    const reply = { inChannel: 'a line', ephemeral: 'an answer' };
    await runAsRequest(info, async () => {
      const effects = replyEffects(reply, { channel: 'C1', user: 'U1' }, NOW);
      expect(effects.map((e) => [e.key, e.kind])).toEqual([['reply:cmd:T1', REPLY]]);
      for (const e of effects) expect(owe(e)).toBe(true);
      expect(owe(effects[0])).toBe(true);
    });
    expect((info as { owed?: { key: string }[] }).owed?.map((e) => e.key)).toEqual([
      'reply:cmd:T1',
      'reply:cmd:T1#2',
    ]);
    expect(owe({ key: 'x', kind: EPHEMERAL, payload: {} })).toBe(false);
    // Only an ephemeral answer: one slack.ephemeral effect; nothing to say: none.
    const only = replyEffects({ ephemeral: 'hi' }, { channel: 'C1', user: 'U1' }, NOW, 'cmd:T2');
    expect(only.map((e) => [e.key, e.kind])).toEqual([['ephemeral:cmd:T2', EPHEMERAL]]);
    expect(replyEffects({}, { channel: 'C1', user: 'U1' }, NOW, 'cmd:T3')).toEqual([]);
  });
});
