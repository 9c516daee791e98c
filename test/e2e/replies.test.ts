/**
 * Replies through the outbox, end to end (real Bolt receiver, Slack Web API emulator): a
 * command's in-channel line and ephemeral answer are owed with the request's inbox completion and
 * delivered by the effect dispatcher; a request processed twice posts its line once; a 429 is
 * retried after Retry-After; a reply redelivered after a crash (posted, not completed) is found
 * in the channel by its metadata key and not posted again; a store outage still answers that
 * nothing was saved.
 */
import { DateTime } from 'luxon';
import { createLogger } from '../../src/logger';
import { replySubscriber, REPLY, THREAD_REPLY } from '../../src/slack/replies';
import { StoreUnavailableError, type InboxItem } from '../../src/store/store';
import { newTriggerId, slashCommandBody } from '../helpers/signing';
import { TEST_TEAM, type EmulatedMessage } from '../helpers/slackEmulator';
import { startTestBot, type TestBot } from '../helpers/testBot';

jest.setTimeout(60_000);

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>) {
  const end = Date.now() + 20_000;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('replies through the outbox', () => {
  let bot: TestBot;
  let channel: string;

  async function open(env: Record<string, string> = {}): Promise<void> {
    bot = await startTestBot({ env });
    await bot.command('start sev2 Replies are effects');
    const [rec] = await bot.service.list();
    channel = rec.channel as string;
  }

  afterEach(async () => {
    jest.restoreAllMocks();
    await bot?.close();
  });

  const lines = (text: string): EmulatedMessage[] =>
    bot.emulator.messages.filter((m) => m.channel === channel && m.text.includes(text));

  it("delivers a command's in-channel line, then its ephemeral answer, keyed by the request", async () => {
    await open();
    const trigger = newTriggerId();
    const r = await bot.command('log rolled back the deploy', { channel, triggerId: trigger });
    expect(r.ephemeral).toHaveLength(1);
    expect(r.ephemeral[0]).toMatch(/^Logged in INC-1 at /);
    const [line] = lines('rolled back the deploy');
    expect(r.posted.filter((p) => p.text.includes('rolled back the deploy'))).toHaveLength(1);
    expect(line.metadata).toEqual({
      event_type: 'incident_bot_effect',
      event_payload: { key: `reply:cmd:${trigger}` },
    });
    // The line first, then the answer (a follow-up effect of the line).
    const posted = bot.emulator
      .callsTo('chat.postMessage')
      .find((c) => c.params.text === line.text);
    const answered = bot.emulator.responses.find((x) => x.body.text === r.ephemeral[0]);
    expect(posted && answered && posted.at <= answered.at).toBe(true);
    // Nothing is left owed.
    const now = DateTime.utc();
    expect(
      await bot.store.claimEffects({
        owner: 't',
        now,
        leaseUntil: now.plus({ minutes: 1 }),
        limit: 50,
      }),
    ).toEqual([]);
  });

  it('posts the line of a request processed twice (after a lease expiry) once', async () => {
    await open({ INBOX_LEASE_MS: '200', INBOX_POLL_MS: '50' });
    const trigger = newTriggerId();
    const body = Object.fromEntries(
      new URLSearchParams(
        slashCommandBody({
          text: 'log twice is once',
          user_id: 'U_ALICE',
          user_name: 'alice',
          channel_id: channel,
          team_id: TEST_TEAM.id,
          response_url: bot.emulator.responseUrl('twice'),
          trigger_id: trigger,
        }),
      ),
    );
    // A replica that claims the item after another one processed it (its lease had run out):
    // every claim that finds the item is handed out once more afterwards.
    const claim = bot.store.claimInbox.bind(bot.store);
    const again: InboxItem[] = [];
    jest.spyOn(bot.store, 'claimInbox').mockImplementation(async (o) => {
      const got = await claim(o);
      if (got.length > 0) {
        again.push(...got.map((i) => ({ ...i })));
        return got;
      }
      return again.splice(0);
    });
    const complete = bot.store.completeInbox.bind(bot.store);
    const completions: { done: string[]; effects: number }[] = [];
    jest.spyOn(bot.store, 'completeInbox').mockImplementation(async (ids, effects) => {
      const res = await complete(ids, effects);
      if (ids.length) completions.push({ done: res.done, effects: res.effects.length });
      return res;
    });
    await bot.store.enqueueInbox({
      key: `cmd:${trigger}`,
      kind: 'command',
      partition: `ch:${channel}`,
      body: JSON.stringify(body),
      receivedAt: DateTime.utc(),
    });
    await until('two processings', () => (completions.length >= 2 ? true : undefined));
    await bot.idle();
    // The first completion added the reply; the second found the item done and added nothing.
    expect(completions[0]).toMatchObject({ effects: 1 });
    expect(completions[0].done).toHaveLength(1);
    expect(completions[1]).toEqual({ done: [], effects: 0 });
    expect(lines('twice is once')).toHaveLength(1);
    expect(bot.emulator.responsesTo('twice')).toHaveLength(1);
    const [rec] = await bot.service.list();
    const entries = (await bot.service.load(rec.id)).events.filter(
      (e) => e.type === 'timeline.entry' && e.text === 'twice is once',
    );
    expect(entries).toHaveLength(1);
  });

  it('answers with chat.postEphemeral, not the response_url, a request processed 31 minutes after it arrived', async () => {
    await open({ INBOX_POLL_MS: '50' });
    const trigger = newTriggerId();
    const body = Object.fromEntries(
      new URLSearchParams(
        slashCommandBody({
          text: 'log processed late',
          user_id: 'U_ALICE',
          user_name: 'alice',
          channel_id: channel,
          team_id: TEST_TEAM.id,
          response_url: bot.emulator.responseUrl('late'),
          trigger_id: trigger,
        }),
      ),
    );
    // Stored by a replica that died 31 minutes ago; this one finds it unfinished.
    await bot.store.enqueueInbox({
      key: `cmd:${trigger}`,
      kind: 'command',
      partition: `ch:${channel}`,
      body: JSON.stringify(body),
      receivedAt: DateTime.utc().minus({ minutes: 31 }),
    });
    await until('the answer', () =>
      bot.emulator.ephemerals.find((e) => e.text.startsWith('Logged in INC-1')),
    );
    await bot.idle();
    expect(bot.emulator.responsesTo('late')).toEqual([]);
    expect(bot.emulator.ephemerals.filter((e) => e.text.startsWith('Logged in INC-1'))).toEqual([
      expect.objectContaining({ channel, user: 'U_ALICE' }),
    ]);
    expect(lines('processed late')).toHaveLength(1);
  });

  it('retries the line after Retry-After when chat.postMessage answers 429', async () => {
    await open();
    bot.emulator.rateLimitNext('chat.postMessage', 1);
    const before = bot.emulator.callsTo('chat.postMessage').length;
    await bot.command('log under pressure', { channel });
    const calls = (await bot.emulator.waitForCalls('chat.postMessage', before + 2)).slice(before);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(950);
    await until('the answer', () =>
      bot.emulator.responses.some((x) => String(x.body.text).startsWith('Logged in INC-1'))
        ? true
        : undefined,
    );
    expect(lines('under pressure')).toHaveLength(1);
  });

  it('does not post again a line already in the channel when its effect is redelivered', async () => {
    await open();
    const logger = createLogger('silent');
    // The replica that died: it posted the line, then died before completing the effect.
    const dead = replySubscriber({
      config: { botToken: 'xoxb-test-token', slackApiUrl: bot.emulator.url },
      logger,
    });
    const now = DateTime.utc();
    const [added] = await bot.store.addEffects([
      {
        key: 'reply:cmd:T_DIED',
        kind: REPLY,
        payload: {
          channel,
          text: 'posted before the crash',
          owedAt: now.toISO(),
          then: {
            key: 'ephemeral:cmd:T_DIED',
            payload: {
              channel,
              user: 'U_ALICE',
              text: 'answered after the crash',
              responseUrl: bot.emulator.responseUrl('died'),
              receivedAt: now.toISO(),
            },
          },
        },
      },
      {
        key: 'thread:evt:Ev_DIED',
        kind: THREAD_REPLY,
        payload: {
          channel,
          threadTs: bot.emulator.addMessage({ channel, user: 'U_BOB', text: 'is it DNS?' }).ts,
          text: 'H9 raised from this message',
          owedAt: now.toISO(),
        },
      },
    ]);
    expect(added.key).toBe('reply:cmd:T_DIED');
    const claimed = await bot.store.claimEffects({
      owner: 'dead-replica',
      now,
      leaseUntil: now.plus({ milliseconds: 300 }),
      limit: 10,
    });
    expect(claimed.map((e) => e.attempts)).toEqual([1, 1]);
    for (const e of claimed) {
      const handler = dead.handlers?.[e.kind];
      if (!handler) throw new Error(`no handler for ${e.kind}`);
      await handler(e, { now, attempt: e.attempts });
    }
    expect(lines('posted before the crash')).toHaveLength(1);
    // The lease runs out; this bot's dispatcher takes them over (attempt 2).
    const historyBefore = bot.emulator.callsTo('conversations.history').length;
    await new Promise((r) => setTimeout(r, 350));
    bot.deps.effects?.wake();
    await until('the answer', () => (bot.emulator.responsesTo('died').length ? true : undefined));
    await bot.idle();
    expect(lines('posted before the crash')).toHaveLength(1);
    expect(lines('H9 raised from this message')).toHaveLength(1);
    const history = bot.emulator.callsTo('conversations.history').slice(historyBefore);
    expect(history.some((c) => c.params.include_all_metadata === 'true')).toBe(true);
    expect(bot.emulator.callsTo('conversations.replies').length).toBeGreaterThan(0);
    expect(bot.emulator.responsesTo('died').map((x) => x.body.text)).toEqual([
      'answered after the crash',
    ]);
  });

  it('answers that nothing was saved when the store goes down while the request is processed', async () => {
    await open();
    const down = new StoreUnavailableError('SQLITE_IOERR: disk I/O error');
    jest.spyOn(bot.store, 'findByChannel').mockRejectedValue(down);
    jest.spyOn(bot.store, 'completeInbox').mockRejectedValue(down);
    jest.spyOn(bot.store, 'addEffects').mockRejectedValue(down);
    const r = await bot.command('log during the outage', { channel });
    expect(r.status).toBe(200);
    expect(r.ephemeral).toHaveLength(1);
    expect(r.ephemeral[0]).toContain('nothing was saved');
    expect(r.ephemeral[0]).toContain('/incident log during the outage');
    expect(lines('during the outage')).toHaveLength(0);
  });
});
