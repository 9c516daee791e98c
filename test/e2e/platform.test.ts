/**
 * The platform end to end: the real Bolt app in HTTP mode on a free port, a SQLite store in a
 * temp dir, and the local Slack emulator; requests signed as Slack signs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IncidentError } from '../../src/app/errors';
import type { CommandContext, CommandModule } from '../../src/slack/ports';
import { UsageError } from '../../src/slack/ports';
import { createSlackOps } from '../../src/slack/webOps';
import { StoreUnavailableError } from '../../src/store/store';
import { SocketModeReceiver, webApi } from '@slack/bolt';
import { IncidentService } from '../../src/app/service';
import { parseConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createSlackApp, WorkTracker } from '../../src/slack/app';
import { openSqliteStore } from '../../src/store/sqlite';
import { postSlashCommand, postSigned, slashCommandBody } from '../helpers/signing';
import { startSlackEmulator, type SlackEmulator } from '../helpers/slackEmulator';
import { startTestBot, type TestBot } from '../helpers/testBot';
import { TRANSPORTS } from '../helpers/transport';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: JSON.parse(await res.text()) as unknown };
}

describe('platform (real registry)', () => {
  let bot: TestBot;
  beforeAll(async () => {
    bot = await startTestBot();
  });
  afterAll(async () => {
    await bot?.close();
  });
  afterEach(() => jest.restoreAllMocks());

  const healthz = () => getJson(bot.url.replace('/slack/events', '/healthz'));

  it('GET /healthz answers 200 with the store kind when the store answers', async () => {
    expect(await healthz()).toEqual({ status: 200, body: { ok: true, store: 'sqlite' } });
  });

  it('GET /healthz answers 503 with the reason when the store ping fails', async () => {
    jest.spyOn(bot.store, 'ping').mockRejectedValueOnce(new Error('disk I/O error'));
    const res = await healthz();
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      ok: false,
      store: 'sqlite',
      error: 'store unavailable: disk I/O error',
    });
    // And it recovers.
    expect((await healthz()).status).toBe(200);
  });

  it('rejects a request with a bad signature (401) and runs nothing', async () => {
    const before = bot.emulator.calls.length;
    const res = await postSlashCommand(
      bot.url,
      bot.signingSecret,
      { text: 'start sev1 Forged incident' },
      { secret: 'not-the-secret' },
    );
    expect(res.status).toBe(401);
    await bot.idle();
    expect(bot.emulator.calls.length).toBe(before);
    expect(await bot.service.list()).toHaveLength(0);
  });

  it('rejects a stale request (timestamp older than 5 minutes) with 401, even if signed', async () => {
    const res = await postSlashCommand(
      bot.url,
      bot.signingSecret,
      { text: 'start sev1 Replayed incident' },
      { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 },
    );
    expect(res.status).toBe(401);
    await bot.idle();
    expect(await bot.service.list()).toHaveLength(0);
  });

  it('rejects a signature over a different body (tampering) with 401', async () => {
    const body = slashCommandBody({ text: 'list' });
    const ts = Math.floor(Date.now() / 1000);
    const { slackSignature } = await import('../helpers/signing');
    const res = await fetch(bot.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': slackSignature(bot.signingSecret, ts, body),
      },
      body: body.replace('list', 'help'),
    });
    expect(res.status).toBe(401);
  });

  it('answers an unknown subcommand in the ack itself, with the help', async () => {
    const r = await bot.command('frobnicate the database');
    expect(r.status).toBe(200);
    const ack = JSON.parse(r.ackBody) as { response_type: string; text: string };
    expect(ack.response_type).toBe('ephemeral');
    expect(ack.text).toContain("I don't know `/incident frobnicate`");
    expect(ack.text).toContain('/incident start');
    expect(ack.text).toContain('/incident log');
    expect(r.ephemeral).toEqual([ack.text]);
    expect(r.posted).toEqual([]);
  });

  it('answers an empty /incident with the help, in the ack', async () => {
    const r = await bot.command('   ');
    const ack = JSON.parse(r.ackBody) as { text: string };
    expect(ack.text).toContain('/incident start');
    expect(r.posted).toEqual([]);
  });

  it('outside an incident channel, says there is no open incident and how to start one', async () => {
    const r = await bot.command('log checked the dashboards', { channel: 'C_RANDOM' });
    expect(r.ackBody).toBe('');
    expect(r.ephemeral).toHaveLength(1);
    expect(r.ephemeral[0]).toContain("`/incident log` works in an incident's channel");
    expect(r.ephemeral[0]).toContain('There are no open incidents');
    expect(r.ephemeral[0]).toContain('/incident start <title>');
  });

  it('outside an incident channel, lists the open incidents with links to their channels', async () => {
    const start = await bot.command('start sev2 Checkout is down');
    expect(start.ephemeral.join('\n')).toContain('INC-1');
    const [rec] = await bot.service.list();
    expect(rec.channel).toBeDefined();

    const r = await bot.command('LOG checked the dashboards', { channel: 'C_RANDOM' });
    expect(r.ephemeral).toHaveLength(1);
    expect(r.ephemeral[0]).toContain(
      `INC-1 Checkout is down (sev2, investigating) — <#${rec.channel}>`,
    );
    expect(r.ephemeral[0]).toContain('type the command in its channel');
  });

  it('in the incident channel, a subcommand (any case, or an alias) runs and is recorded', async () => {
    const [rec] = await bot.service.list();
    const channel = rec.channel as string;
    const r = await bot.command('Note payments queue is backing up', { channel, user: 'U_BOB' });
    expect(r.ackBody).toBe('');
    expect(r.ephemeral.join('\n')).toContain('Logged in INC-1');
    const incident = await bot.service.load(rec.id);
    const entry = incident.events.find((e) => e.type === 'timeline.entry');
    expect(entry).toMatchObject({
      text: 'payments queue is backing up',
      actor: { id: 'U_BOB', name: 'Bob' },
      source: 'command',
    });
    expect(entry?.key).toMatch(/^cmd:/);
  });

  it('when the store fails, says what was not recorded and that nothing typed is lost', async () => {
    const [rec] = await bot.service.list();
    const channel = rec.channel as string;
    const before = (await bot.service.load(rec.id)).events.length;
    jest
      .spyOn(bot.store, 'commit')
      .mockRejectedValue(new StoreUnavailableError('SQLITE_BUSY: database is locked'));
    const r = await bot.command('log rolled back deploy 1234', { channel });
    jest.restoreAllMocks();

    expect(r.ephemeral).toHaveLength(1);
    const text = r.ephemeral[0];
    expect(text).toContain('not reachable');
    expect(text).toContain('nothing was saved');
    expect(text).toContain('Nothing you typed is lost');
    expect(text).toContain('/incident log rolled back deploy 1234');
    expect(r.posted).toEqual([]);
    expect((await bot.service.load(rec.id)).events.length).toBe(before);
  });

  it('when the store is down before anything runs, the answer is the same kind', async () => {
    const [rec] = await bot.service.list();
    jest
      .spyOn(bot.store, 'findByChannel')
      .mockRejectedValue(new StoreUnavailableError('connection refused'));
    const r = await bot.command('hypothesis cache stampede', { channel: rec.channel });
    jest.restoreAllMocks();
    expect(r.ephemeral).toHaveLength(1);
    expect(r.ephemeral[0]).toContain('nothing was saved');
    expect(r.ephemeral[0]).toContain('/incident hypothesis cache stampede');
  });
});

describe.each(TRANSPORTS)('dispatcher (injected registry, over %s)', (transport) => {
  const seen: { name: string; args: string; ctx: CommandContext }[] = [];
  let release: (() => void) | undefined;
  const mod = (
    name: string,
    run: CommandModule['run'],
    extra: Partial<CommandModule> = {},
  ): CommandModule => ({
    name,
    usage: `${name} <text>`,
    summary: `the ${name} command`,
    needsIncident: false,
    run: async (args, ctx) => {
      seen.push({ name, args, ctx });
      return run(args, ctx);
    },
    ...extra,
  });
  const registry: CommandModule[] = [
    mod(
      'echo',
      async (args, ctx) => ({
        ephemeral: `you said ${args}`,
        inChannel: `${ctx.user.name} said ${args}`,
      }),
      { aliases: ['say'] },
    ),
    mod(
      'where',
      async (_a, ctx) => ({ ephemeral: `incident INC-${ctx.incident?.record.number}` }),
      {
        needsIncident: true,
      },
    ),
    mod('strict', async () => {
      throw new UsageError('Missing the text.');
    }),
    mod('picky', async () => {
      throw new IncidentError('invalid', 'sev9 is not a severity; use sev1…sev4.');
    }),
    mod('boom', async () => {
      throw new Error('kaboom');
    }),
    mod('slow', async () => {
      await new Promise<void>((r) => (release = r));
      return { ephemeral: 'slow done' };
    }),
    mod('buttons', async () => ({ ephemeral: 'here are buttons' }), {
      actions: {
        press: async (value, ctx) => ({
          ephemeral: `pressed ${value} by ${ctx.user.name}`,
          inChannel: `button line ${value}`,
        }),
      },
      views: {
        form: async (values, meta, ctx) => ({
          ephemeral: `got ${values.title}/${values.sev} meta=${meta} in ${ctx.channel}`,
        }),
      },
    }),
  ];

  let bot: TestBot;
  beforeAll(async () => {
    bot = await startTestBot({ registry, transport });
  });
  afterAll(async () => {
    await bot?.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });
  afterEach(() => jest.restoreAllMocks());

  it('acks empty, then answers through the response_url and posts the in-channel line', async () => {
    const r = await bot.command('SAY hello <@U_BOB|bob>', {
      channel: 'C_GENERAL',
      triggerId: '123.456.abc',
    });
    expect(r.status).toBe(200);
    expect(r.ackBody).toBe('');
    expect(r.ephemeral).toEqual(['you said hello <@U_BOB|bob>']);
    expect(r.posted).toEqual([{ channel: 'C_GENERAL', text: 'Alice said hello <@U_BOB|bob>' }]);
    const [{ ctx, args }] = seen;
    expect(args).toBe('hello <@U_BOB|bob>');
    expect(ctx).toMatchObject({
      team: 'T_TEST',
      channel: 'C_GENERAL',
      user: { id: 'U_ALICE', name: 'Alice', tz: 'America/Los_Angeles' },
      triggerId: '123.456.abc',
      key: 'cmd:123.456.abc',
      settings: { channelPrefix: 'inc', defaultZone: 'UTC', template: 'default' },
    });
    expect(ctx.incident).toBeUndefined();
    expect(ctx.now.zoneName).toBe('UTC');
    const posted = bot.emulator.responses.at(-1)?.body;
    expect(posted).toMatchObject({
      response_type: 'ephemeral',
      text: 'you said hello <@U_BOB|bob>',
    });
  });

  it('caches users.info', async () => {
    await bot.command('echo one', { user: 'U_CAROL' });
    await bot.command('echo two', { user: 'U_CAROL' });
    const lookups = bot.emulator.callsTo('users.info').filter((c) => c.params.user === 'U_CAROL');
    expect(lookups).toHaveLength(1);
  });

  it('acks before slow work finishes, and idle() waits for the work', async () => {
    const t0 = Date.now();
    const res = await bot.transport.command({
      text: 'slow',
      response_url: bot.emulator.responseUrl('slow-1'),
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(Date.now() - t0).toBeLessThan(1000);
    // The work is still in flight: idle() does not resolve until it is released.
    let idle = false;
    const waiting = bot.idle().then(() => (idle = true));
    await sleep(50);
    expect(idle).toBe(false);
    expect(bot.deps.work.size).toBeGreaterThan(0);
    release?.();
    await waiting;
    expect(bot.emulator.responsesTo('slow-1').map((x) => x.body.text)).toEqual(['slow done']);
  });

  it('resolves the incident of the channel for commands that need one', async () => {
    const actor = { id: 'U_ALICE', name: 'Alice' };
    const { incident } = await bot.service.start(
      { team: 'T_TEST', title: 'Search is slow', severity: 'sev3', zone: 'UTC' },
      { actor, source: 'command' },
    );
    await bot.service.attachChannel(incident.record.id, 'C_RANDOM', 'random', {
      actor,
      source: 'system',
    });
    const r = await bot.command('where', { channel: 'C_RANDOM' });
    expect(r.ephemeral).toEqual([`incident INC-${incident.record.number}`]);
    expect(seen[0].ctx.incident?.record.id).toBe(incident.record.id);
  });

  it('answers a UsageError with the message and the usage line', async () => {
    const r = await bot.command('strict');
    expect(r.ephemeral).toEqual(['Missing the text.\nUsage: `/incident strict <text>`']);
    expect(r.posted).toEqual([]);
  });

  it('answers an IncidentError with its friendly message', async () => {
    const r = await bot.command('picky sev9');
    expect(r.ephemeral).toEqual(['sev9 is not a severity; use sev1…sev4.']);
  });

  it('answers an unexpected error with what did not happen, logs it with context', async () => {
    const logged = jest.spyOn(bot.deps.logger, 'error');
    const r = await bot.command('boom now', { user: 'U_BOB', channel: 'C_GENERAL' });
    expect(r.ephemeral).toHaveLength(1);
    expect(r.ephemeral[0]).toContain(
      'Something went wrong: `/incident boom` did not finish; nothing was lost — kaboom',
    );
    expect(r.ephemeral[0]).toContain('/incident boom now');
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({
        command: 'boom',
        channel: 'C_GENERAL',
        user: 'U_BOB',
        err: expect.objectContaining({ message: 'kaboom' }),
      }),
      'command failed',
    );
  });

  it('an unknown subcommand lists the injected registry in the help', async () => {
    const r = await bot.command('nope');
    expect(r.ephemeral[0]).toContain("I don't know `/incident nope`");
    expect(r.ephemeral[0]).toContain('`/incident echo <text>` — the echo command');
    expect(seen).toHaveLength(0);
  });

  it('retries a chat.postMessage rate-limited with 429 + Retry-After, and the line is not lost', async () => {
    bot.emulator.rateLimitNext('chat.postMessage', 1);
    const before = bot.emulator.callsTo('chat.postMessage').length;
    await bot.command('echo under pressure');
    // The line is an outbox effect: retried by the effect dispatcher after Retry-After.
    const calls = (await bot.emulator.waitForCalls('chat.postMessage', before + 2)).slice(before);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(950);
    expect(calls.map((c) => [c.params.channel, c.params.text])).toEqual([
      ['C_GENERAL', 'Alice said under pressure'],
      ['C_GENERAL', 'Alice said under pressure'],
    ]);
    expect(
      bot.emulator.messages.filter((m) => m.text === 'Alice said under pressure'),
    ).toHaveLength(1);
  });

  it('when the in-channel line cannot be posted, tells the user (the reply still arrives)', async () => {
    bot.emulator.failNext('chat.postMessage', 'not_in_channel');
    const r = await bot.command('echo lonely');
    expect(r.posted).toEqual([]);
    expect(r.ephemeral).toHaveLength(1);
    expect(r.ephemeral[0]).toContain('you said lonely');
    expect(r.ephemeral[0]).toContain("I can't post in this channel");
  });

  it('routes a block action <command>:<key> to the module, replying via its response_url', async () => {
    const payload = {
      type: 'block_actions',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_BOB', username: 'bob', name: 'bob', team_id: 'T_TEST' },
      api_app_id: 'A_TEST',
      token: 'unused',
      trigger_id: '999.888.777',
      container: { type: 'message', message_ts: '1700000000.000100', channel_id: 'C_GENERAL' },
      channel: { id: 'C_GENERAL', name: 'general' },
      response_url: bot.emulator.responseUrl('action-1'),
      actions: [
        {
          type: 'button',
          action_id: 'buttons:press',
          block_id: 'b1',
          value: 'v42',
          action_ts: '1700000001.000200',
          text: { type: 'plain_text', text: 'Press' },
        },
      ],
    };
    const res = await bot.interact(payload);
    expect(res.status).toBe(200);
    expect(bot.emulator.responsesTo('action-1').map((r) => r.body)).toEqual([
      expect.objectContaining({
        response_type: 'ephemeral',
        replace_original: false,
        text: 'pressed v42 by Bob',
      }),
    ]);
    expect(bot.emulator.messages.some((m) => m.text === 'button line v42')).toBe(true);
    expect(seen).toHaveLength(0);
  });

  it('a button on an ephemeral answer is replaced by the reply', async () => {
    const res = await bot.interact({
      type: 'block_actions',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_ALICE', username: 'alice', name: 'alice', team_id: 'T_TEST' },
      api_app_id: 'A_TEST',
      token: 'unused',
      trigger_id: '999.888.778',
      container: {
        type: 'message',
        message_ts: '1700000002.000100',
        channel_id: 'C_GENERAL',
        is_ephemeral: true,
      },
      channel: { id: 'C_GENERAL', name: 'general' },
      response_url: bot.emulator.responseUrl('action-2'),
      actions: [
        {
          type: 'button',
          action_id: 'buttons:press',
          block_id: 'b1',
          value: 'v7',
          action_ts: '1700000003.000200',
          text: { type: 'plain_text', text: 'Press' },
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(bot.emulator.responsesTo('action-2').map((r) => r.body)).toEqual([
      expect.objectContaining({ replace_original: true, text: 'pressed v7 by Alice' }),
    ]);
  });

  it('routes a view submission <command>:<key> with flattened values, replying ephemerally', async () => {
    const payload = {
      type: 'view_submission',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_CAROL', username: 'carol', name: 'carol', team_id: 'T_TEST' },
      api_app_id: 'A_TEST',
      token: 'unused',
      trigger_id: '111.222.333',
      view: {
        id: 'V123',
        team_id: 'T_TEST',
        type: 'modal',
        callback_id: 'buttons:form',
        private_metadata: JSON.stringify({ channel: 'C_GENERAL' }),
        hash: 'h',
        title: { type: 'plain_text', text: 'Form' },
        blocks: [],
        state: {
          values: {
            b1: { title: { type: 'plain_text_input', value: 'DB down' } },
            b2: {
              sev: {
                type: 'static_select',
                selected_option: { value: 'sev2', text: { type: 'plain_text', text: 'SEV2' } },
              },
            },
          },
        },
      },
      response_urls: [],
    };
    const res = await bot.interact(payload);
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    const eph = bot.emulator.ephemerals.at(-1);
    expect(eph).toMatchObject({
      channel: 'C_GENERAL',
      user: 'U_CAROL',
      text: 'got DB down/sev2 meta={"channel":"C_GENERAL"} in C_GENERAL',
    });
  });
});

describe('SlackOps over WebClient (against the emulator)', () => {
  let emulator: SlackEmulator;
  const logger = {
    debug: jest.fn(),
    info: jest.fn(),
    warn: jest.fn(),
    error: jest.fn(),
  };
  const opsFor = () =>
    createSlackOps(
      new webApi.WebClient('xoxb-test', {
        slackApiUrl: emulator.url,
        retryConfig: { retries: 2, factor: 1, minTimeout: 10, maxTimeout: 20 },
      }),
      logger,
    );

  beforeAll(async () => {
    emulator = await startSlackEmulator({
      users: [
        { id: 'U_ALICE', name: 'Alice', tz: 'America/Los_Angeles' },
        { id: 'U_BOB', name: 'Bob', tz: 'Europe/London', displayName: '' },
        { id: 'U_DEPLOYBOT', name: 'Deploy Bot', is_bot: true },
      ],
      channels: [{ id: 'C_GENERAL', name: 'general', members: ['U_ALICE'] }],
      usergroups: { S_SRE: ['U_ALICE', 'U_BOB'] },
    });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it('user(): display name, else real name; tz; bots flagged', async () => {
    const ops = opsFor();
    expect(await ops.user('U_ALICE')).toEqual({
      id: 'U_ALICE',
      name: 'Alice',
      tz: 'America/Los_Angeles',
    });
    expect(await ops.user('U_BOB')).toMatchObject({ name: 'Bob', tz: 'Europe/London' });
    expect(await ops.user('U_DEPLOYBOT')).toMatchObject({ isBot: true });
    await expect(ops.user('U_NOBODY')).rejects.toThrow(/user_not_found/);
  });

  it('createChannel(): suffixes -2, -3 … on name_taken, within 80 characters', async () => {
    const ops = opsFor();
    const a = await ops.createChannel('inc-1-checkout-down');
    const b = await ops.createChannel('inc-1-checkout-down');
    const c = await ops.createChannel('inc-1-checkout-down');
    expect([a.name, b.name, c.name]).toEqual([
      'inc-1-checkout-down',
      'inc-1-checkout-down-2',
      'inc-1-checkout-down-3',
    ]);
    expect(emulator.channels.get(c.id)?.name).toBe('inc-1-checkout-down-3');

    const long = `inc-2-${'x'.repeat(90)}`;
    const l1 = await ops.createChannel(long);
    const l2 = await ops.createChannel(long);
    expect(l1.name).toHaveLength(80);
    expect(l2.name).toHaveLength(80);
    expect(l2.name.endsWith('-2')).toBe(true);
  });

  it('createChannel(): makes any title a valid channel name', async () => {
    const ops = opsFor();
    const ch = await ops.createChannel('INC-3 Café: API 500s!!');
    expect(ch.name).toBe('inc-3-cafe-api-500s');
  });

  it('invite(): one call for all; on a per-user error, one call each, tolerating it', async () => {
    const ops = opsFor();
    const ch = await ops.createChannel('invites');
    await ops.invite(ch.id, ['U_ALICE']);
    const before = emulator.callsTo('conversations.invite').length;
    // U_ALICE is in already; the bot cannot invite itself; U_BOB must still get in.
    await ops.invite(ch.id, ['U_ALICE', 'U_BOT', 'U_BOB', 'U_BOB']);
    const calls = emulator.callsTo('conversations.invite').slice(before);
    expect(calls.map((c) => [c.params.users, c.error ?? 'ok'])).toEqual([
      ['U_ALICE,U_BOT,U_BOB', 'already_in_channel'],
      ['U_ALICE', 'already_in_channel'],
      ['U_BOT', 'cant_invite_self'],
      ['U_BOB', 'ok'],
    ]);
    expect([...(emulator.channels.get(ch.id)?.members ?? [])].sort()).toEqual([
      'U_ALICE',
      'U_BOB',
      'U_BOT',
    ]);
  });

  it('invite(): a channel-level error is not swallowed', async () => {
    await expect(opsFor().invite('C_MISSING', ['U_ALICE'])).rejects.toThrow(/channel_not_found/);
  });

  it('usergroupMembers(), post(), postThread(), pin() tolerating already_pinned', async () => {
    const ops = opsFor();
    expect(await ops.usergroupMembers('S_SRE')).toEqual(['U_ALICE', 'U_BOB']);
    const { ts } = await ops.post('C_GENERAL', 'status card', [
      { type: 'section', text: { type: 'mrkdwn', text: '*card*' } },
    ]);
    await ops.postThread('C_GENERAL', ts, 'in the thread');
    await ops.pin('C_GENERAL', ts);
    await ops.pin('C_GENERAL', ts);
    expect(emulator.pins.has(`C_GENERAL:${ts}`)).toBe(true);
    expect(emulator.callsTo('pins.add').map((c) => c.error ?? 'ok')).toEqual([
      'ok',
      'already_pinned',
    ]);
    const reply = emulator.messages.find((m) => m.text === 'in the thread');
    expect(reply?.thread_ts).toBe(ts);
  });

  it('upload(): files.uploadV2 (get URL, upload bytes, complete) returns the file id', async () => {
    const ops = opsFor();
    const content = '# INC-1 Postmortem\n\nCafé ☕ — déjà vu\n';
    const id = await ops.upload('C_GENERAL', 'INC-1-postmortem.md', content, 'INC-1 postmortem');
    const file = emulator.files.find((f) => f.id === id);
    expect(file).toMatchObject({
      name: 'INC-1-postmortem.md',
      title: 'INC-1 postmortem',
      content,
      channel: 'C_GENERAL',
      completed: true,
      length: Buffer.byteLength(content),
    });
    const methods = emulator.calls
      .filter((c) => c.method.startsWith('files.'))
      .map((c) => c.method);
    expect(methods).toEqual(['files.getUploadURLExternal', 'files.completeUploadExternal']);
  });

  it('openModal(): views.open with the trigger id', async () => {
    await opsFor().openModal('trig-1', {
      type: 'modal',
      title: { type: 'plain_text', text: 'Hi' },
    });
    expect(emulator.views.at(-1)).toMatchObject({ trigger_id: 'trig-1', view: { type: 'modal' } });
  });

  it('the emulator answers like Slack: bad tokens, unknown methods, 429s', async () => {
    const res = await postSigned(
      `${emulator.url}auth.test`,
      's',
      'token=xoxp-nope',
      'application/x-www-form-urlencoded',
    );
    expect(JSON.parse(res.body)).toEqual({ ok: false, error: 'invalid_auth' });
    emulator.rateLimitNext('auth.test', 7);
    const limited = await fetch(`${emulator.url}auth.test`, {
      method: 'POST',
      headers: { authorization: 'Bearer xoxb-1' },
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    const unknown = await fetch(`${emulator.url}nope.nope`, {
      method: 'POST',
      headers: { authorization: 'Bearer xoxb-1', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(await unknown.json()).toEqual({ ok: false, error: 'unknown_method' });
  });
});

describe('npm start entry (src/main.ts in a child process)', () => {
  const root = path.resolve(__dirname, '../..');
  let emulator: SlackEmulator;
  let cwd: string;

  beforeAll(async () => {
    emulator = await startSlackEmulator({ tokens: ['xoxb-good-token'] });
  });
  afterAll(async () => {
    await emulator?.close();
  });
  beforeEach(() => {
    cwd = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-main-'));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  function start(env: Record<string, string>): {
    child: ChildProcess;
    out: () => string;
    err: () => string;
    exited: Promise<number | null>;
  } {
    const child = spawn(
      process.execPath,
      ['-r', path.join(root, 'test/helpers/tsRegister.js'), path.join(root, 'src/main.ts')],
      { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env }, stdio: 'pipe' },
    );
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    return { child, out: () => out, err: () => err, exited };
  }

  async function waitFor(get: () => string, re: RegExp, ms = 20_000): Promise<RegExpExecArray> {
    const until = Date.now() + ms;
    for (;;) {
      const m = re.exec(get());
      if (m) return m;
      if (Date.now() > until) throw new Error(`timed out waiting for ${re}; got:\n${get()}`);
      await sleep(50);
    }
  }

  it('prints ONE clear configuration error and exits 1', async () => {
    const p = start({ PORT: 'abc' });
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(
      /^Invalid configuration:\n {2}- SLACK_BOT_TOKEN is required \(xoxb-…\)/,
    );
    expect(p.err()).toContain('  - PORT must be an integer from 0 to 65535');
    expect(p.err()).toContain('  - SLACK_SIGNING_SECRET is required in HTTP mode');
  });

  it('explains a token Slack rejects, and exits 1', async () => {
    const p = start({
      SLACK_BOT_TOKEN: 'xoxb-revoked',
      SLACK_SIGNING_SECRET: 'secret',
      PORT: '0',
      SLACK_API_URL: emulator.url,
    });
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain('Slack rejected SLACK_BOT_TOKEN (invalid_auth)');
  });

  it('starts, logs where it listens and which store, serves /healthz, and shuts down on SIGTERM', async () => {
    const p = start({
      SLACK_BOT_TOKEN: 'xoxb-good-token',
      SLACK_SIGNING_SECRET: 'secret',
      PORT: '0',
      SLACK_API_URL: emulator.url,
      LOG_LEVEL: 'info',
    });
    try {
      const m = await waitFor(
        p.out,
        /incident-bot listening on :(\d+) \(HTTP, store sqlite at \.\/data\/incident-bot\.sqlite\)/,
      );
      const port = Number(m[1]);
      expect(await getJson(`http://127.0.0.1:${port}/healthz`)).toEqual({
        status: 200,
        body: { ok: true, store: 'sqlite' },
      });
      const help = await postSlashCommand(`http://127.0.0.1:${port}/slack/events`, 'secret', {
        text: '',
      });
      expect(help.status).toBe(200);
      expect(help.body).toContain('/incident start');
      expect(existsSync(path.join(cwd, 'data', 'incident-bot.sqlite'))).toBe(true);
      // Secrets never reach the log.
      expect(p.out()).not.toContain('xoxb-good-token');
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(p.out()).toContain('incident-bot stopped');
    } finally {
      p.child.kill('SIGKILL');
    }
  });
});

describe('WorkTracker', () => {
  it('idle() waits for tracked work, including work started while waiting', async () => {
    const work = new WorkTracker();
    const order: string[] = [];
    void work.run(async () => {
      await sleep(20);
      order.push('first');
      void work.run(async () => {
        await sleep(20);
        order.push('second');
      });
    });
    const done = work.begin();
    setTimeout(() => {
      order.push('begun');
      done();
    }, 5);
    await work.idle();
    expect(order).toEqual(['begun', 'first', 'second']);
    expect(work.size).toBe(0);
  });

  it('idle(timeout) rejects when work does not finish in time; failures do not break idle', async () => {
    const work = new WorkTracker();
    void work.track(Promise.reject(new Error('ignored here'))).catch(() => undefined);
    const stuck = work.begin();
    await expect(work.idle(30)).rejects.toThrow(/still in flight/);
    stuck();
    await work.idle();
  });
});

describe('createSlackApp in Socket Mode', () => {
  it('uses the Socket Mode receiver when SLACK_APP_TOKEN is set (no signing secret needed)', async () => {
    const parsed = parseConfig({
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_APP_TOKEN: 'xapp-1-A1-1-abc',
      SLACK_API_URL: 'http://127.0.0.1:9/api',
      INCIDENT_DATA_DIR: os.tmpdir(),
      LOG_LEVEL: 'silent',
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const store = openSqliteStore({
      file: path.join(mkdtempSync(path.join(os.tmpdir(), 'ib-socket-')), 's.sqlite'),
    });
    try {
      const service = new IncidentService({ store, render: () => '' });
      const handle = createSlackApp({
        config: parsed.config,
        service,
        logger: createLogger('silent'),
      });
      const receiver = (handle.app as unknown as { receiver: unknown }).receiver;
      expect(receiver).toBeInstanceOf(SocketModeReceiver);
      expect(handle.deps.client.slackApiUrl).toBe('http://127.0.0.1:9/api/');
      expect(handle.deps.settings).toEqual({
        channelPrefix: 'inc',
        defaultZone: 'UTC',
        template: 'default',
        gapMinutes: 30,
      });
      await handle.stop(); // never started: nothing to stop, must not throw
    } finally {
      await store.close();
    }
  });
});
