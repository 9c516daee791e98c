/**
 * Chat capture end to end: Events API callbacks (signed HTTP, and Socket Mode envelopes) into the
 * real app (SQLite store), Slack Web API answered by the emulator.
 */
import { DateTime } from 'luxon';
import type { StoredEvent } from '../../src/core/model';
import { BOT_ID, BOT_USER_ID } from '../helpers/slackEmulator';
import { startTestBot, type TestBot } from '../helpers/testBot';
import { TRANSPORTS } from '../helpers/transport';

const BASE = Math.floor(Date.now() / 1000) - 3600;
let seq = 0;
/** A fresh Slack ts (seconds.micro) an hour ago plus a few seconds per message. */
const nextTs = (): string => {
  seq += 1;
  return `${BASE + seq * 5}.${String(seq).padStart(6, '0')}`;
};
const nowTs = (): string => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;

describe.each(TRANSPORTS)('chat capture (e2e over %s)', (transport) => {
  let bot: TestBot;
  let channel: string;
  let incidentId: string;

  async function open(env?: Record<string, string>): Promise<void> {
    bot = await startTestBot({ transport, ...(env ? { env } : {}) });
    await bot.command('start sev2 Checkout is down');
    const [rec] = await bot.service.list();
    if (!rec?.channel) throw new Error('no incident channel');
    channel = rec.channel;
    incidentId = rec.id;
    // Everyone is in the incident channel (ephemeral answers need membership).
    for (const u of ['U_ALICE', 'U_BOB', 'U_CAROL'])
      bot.emulator.channels.get(channel)!.members.add(u);
  }

  afterEach(async () => {
    // Socket Mode: every ack was well formed and only carried a payload where Slack accepts one.
    expect(bot?.socket?.violations ?? []).toEqual([]);
    await bot?.close();
  });

  /** Sends a human message event (and puts it in the emulator so thread replies can find it). */
  async function say(
    text: string,
    o: { user?: string; ts?: string; thread_ts?: string; channel?: string; eventId?: string } = {},
  ): Promise<string> {
    const ts = o.ts ?? nextTs();
    const ch = o.channel ?? channel;
    const user = o.user ?? 'U_ALICE';
    if (!bot.emulator.messages.some((m) => m.channel === ch && m.ts === ts)) {
      bot.emulator.messages.push({
        channel: ch,
        ts,
        text,
        user,
        ...(o.thread_ts ? { thread_ts: o.thread_ts } : {}),
      });
    }
    await bot.event(
      {
        type: 'message',
        channel: ch,
        channel_type: 'channel',
        user,
        text,
        ts,
        event_ts: ts,
        ...(o.thread_ts ? { thread_ts: o.thread_ts } : {}),
      },
      o.eventId ? { eventId: o.eventId } : {},
    );
    return ts;
  }

  function react(
    emoji: string,
    ts: string,
    o: {
      user?: string;
      removed?: boolean;
      eventId?: string;
      retryNum?: number;
      channel?: string;
    } = {},
  ) {
    return bot.event(
      {
        type: o.removed ? 'reaction_removed' : 'reaction_added',
        user: o.user ?? 'U_BOB',
        reaction: emoji,
        item: { type: 'message', channel: o.channel ?? channel, ts },
        item_user: 'U_ALICE',
        event_ts: nowTs(),
      },
      {
        ...(o.eventId ? { eventId: o.eventId } : {}),
        ...(o.retryNum !== undefined ? { retryNum: o.retryNum } : {}),
      },
    );
  }

  const incident = () => bot.service.load(incidentId);
  const eventsOf = async (type: string): Promise<StoredEvent[]> =>
    (await incident()).events.filter((e) => e.type === type);
  /** The bot's thread replies under a message. */
  const threadReplies = (ts: string): string[] =>
    bot.emulator.messages
      .filter((m) => m.channel === channel && m.thread_ts === ts && m.user === BOT_USER_ID)
      .map((m) => m.text);

  it('records people’s messages at their Slack ts with plain names, and thread replies', async () => {
    await open();
    const ts = await say('paging <@U_BOB> in <#C_GENERAL|general>: p99 &gt; 4s &amp; rising');
    const reply = await say('looking', { user: 'U_BOB', thread_ts: ts });
    const s = (await incident()).state;
    const m = s.messages.find((x) => x.ts === ts)!;
    expect(m).toMatchObject({
      user: 'U_ALICE',
      userName: 'Alice',
      text: 'paging @Bob in #general: p99 > 4s & rising',
    });
    expect(m.at.toISO()).toBe(
      DateTime.fromSeconds(Math.floor(Number(ts)), { zone: 'utc' }).toISO(),
    );
    expect(m.at.toMillis()).toBe(Math.floor(Number(ts)) * 1000);
    const r = s.messages.find((x) => x.ts === reply)!;
    expect(r).toMatchObject({ userName: 'Bob', text: 'looking', threadTs: ts });
    const [e] = await eventsOf('chat.message');
    expect(e).toMatchObject({
      key: `msg:${channel}:${ts}`,
      source: 'message',
      actor: { id: 'U_ALICE', name: 'Alice' },
    });
  });

  it('does not record bot messages or system subtypes', async () => {
    await open();
    const base = { type: 'message', channel, channel_type: 'channel' };
    const events: Record<string, unknown>[] = [
      { ...base, user: 'U_ALERTS', bot_id: 'B_ALERTS', text: 'CPU high', ts: nextTs() },
      {
        ...base,
        subtype: 'bot_message',
        bot_id: 'B_X',
        username: 'pager',
        text: 'paged',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'channel_join',
        user: 'U_CAROL',
        text: '<@U_CAROL> has joined',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'channel_leave',
        user: 'U_CAROL',
        text: '<@U_CAROL> has left',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'channel_topic',
        user: 'U_ALICE',
        topic: 't',
        text: 'set the topic',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'channel_purpose',
        user: 'U_ALICE',
        purpose: 'p',
        text: 'set the purpose',
        ts: nextTs(),
      },
      { ...base, subtype: 'pinned_item', user: 'U_ALICE', text: 'pinned a message', ts: nextTs() },
      { ...base, user: BOT_USER_ID, bot_id: BOT_ID, text: 'H1 raised', ts: nextTs() },
    ];
    for (const ev of events) await bot.event({ ...ev, event_ts: ev.ts });
    expect(await eventsOf('chat.message')).toEqual([]);
    await say('a human');
    expect(await eventsOf('chat.message')).toHaveLength(1);
  });

  it('records edits and deletes; an unfurl that leaves the text alone is not an edit', async () => {
    await open();
    const ts = await say('DB at 90% CPU');
    const editTs = nowTs();
    const changed = (text: string, prev: string) => ({
      type: 'message',
      subtype: 'message_changed',
      hidden: true,
      channel,
      channel_type: 'channel',
      ts: editTs,
      event_ts: editTs,
      message: {
        type: 'message',
        user: 'U_ALICE',
        text,
        ts,
        edited: { user: 'U_ALICE', ts: editTs },
      },
      previous_message: { type: 'message', user: 'U_ALICE', text: prev, ts },
    });
    await bot.event(changed('DB at 95% CPU, <@U_CAROL> fyi', 'DB at 90% CPU'));
    await bot.event(changed('DB at 95% CPU, <@U_CAROL> fyi', 'DB at 95% CPU, <@U_CAROL> fyi'));
    let m = (await incident()).state.messages.find((x) => x.ts === ts)!;
    expect(m).toMatchObject({ text: 'DB at 95% CPU, @Carol fyi', edited: true });
    const edits = await eventsOf('chat.message_edited');
    expect(edits).toHaveLength(1);
    expect(edits[0]!.occurredAt.toMillis()).toBe(Math.floor(Number(editTs)) * 1000);

    const delTs = nowTs();
    await bot.event({
      type: 'message',
      subtype: 'message_deleted',
      hidden: true,
      channel,
      channel_type: 'channel',
      ts: delTs,
      event_ts: delTs,
      deleted_ts: ts,
      previous_message: { type: 'message', user: 'U_ALICE', text: 'DB at 95% CPU', ts },
    });
    m = (await incident()).state.messages.find((x) => x.ts === ts)!;
    expect(m.deleted).toBe(true);
    expect(await eventsOf('chat.message_deleted')).toHaveLength(1);

    // A thread parent deleted while it has replies becomes a tombstone (message_changed).
    const parent = await say('parent with replies');
    const tombTs = nowTs();
    await bot.event({
      type: 'message',
      subtype: 'message_changed',
      hidden: true,
      channel,
      channel_type: 'channel',
      ts: tombTs,
      event_ts: tombTs,
      message: {
        type: 'message',
        subtype: 'tombstone',
        user: 'USLACKBOT',
        text: 'This message was deleted.',
        ts: parent,
        thread_ts: parent,
        reply_count: 1,
      },
      previous_message: {
        type: 'message',
        user: 'U_ALICE',
        text: 'parent with replies',
        ts: parent,
      },
    });
    const p = (await incident()).state.messages.find((x) => x.ts === parent)!;
    expect(p).toMatchObject({ deleted: true, text: 'parent with replies' });
  });

  it('records a file share with file names and links', async () => {
    await open();
    const ts = nextTs();
    await bot.event({
      type: 'message',
      subtype: 'file_share',
      channel,
      channel_type: 'channel',
      user: 'U_CAROL',
      text: 'latency graph',
      ts,
      event_ts: ts,
      upload: true,
      files: [
        {
          id: 'F1',
          name: 'latency.png',
          title: 'latency',
          permalink: 'https://test-workspace.slack.com/files/U_CAROL/F1/latency.png',
        },
      ],
    });
    const m = (await incident()).state.messages.find((x) => x.ts === ts)!;
    expect(m).toMatchObject({
      userName: 'Carol',
      text: 'latency graph',
      files: [
        {
          name: 'latency.png',
          url: 'https://test-workspace.slack.com/files/U_CAROL/F1/latency.png',
        },
      ],
    });
  });

  it('records an event Slack delivers three times (retries) once', async () => {
    await open();
    const ts = nextTs();
    bot.emulator.messages.push({ channel, ts, text: 'retry me', user: 'U_ALICE' });
    const ev = {
      type: 'message',
      channel,
      channel_type: 'channel',
      user: 'U_ALICE',
      text: 'retry me',
      ts,
      event_ts: ts,
    };
    await bot.event(ev, { eventId: 'EvRETRY1' });
    await bot.event(ev, { eventId: 'EvRETRY1', retryNum: 1 });
    await bot.event(ev, { eventId: 'EvRETRY1', retryNum: 2 });
    expect(await eventsOf('chat.message')).toHaveLength(1);

    // A reaction retried three times raises one hypothesis and answers once.
    for (const retryNum of [undefined, 1, 2]) {
      await react('mag', ts, { eventId: 'EvRETRY2', ...(retryNum ? { retryNum } : {}) });
    }
    expect((await incident()).state.hypotheses).toHaveLength(1);
    expect(threadReplies(ts)).toEqual(['H1 raised']);
  });

  it(':pushpin: puts a message on the timeline; removing it takes it off', async () => {
    await open();
    const ts = await say('rollback started');
    await react('pushpin', ts);
    let s = (await incident()).state;
    expect(s.timeline.filter((t) => t.kind === 'pinned').map((t) => t.text)).toEqual([
      'rollback started',
    ]);
    expect(threadReplies(ts)).toEqual(['Pinned to the timeline']);
    await react('pushpin', ts, { removed: true });
    s = (await incident()).state;
    expect(s.timeline.some((t) => t.kind === 'pinned')).toBe(false);
    expect(s.messages.find((m) => m.ts === ts)!.pinned).toBe(false);
    expect(threadReplies(ts)).toEqual(['Pinned to the timeline', 'Removed from the timeline']);
  });

  it('every emoji takes effect with a thread reply, and removing it undoes it', async () => {
    await open();
    const h1 = await say('maybe the DB pool is exhausted');
    const h2 = await say('maybe the deploy at 14:00 broke it', { user: 'U_CAROL' });
    const esc = await say('paging the DBA on-call');
    const act = await say('we need an alert on pool saturation');

    await react('mag', h1);
    await react('mag', h2);
    expect(threadReplies(h1)).toEqual(['H1 raised']);
    expect(threadReplies(h2)).toEqual(['H2 raised']);
    let s = (await incident()).state;
    expect(s.hypotheses.map((h) => [h.id, h.text, h.raisedBy.name])).toEqual([
      ['H1', 'maybe the DB pool is exhausted', 'Bob'],
      ['H2', 'maybe the deploy at 14:00 broke it', 'Bob'],
    ]);
    expect(s.hypotheses[0]!.raisedAt.toMillis()).toBe(Math.floor(Number(h1)) * 1000);

    await react('x', h1, { user: 'U_CAROL' });
    await react('white_check_mark', h2, { user: 'U_ALICE' });
    await react('rotating_light', esc);
    await react('dart', act);
    expect(threadReplies(h1)).toEqual(['H1 raised', 'H1 ruled out']);
    expect(threadReplies(h2)).toEqual(['H2 raised', 'H2 confirmed as root cause']);
    expect(threadReplies(esc)).toEqual(['Escalation recorded']);
    expect(threadReplies(act)).toEqual(['A1 added']);
    s = (await incident()).state;
    expect(s.hypotheses[0]).toMatchObject({
      outcome: 'ruled_out',
      evidence: 'Ruled out by Carol with :x:',
    });
    expect(s.hypotheses[1]!.outcome).toBe('confirmed');
    expect(s.rootCause).toMatchObject({
      hypothesis: 'H2',
      text: 'maybe the deploy at 14:00 broke it',
    });
    expect(s.escalations.map((e) => e.to)).toEqual(['paging the DBA on-call']);
    expect(s.actions.map((a) => [a.id, a.text])).toEqual([
      ['A1', 'we need an alert on pool saturation'],
    ]);

    await react('x', h1, { user: 'U_CAROL', removed: true });
    await react('white_check_mark', h2, { user: 'U_ALICE', removed: true });
    await react('rotating_light', esc, { removed: true });
    await react('dart', act, { removed: true });
    await react('mag', h1, { removed: true });
    s = (await incident()).state;
    expect(s.hypotheses.map((h) => [h.id, h.outcome])).toEqual([['H2', 'open']]);
    expect(s.rootCause).toBeUndefined();
    expect(s.escalations).toEqual([]);
    expect(s.actions).toEqual([]);
    expect(threadReplies(h1)).toEqual([
      'H1 raised',
      'H1 ruled out',
      'H1 no longer ruled out',
      'H1 withdrawn',
    ]);
    expect(threadReplies(h2).at(-1)).toBe('H2 no longer the root cause');
    expect(threadReplies(esc).at(-1)).toBe('Escalation withdrawn');
    expect(threadReplies(act).at(-1)).toBe('A1 withdrawn');
  });

  it('answers a reaction on a thread reply in that thread', async () => {
    await open();
    const parent = await say('checkout errors since 14:02');
    const reply = await say('could be the new TLS cert', { user: 'U_CAROL', thread_ts: parent });
    await react('mag', reply);
    const answers = bot.emulator.messages.filter(
      (m) => m.channel === channel && m.user === BOT_USER_ID && m.thread_ts === parent,
    );
    expect(answers.map((m) => m.text)).toEqual(['H1 raised']);
    const h = (await incident()).state.hypotheses[0]!;
    expect(h).toMatchObject({ text: 'could be the new TLS cert', ref: { channel, ts: reply } });
  });

  it(':x: on a message that is not a hypothesis tells the reacting user only', async () => {
    await open();
    const ts = await say('not a hypothesis');
    await react('x', ts, { user: 'U_CAROL' });
    expect(threadReplies(ts)).toEqual([]);
    const eph = bot.emulator.ephemerals.filter(
      (e) => e.channel === channel && e.user === 'U_CAROL',
    );
    expect(eph.map((e) => e.text)).toEqual([expect.stringContaining('react with :mag: first')]);
    expect(await eventsOf('hypothesis.ruled_out')).toEqual([]);
  });

  it('reads a reacted-to message the bot never recorded (an alert bot) with conversations.history', async () => {
    await open();
    const ts = nextTs();
    bot.emulator.messages.push({
      channel,
      ts,
      text: 'ALERT: checkout 5xx > 20%',
      user: 'U_ALERTS',
    });
    bot.emulator.setHandler('conversations.history', (p) => ({
      messages:
        p.latest === ts
          ? [{ type: 'message', bot_id: 'B_ALERTS', text: 'ALERT: checkout 5xx &gt; 20%', ts }]
          : [],
      has_more: false,
    }));
    await react('pushpin', ts);
    const calls = bot.emulator.callsTo('conversations.history');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.params).toMatchObject({ channel, latest: ts, oldest: ts, limit: '1' });
    const s = (await incident()).state;
    expect(s.timeline.filter((t) => t.kind === 'pinned').map((t) => t.text)).toEqual([
      'ALERT: checkout 5xx > 20%',
    ]);
  });

  it('ignores messages and reactions outside incident channels', async () => {
    await open();
    const before = (await incident()).events.length;
    const ts = await say('lunch?', { channel: 'C_GENERAL' });
    await react('mag', ts, { channel: 'C_GENERAL' });
    expect((await incident()).events.length).toBe(before);
    expect(bot.emulator.messages.filter((m) => m.thread_ts === ts)).toEqual([]);
    for (const rec of await bot.service.list()) {
      const inc = await bot.service.load(rec.id);
      expect(inc.events.some((e) => e.type === 'chat.message' && e.channel === 'C_GENERAL')).toBe(
        false,
      );
    }
  });

  it('does not record anything after the incident is closed', async () => {
    await open();
    await say('before close');
    await bot.command('resolve rolled back', { channel });
    await bot.command('close', { channel });
    // The close review lists what the draft lacks; "Close anyway" closes.
    await bot.interact({
      type: 'block_actions',
      api_app_id: 'A_TEST',
      token: 'legacy',
      user: { id: 'U_ALICE', name: 'alice', username: 'alice', team_id: 'T_TEST' },
      team: { id: 'T_TEST', domain: 'test-workspace' },
      channel: { id: channel, name: 'incident' },
      container: { type: 'message', channel_id: channel, message_ts: nowTs() },
      trigger_id: 'trig-close-anyway',
      response_url: bot.emulator.responseUrl('close-anyway'),
      actions: [
        {
          type: 'button',
          action_id: 'close:anyway',
          block_id: 'close_review',
          value: incidentId,
          action_ts: nowTs(),
        },
      ],
    });
    expect((await bot.service.load(incidentId)).record.status).toBe('closed');
    const count = (await incident()).events.length;
    const ts = await say('after close');
    await react('mag', ts);
    expect((await incident()).events.length).toBe(count);
    expect((await incident()).state.messages.map((m) => m.text)).toEqual(['before close']);
  });

  it('respects at once a close made elsewhere (another replica), despite the channel cache', async () => {
    await open();
    await say('before close');
    const ctx = { actor: { id: 'U_ALICE', name: 'Alice' }, source: 'command' as const };
    await bot.service.resolve(incidentId, 'rolled back', ctx);
    await bot.service.close(incidentId, ctx);
    const count = (await incident()).events.length;
    await say('right after the close');
    expect((await incident()).events.length).toBe(count);
  });

  it('welcomes someone joining the incident channel (ephemeral), and only once per event', async () => {
    await open();
    bot.emulator.addUser({ id: 'U_DAVE', name: 'Dave' });
    bot.emulator.channels.get(channel)!.members.add('U_DAVE');
    const ev = {
      type: 'member_joined_channel',
      user: 'U_DAVE',
      channel,
      channel_type: 'C',
      team: 'T_TEST',
    };
    await bot.event(ev, { eventId: 'EvJOIN1' });
    await bot.event(ev, { eventId: 'EvJOIN1', retryNum: 1 });
    const eph = bot.emulator.ephemerals.filter((e) => e.user === 'U_DAVE');
    expect(eph).toHaveLength(1);
    expect(eph[0]!.text).toContain('INC-1 · Checkout is down');
    expect(eph[0]!.text).toContain('SEV2, investigating');
    // Not recorded.
    expect((await incident()).state.participants.some((p) => p.id === 'U_DAVE')).toBe(false);
  });

  it('Slack’s own pins promote a message like :pushpin:', async () => {
    await open();
    const ts = await say('mitigation: traffic moved to us-west');
    const pinEvent = (type: string) => ({
      type,
      user: 'U_CAROL',
      channel_id: channel,
      item: {
        type: 'message',
        channel,
        created_by: 'U_CAROL',
        message: {
          type: 'message',
          user: 'U_ALICE',
          text: 'mitigation: traffic moved to us-west',
          ts,
          permalink: 'x',
        },
      },
      event_ts: nowTs(),
    });
    await bot.event(pinEvent('pin_added'));
    expect((await incident()).state.timeline.filter((t) => t.kind === 'pinned')).toHaveLength(1);
    await bot.event(pinEvent('pin_removed'));
    expect((await incident()).state.timeline.filter((t) => t.kind === 'pinned')).toHaveLength(0);
  });

  it('plain messages owe no card update; a burst of changes gives bounded, coalesced updates', async () => {
    const interval = 250;
    await open({ STATUS_CARD_INTERVAL_MS: String(interval) });
    await new Promise((r) => setTimeout(r, interval + 50));
    await bot.idle();
    const updatesSoFar = () => bot.emulator.callsTo('chat.update').length;
    // 100 chat messages change nothing on the card: no update at all.
    let before = updatesSoFar();
    const chat: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) chat.push(say(`chatter ${i}`));
    await Promise.all(chat);
    await new Promise((r) => setTimeout(r, interval + 100));
    await bot.idle();
    expect(updatesSoFar()).toBe(before);
    // 200 messages with a timeline entry after every 20th: each entry owes a refresh, coalesced
    // to at most one chat.update per interval, the last one showing the latest entry.
    before = updatesSoFar();
    const start = Date.now();
    const burst: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      burst.push(say(`burst message ${i}`));
      if (i % 20 === 19) {
        await Promise.all(burst.splice(0));
        await bot.command(`log checkpoint ${i + 1}`, { channel });
      }
    }
    await Promise.all(burst);
    const burstMs = Date.now() - start;
    await new Promise((r) => setTimeout(r, interval + 100));
    await bot.idle();
    const updates = bot.emulator.callsTo('chat.update').slice(before);
    expect(await eventsOf('chat.message')).toHaveLength(300);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThanOrEqual(Math.ceil((burstMs + interval) / interval) + 1);
    // (Spacing between calls is asserted in the unit tests on the store; here the arrival times
    // at the emulator jitter with event-loop load.)
    expect(String(updates.at(-1)!.params.text)).toContain('INC-1 Checkout is down');
    expect(String(updates.at(-1)!.params.blocks)).toContain('checkpoint 200');
  });

  it('a 429 on chat.update delays the card, then it catches up with the latest state', async () => {
    const interval = 50;
    await open({ STATUS_CARD_INTERVAL_MS: String(interval) });
    await new Promise((r) => setTimeout(r, interval));
    bot.emulator.rateLimitNext('chat.update', 1);
    const h = await say('maybe DNS');
    await react('mag', h);
    await bot.command('log cache flushed', { channel });
    await bot.emulator.waitForCalls('chat.update', 2, 10_000);
    await new Promise((r) => setTimeout(r, 3000));
    await bot.idle();
    const calls = bot.emulator.callsTo('chat.update');
    const limited = calls.findIndex((c) => c.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    const after = calls.slice(limited + 1);
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(after[0]!.at - calls[limited]!.at).toBeGreaterThanOrEqual(1000);
    expect(String(after.at(-1)!.params.blocks)).toContain('cache flushed');
    expect(String(after.at(-1)!.params.blocks)).toContain('maybe DNS');
  }, 20_000);
});
