/**
 * The /incident grammar exercised from outside, exactly as Slack sends requests: slash commands,
 * button clicks and modal submissions, signed over HTTP and as Socket Mode envelopes, against the
 * real app, a real SQLite store and the Slack emulator.
 */
import { DateTime } from 'luxon';
import type { StoredEvent } from '../../src/core/model';
import { startTestBot, type TestBot } from '../helpers/testBot';
import { TRANSPORTS, type TransportKind } from '../helpers/transport';

// 2025-03-11 21:30 UTC = 14:30 PDT (Alice) = 21:30 GMT (Bob) = 21:30 UTC (Carol).
const T0 = DateTime.fromISO('2025-03-11T21:30:00Z', { zone: 'utc' });
const ANNOUNCE = 'C0ANNOUNCE';

let now: DateTime;
let bot: TestBot;
/** Set by each describe.each block: the suites run over HTTP and over Socket Mode. */
let transport: TransportKind = 'http';

beforeEach(async () => {
  now = T0;
  bot = await startTestBot({
    transport,
    clock: () => now,
    env: { INCIDENT_CHANNEL_PREFIX: 'inc', INCIDENT_ANNOUNCE_CHANNEL: ANNOUNCE },
    users: [{ id: 'U_DAN', name: 'Dan', tz: 'Asia/Tokyo' }],
    usergroups: { S_DB: ['U_CAROL', 'U_DAN'] },
  });
  bot.emulator.addChannel({ id: ANNOUNCE, name: 'incidents' });
});

afterEach(async () => {
  // Socket Mode: every ack was well formed and only carried a payload where Slack accepts one.
  expect(bot.socket?.violations ?? []).toEqual([]);
  await bot.close();
});

const advance = (minutes: number) => {
  now = now.plus({ minutes });
};

const all = (r: { ephemeral: string[] }) => r.ephemeral.join('\n');

/** Opens an incident and returns its id and channel. */
async function open(
  text = 'start sev2 13:55 PDT Checkout is failing',
): Promise<{ id: string; channel: string; number: number }> {
  const r = await bot.command(text);
  const m = /<#(C[A-Z0-9]+)>/.exec(all(r));
  if (!m) throw new Error(`no channel link in: ${all(r)}`);
  const incident = await bot.service.findByChannel(m[1]);
  if (!incident) throw new Error('incident not attached to its channel');
  return { id: incident.record.id, channel: m[1], number: incident.record.number };
}

/** Polls until `fn` gives a value (background deliveries: retries wait for their backoff). */
async function waitFor<T>(fn: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function events(id: string): Promise<StoredEvent[]> {
  return bot.store.loadEvents(id);
}

/** Runs a command that must be refused, and checks nothing recorded changed. */
async function refused(id: string, text: string, channel: string, user?: string) {
  const before = JSON.stringify(await events(id));
  const postedBefore = bot.emulator.callsTo('chat.postMessage').length;
  const r = await bot.command(text, { channel, ...(user ? { user } : {}) });
  expect(JSON.stringify(await events(id))).toBe(before);
  expect(r.posted).toEqual([]);
  expect(bot.emulator.callsTo('chat.postMessage').length).toBe(postedBefore);
  return all(r);
}

describe.each(TRANSPORTS)('a whole incident, from start to close (over %s)', (over) => {
  beforeAll(() => (transport = over));
  it('records everything, invites, pins, uploads the postmortem, and refuses after close', async () => {
    // start sev2, backdated detection, typed in #general
    const r = await bot.command('start sev2 13:55 PDT Checkout is failing for EU customers!');
    expect(r.status).toBe(200);
    const reply = all(r);
    expect(reply).toContain('INC-1');
    expect(reply).toContain('13:55 PDT');
    const channelId = /<#(C[A-Z0-9]+)>/.exec(reply)?.[1] ?? '';
    const channel = bot.emulator.channels.get(channelId);
    expect(channel?.name).toBe('inc-2025-03-11-checkout-is-failing-for-eu-customers');
    expect(channel?.members.has('U_ALICE')).toBe(true);
    // the pinned status card
    const pinned = bot.emulator.messages.filter(
      (m) => m.channel === channelId && bot.emulator.pins.has(`${channelId}:${m.ts}`),
    );
    expect(pinned).toHaveLength(1);
    expect(pinned[0].text).toContain('INC-1');
    // announcements: the announce channel and the channel it was typed in
    expect(r.posted.find((p) => p.channel === ANNOUNCE)?.text).toContain('INC-1');
    expect(r.posted.find((p) => p.channel === 'C_GENERAL')?.text).toContain(`<#${channelId}>`);

    const incident = await bot.service.findByChannel(channelId);
    if (!incident) throw new Error('no incident');
    const id = incident.record.id;
    expect(incident.state.severity).toBe('sev2');
    expect(incident.state.zone).toBe('America/Los_Angeles');
    expect(incident.state.detectedAt?.toISO()).toBe('2025-03-11T20:55:00.000Z');

    const c = { channel: channelId };
    advance(2);
    let x = await bot.command('log 14:20 we suspected the payment API', c);
    expect(x.posted).toEqual([
      { channel: channelId, text: '📝 14:20 PDT — we suspected the payment API (Alice)' },
    ]);
    expect(all(x)).toContain('14:20 PDT');

    x = await bot.command('hypothesis 14:22 the payment provider is rate-limiting us', c);
    expect(x.posted[0].text).toBe('🔎 H1 raised: the payment provider is rate-limiting us (Alice)');
    expect(all(x)).toContain('14:22 PDT');

    // Bob types a bare time in his own zone (London, GMT): 21:25 GMT = 14:25 PDT.
    x = await bot.command('hypothesis 21:25 bad config push to eu-west-1', { ...c, user: 'U_BOB' });
    expect(x.posted[0].text).toBe('🔎 H2 raised: bad config push to eu-west-1 (Bob)');
    expect(all(x)).toContain('14:25 PDT');

    x = await bot.command(
      'escalate 14:26 <@U_CAROL|carol> and <!subteam^S_DB|@db-oncall> because replication lag is growing',
      c,
    );
    expect(x.posted[0].text).toContain('Escalated to @Carol and @db-oncall');
    expect(channel?.members.has('U_CAROL')).toBe(true);
    expect(channel?.members.has('U_DAN')).toBe(true);
    expect(bot.emulator.callsTo('usergroups.users.list')[0]?.params.usergroup).toBe('S_DB');

    x = await bot.command('rule-out H1 14:28 the provider dashboard shows normal rates', c);
    expect(x.posted[0].text).toBe(
      '❌ H1 ruled out: the provider dashboard shows normal rates (Alice)',
    );

    x = await bot.command('confirm h2 14:30 rolling back the config fixed eu-west-1', c);
    expect(x.posted[0].text).toContain('✅ H2 confirmed as root cause: bad config push');

    x = await bot.command('severity sev1 EU checkout fully down', c);
    expect(x.posted[0].text).toBe('🚨 Severity changed to SEV1: EU checkout fully down (Alice)');

    x = await bot.command('status identified', c);
    expect(x.posted[0].text).toBe('🔄 Status: identified (Alice)');

    x = await bot.command('role commander <@U_BOB|bob>', c);
    expect(x.posted[0].text).toBe('👤 Bob is now commander (set by Alice)');

    x = await bot.command('impact 13:40 EU customers could not pay (about 30% of orders)', c);
    expect(x.posted[0].text).toContain('since 13:40 PDT');

    x = await bot.command('action <@U_BOB|bob> due 2025-03-25 alert on config push errors', c);
    expect(x.posted[0].text).toContain(
      'A1: alert on config push errors — owner Bob, due 2025-03-25',
    );

    x = await bot.command('timeline', c);
    expect(x.posted).toEqual([]);
    const tl = all(x);
    expect(tl).toContain('13:55 PDT — [Detection]');
    expect(tl).toContain('14:20 PDT — we suspected the payment API');
    expect(tl).toContain('[Misleading path]');
    expect(tl).toContain(
      '[Escalation] Escalated to @Carol and @db-oncall: replication lag is growing',
    );
    expect(tl).toContain('[Root cause]');

    advance(20); // 21:50 UTC
    x = await bot.command('resolve 14:45 rolled back the config push', c);
    expect(x.posted[0].text).toBe('🟢 Resolved at 14:45 PDT: rolled back the config push (Alice)');

    // the record, as stored
    const state = (await bot.service.load(id)).state;
    expect(state.hypotheses.map((h) => [h.id, h.outcome])).toEqual([
      ['H1', 'ruled_out'],
      ['H2', 'confirmed'],
    ]);
    expect(state.escalations[0]).toMatchObject({
      to: '@Carol and @db-oncall',
      reason: 'replication lag is growing',
      users: ['U_CAROL'],
      groups: ['S_DB'],
    });
    expect(state.roles.commander).toEqual({ id: 'U_BOB', name: 'Bob' });
    expect(state.impactStartedAt?.toISO()).toBe('2025-03-11T20:40:00.000Z');
    expect(state.actions[0]).toMatchObject({ id: 'A1', owner: { id: 'U_BOB' }, due: '2025-03-25' });
    expect(state.resolvedAt?.toISO()).toBe('2025-03-11T21:45:00.000Z');
    expect(state.severity).toBe('sev1');
    expect(state.status).toBe('resolved');

    // close: the review finds nothing, so it closes directly. Bob is commander now, so it is
    // Bob who may close (Alice opened it, but handed command over).
    x = await bot.command('close', { ...c, user: 'U_BOB' });
    expect(all(x)).toContain('INC-1 closed');
    const file = bot.emulator.files.find((f) => f.name === 'postmortem-INC-1.md');
    expect(file?.completed).toBe(true);
    expect(file?.channel).toBe(channelId);
    expect(file?.content).toContain('we suspected the payment API');
    expect(file?.content).toContain('Misleading path');
    expect(file?.content).toContain('bad config push to eu-west-1');
    const summary = x.posted.find((p) => p.channel === channelId)?.text ?? '';
    expect(summary).toContain('INC-1 closed');
    expect(summary).toContain('1 hour, 5 minutes'); // 13:40 impact start → 14:45 resolved
    expect(summary).toContain('H1 (the payment provider is rate-limiting us)');
    expect(summary).toContain('A1 alert on config push errors (Bob, due 2025-03-25)');
    const closed = await bot.service.load(id);
    expect(closed.state.status).toBe('closed');
    expect(closed.record.status).toBe('closed');

    // after close: commands say it is closed, and nothing changes
    for (const cmd of ['log too late', 'hypothesis another', 'resolve']) {
      const text = await refused(id, cmd, channelId);
      expect(text).toContain('INC-1 is closed');
    }
    expect(await refused(id, 'close', channelId, 'U_BOB')).toContain('INC-1 is closed');
  });
});

describe.each(TRANSPORTS)('start (over %s)', (over) => {
  beforeAll(() => (transport = over));
  it('defaults to sev3, detection now, the configured zone; decodes the title', async () => {
    const r = await bot.command('start Orders &amp; payments slow for <@U_BOB|bob>');
    const id = (await bot.service.list())[0].id;
    const inc = await bot.service.load(id);
    expect(inc.state.severity).toBe('sev3');
    expect(inc.state.title).toBe('Orders & payments slow for @Bob');
    expect(inc.state.detectedAt?.toISO()).toBe(T0.toISO());
    expect(inc.state.zone).toBe(bot.deps.settings.defaultZone);
    const channel = inc.state.channel ?? '';
    expect(bot.emulator.channels.get(channel)?.name).toBe(
      'inc-2025-03-11-orders-payments-slow-for-bob',
    );
    expect(all(r)).toContain(`<#${channel}>`);
  });

  it('takes the severity and the time in any order', async () => {
    await bot.command('start 13:55 UTC SEV1 Login down');
    const inc = await bot.service.load((await bot.service.list())[0].id);
    expect(inc.state.severity).toBe('sev1');
    expect(inc.state.title).toBe('Login down');
    expect(inc.state.detectedAt?.toISO()).toBe('2025-03-11T13:55:00.000Z');
    expect(inc.state.zone).toBe('UTC');
  });

  it('keeps channel names within Slack’s rules and gets a suffix when taken', async () => {
    const long = `Ünïcode ☃ title ${'very long words '.repeat(10)}`;
    const a = await open(`start ${long}`);
    const b = await open(`start ${long}`);
    const nameA = bot.emulator.channels.get(a.channel)?.name ?? '';
    const nameB = bot.emulator.channels.get(b.channel)?.name ?? '';
    expect(nameA).toMatch(/^inc-2025-03-11-unicode-title-very-long-words/);
    for (const n of [nameA, nameB]) {
      expect(n).toMatch(/^[a-z0-9_-]+$/);
      expect(n.length).toBeLessThanOrEqual(80);
    }
    expect(nameB).not.toBe(nameA);
  });

  it('opens a modal without a title, and its submission opens the incident', async () => {
    const r = await bot.command('start sev1', { triggerId: 'trig-1' });
    expect(r.ephemeral).toEqual([]);
    const view = bot.emulator.views.find((v) => v.trigger_id === 'trig-1')?.view as {
      callback_id: string;
      private_metadata: string;
    };
    expect(view.callback_id).toBe('start:modal');
    expect(JSON.stringify(view)).toContain(
      '"initial_option":{"text":{"type":"plain_text","text":"SEV1"},"value":"sev1"}',
    );

    await bot.interact({
      type: 'view_submission',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_CAROL', name: 'carol', team_id: 'T_TEST' },
      trigger_id: 'trig-2',
      view: {
        id: 'V_MODAL',
        type: 'modal',
        callback_id: 'start:modal',
        private_metadata: view.private_metadata,
        state: {
          values: {
            title: { title: { type: 'plain_text_input', value: 'Search results empty' } },
            severity: {
              severity: { type: 'static_select', selected_option: { value: 'sev1' } },
            },
            description: {
              description: { type: 'plain_text_input', value: 'Index alias swap' },
            },
          },
        },
      },
      response_urls: [],
    });
    const inc = await bot.service.load((await bot.service.list())[0].id);
    expect(inc.state.title).toBe('Search results empty');
    expect(inc.state.severity).toBe('sev1');
    expect(inc.state.description).toBe('Index alias swap');
    expect(inc.state.channel).toBeDefined();
    expect(bot.emulator.channels.get(inc.state.channel ?? '')?.members.has('U_CAROL')).toBe(true);
  });

  it('says the incident IS recorded when Slack fails afterwards', async () => {
    bot.emulator.failNext('conversations.create', 'restricted_action');
    const r = await bot.command('start sev2 Checkout is failing');
    const text = all(r);
    expect(text).toContain('INC-1 IS recorded');
    expect(text).toContain('create its channel (restricted_action)');
    const list = await bot.service.list();
    expect(list).toHaveLength(1);
    expect(list[0].title).toBe('Checkout is failing');
  });

  it('the status card is posted, pinned and recorded; a command updates it through the outbox', async () => {
    const { id, channel } = await open();
    const card = (await bot.service.load(id)).state.statusCard;
    expect(card?.channel).toBe(channel);
    expect(bot.emulator.pins.has(`${channel}:${card?.ts}`)).toBe(true);
    await bot.command('log rolled back the deploy', { channel });
    const update = await waitFor(() =>
      bot.emulator
        .callsTo('chat.update')
        .find((c) => c.params.ts === card?.ts && String(c.params.blocks).includes('rolled back')),
    );
    expect(update.params.channel).toBe(channel);
  });

  it('a channel creation delivered again after a failure finds its channel: one channel, one announcement, one answer', async () => {
    // The channel is created, then recording it fails (as a crash there would leave it).
    const attach = bot.service.attachChannel.bind(bot.service);
    let failures = 0;
    bot.service.attachChannel = async (...args: Parameters<typeof attach>) => {
      if (failures++ === 0) throw new Error('the store went away');
      return attach(...args);
    };
    const r = await bot.command('start sev2 Checkout is failing');
    expect(r.ephemeral).toEqual([]); // not answered yet: the creation is retried (backoff)
    advance(1);
    bot.deps.effects?.wake();
    const [rec] = await bot.service.list();
    const inc = await waitFor(async () => (await bot.service.load(rec.id)).state.channel, 15_000);
    await waitFor(() => bot.emulator.responses.length > 0 || undefined, 15_000);
    await bot.idle();
    expect(bot.emulator.callsTo('conversations.create').map((c) => c.error ?? 'ok')).toEqual([
      'ok',
      'name_taken',
    ]);
    const created = [...bot.emulator.channels.values()].filter((c) => c.name.startsWith('inc-'));
    expect(created.map((c) => c.id)).toEqual([inc]);
    expect(created[0].purpose).toContain(`incident-bot:${rec.id}`);
    const announcements = bot.emulator.messages.filter((m) => m.text.startsWith('🚨 INC-1'));
    expect(announcements.map((m) => m.channel).sort()).toEqual([ANNOUNCE, 'C_GENERAL'].sort());
    expect(bot.emulator.responses).toHaveLength(1);
    expect(String(bot.emulator.responses[0].body.text)).toContain(`<#${inc}>`);
    expect(String(bot.emulator.responses[0].body.text)).not.toContain('⚠️');
    expect(bot.emulator.channels.get(inc)?.members.has('U_ALICE')).toBe(true);
  }, 30_000);

  it('refuses a future time, an unreadable time and an over-long title, recording nothing', async () => {
    let r = await bot.command('start 2025-03-12 09:00 UTC Checkout is failing');
    expect(all(r)).toContain('in the future');
    expect(all(r)).toContain('Usage: `/incident start [sevN] [time] <title>`');
    r = await bot.command('start 25:61 Checkout is failing');
    expect(all(r)).toMatch(/couldn't read that time/);
    r = await bot.command(`start ${'x'.repeat(3001)}`);
    expect(all(r)).toContain("Slack's limit is 3000");
    expect(await bot.service.list()).toEqual([]);
    expect(bot.emulator.callsTo('conversations.create')).toEqual([]);
  });
});

describe.each(TRANSPORTS)('errors (over %s)', (over) => {
  beforeAll(() => (transport = over));
  let id: string;
  let channel: string;
  beforeEach(async () => {
    ({ id, channel } = await open());
    await bot.command('hypothesis disk full', { channel });
  });

  it('unknown subcommand: says so and shows the help', async () => {
    const text = await refused(id, 'frobnicate now', channel);
    expect(text).toContain("I don't know `/incident frobnicate`");
    expect(text).toContain('log [time] <text>');
  });

  it('missing text', async () => {
    expect(await refused(id, 'log', channel)).toContain('Missing the entry text.');
    expect(await refused(id, 'log 14:20', channel)).toContain('Missing the entry text.');
    expect(await refused(id, 'hypothesis', channel)).toContain('Missing the hypothesis.');
    expect(await refused(id, 'rule-out H1', channel)).toContain('Missing the evidence');
    expect(await refused(id, 'root-cause', channel)).toContain('Missing the root cause.');
    expect(await refused(id, 'escalate', channel)).toContain('Missing who it is escalated to');
    expect(await refused(id, 'impact 14:00', channel)).toContain('Missing the impact.');
    expect(await refused(id, 'action <@U_BOB> due 2025-04-01', channel)).toContain(
      'Missing the action item.',
    );
    expect(await refused(id, 'severity', channel)).toContain('Which severity?');
    expect(await refused(id, 'status', channel)).toContain('Which status?');
    expect(await refused(id, 'role', channel)).toContain('Which role?');
  });

  it('unknown or malformed hypothesis ids', async () => {
    expect(await refused(id, 'rule-out H7 not it', channel)).toContain(
      'There is no hypothesis H7 in INC-1; known: H1.',
    );
    expect(await refused(id, 'confirm H9', channel)).toContain('There is no hypothesis H9');
    expect(await refused(id, 'confirm disk', channel)).toContain('"disk" is not a hypothesis id');
    expect(await refused(id, 'rule-out', channel)).toContain('Which hypothesis?');
  });

  it('a time in the future says "in the future"; an unparseable time says so', async () => {
    for (const cmd of [
      'log 2025-03-12 08:00 deploy',
      'hypothesis 2025-03-11 23:00 UTC cache',
      'rule-out H1 2025-03-12 09:00 nope',
      'resolve 2099-01-01 10:00',
      'impact 2025-03-11T23:00:00Z all users',
    ]) {
      const text = await refused(id, cmd, channel);
      expect(text).toContain('in the future');
      expect(text).toContain('Usage: `/incident ');
    }
    for (const cmd of ['log 24:10 x', 'log 2025-02-30 10:00 x', 'escalate 13pm <@U_BOB>']) {
      expect(await refused(id, cmd, channel)).toMatch(/couldn't read that time/);
    }
  });

  it('text over Slack’s limit is refused, not truncated', async () => {
    const long = 'y'.repeat(3001);
    for (const cmd of [`log ${long}`, `hypothesis ${long}`, `impact ${long}`, `action ${long}`]) {
      const text = await refused(id, cmd, channel);
      expect(text).toContain('3001 characters');
      expect(text).toContain("Slack's limit is 3000");
    }
    const ok = await bot.command(`log ${'z'.repeat(3000)}`, { channel });
    expect(ok.posted).toHaveLength(1);
    const entry = (await events(id)).find((e) => e.type === 'timeline.entry');
    expect(entry && 'text' in entry ? entry.text : '').toHaveLength(3000);
  });

  it('invalid values', async () => {
    expect(await refused(id, 'severity sev5', channel)).toContain('"sev5" is not a severity');
    expect(await refused(id, 'status resolved', channel)).toContain('`/incident resolve`');
    expect(await refused(id, 'status sleeping', channel)).toContain('"sleeping" is not a status');
    expect(await refused(id, 'role commander bob', channel)).toContain('Unexpected "bob"');
    expect(await refused(id, 'role commander', channel)).toContain('Mention the person');
    expect(await refused(id, 'role bad!role <@U_BOB>', channel)).toContain('A role name is');
    expect(await refused(id, 'action due 2025-02-30 fix it', channel)).toContain(
      'is not a due date',
    );
    expect(await refused(id, 'postmortem ../../etc/passwd', channel)).toContain(
      'is not a template name',
    );
  });

  it('a command outside an incident channel says where the incidents are', async () => {
    const r = await bot.command('log hello', { channel: 'C_RANDOM' });
    expect(all(r)).toContain("works in an incident's channel, and this channel is not one");
    expect(all(r)).toContain(`<#${channel}>`);
    expect(r.posted).toEqual([]);
  });
});

describe.each(TRANSPORTS)('other subcommands (over %s)', (over) => {
  beforeAll(() => (transport = over));
  let id: string;
  let channel: string;
  beforeEach(async () => {
    ({ id, channel } = await open());
  });

  it('root-cause, with a leading time', async () => {
    const r = await bot.command('root-cause 14:10 expired TLS certificate on the LB', { channel });
    expect(r.posted[0].text).toBe('🎯 Root cause: expired TLS certificate on the LB (Alice)');
    const s = (await bot.service.load(id)).state;
    expect(s.rootCause?.text).toBe('expired TLS certificate on the LB');
    expect(s.rootCause?.at.toISO()).toBe('2025-03-11T21:10:00.000Z');
  });

  it('escalate without a reason records the whole text as "to"', async () => {
    await bot.command('escalate <@U_BOB>', { channel });
    const s = (await bot.service.load(id)).state;
    expect(s.escalations[0].to).toBe('@Bob');
    expect(s.escalations[0].reason).toBeUndefined();
    expect(bot.emulator.channels.get(channel)?.members.has('U_BOB')).toBe(true);
  });

  it('action: owner and due in any order, or neither', async () => {
    await bot.command('action due 2025-04-01 <@U_CAROL> rotate the certs', { channel });
    await bot.command('action add a runbook', { channel });
    const s = (await bot.service.load(id)).state;
    expect(s.actions.map((a) => [a.id, a.text, a.owner?.name, a.due])).toEqual([
      ['A1', 'rotate the certs', 'Carol', '2025-04-01'],
      ['A2', 'add a runbook', undefined, undefined],
    ]);
  });

  it('list shows open incidents with severity, status, channel and duration', async () => {
    advance(10);
    const r = await bot.command('list', { channel: 'C_RANDOM' });
    // detected 13:55 PDT, now 14:40 PDT
    expect(all(r)).toContain(
      `• *INC-1* SEV2 Checkout is failing — investigating — <#${channel}> — 45m so far`,
    );
  });

  it('postmortem uploads the draft without closing, and shows the review', async () => {
    await bot.command('log 14:00 alerts fired', { channel });
    const r = await bot.command('postmortem', { channel });
    const text = all(r);
    expect(text).toContain('postmortem-INC-1.md');
    expect(text).toContain('No impact recorded');
    expect(text).toContain('No root cause');
    const file = bot.emulator.files.find((f) => f.name === 'postmortem-INC-1.md');
    expect(file?.channel).toBe(channel);
    expect(file?.content).toContain('alerts fired');
    expect((await bot.service.load(id)).state.status).toBe('investigating');
  });

  it('close on an unresolved incident asks to resolve first', async () => {
    const text = await refused(id, 'close', channel);
    expect(text).toContain('INC-1 is not resolved yet');
    expect(text).toContain('/incident resolve');
  });

  it('close with findings offers "Close anyway" and "Go back"', async () => {
    await bot.command('hypothesis cache stampede', { channel });
    await bot.command('resolve restarted the cache', { channel });
    const before = JSON.stringify(await events(id));
    const r = await bot.command('close', { channel });
    expect(JSON.stringify(await events(id))).toBe(before);
    const text = all(r);
    expect(text).toContain('No impact recorded');
    expect(text).toContain('still open: H1');
    expect(text).toContain('No action items');
    expect(text).toContain('without any escalation');
    const last = bot.emulator.responses.at(-1)?.body as { blocks?: unknown[] };
    const buttons = JSON.stringify(last.blocks);
    expect(buttons).toContain('"action_id":"close:anyway"');
    expect(buttons).toContain('"action_id":"close:back"');
    expect(buttons).toContain(`"value":"${id}"`);
    expect(bot.emulator.files).toEqual([]);

    const click = (actionId: string, responseId: string) =>
      bot.interact({
        type: 'block_actions',
        team: { id: 'T_TEST', domain: 'test-workspace' },
        user: { id: 'U_ALICE', name: 'alice', team_id: 'T_TEST' },
        channel: { id: channel, name: 'inc' },
        container: { type: 'message', channel_id: channel },
        trigger_id: `trig-${responseId}`,
        response_url: bot.emulator.responseUrl(responseId),
        actions: [
          {
            type: 'button',
            action_id: actionId,
            block_id: 'close_review',
            value: id,
            action_ts: '1',
          },
        ],
      });

    await click('close:back', 'back-1');
    expect(String(bot.emulator.responsesTo('back-1')[0]?.body.text)).toContain(
      'Nothing was closed',
    );
    expect(JSON.stringify(await events(id))).toBe(before);

    await click('close:anyway', 'anyway-1');
    expect(String(bot.emulator.responsesTo('anyway-1')[0]?.body.text)).toContain('INC-1 closed');
    expect((await bot.service.load(id)).state.status).toBe('closed');
    expect(bot.emulator.files.map((f) => f.name)).toEqual(['postmortem-INC-1.md']);
  });

  it('help lists every usage line', async () => {
    const r = await bot.command('help', { channel: 'C_RANDOM' });
    for (const usage of [
      'start [sevN] [time] <title>',
      'log [time] <text>',
      'hypothesis [time] <text>',
      'rule-out <H#> [time] <evidence>',
      'confirm <H#> [time] [evidence]',
      'root-cause <text>',
      'escalate [time] <to whom and why>',
      'severity <sevN> [reason]',
      'status <investigating|identified|monitoring>',
      'role <commander|comms|scribe|NAME> <@user>',
      'impact <text>',
      'action [<@owner>] [due YYYY-MM-DD] <text>',
      'resolve [time] [how it was resolved]',
      'close',
      'postmortem',
      'timeline',
      'list',
      'help',
    ]) {
      expect(all(r)).toContain(`/incident ${usage}`);
    }
  });
});
