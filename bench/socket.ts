/**
 * Socket Mode ack latency, measured the same way as the HTTP figures in bench/slack.ts: 300
 * `/incident log …` slash commands to the real bot (SQLite store in a temp dir, Web API answered
 * by the local emulator) and, in the same run, to a bare Bolt app (SocketModeReceiver, one
 * listener that only acks). The envelopes come from a WebSocket server in a worker thread (its
 * own event loop, so a latency is the time until the ack reaches "Slack", not until the bot's
 * event loop lets the sender read it): the bot's `apps.connections.open` answers that server's
 * URL. Headline ("isolated"): one command at a time, each sent once the bot has finished the
 * work the previous one started, plus a 10 ms gap, for both apps; also the same 300 back to back.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import { slashCommandBody } from '../test/helpers/signing';
import { startSlackEmulator } from '../test/helpers/slackEmulator';
import { startTestBot, TEST_APP_TOKEN, type TestBot } from '../test/helpers/testBot';

const COMMANDS = 300;
const WARMUP = 30;
const SETTLE_GAP_MS = 10;

/**
 * The "Slack" side in a worker: a WebSocket server that says hello to each connection and, per
 * job, sends the given envelopes on the newest connection with at most `inFlight` outstanding,
 * answering each one's time from send to ack.
 */
const SOCKET_SIDE = `
const { parentPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
let conn; let seq = 0;
const waiting = new Map();
wss.on('listening', () => parentPort.postMessage({ port: wss.address().port }));
wss.on('connection', (ws) => {
  conn = ws;
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    const w = waiting.get(m.envelope_id);
    if (w) { waiting.delete(m.envelope_id); w(performance.now()); }
  });
  ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A_TEST' } }));
  parentPort.postMessage({ connected: true });
});
parentPort.on('message', async (job) => {
  if (job.close) { for (const c of wss.clients) c.terminate(); wss.close(() => parentPort.postMessage({ closed: true })); return; }
  const lat = new Array(job.payloads.length); let next = 0;
  async function one(i) {
    const id = 'env-' + (++seq);
    const done = new Promise((r) => waiting.set(id, r));
    const s = performance.now();
    conn.send(JSON.stringify({ envelope_id: id, type: 'slash_commands', payload: job.payloads[i], accepts_response_payload: true }));
    lat[i] = (await done) - s;
  }
  async function worker() { while (next < job.payloads.length) { const i = next++; await one(i); } }
  await Promise.all(Array.from({ length: Math.min(job.inFlight, job.payloads.length) }, worker));
  parentPort.postMessage({ lat });
});
`;

class SocketSide {
  private readonly worker = new Worker(SOCKET_SIDE, { eval: true });
  port!: number;
  private readonly connectedWaiters: (() => void)[] = [];
  private connected = false;
  private readonly ready: Promise<void>;

  constructor() {
    // Listening from the start: a worker's messages are not kept for later listeners.
    this.ready = new Promise<void>((resolve) => {
      this.worker.on('message', (m: { port?: number; connected?: boolean }) => {
        if (m.port !== undefined) {
          this.port = m.port;
          resolve();
        }
        if (m.connected) {
          this.connected = true;
          for (const w of this.connectedWaiters.splice(0)) w();
        }
      });
    });
  }

  start(): Promise<void> {
    return this.ready;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/link/?ticket=bench`;
  }

  waitConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.connectedWaiters.push(resolve));
  }

  run(payloads: Record<string, string>[], inFlight: number): Promise<number[]> {
    return new Promise((resolve) => {
      const onMessage = (m: { lat?: number[] }): void => {
        if (!m.lat) return;
        this.worker.off('message', onMessage);
        resolve(m.lat);
      };
      this.worker.on('message', onMessage);
      this.worker.postMessage({ payloads, inFlight });
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank] ?? NaN;
}
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

function commandPayload(channel: string, i: number, label: string, responseUrl: string) {
  return Object.fromEntries(
    new URLSearchParams(
      slashCommandBody({
        response_url: responseUrl,
        text: `log bench ${label} entry ${i}`,
        channel_id: channel,
        channel_name: 'bench',
        user_id: i % 2 ? 'U_BOB' : 'U_ALICE',
        user_name: i % 2 ? 'bob' : 'alice',
      }),
    ),
  );
}

async function latencies(
  side: SocketSide,
  payload: (i: number) => Record<string, string>,
  n: number,
  settle?: () => Promise<void>,
): Promise<number[]> {
  if (!settle) {
    return side.run(
      Array.from({ length: n }, (_, i) => payload(i)),
      1,
    );
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [lat] = await side.run([payload(i)], 1);
    out.push(lat ?? NaN);
    await settle();
    await new Promise((resolve) => setTimeout(resolve, SETTLE_GAP_MS));
  }
  return out;
}

/** A bare Bolt app in Socket Mode, connected to `side`: one listener that only acks. */
async function startBareSocketApp(side: SocketSide): Promise<{ stop(): Promise<void> }> {
  const web = await startSlackEmulator();
  web.setHandler('apps.connections.open', () => ({ url: side.url }));
  const receiver = new SocketModeReceiver({
    appToken: TEST_APP_TOKEN,
    logLevel: LogLevel.ERROR,
    installerOptions: { clientOptions: { slackApiUrl: web.url } },
  });
  const app = new App({
    receiver,
    authorize: async () => ({ botToken: 'xoxb-bench', botId: 'B_BENCH', botUserId: 'U_BENCH' }),
    logLevel: LogLevel.ERROR,
  });
  app.command('/incident', async ({ ack }) => {
    await ack();
  });
  await app.start();
  await side.waitConnected();
  return {
    async stop() {
      await app.stop();
      await web.close();
    },
  };
}

const fmt = (xs: number[]): string =>
  `${round(percentile(xs, 50))} / ${round(percentile(xs, 99))} ms`;

export async function runSocketBench(): Promise<Record<string, string>> {
  // The bot, over Socket Mode, switched to the worker's WebSocket server.
  const botSide = new SocketSide();
  await botSide.start();
  const bot: TestBot = await startTestBot({ transport: 'socket' });
  let bare: { stop(): Promise<void> } | undefined;
  const bareSide = new SocketSide();
  try {
    await bot.command('start sev2 Socket Mode bench');
    const [rec] = await bot.service.list();
    if (!rec?.channel) throw new Error('no bench incident');
    const channel = rec.channel;
    bot.emulator.setHandler('apps.connections.open', () => ({ url: botSide.url }));
    bot.socket?.drop(); // the bot reconnects, to the worker
    await botSide.waitConnected();
    const botPayload = (label: string) => (i: number) =>
      commandPayload(channel, i, label, bot.emulator.responseUrl(`${label}-${i}`));
    const idle = () => bot.idle();

    await bareSide.start();
    bare = await startBareSocketApp(bareSide);
    const barePayload = (label: string) => (i: number) =>
      commandPayload('C_BENCH', i, label, 'http://127.0.0.1:9/unused');
    const settleBare = async () => undefined;

    await latencies(botSide, botPayload('warm'), WARMUP, idle);
    await latencies(bareSide, barePayload('warm'), WARMUP, settleBare);
    const t0 = performance.now();
    const botIsolated = await latencies(botSide, botPayload('iso'), COMMANDS, idle);
    const bareIsolated = await latencies(bareSide, barePayload('iso'), COMMANDS, settleBare);
    const botBack = await latencies(botSide, botPayload('b2b'), COMMANDS);
    await bot.idle();
    const bareBack = await latencies(bareSide, barePayload('b2b'), COMMANDS);
    const seconds = (performance.now() - t0) / 1000;
    const recorded = (await bot.service.load(rec.id)).events.filter(
      (e) => e.type === 'timeline.entry',
    ).length;
    return {
      [`Socket Mode /incident ack latency p50 / p99, ${COMMANDS} one at a time (bot)`]:
        fmt(botIsolated),
      [`Socket Mode /incident ack latency p50 / p99, ${COMMANDS} one at a time (bare Bolt)`]:
        fmt(bareIsolated),
      [`Socket Mode /incident ack latency p50 / p99, ${COMMANDS} back to back (bot)`]: fmt(botBack),
      [`Socket Mode /incident ack latency p50 / p99, ${COMMANDS} back to back (bare Bolt)`]:
        fmt(bareBack),
      [`Socket Mode bench: timeline entries recorded (of ${WARMUP + 2 * COMMANDS} sent) / seconds`]: `${recorded} / ${round(seconds)}`,
    };
  } finally {
    await bare?.stop();
    await bot.close();
    await botSide.stop();
    await bareSide.stop();
  }
}
