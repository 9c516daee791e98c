/**
 * Socket Mode end to end, beyond the shared suites (which run over both transports): the Web API
 * base for apps.connections.open, /healthz, the one clear log line when no connection can be
 * opened, reconnection after `disconnect` and after a dropped connection, redelivery, and
 * several replicas on one SQLite file.
 */
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IncidentService } from '../../src/app/service';
import { parseConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createRenderer } from '../../src/render/postmortem';
import { createSlackApp, type SlackAppHandle } from '../../src/slack/app';
import { ManagedSocketModeReceiver } from '../../src/slack/socketMode';
import { openSqliteStore } from '../../src/store/sqlite';
import type { IncidentStore } from '../../src/store/store';
import { eventCallbackBody, newTriggerId, slashCommandBody } from '../helpers/signing';
import { startSlackEmulator, type SlackEmulator } from '../helpers/slackEmulator';
import { startSocketEmulator, type SocketEmulator } from '../helpers/socketEmulator';
import { startSocketIncident, type SocketIncident } from '../helpers/socketIncident';
import { startTestBot, TEST_APP_TOKEN, type TestBot } from '../helpers/testBot';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: JSON.parse(await res.text()) as Record<string, unknown> };
}

/** Polls `check` until it returns true (or fails the test after `ms`). */
async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** Log lines (JSON) written by the app's logger. */
function logSink(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) {
        if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { lines, stream };
}

/** One bot process: its own store handle on the shared data dir, its own Socket Mode client. */
interface Replica {
  handle: SlackAppHandle;
  store: IncidentStore;
  service: IncidentService;
  port: number;
  /** Whether start() found the socket connected. */
  connected: boolean | undefined;
  logs: Record<string, unknown>[];
  healthz(): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

async function startReplica(
  web: SlackEmulator,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<Replica> {
  const parsed = parseConfig({
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_APP_TOKEN: TEST_APP_TOKEN,
    SLACK_API_URL: web.url,
    PORT: '0',
    INCIDENT_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    STATUS_CARD_INTERVAL_MS: '20',
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const config = parsed.config;
  const store = openSqliteStore({ dataDir });
  const service = new IncidentService({
    store,
    render: createRenderer({}),
    defaultTemplate: config.postmortemTemplate,
  });
  const sink = logSink();
  const handle = createSlackApp({
    config,
    service,
    logger: createLogger('info', sink.stream),
    socketMode: { host: '127.0.0.1', backoff: { initialMs: 20, maxMs: 100 } },
  });
  const { port, connected } = await handle.start();
  return {
    handle,
    store,
    service,
    port: port ?? 0,
    connected,
    logs: sink.lines,
    healthz: () => getJson(`http://127.0.0.1:${port}/healthz`),
    async stop() {
      await handle.stop();
      await store.close();
    },
  };
}

const errorsLogged = (logs: Record<string, unknown>[]): string[] =>
  logs.filter((l) => Number(l.level) >= 50).map((l) => String(l.msg));

describe('Socket Mode: the Web API base and /healthz', () => {
  let bot: TestBot;
  beforeAll(async () => {
    bot = await startTestBot({ transport: 'socket' });
  });
  afterAll(async () => {
    await bot?.close();
  });
  afterEach(() => jest.restoreAllMocks());
  const healthz = () => getJson(`http://127.0.0.1:${bot.port}/healthz`);

  it('opens the connection through SLACK_API_URL with the app-level token, to a loopback ws:// URL', () => {
    const opens = bot.emulator.callsTo('apps.connections.open');
    expect(opens).toHaveLength(1);
    expect(opens[0]).toMatchObject({ ok: true, token: TEST_APP_TOKEN });
    expect(bot.socket?.connections[0]?.ws).toBeDefined();
    expect(bot.socket?.wsBaseUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    // Every other call (auth.test, chat.postMessage …) went to the same base with the bot token.
    const others = bot.emulator.calls.filter((c) => c.method !== 'apps.connections.open');
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((c) => c.token === 'xoxb-test-token')).toBe(true);
  });

  it('the Socket Mode client takes the app’s Web API options (SLACK_API_URL)', () => {
    const receiver = (bot.handle.app as unknown as { receiver: ManagedSocketModeReceiver })
      .receiver;
    expect(receiver).toBeInstanceOf(ManagedSocketModeReceiver);
    const client = receiver.client as unknown as { webClient: { slackApiUrl: string } };
    expect(client.webClient.slackApiUrl).toBe(bot.emulator.url);
  });

  it('GET /healthz answers 200 when the store answers and the socket is connected', async () => {
    expect(await healthz()).toEqual({
      status: 200,
      body: { ok: true, store: 'sqlite', socket: 'connected' },
    });
  });

  it('GET /healthz answers 503 with the reason when the store is unreachable', async () => {
    jest.spyOn(bot.store, 'ping').mockRejectedValueOnce(new Error('disk I/O error'));
    expect(await healthz()).toEqual({
      status: 503,
      body: {
        ok: false,
        store: 'sqlite',
        socket: 'connected',
        error: 'store unavailable: disk I/O error',
      },
    });
    expect((await healthz()).status).toBe(200);
  });

  it('serves the other HTTP routes beside the socket (with :params), 404 elsewhere', async () => {
    const base = `http://127.0.0.1:${bot.port}`;
    // The insights pages are there (401 without a session), including parameterised ones.
    expect((await fetch(`${base}/insights`)).status).toBe(401);
    expect((await fetch(`${base}/insights/incidents/1`)).status).toBe(401);
    expect((await fetch(`${base}/slack/events`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(404);
  });

  it('acks a slash command with its answer as the ack payload (Slack accepts one there)', async () => {
    const r = await bot.command('frobnicate');
    expect(r.status).toBe(200);
    const ack = JSON.parse(r.ackBody) as { text: string };
    expect(ack.text).toContain('/incident start');
    expect(bot.socket?.violations).toEqual([]);
  });
});

describe('Socket Mode: when the connection cannot be opened', () => {
  let web: SlackEmulator;
  let socket: SocketEmulator;
  let dataDir: string;
  let replica: Replica | undefined;
  beforeEach(async () => {
    web = await startSlackEmulator({ channels: [{ id: 'C_GENERAL', name: 'general' }] });
    socket = await startSocketEmulator(web);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-socket-'));
  });
  afterEach(async () => {
    await replica?.stop();
    replica = undefined;
    await socket.close();
    await web.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['invalid_auth', /Slack rejected SLACK_APP_TOKEN \(invalid_auth\)/],
    ['not_allowed_token_type', /needs an app-level token \(not_allowed_token_type\)/],
    ['missing_scope', /lacks the connections:write scope \(missing_scope\)/],
  ])(
    '%s: says why once, answers 503 with the reason, keeps retrying, and recovers',
    async (code, said) => {
      socket.failOpen(code);
      replica = await startReplica(web, dataDir);
      // Several attempts (backoff 20-100 ms), one log line.
      await until(() => web.callsTo('apps.connections.open').length >= 4);
      const errors = errorsLogged(replica.logs);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(said);
      expect(errors[0]).not.toContain(TEST_APP_TOKEN);
      expect(replica.logs.some((l) => String(l.msg).includes('http request failed'))).toBe(false);

      const h = await replica.healthz();
      expect(h.status).toBe(503);
      expect(h.body).toMatchObject({ ok: false, store: 'sqlite', socket: 'connecting' });
      expect(String(h.body.error)).toMatch(/^no Socket Mode connection yet: cannot open/);
      expect(String(h.body.error)).toMatch(said);

      socket.failOpen(undefined);
      await socket.waitForConnections(1);
      await until(async () => (await replica!.healthz()).status === 200);
      expect(replica.logs.some((l) => l.msg === 'Socket Mode connected again')).toBe(true);
      expect(errorsLogged(replica.logs)).toHaveLength(1);
    },
  );

  it('an unreachable API base: says so once (not "http request failed" over and over)', async () => {
    replica = await startReplica(web, dataDir);
    expect((await replica.healthz()).status).toBe(200);
    // The Web API goes away, then the socket drops: every reconnect attempt fails.
    await web.close();
    socket.drop();
    await until(() => errorsLogged(replica!.logs).length > 0);
    await sleep(400); // several more attempts at 20-100 ms
    const errors = errorsLogged(replica.logs);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`the Slack Web API at ${web.url} is unreachable`);
    expect(errors[0]).toMatch(/\(fetch failed(: ECONNREFUSED)?\)/);
    expect(replica.logs.filter((l) => String(l.msg).includes('http request failed'))).toEqual([]);
    const h = await replica.healthz();
    expect(h.status).toBe(503);
    expect(h.body).toMatchObject({ ok: false, socket: 'reconnecting' });
    expect(String(h.body.error)).toMatch(
      /^Socket Mode connection lost; reconnecting: cannot open .* is unreachable/,
    );
  });

  it('a refused WebSocket upgrade is a reason too, and the store state is reported with it', async () => {
    socket.refuseConnections(true);
    replica = await startReplica(web, dataDir);
    expect(replica.connected).toBe(false);
    jest.spyOn(replica.store, 'ping').mockRejectedValueOnce(new Error('database is locked'));
    const h = await replica.healthz();
    expect(h.status).toBe(503);
    expect(String(h.body.error)).toBe(
      `store unavailable: database is locked; ${String(
        (replica.handle.app as unknown as { receiver: ManagedSocketModeReceiver }).receiver.health()
          .reason,
      )}`,
    );
    expect(String(h.body.error)).toMatch(/the WebSocket connection failed/);
    socket.refuseConnections(false);
    await socket.waitForConnections(1);
    await until(async () => (await replica!.healthz()).status === 200);
  });
});

describe('Socket Mode: reconnecting loses nothing', () => {
  let bot: TestBot;
  let message: SocketIncident['message'];
  let recorded: SocketIncident['recorded'];
  beforeEach(async () => {
    ({ bot, message, recorded } = await startSocketIncident({ ackTimeoutMs: 500 }));
  });
  afterEach(async () => {
    // Closed first, so a failed expectation never leaves the bot running (jest would not exit).
    const violations = [...(bot.socket?.violations ?? [])];
    await bot.close();
    expect(violations).toEqual([]);
  });

  const socket = (): SocketEmulator => bot.socket as SocketEmulator;

  it.each(['refresh_requested', 'warning', 'link_disabled'] as const)(
    'disconnect (%s): reconnects with a new URL; envelopes sent meanwhile arrive',
    async (reason) => {
      const first = socket().openConnections()[0]!;
      socket().disconnect(reason);
      // Sent while the old connection closes: delivered on whichever connection is open.
      const during = socket().event(message(`during ${reason}`));
      await until(() =>
        socket()
          .openConnections()
          .some((c) => c.id !== first.id),
      );
      expect((await during).acked).toBe(true);
      expect(socket().urlsIssued).toBe(2);
      const after = await socket().event(message(`after ${reason}`));
      expect(after.acked).toBe(true);
      expect(after.deliveries[0]!.connection).not.toBe(first.id);
      await bot.idle();
      expect(await recorded()).toEqual([`during ${reason}`, `after ${reason}`]);
      expect((await getJson(`http://127.0.0.1:${bot.port}/healthz`)).status).toBe(200);
    },
  );

  it('a dropped connection (no close frame): reconnects; the envelope in flight is redelivered and recorded once', async () => {
    const sent = socket().event(message('in flight', 'EvDROP1'));
    socket().drop();
    const r = await sent;
    expect(r.acked).toBe(true);
    await bot.idle();
    expect(await recorded()).toEqual(['in flight']);
    expect(socket().connections.length).toBeGreaterThanOrEqual(2);
  });

  it('reconnects with backoff while the connection keeps failing, then recovers', async () => {
    socket().refuseConnections(true);
    socket().drop();
    await until(() => bot.emulator.callsTo('apps.connections.open').length >= 5);
    const h = await getJson(`http://127.0.0.1:${bot.port}/healthz`);
    expect(h).toMatchObject({ status: 503, body: { socket: 'reconnecting' } });
    // Backoff: the gaps between attempts grow (20 ms doubling, capped at 200 ms; ±20 % jitter).
    const at = bot.emulator.callsTo('apps.connections.open').map((c) => c.at);
    const gaps = at.slice(2).map((t, i) => t - at[i + 1]!);
    expect(gaps[gaps.length - 1]!).toBeGreaterThan(gaps[0]!);
    const queued = socket().event(message('while away'));
    socket().refuseConnections(false);
    expect((await queued).acked).toBe(true);
    await bot.idle();
    expect(await recorded()).toEqual(['while away']);
  });

  it('an event whose ack was lost is delivered again (retry_attempt 1, reason timeout) and recorded once', async () => {
    const r = await socket().event(message('ack lost', 'EvLOST1'), { loseAcks: 1 });
    expect(r.acked).toBe(true);
    expect(r.deliveries.map((d) => [d.retryAttempt])).toEqual([[0], [1]]);
    await bot.idle();
    expect(await recorded()).toEqual(['ack lost']);
  });
});

describe('Socket Mode: two replicas on one SQLite file', () => {
  let web: SlackEmulator;
  let socket: SocketEmulator;
  let dataDir: string;
  let replicas: Replica[] = [];
  beforeEach(async () => {
    web = await startSlackEmulator({
      users: [{ id: 'U_ALICE', name: 'Alice', tz: 'UTC' }],
      channels: [{ id: 'C_GENERAL', name: 'general', members: ['U_ALICE'] }],
    });
    socket = await startSocketEmulator(web, { ackTimeoutMs: 500 });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-replicas-'));
    replicas = [await startReplica(web, dataDir), await startReplica(web, dataDir)];
    await socket.waitForConnections(2);
  });
  afterEach(async () => {
    for (const r of replicas) await r.stop();
    await socket.close();
    await web.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const idle = () => Promise.all(replicas.map((r) => r.handle.deps.work.idle()));

  it('envelopes spread over both connections; every message is recorded once, even when delivered to both', async () => {
    const start = await socket.slashCommand(
      Object.fromEntries(
        new URLSearchParams(
          slashCommandBody({
            text: 'start sev2 Checkout is down',
            user_id: 'U_ALICE',
            channel_id: 'C_GENERAL',
            team_id: 'T_TEST',
            response_url: web.responseUrl('start'),
            trigger_id: newTriggerId(),
          }),
        ),
      ),
    );
    expect(start.acked).toBe(true);
    await idle();
    const [rec] = await replicas[0]!.service.list();
    if (!rec?.channel) throw new Error('no incident');
    web.channels.get(rec.channel)!.members.add('U_ALICE');

    const texts = Array.from({ length: 8 }, (_, i) => `update ${i + 1}`);
    let n = 0;
    for (const text of texts) {
      n += 1;
      const ts = `${Math.floor(Date.now() / 1000) - 100 + n}.000100`;
      web.messages.push({ channel: rec.channel, ts, text, user: 'U_ALICE' });
      const body = eventCallbackBody(
        {
          type: 'message',
          channel: rec.channel,
          channel_type: 'channel',
          user: 'U_ALICE',
          text,
          ts,
        },
        { eventId: `EvREPL${n}` },
      );
      // Every other one: the first ack is lost, so the other replica gets it too.
      const r = await socket.event(body, n % 2 === 0 ? { loseAcks: 1 } : {});
      expect(r.acked).toBe(true);
    }
    await idle();
    const used = new Set(socket.deliveries.map((d) => d.connection));
    expect(used.size).toBe(2);
    const lost = socket.deliveries.filter((d) => d.retryAttempt === 1);
    expect(lost).toHaveLength(4);
    const events = await replicas[1]!.store.loadEvents(rec.id);
    expect(events.flatMap((e) => (e.type === 'chat.message' ? [e.text] : []))).toEqual(texts);
    expect(socket.violations).toEqual([]);
  });

  it('when one replica stops, the other receives everything', async () => {
    await replicas[0]!.stop();
    replicas = [replicas[1]!];
    await until(() => socket.openConnections().length === 1);
    const r = await socket.slashCommand(
      Object.fromEntries(new URLSearchParams(slashCommandBody({ text: 'frobnicate' }))),
    );
    expect(r.acked).toBe(true);
    expect(String(r.payload.text ?? '')).toContain('/incident');
  });
});
