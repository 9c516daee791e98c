/**
 * Command modules against a fake CommandContext: a real IncidentService over SQLite, and fake
 * Slack operations and status cards that record what they were asked to do.
 */
import { incidentKind } from '../../src/core/insights';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { closeCommand } from '../../commands/close';
import { splitEscalation } from '../../commands/escalate';
import { findCommand, helpText, registry } from '../../commands/index';
import { channelNameFor, slugify } from '../../commands/start';
import { renderTimeline } from '../../commands/timeline';
import { IncidentError } from '../../src/app/errors';
import { IncidentService, type Incident } from '../../src/app/service';
import type { TimelineItem } from '../../src/core/fold';
import type { CommandContext, Settings, SlackOps, SlackUser } from '../../src/slack/ports';
import { UsageError } from '../../src/slack/ports';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite';
import { EffectDispatcher, SubscriberRegistry } from '../../src/app/outbox';
import { createLogger } from '../../src/logger';
import { postmortemUploadSubscriber } from '../../src/slack/postmortemUpload';
import { statusCardSubscriber } from '../../src/slack/statusCard';
import { startFlowSubscriber } from '../../src/slack/startFlow';

const T0 = DateTime.fromISO('2025-03-11T21:30:00Z', { zone: 'utc' });
const USERS: Record<string, SlackUser> = {
  U_ALICE: { id: 'U_ALICE', name: 'Alice', tz: 'America/Los_Angeles' },
  U_BOB: { id: 'U_BOB', name: 'Bob', tz: 'Europe/London' },
  U_NOTZ: { id: 'U_NOTZ', name: 'Nora' },
};

interface FakeSlack extends SlackOps {
  calls: { method: string; args: unknown[] }[];
  fail: Partial<Record<keyof SlackOps, string>>;
}

function fakeSlack(): FakeSlack {
  let n = 0;
  const calls: FakeSlack['calls'] = [];
  const fail: FakeSlack['fail'] = {};
  const op =
    <A extends unknown[], R>(method: keyof SlackOps, result: (...args: A) => R) =>
    async (...args: A): Promise<R> => {
      calls.push({ method, args });
      const error = fail[method];
      if (error)
        throw Object.assign(new Error(`An API error occurred: ${error}`), {
          code: 'slack_webapi_platform_error',
          data: { error },
        });
      return result(...args);
    };
  return {
    calls,
    fail,
    user: op('user', (id: string) => USERS[id] ?? { id, name: id }),
    createChannel: op('createChannel', (name: string) => ({ id: `C${++n}`, name })),
    invite: op('invite', () => undefined),
    usergroupMembers: op('usergroupMembers', () => ['U_BOB', 'U_CAROL']),
    post: op('post', () => ({ ts: `${++n}.0` })),
    postThread: op('postThread', () => undefined),
    pin: op('pin', () => undefined),
    upload: op('upload', () => `F${++n}`),
    openModal: op('openModal', () => undefined),
  };
}

let dir: string;
let store: SqliteStore;
let service: IncidentService;
let slack: FakeSlack;
let now: DateTime;
let subscribers: SubscriberRegistry;
/** What the start flow answered: response_url posts, ephemerals, DMs. */
let answers: { via: string; to: string; text: string }[];

/** The effects owed now (claimed, so each is listed once), as `kind key`. */
async function owed(): Promise<string[]> {
  const far = DateTime.utc().plus({ days: 1 });
  const claimed = await store.claimEffects({
    owner: 'test',
    now: far,
    leaseUntil: far.plus({ minutes: 1 }),
    limit: 1000,
  });
  return claimed.map((e) => `${e.kind} ${e.key}`);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-commands-'));
  store = openSqliteStore({ file: path.join(dir, 'db.sqlite') });
  now = T0;
  service = new IncidentService({
    store,
    render: (i) => `# ${i.state.title}\n${i.state.timeline.map((t) => t.text).join('\n')}\n`,
    clock: () => now,
  });
  slack = fakeSlack();
  answers = [];
  const quiet = { warn: () => undefined, debug: () => undefined };
  // Answers of the start flow go through these two WebClient methods or the response_url.
  const client = {
    chat: {
      postEphemeral: async (a: { channel: string; user: string; text: string }) => {
        answers.push({ via: 'ephemeral', to: `${a.channel}/${a.user}`, text: a.text });
        return { ok: true };
      },
      postMessage: async (a: { channel: string; text: string }) => {
        answers.push({ via: 'dm', to: a.channel, text: a.text });
        return { ok: true, ts: '9.0' };
      },
    },
  } as never;
  // The status card and the start flow follow from commits (checked with owed() / deliver()).
  subscribers = new SubscriberRegistry()
    .register(statusCardSubscriber({ client, slack, logger: quiet }))
    .register(
      startFlowSubscriber({
        service,
        slack,
        client,
        logger: quiet,
        responseUrlTtlMs: 29 * 60_000,
        fetch: (async (url: string, init: { body: string }) => {
          answers.push({
            via: 'response_url',
            to: url,
            text: (JSON.parse(init.body) as { text: string }).text,
          });
          return { ok: true, status: 200 };
        }) as unknown as typeof fetch,
      }),
    );
  service.useSubscribers(subscribers);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const settings: Settings = { channelPrefix: 'inc', defaultZone: 'UTC', template: 'default' };

function ctx(over: Partial<CommandContext> = {}): CommandContext {
  return {
    team: 'T1',
    channel: 'C_GENERAL',
    user: USERS.U_ALICE,
    service,
    slack,
    settings,
    now,
    ...over,
  };
}

async function run(line: string, over: Partial<CommandContext> = {}) {
  const [name, ...rest] = line.split(' ');
  const mod = findCommand(name);
  if (!mod) throw new Error(`no command ${name}`);
  let incident = over.incident;
  if (mod.needsIncident && !incident && over.channel) {
    incident = await service.findByChannel(over.channel);
  }
  return mod.run(rest.join(' '), ctx({ ...over, ...(incident ? { incident } : {}) }));
}

/** Delivers every effect owed (and those they lead to), as the dispatcher would. */
async function deliver(): Promise<void> {
  const dispatcher = new EffectDispatcher({
    store,
    registry: subscribers,
    loadIncident: (id) => service.load(id),
    clock: () => DateTime.utc(),
  });
  for (let round = 0; round < 50; round++) if ((await dispatcher.runOnce()) === 0) return;
  throw new Error('effects still owed after 50 rounds');
}

async function start(text = 'sev2 13:55 PDT Checkout is failing'): Promise<Incident> {
  await run(`start ${text}`);
  await deliver();
  const i = await service.findByNumber('T1', 1);
  if (!i?.state.channel) throw new Error('not started');
  return i;
}

describe('registry and help', () => {
  it('finds commands by name and alias, case-insensitively', () => {
    expect(findCommand('LOG')?.name).toBe('log');
    expect(findCommand('hyp')?.name).toBe('hypothesis');
    expect(findCommand('ruleout')?.name).toBe('rule-out');
    expect(findCommand('rc')?.name).toBe('root-cause');
    expect(findCommand('nope')).toBeUndefined();
    expect(findCommand('')).toBeUndefined();
  });

  it('has no duplicate names or aliases', () => {
    const names = registry.flatMap((m) => [m.name, ...(m.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('help has every usage line and summary', () => {
    const text = helpText();
    for (const m of registry) {
      expect(text).toContain(`/incident ${m.usage}`);
      expect(text).toContain(m.summary);
    }
  });
});

describe('start helpers', () => {
  it('slugifies titles to lowercase ASCII', () => {
    expect(slugify('  Checkout is FAILING!! (EU) ')).toBe('checkout-is-failing-eu');
    expect(slugify('Café crème — down')).toBe('cafe-creme-down');
    expect(slugify('☃☃')).toBe('');
  });

  it('names channels <prefix>-<date in the incident zone>-<slug>, at most 80 chars', () => {
    // 2025-03-12 03:00 UTC is still 2025-03-11 in Los Angeles.
    const t = DateTime.fromISO('2025-03-12T03:00:00Z', { zone: 'utc' });
    expect(channelNameFor('inc', t, 'America/Los_Angeles', 'DB down', 1)).toBe(
      'inc-2025-03-11-db-down',
    );
    expect(channelNameFor('inc', t, 'UTC', 'DB down', 1)).toBe('inc-2025-03-12-db-down');
    expect(channelNameFor('INC!', t, 'UTC', '☃', 7)).toBe('inc-2025-03-12-inc-7');
    const long = channelNameFor('incident', t, 'UTC', 'word '.repeat(40), 1);
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long).toMatch(/^incident-2025-03-12-word-word/);
    expect(long).not.toMatch(/-$/);
  });
});

describe('start', () => {
  it('records, then the outbox creates the channel, invites, posts the card, announces, answers', async () => {
    const reply = await run('start sev2 13:55 PDT Checkout is failing', {
      settings: { ...settings, announceChannel: 'C_ANN' },
      key: 'cmd:T-1',
      responseUrl: 'https://hooks.example/r/1',
      // (The effects are delivered at real instants: the request was received just now.)
      receivedAt: DateTime.utc(),
    });
    // The command records and owes the rest: nothing is said or done in Slack yet.
    expect(reply).toEqual({});
    expect(slack.calls).toEqual([]);
    expect((await service.findByNumber('T1', 1))?.state.channel).toBeUndefined();
    await deliver();
    const i = await service.findByNumber('T1', 1);
    expect(i?.state.channel).toBe('C1');
    expect(i?.state.channelName).toBe('inc-2025-03-11-checkout-is-failing');
    expect(slack.calls.map((c) => c.method)).toEqual([
      'createChannel',
      'invite',
      'post', // the status card
      'pin',
      'post', // announcements
      'post',
    ]);
    expect(slack.calls[0].args[1]).toEqual({
      purpose: `INC-1: Checkout is failing (incident-bot:${i?.record.id})`,
    });
    expect(slack.calls[1].args).toEqual(['C1', ['U_ALICE']]);
    expect(slack.calls[2].args[0]).toBe('C1');
    expect(i?.state.statusCard).toEqual({ channel: 'C1', ts: '2.0' });
    expect(slack.calls.slice(4).map((c) => c.args[0])).toEqual(['C_ANN', 'C_GENERAL']);
    expect(String(slack.calls[4].args[1])).toBe(
      '🚨 INC-1 (SEV2) opened by Alice: Checkout is failing → <#C1>',
    );
    // One answer, to the command's response_url.
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ via: 'response_url', to: 'https://hooks.example/r/1' });
    expect(answers[0].text).toContain('INC-1 (SEV2) opened: Checkout is failing → <#C1>');
    expect(answers[0].text).toContain('13:55 PDT');
    expect(answers[0].text).not.toContain('⚠️');
  });

  it('reports each Slack failure in the one answer, and still says INC-n IS recorded', async () => {
    slack.fail.invite = 'cant_invite';
    slack.fail.post = 'not_in_channel';
    const reply = await run('start Checkout is failing');
    expect(reply).toEqual({});
    await deliver();
    expect(answers).toHaveLength(1);
    // No response_url: an ephemeral in the channel it was typed in.
    expect(answers[0]).toMatchObject({ via: 'ephemeral', to: 'C_GENERAL/U_ALICE' });
    const text = answers[0].text;
    expect(text).toContain('INC-1 IS recorded');
    expect(text).toContain('invite you to the channel (cant_invite)');
    expect(text).toContain('post and pin the status card (not_in_channel)');
    expect(text).toContain('post the announcement in this channel (not_in_channel)');
    expect((await service.findByNumber('T1', 1))?.state.channel).toBe('C1');
  });

  it('without a channel: the record is kept, announced without a link, and the answer says so', async () => {
    slack.fail.createChannel = 'restricted_action';
    await run('start Checkout is failing', { settings: { ...settings, announceChannel: 'C_ANN' } });
    await deliver();
    expect(slack.calls.map((c) => c.method)).toEqual(['createChannel', 'post', 'post']);
    expect(String(slack.calls[1].args[1])).toBe(
      '🚨 INC-1 (SEV3) opened by Alice: Checkout is failing',
    );
    expect(answers).toHaveLength(1);
    expect(answers[0].text).toContain(
      'INC-1 IS recorded, but I could not create its channel (restricted_action)',
    );
    expect(answers[0].text).toContain('Create a channel by hand');
    expect((await service.findByNumber('T1', 1))?.state.title).toBe('Checkout is failing');
  });

  it('opens a modal when there is no title (and refuses without a trigger id)', async () => {
    await run('start sev1 13:00 UTC', { triggerId: 'T-1' });
    const call = slack.calls.find((c) => c.method === 'openModal');
    expect(call?.args[0]).toBe('T-1');
    const view = call?.args[1] as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe('start:modal');
    expect(JSON.parse(view.private_metadata)).toEqual({
      channel: 'C_GENERAL',
      detectedAt: '2025-03-11T13:00:00.000Z',
      zone: 'UTC',
    });
    await expect(run('start sev1')).rejects.toThrow(UsageError);
    // the submission carries the typed time and zone through
    const mod = findCommand('start');
    await mod?.views?.modal(
      { title: 'From the form', severity: 'sev1', description: '' },
      view.private_metadata,
      ctx(),
    );
    const i = await service.findByNumber('T1', 1);
    expect(i?.state.title).toBe('From the form');
    expect(i?.state.severity).toBe('sev1');
    expect(i?.state.detectedAt?.toISO()).toBe('2025-03-11T13:00:00.000Z');
  });

  it('the same request processed again owes nothing twice: one channel, one announcement, one answer', async () => {
    // Processed again before the channel was made (the effect still pending), then after.
    await run('start Checkout is failing', { key: 'cmd:T-9' });
    await run('start Checkout is failing', { key: 'cmd:T-9' });
    await deliver();
    const again = await run('start Checkout is failing', { key: 'cmd:T-9' });
    expect(again).toEqual({});
    await deliver();
    expect(slack.calls.filter((c) => c.method === 'createChannel')).toHaveLength(1);
    expect(slack.calls.filter((c) => c.method === 'post')).toHaveLength(2); // card + this channel
    expect(answers).toHaveLength(1);
    expect(await service.list()).toHaveLength(1);
  });
});

describe('recording commands', () => {
  it('read a bare time in the user tz, then the incident zone', async () => {
    const i = await start();
    const c = { channel: i.state.channel };
    // Nora has no Slack tz: her bare time is read in the incident's zone (PDT).
    const r = await run('log 14:10 from Nora', { ...c, user: USERS.U_NOTZ });
    expect(r.ephemeral).toContain('14:10 PDT');
    const s = (await service.findByChannel(i.state.channel ?? ''))?.state;
    expect(s?.timeline.find((t) => t.text === 'from Nora')?.at.toISO()).toBe(
      '2025-03-11T21:10:00.000Z',
    );
    expect(await owed()).toContain(`card.refresh card:${i.record.id}`);
  });

  it('never record when the command is bad', async () => {
    const i = await start();
    const c = { channel: i.state.channel };
    const before = JSON.stringify(await store.loadEvents(i.record.id));
    await expect(run('log 2025-03-12 10:00 x', c)).rejects.toThrow(/in the future/);
    await expect(run('rule-out H1 x', c)).rejects.toThrow(IncidentError);
    await expect(run(`impact ${'x'.repeat(3001)}`, c)).rejects.toThrow(/Slack's limit is 3000/);
    expect(JSON.stringify(await store.loadEvents(i.record.id))).toBe(before);
  });

  it('say the channel is not an incident channel when there is no incident', async () => {
    await expect(run('log hello')).rejects.toThrow(/not an incident channel/);
  });

  it('escalate records what the invitations could not do', async () => {
    const i = await start();
    slack.fail.invite = 'restricted_action';
    const r = await run('escalate <@U_BOB> <!subteam^S1|@dba>: lag', { channel: i.state.channel });
    expect(r.ephemeral).toContain('The escalation is recorded, but I could not invite them');
    const s = (await service.findByChannel(i.state.channel ?? ''))?.state;
    expect(s?.escalations[0]).toMatchObject({
      to: '@Bob @dba',
      reason: 'lag',
      users: ['U_BOB'],
      groups: ['S1'],
    });
    const invite = slack.calls.filter((c) => c.method === 'invite').at(-1);
    expect(invite?.args[1]).toEqual(['U_BOB', 'U_CAROL']);
  });

  it('impact: the time is the impact start, the entry is recorded now', async () => {
    const i = await start();
    await run('impact 13:40 PDT half of EU checkouts fail', { channel: i.state.channel });
    const s = (await service.findByChannel(i.state.channel ?? ''))?.state;
    expect(s?.impactStartedAt?.toISO()).toBe('2025-03-11T20:40:00.000Z');
    expect(s?.impact).toBe('half of EU checkouts fail');
  });
});

describe('splitEscalation', () => {
  it('splits on because, a dash or a colon; the earliest wins', () => {
    expect(splitEscalation('@db-oncall because replication lag')).toEqual({
      to: '@db-oncall',
      reason: 'replication lag',
    });
    expect(splitEscalation('@sre — error budget gone')).toEqual({
      to: '@sre',
      reason: 'error budget gone',
    });
    expect(splitEscalation('@vp: customer facing because EU')).toEqual({
      to: '@vp',
      reason: 'customer facing because EU',
    });
  });

  it('keeps the whole text as "to" when there is nothing sensible to split', () => {
    expect(splitEscalation('@db-oncall and @sre')).toEqual({ to: '@db-oncall and @sre' });
    expect(splitEscalation('because')).toEqual({ to: 'because' });
    expect(splitEscalation('see https://status.example/x')).toEqual({
      to: 'see https://status.example/x',
    });
  });
});

describe('timeline', () => {
  const item = (minute: number, text: string, label?: TimelineItem['label']): TimelineItem => ({
    at: T0.plus({ minutes: minute }),
    kind: 'entry',
    text,
    actor: { id: 'U', name: 'U' },
    source: 'command',
    seq: minute + 1,
    ...(label ? { label } : {}),
  });

  it('shows HH:MM ZONE — [Label] text in the incident zone', () => {
    expect(
      renderTimeline(
        [item(0, 'Issue detected', 'Detection'), item(5, 'a < b')],
        'America/Los_Angeles',
      ),
    ).toEqual(['14:30 PDT — [Detection] Issue detected', '14:35 PDT — a &lt; b']);
  });

  it('shows dates when the incident spans days', () => {
    expect(renderTimeline([item(0, 'a'), item(24 * 60, 'b')], 'UTC')).toEqual([
      '2025-03-11 21:30 UTC — a',
      '2025-03-12 21:30 UTC — b',
    ]);
  });

  it('keeps the first and the latest entries within the budget and says how many were left out', () => {
    const items = Array.from({ length: 200 }, (_, n) =>
      item(n, `entry number ${n} ${'x'.repeat(40)}`),
    );
    const lines = renderTimeline(items, 'UTC');
    expect(lines.join('\n').length).toBeLessThanOrEqual(2800);
    expect(lines[0]).toContain('entry number 0 ');
    expect(lines.at(-1)).toContain('entry number 199 ');
    const left = Number(/… (\d+) entries left out …/.exec(lines[1])?.[1]);
    expect(left).toBe(200 - (lines.length - 1));
  });

  it('the command answers ephemerally only', async () => {
    const i = await start();
    const r = await run('timeline', { channel: i.state.channel });
    expect(r.inChannel).toBeUndefined();
    expect(r.ephemeral).toContain('13:55 PDT — [Detection] Issue detected: Checkout is failing');
  });
});

describe('close', () => {
  /** Delivers the effects the close owes (the upload) with the real subscriber over `slack`. */
  async function deliverOwed(): Promise<void> {
    const registry = new SubscriberRegistry().register(
      postmortemUploadSubscriber({ slack, service, logger: createLogger('silent') }),
    );
    const dispatcher = new EffectDispatcher({ store, registry, clock: () => now });
    while ((await dispatcher.runOnce()) > 0);
  }

  it('closes once; a failed upload is reported in the channel and the draft is kept', async () => {
    const i = await start();
    const c = { channel: i.state.channel };
    await run('resolve', c);
    slack.fail.upload = 'file_upload_failed';
    const mod = closeCommand.actions?.anyway;
    const r = await mod?.(i.record.id, ctx(c));
    expect(r?.ephemeral).toContain('INC-1 closed');
    expect((await service.load(i.record.id)).state.status).toBe('closed');
    await deliverOwed();
    const notice = slack.calls.filter((x) => x.method === 'post').at(-1);
    expect(notice?.args[0]).toBe(i.state.channel);
    expect(String(notice?.args[1])).toContain('could not upload the postmortem draft of INC-1');
    expect((await store.latestPostmortem(i.record.id))?.content).toContain('# Checkout is failing');
    // A second close is told it is closed; nothing is uploaded twice.
    await expect(mod?.(i.record.id, ctx(c))).rejects.toMatchObject({ code: 'closed' });
  });

  it('posts the summary in the incident channel when clicked elsewhere', async () => {
    const i = await start();
    await run('resolve fixed', { channel: i.state.channel });
    now = now.plus({ minutes: 1 });
    const r = await closeCommand.actions?.anyway?.(
      `${i.record.id}|concise`,
      ctx({ channel: 'C_OTHER' }),
    );
    // The summary is the reply's line, addressed to the incident's channel (posted by the outbox).
    expect(r?.channel).toBe(i.state.channel);
    expect(r?.inChannel).toContain('INC-1 closed');
    await deliverOwed();
    const uploads = slack.calls.filter((c) => c.method === 'upload');
    expect(uploads.map((u) => u.args.slice(0, 2))).toEqual([
      [i.state.channel, 'postmortem-INC-1.md'],
    ]);
    const rendered = (await service.load(i.record.id)).events.find(
      (e) => e.type === 'postmortem.rendered',
    );
    expect(rendered && 'template' in rendered ? rendered.template : '').toBe('concise');
  });
});

describe('kind', () => {
  it('marks an incident as a drill, once, and refuses other words', async () => {
    const i = await start();
    const c = { channel: i.state.channel };
    await expect(run('kind rehearsal', c)).rejects.toThrow(/not a kind; use one of real, drill/);
    const r = await run('kind drill', c);
    expect(r.ephemeral).toContain('now marked drill: left out of insights');
    expect(r.inChannel).toContain('Kind: drill');
    const again = await run('kind DRILL', c);
    expect(again.ephemeral).toContain('already marked drill');
    const events = await store.loadEvents(i.record.id);
    expect(events.filter((e) => e.type === 'incident.kind_set')).toHaveLength(1);
    expect(incidentKind(events)).toBe('drill');
  });
});
