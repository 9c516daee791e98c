/**
 * The shared end-to-end harness: the real app (Bolt, port 0) over a real SQLite store in a temp
 * dir, talking to the local Slack emulator. Requests go through a transport (see transport.ts):
 * signed exactly as Slack signs them over HTTP (default), or, with `transport: 'socket'`, as
 * Socket Mode envelopes from the socket emulator. Every helper waits until the work the request
 * started is done, so tests can assert on the store and the emulator right after.
 *
 *   const bot = await startTestBot();          // or startTestBot({ transport: 'socket' })
 *   const r = await bot.command('start sev2 Checkout is down');
 *   expect(r.ephemeral.join('\n')).toContain('INC-1');
 *   await bot.close();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DateTime } from 'luxon';
import { IncidentService, type PostmortemRenderer } from '../../src/app/service';
import { parseConfig, type AppConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createRenderer } from '../../src/render/postmortem';
import { createSlackApp, type SlackDeps, type SlackAppHandle } from '../../src/slack/app';
import type { CommandModule } from '../../src/slack/ports';
import { openSqliteStore } from '../../src/store/sqlite';
import type { IncidentStore } from '../../src/store/store';
import { newTriggerId, TEST_SIGNING_SECRET } from './signing';
import {
  startSlackEmulator,
  TEST_TEAM,
  type EmulatedUser,
  type SlackEmulator,
} from './slackEmulator';
import {
  startSocketEmulator,
  type SocketEmulator,
  type SocketEmulatorOptions,
} from './socketEmulator';
import { httpTransport, socketTransport, type Transport, type TransportKind } from './transport';

/** The app-level token the test bot uses in Socket Mode. */
export const TEST_APP_TOKEN = 'xapp-1-A_TEST-1-0123456789abcdef';

export interface TestBot {
  url: string;
  emulator: SlackEmulator;
  service: IncidentService;
  store: IncidentStore;
  deps: SlackDeps;
  /** Sends a signed /incident command and waits until all work it started is done. */
  command(
    text: string,
    opts?: { user?: string; channel?: string; team?: string; triggerId?: string },
  ): Promise<{
    status: number;
    ackBody: string;
    /** Texts posted to the response_url, after the ack body's text (if any). */
    ephemeral: string[];
    /** chat.postMessage calls made by this command (answered ok). */
    posted: { channel: string; text: string }[];
  }>;
  /** Sends a signed Events API callback and waits until the work is done. */
  event(
    event: Record<string, unknown>,
    opts?: { eventId?: string; retryNum?: number; team?: string },
  ): Promise<{ status: number }>;
  /** Sends a signed interactivity payload (block_actions / view_submission) and waits. */
  interact(payload: Record<string, unknown>): Promise<{ status: number; body: string }>;
  idle(): Promise<void>;
  close(): Promise<void>;
  /** Extras. */
  config: AppConfig;
  port: number;
  handle: SlackAppHandle;
  signingSecret: string;
  /** The temp dir holding the SQLite file. */
  dataDir: string;
  /** How requests reach the bot: signed HTTP, or Socket Mode envelopes. */
  transport: Transport;
  /** The Socket Mode emulator (transport 'socket' only). */
  socket?: SocketEmulator;
}

export const DEFAULT_TEST_USERS: EmulatedUser[] = [
  { id: 'U_ALICE', name: 'Alice', tz: 'America/Los_Angeles' },
  { id: 'U_BOB', name: 'Bob', tz: 'Europe/London' },
  { id: 'U_CAROL', name: 'Carol', tz: 'UTC' },
];

/** Channels that exist at start; every test user is a member. */
export const DEFAULT_TEST_CHANNELS = [
  { id: 'C_GENERAL', name: 'general' },
  { id: 'C_RANDOM', name: 'random' },
];

export async function startTestBot(
  opts: {
    env?: Record<string, string>;
    clock?: () => DateTime;
    users?: EmulatedUser[];
    registry?: CommandModule[];
    /** Postmortem renderer (default: the real one from src/render). */
    render?: PostmortemRenderer;
    usergroups?: Record<string, string[]>;
    /** 'http' (default) or 'socket' (Socket Mode over the socket emulator). */
    transport?: TransportKind;
    socketEmulator?: SocketEmulatorOptions;
    /** Socket Mode reconnect backoff (default: fast, for tests). */
    socketBackoff?: { initialMs: number; maxMs: number };
    /** Use this store instead of a fresh SQLite file (e.g. MongoDB replicas); closed on close. */
    store?: IncidentStore;
    /** Share this Slack emulator (several replicas, one Slack); not closed on close. */
    emulator?: SlackEmulator;
  } = {},
): Promise<TestBot> {
  const transportKind = opts.transport ?? 'http';
  const users = new Map<string, EmulatedUser>();
  for (const u of [...DEFAULT_TEST_USERS, ...(opts.users ?? [])]) users.set(u.id, u);
  const members = [...users.values()].filter((u) => !u.is_bot).map((u) => u.id);
  const sharedEmulator = opts.emulator !== undefined;
  const emulator =
    opts.emulator ??
    (await startSlackEmulator({
      users: [...users.values()],
      channels: DEFAULT_TEST_CHANNELS.map((c) => ({ ...c, members })),
      usergroups: opts.usergroups,
    }));
  const closeEmulator = async () => {
    if (!sharedEmulator) await emulator.close();
  };
  const socket =
    transportKind === 'socket'
      ? await startSocketEmulator(emulator, opts.socketEmulator ?? {})
      : undefined;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-e2e-'));

  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    PORT: '0',
    SLACK_API_URL: emulator.url,
    INCIDENT_DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    STATUS_CARD_INTERVAL_MS: '20',
    ...(socket ? { SLACK_APP_TOKEN: TEST_APP_TOKEN } : {}),
    ...opts.env,
  };
  const parsed = parseConfig(env);
  if (!parsed.ok) {
    await socket?.close();
    await closeEmulator();
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`test bot config is invalid:\n${parsed.errors.join('\n')}`);
  }
  const config = parsed.config;
  const store = opts.store ?? openSqliteStore({ dataDir: config.dataDir });
  const render =
    opts.render ??
    createRenderer(
      config.postmortemTemplateDir ? { templateDir: config.postmortemTemplateDir } : {},
    );
  const service = new IncidentService({
    store,
    render,
    defaultTemplate: config.postmortemTemplate,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const logger = createLogger(config.logLevel);
  const handle = createSlackApp({
    config,
    service,
    logger,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.registry ? { registry: opts.registry } : {}),
    socketMode: {
      host: '127.0.0.1',
      backoff: opts.socketBackoff ?? { initialMs: 20, maxMs: 200 },
    },
  });
  let port: number;
  try {
    port = (await handle.start()).port ?? 0;
    if (socket) await socket.waitForConnections(1);
  } catch (err) {
    await handle.stop();
    await store.close();
    await socket?.close();
    await closeEmulator();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const url = `http://127.0.0.1:${port}/slack/events`;
  const secret = config.signingSecret ?? TEST_SIGNING_SECRET;
  const transport = socket ? socketTransport(socket) : httpTransport(url, secret);
  let responseSeq = 0;
  let closed = false;

  const idle = (): Promise<void> => handle.deps.work.idle();

  return {
    url,
    emulator,
    service,
    store,
    deps: handle.deps,
    config,
    port,
    handle,
    signingSecret: secret,
    dataDir,
    idle,
    transport,
    ...(socket ? { socket } : {}),

    async command(text, o = {}) {
      const user = o.user ?? 'U_ALICE';
      const channel = o.channel ?? 'C_GENERAL';
      responseSeq += 1;
      const responseId = `cmd-${responseSeq}`;
      const before = emulator.calls.length;
      const res = await transport.command({
        text,
        user_id: user,
        user_name: (users.get(user)?.name ?? user).toLowerCase(),
        channel_id: channel,
        channel_name: emulator.channels.get(channel)?.name ?? 'unknown',
        team_id: o.team ?? TEST_TEAM.id,
        team_domain: TEST_TEAM.domain,
        response_url: emulator.responseUrl(responseId),
        trigger_id: o.triggerId ?? newTriggerId(),
      });
      await idle();
      const ephemeral: string[] = [];
      const ackText = textOf(res.body);
      if (ackText) ephemeral.push(ackText);
      for (const r of emulator.responsesTo(responseId)) {
        if (typeof r.body.text === 'string') ephemeral.push(r.body.text);
      }
      const posted = emulator.calls
        .slice(before)
        .filter((c) => c.method === 'chat.postMessage' && c.ok)
        .map((c) => ({ channel: String(c.params.channel), text: String(c.params.text ?? '') }));
      return { status: res.status, ackBody: res.body, ephemeral, posted };
    },

    async event(event, o = {}) {
      const res = await transport.event(event, {
        ...(o.eventId ? { eventId: o.eventId } : {}),
        ...(o.retryNum !== undefined ? { retryNum: o.retryNum } : {}),
        team: o.team ?? TEST_TEAM.id,
      });
      await idle();
      return { status: res.status };
    },

    async interact(payload) {
      const res = await transport.interact(payload);
      await idle();
      return { status: res.status, body: res.body };
    },

    async close() {
      if (closed) return;
      closed = true;
      await handle.stop();
      await store.close();
      await socket?.close();
      await closeEmulator();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The `text` of a JSON ack body ('' for an empty ack). */
function textOf(body: string): string {
  if (!body) return '';
  try {
    const v = JSON.parse(body) as { text?: unknown };
    return typeof v.text === 'string' ? v.text : '';
  } catch {
    return body;
  }
}
