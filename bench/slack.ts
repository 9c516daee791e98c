/**
 * Slack-path benchmarks, against the real app (Bolt HTTP receiver, SQLite store in a temp dir)
 * with the Slack Web API answered by the local emulator; every request is signed like Slack's and
 * sent from a load generator in a worker thread (its own event loop, so the time measured is the
 * time to the ack, not the time until the bot's event loop lets the client read it).
 *
 * 1. Slash-command ack latency: 300 `/incident log …` commands against the real bot and, in the
 *    same run, a bare Bolt app (HTTPReceiver, same signing secret) whose only listener acks.
 *    Headline ("isolated"): one command at a time, each sent once the bot has finished the work
 *    the previous one started, plus a 10 ms gap, for both apps. Also reported: the same 300 back
 *    to back for both apps, and the server-side time from Bolt receiving the verified request to
 *    the listener calling ack(). Targets: p99 <= 50 ms; p50 <= 1.5 x the bare app's p50.
 * 2. Message events ingested per second with 16 in flight, until everything is recorded
 *    (target >= 500/s); 5 % of them are delivered again as Slack retries, and the store must hold
 *    each message exactly once.
 * 3. chat.update calls for the status card during a 1,000-message burst (and the same 1,000
 *    paced at 100/s over 10 s), against the bound of the 3 s coalescing: ceil(seconds / 3) + 1.
 * 4. Beside a bare Bolt app and the durable floor (a minimal Bolt app that inserts each request
 *    into SQLite, WAL + synchronous=FULL, before acking): 300 sequential commands, then 2,000
 *    message events with 16 in flight, per app: ack p50/p99, events/s (acked; recorded), event-loop
 *    delay p99 during the events (perf_hooks monitorEventLoopDelay), and everything recorded once.
 *
 * Runs under plain node after `tsc -p tsconfig.build.json` (no jest): it imports the harness in
 * test/helpers (testBot, signing, slackEmulator), which imports no test framework; tsc compiles
 * those files into dist/test/helpers because they are imported.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import Database from 'better-sqlite3';
import { eventCallbackBody, slashCommandBody, TEST_SIGNING_SECRET } from '../test/helpers/signing';
import { startTestBot, type TestBot } from '../test/helpers/testBot';

const COMMANDS = 300;
const WARMUP = 30;
const MESSAGES = 2000;
const IN_FLIGHT = 16;
const BURST = 1000;
const CARD_INTERVAL_MS = 3000;
const SETTLE_GAP_MS = 10;

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank] ?? NaN;
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/**
 * The load generator runs in a worker thread with its own event loop, so a latency is the time
 * until the ack reaches the client, not until the bot's event loop lets the client read it (the
 * bot keeps working after it acks). It signs each body like Slack and sends the given requests
 * with at most `inFlight` outstanding; it answers each request's latency and the elapsed time.
 */
const LOADGEN = `
const { parentPort } = require('node:worker_threads');
const { createHmac } = require('node:crypto');
const { performance } = require('node:perf_hooks');
parentPort.on('message', async (job) => {
  const lat = new Array(job.requests.length);
  let next = 0, failures = 0, firstFailure;
  const t0 = performance.now();
  async function one(r) {
    const ts = Math.floor(Date.now() / 1000);
    const sig = 'v0=' + createHmac('sha256', job.secret).update('v0:' + ts + ':' + r.body).digest('hex');
    const s = performance.now();
    const res = await fetch(job.url, {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': r.contentType, 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sig }, r.headers || {}),
      body: r.body,
    });
    await res.text();
    if (res.status !== 200) { failures++; firstFailure = firstFailure || res.status; }
    return performance.now() - s;
  }
  async function worker() {
    while (next < job.requests.length) { const i = next++; lat[i] = await one(job.requests[i]); }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(job.inFlight, job.requests.length) }, worker));
    parentPort.postMessage({ lat, elapsedMs: performance.now() - t0, failures, firstFailure });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.stack || err) });
  }
});
`;

export interface LoadRequest {
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

interface LoadResult {
  lat: number[];
  elapsedMs: number;
}

export class LoadGen {
  private readonly worker = new Worker(LOADGEN, { eval: true });

  run(url: string, secret: string, requests: LoadRequest[], inFlight: number): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.worker.once(
        'message',
        (m: LoadResult & { error?: string; failures: number; firstFailure?: number }) => {
          if (m.error) reject(new Error(m.error));
          else if (m.failures)
            reject(new Error(`${m.failures} requests failed (HTTP ${m.firstFailure})`));
          else resolve(m);
        },
      );
      this.worker.postMessage({ url, secret, requests, inFlight });
    });
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * Server-side time to ack: from Bolt receiving the verified request (processEvent) to the
 * listener calling ack(). Excludes the HTTP round trip and the client being scheduled.
 */
function timeAcks(app: App): { times: number[] } {
  const out = { times: [] as number[] };
  const process = app.processEvent.bind(app);
  app.processEvent = (event) => {
    const t0 = performance.now();
    const ack = event.ack;
    const timed: typeof ack = async (response) => {
      out.times.push(performance.now() - t0);
      return ack(response);
    };
    return process({ ...event, ack: timed });
  };
  return out;
}

/** A bare Bolt app on its own HTTP receiver: one listener that only acks `/incident`. */
export async function startBareApp(): Promise<{ url: string; app: App; stop(): Promise<void> }> {
  const receiver = new HTTPReceiver({
    signingSecret: TEST_SIGNING_SECRET,
    endpoints: '/slack/events',
    port: 0,
    processBeforeResponse: false,
    logLevel: LogLevel.ERROR,
  });
  const app = new App({
    receiver,
    // No Web API calls: a static authorization instead of auth.test.
    authorize: async () => ({ botToken: 'xoxb-bench', botId: 'B_BENCH', botUserId: 'U_BENCH' }),
    logLevel: LogLevel.ERROR,
  });
  app.command('/incident', async ({ ack }) => {
    await ack();
  });
  const server = (await app.start(0)) as Server;
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/slack/events`,
    app,
    stop: () => app.stop() as Promise<void>,
  };
}

/**
 * The durable floor: a minimal Bolt app that writes each request it receives to SQLite (WAL,
 * synchronous=FULL; one insert, on its main thread) before acknowledging it. Nothing else.
 */
export async function startFloorApp(
  dir: string,
): Promise<{ url: string; app: App; count(): number; stop(): Promise<void> }> {
  const db = new Database(path.join(dir, 'floor.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE requests (id INTEGER PRIMARY KEY, key TEXT UNIQUE, body TEXT NOT NULL)');
  const insert = db.prepare(
    'INSERT INTO requests (key, body) VALUES (?, ?) ON CONFLICT DO NOTHING',
  );
  const receiver = new HTTPReceiver({
    signingSecret: TEST_SIGNING_SECRET,
    endpoints: '/slack/events',
    port: 0,
    processBeforeResponse: false,
    logLevel: LogLevel.ERROR,
  });
  const app = new App({
    receiver,
    authorize: async () => ({ botToken: 'xoxb-bench', botId: 'B_BENCH', botUserId: 'U_BENCH' }),
    logLevel: LogLevel.ERROR,
  });
  const process = app.processEvent.bind(app);
  app.processEvent = async (event) => {
    const b = event.body as { event_id?: string; trigger_id?: string };
    insert.run(b.event_id ?? b.trigger_id ?? null, JSON.stringify(event.body));
    return process(event);
  };
  app.command('/incident', async ({ ack }) => {
    await ack();
  });
  app.event('message', async () => undefined);
  const server = (await app.start(0)) as Server;
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/slack/events`,
    app,
    count: () => (db.prepare('SELECT COUNT(*) AS n FROM requests').get() as { n: number }).n,
    stop: async () => {
      await app.stop();
      db.close();
    },
  };
}

/** One app's run of the comparison: 300 sequential commands, then 2,000 events, 16 in flight. */
export interface Comparison {
  cmdP50: number;
  cmdP99: number;
  evtP50: number;
  evtP99: number;
  ackedPerSecond: number;
  recordedPerSecond: number;
  eldP99: number;
  recordedOnce: string;
}

export async function compareRun(
  gen: LoadGen,
  target: { url: string; secret: string },
  channel: string,
  label: string,
  responseUrl: (id: string) => string,
  settle: () => Promise<void>,
  recorded: () => Promise<{ commands: number; events: number } | undefined>,
): Promise<Comparison> {
  const cmds = Array.from({ length: COMMANDS }, (_, i) =>
    commandRequest(channel, i, `${label}-cmp`, responseUrl(`${label}-cmp-${i}`)),
  );
  const cmd = await gen.run(target.url, target.secret, cmds, 1);
  await settle();
  const base = Math.floor(Date.now() / 1000) - 43_200;
  const evts = Array.from({ length: MESSAGES }, (_, i) =>
    eventRequest(
      messageEvent(channel, `${base + Math.floor(i / 100)}.${String(i).padStart(6, '0')}`, i),
      `EvCMP${label}${i}`,
    ),
  );
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  const t0 = performance.now();
  const evt = await gen.run(target.url, target.secret, evts, IN_FLIGHT);
  const ackedMs = performance.now() - t0;
  await settle();
  const recordedMs = performance.now() - t0;
  eld.disable();
  const r = await recorded();
  return {
    cmdP50: percentile(cmd.lat, 50),
    cmdP99: percentile(cmd.lat, 99),
    evtP50: percentile(evt.lat, 50),
    evtP99: percentile(evt.lat, 99),
    ackedPerSecond: MESSAGES / (ackedMs / 1000),
    recordedPerSecond: MESSAGES / (recordedMs / 1000),
    eldP99: eld.percentile(99) / 1e6,
    recordedOnce: !r
      ? 'n/a (stores nothing)'
      : r.commands === COMMANDS && r.events === MESSAGES
        ? `yes (${r.commands} + ${r.events})`
        : `NO (${r.commands} commands, ${r.events} events)`,
  };
}

function commandRequest(
  channel: string,
  i: number,
  label: string,
  responseUrl: string,
): LoadRequest {
  return {
    contentType: 'application/x-www-form-urlencoded',
    body: slashCommandBody({
      // The emulator's response_url (never Slack's real hooks).
      response_url: responseUrl,
      text: `log bench ${label} entry ${i}`,
      channel_id: channel,
      channel_name: 'bench',
      user_id: i % 2 ? 'U_BOB' : 'U_ALICE',
      user_name: i % 2 ? 'bob' : 'alice',
    }),
  };
}

function eventRequest(
  event: Record<string, unknown>,
  eventId: string,
  retryNum?: number,
): LoadRequest {
  return {
    contentType: 'application/json',
    body: JSON.stringify(eventCallbackBody(event, { eventId })),
    ...(retryNum !== undefined
      ? {
          headers: {
            'X-Slack-Retry-Num': String(retryNum),
            'X-Slack-Retry-Reason': 'http_timeout',
          },
        }
      : {}),
  };
}

/**
 * Ack latency of `n` commands sent one at a time; with `settle`, the bot finishes the work each
 * command started before the next is sent, plus a 10 ms gap (isolated acks, as people type
 * commands); else they go back to back (the next sent as soon as the previous is acked).
 */
async function commandLatencies(
  gen: LoadGen,
  target: {
    url: string;
    secret: string;
    responseUrl: (id: string) => string;
    idle?: () => Promise<void>;
  },
  channel: string,
  n: number,
  label: string,
  settle: boolean,
): Promise<number[]> {
  if (!settle) {
    const reqs = Array.from({ length: n }, (_, i) =>
      commandRequest(channel, i, label, target.responseUrl(`${label}-${i}`)),
    );
    return (await gen.run(target.url, target.secret, reqs, 1)).lat;
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const req = commandRequest(channel, i, label, target.responseUrl(`${label}-${i}`));
    const r = await gen.run(target.url, target.secret, [req], 1);
    out.push(r.lat[0] ?? NaN);
    await target.idle?.();
    // A short quiet gap (same for both apps): the next command arrives at a settled process.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_GAP_MS));
  }
  return out;
}

export async function openIncident(
  bot: TestBot,
  title: string,
): Promise<{ id: string; channel: string }> {
  const before = new Set((await bot.service.list()).map((r) => r.id));
  await bot.command(`start sev2 ${title}`);
  const rec = (await bot.service.list()).find((r) => !before.has(r.id));
  if (!rec?.channel) throw new Error(`could not open the bench incident "${title}"`);
  return { id: rec.id, channel: rec.channel };
}

function messageEvent(channel: string, ts: string, i: number): Record<string, unknown> {
  return {
    type: 'message',
    channel,
    channel_type: 'channel',
    user: i % 3 === 0 ? 'U_CAROL' : i % 2 ? 'U_BOB' : 'U_ALICE',
    text: i % 10 === 0 ? `<@U_ALICE> check shard ${i} &amp; its replica` : `status update ${i}`,
    ts,
    event_ts: ts,
  };
}

/**
 * Sends BURST message events into a fresh incident (as fast as 16 in flight allow, or `perSecond`
 * paced) and counts the chat.update calls for its status card from the first message until the
 * trailing update, against the bound ceil(seconds / interval) + 1.
 */
async function cardBurst(
  bot: TestBot,
  gen: LoadGen,
  title: string,
  tsOf: (i: number) => string,
  perSecond?: number,
): Promise<{ calls: number; bound: number; seconds: number; stored: number }> {
  const inc = await openIncident(bot, title);
  const card = bot.emulator.messages.find(
    (m) =>
      m.channel === inc.channel && JSON.stringify(m.blocks ?? null).includes('incident_status:'),
  );
  if (!card) throw new Error(`"${title}" has no status card`);
  await new Promise((r) => setTimeout(r, CARD_INTERVAL_MS + 100)); // start from an idle card
  const before = bot.emulator.callsTo('chat.update').length;
  const reqs = Array.from({ length: BURST }, (_, i) =>
    eventRequest(messageEvent(inc.channel, tsOf(i), i), `Ev${inc.id}M${i}`),
  );
  const t0 = performance.now();
  if (!perSecond) {
    await gen.run(bot.url, bot.signingSecret, reqs, IN_FLIGHT);
  } else {
    const slice = Math.max(1, Math.round(perSecond / 10)); // every 100 ms
    for (let k = 0; k < reqs.length; k += slice) {
      const due = t0 + (k / perSecond) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await gen.run(bot.url, bot.signingSecret, reqs.slice(k, k + slice), IN_FLIGHT);
    }
  }
  await bot.idle();
  const seconds = (performance.now() - t0) / 1000;
  // Let the trailing update (at most one interval later) go out.
  await new Promise((r) => setTimeout(r, CARD_INTERVAL_MS + 200));
  await bot.idle();
  const calls = bot.emulator
    .callsTo('chat.update')
    .slice(before)
    .filter((c) => c.params.channel === inc.channel && c.params.ts === card.ts).length;
  const stored = (await bot.service.load(inc.id)).events.filter(
    (e) => e.type === 'chat.message',
  ).length;
  return { calls, bound: Math.ceil(seconds / (CARD_INTERVAL_MS / 1000)) + 1, seconds, stored };
}

export async function runSlackBench(): Promise<Record<string, number | string>> {
  const phases: string[] = [];
  let mark = performance.now();
  const phase = (name: string): void => {
    const now = performance.now();
    phases.push(`${name} ${((now - mark) / 1000).toFixed(1)} s`);
    mark = now;
  };
  const bot = await startTestBot({ env: { STATUS_CARD_INTERVAL_MS: String(CARD_INTERVAL_MS) } });
  const bare = await startBareApp();
  const gen = new LoadGen();
  const bareAcks = timeAcks(bare.app);
  const botAcks = timeAcks(bot.handle.app);
  try {
    // ---- 1. ack latency ------------------------------------------------------------------------
    const cmdInc = await openIncident(bot, 'Bench command latency');
    const responseUrl = (id: string): string => bot.emulator.responseUrl(id);
    const botTarget = {
      url: bot.url,
      secret: bot.signingSecret,
      responseUrl,
      idle: () => bot.idle(),
    };
    const bareTarget = { url: bare.url, secret: TEST_SIGNING_SECRET, responseUrl };
    await commandLatencies(gen, bareTarget, cmdInc.channel, WARMUP, 'warm', true);
    await commandLatencies(gen, botTarget, cmdInc.channel, WARMUP, 'warm', true);
    bareAcks.times.length = 0;
    botAcks.times.length = 0;
    const bareMs = await commandLatencies(gen, bareTarget, cmdInc.channel, COMMANDS, 'bare', true);
    const botMs = await commandLatencies(gen, botTarget, cmdInc.channel, COMMANDS, 'bot', true);
    const bareServer = [...bareAcks.times];
    const botServer = [...botAcks.times];
    // The same 300 back to back (the next sent as soon as the previous is acked): the bare app
    // first, then the bot, whose deferred work must not run during the bare app's turn.
    const bareB2bMs = await commandLatencies(
      gen,
      bareTarget,
      cmdInc.channel,
      COMMANDS,
      'bb',
      false,
    );
    const b2bMs = await commandLatencies(gen, botTarget, cmdInc.channel, COMMANDS, 'b2b', false);
    await bot.idle();
    const logged = (await bot.service.load(cmdInc.id)).events.filter(
      (e) => e.type === 'timeline.entry',
    ).length;
    if (logged !== 2 * COMMANDS + WARMUP) {
      throw new Error(`expected ${2 * COMMANDS + WARMUP} timeline entries, found ${logged}`);
    }
    const botP50 = percentile(botMs, 50);
    const botP99 = percentile(botMs, 99);
    const bareP50 = percentile(bareMs, 50);
    const bareP99 = percentile(bareMs, 99);

    phase('acks');
    // ---- 2. message ingest ---------------------------------------------------------------------
    const msgInc = await openIncident(bot, 'Bench message ingest');
    const base = Math.floor(Date.now() / 1000) - 86_400;
    const tsOf = (i: number): string =>
      `${base + Math.floor(i / 100)}.${String(i).padStart(6, '0')}`;
    const retries = Math.floor(MESSAGES * 0.05);
    const ingestReqs: LoadRequest[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      ingestReqs.push(eventRequest(messageEvent(msgInc.channel, tsOf(i), i), `EvBENCHMSG${i}`));
    }
    // 5 % delivered again as Slack retries (same event id, X-Slack-Retry-Num).
    for (let k = 0; k < retries; k++) {
      const i = k * 19;
      ingestReqs.push(eventRequest(messageEvent(msgInc.channel, tsOf(i), i), `EvBENCHMSG${i}`, 1));
    }
    const t0 = performance.now();
    await gen.run(bot.url, bot.signingSecret, ingestReqs, IN_FLIGHT);
    await bot.idle();
    const ingestMs = performance.now() - t0;
    const stored = (await bot.service.load(msgInc.id)).events.filter(
      (e) => e.type === 'chat.message',
    );
    const distinct = new Set(stored.map((e) => (e.type === 'chat.message' ? e.ts : ''))).size;
    const perSecond = MESSAGES / (ingestMs / 1000);
    const exactlyOnce = stored.length === MESSAGES && distinct === MESSAGES;

    phase('ingest');
    // ---- 3. status-card updates under a burst ----------------------------------------------------
    const burst = await cardBurst(bot, gen, 'Bench card burst', tsOf);
    // The same 1,000 messages spread over 10 s (100/s): several intervals, so coalescing shows.
    const paced = await cardBurst(bot, gen, 'Bench card paced', tsOf, 100);

    const results: Record<string, number | string> = {
      'slash-command ack p50, real bot (ms)': round(botP50),
      'slash-command ack p99, real bot (ms; target <= 50)': round(botP99),
      'slash-command ack p50 / p99, bare Bolt app (ms)': `${round(bareP50)} / ${round(bareP99)}`,
      'bot p50 / bare p50 (target <= 1.5)': round(botP50 / bareP50),
      'server-side time to ack p50 / p99, real bot (ms)': `${round(percentile(botServer, 50), 3)} / ${round(percentile(botServer, 99), 3)}`,
      'server-side time to ack p50 / p99, bare Bolt app (ms)': `${round(percentile(bareServer, 50), 3)} / ${round(percentile(bareServer, 99), 3)}`,
      'slash-command ack p50 / p99, 300 back to back, real bot (ms)': `${round(percentile(b2bMs, 50))} / ${round(percentile(b2bMs, 99))}`,
      'slash-command ack p50 / p99, 300 back to back, bare Bolt app (ms)': `${round(percentile(bareB2bMs, 50))} / ${round(percentile(bareB2bMs, 99))}`,
      'back to back: bot p50 / bare p50': round(percentile(b2bMs, 50) / percentile(bareB2bMs, 50)),
      [`message events ingested per second, ${IN_FLIGHT} in flight (target >= 500)`]:
        Math.round(perSecond),
      [`messages recorded exactly once (${MESSAGES} + ${retries} retries)`]: exactlyOnce
        ? `yes (${stored.length})`
        : `NO: ${stored.length} stored, ${distinct} distinct`,
      [`chat.update calls during a ${BURST}-message burst (${round(burst.seconds)} s)`]:
        burst.calls,
      'chat.update bound ceil(burst s / 3) + 1': burst.bound,
      [`chat.update calls, ${BURST} messages at 100/s (${round(paced.seconds)} s)`]: paced.calls,
      'chat.update bound ceil(paced s / 3) + 1': paced.bound,
      'burst messages recorded (burst / paced)': `${burst.stored} / ${paced.stored}`,
    };
    phase('burst');
    // ---- 4. beside the durable floor and the bare app ------------------------------------------
    const floorDir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-floor-'));
    const floor = await startFloorApp(floorDir);
    const bare2 = await startBareApp();
    try {
      bare2.app.event('message', async () => undefined);
      const cmpInc = await openIncident(bot, 'Bench comparison');
      const noSettle = async () => undefined;
      const bareCmp = await compareRun(
        gen,
        { url: bare2.url, secret: TEST_SIGNING_SECRET },
        cmpInc.channel,
        'bare',
        responseUrl,
        noSettle,
        async () => undefined,
      );
      const floorCmp = await compareRun(
        gen,
        { url: floor.url, secret: TEST_SIGNING_SECRET },
        cmpInc.channel,
        'floor',
        responseUrl,
        noSettle,
        async () => {
          const n = floor.count();
          return { commands: Math.min(n, COMMANDS), events: Math.max(0, n - COMMANDS) };
        },
      );
      const botCmp = await compareRun(
        gen,
        { url: bot.url, secret: bot.signingSecret },
        cmpInc.channel,
        'bot',
        responseUrl,
        () => bot.idle(),
        async () => {
          const events = (await bot.service.load(cmpInc.id)).events;
          return {
            commands: events.filter(
              (e) => e.type === 'timeline.entry' && e.text.startsWith('bench bot-cmp entry'),
            ).length,
            events: events.filter((e) => e.type === 'chat.message').length,
          };
        },
      );
      const row = (c: Comparison): string =>
        `cmd ack p50 ${round(c.cmdP50)} / p99 ${round(c.cmdP99)} ms; event ack p50 ${round(c.evtP50)} / p99 ${round(c.evtP99)} ms; ${Math.round(c.ackedPerSecond)} events/s acked, ${Math.round(c.recordedPerSecond)}/s recorded; event-loop delay p99 ${round(c.eldP99)} ms; recorded once: ${c.recordedOnce}`;
      results['comparison: bare Bolt app'] = row(bareCmp);
      results['comparison: durable floor (Bolt + SQLite WAL/FULL insert before ack)'] =
        row(floorCmp);
      results['comparison: incident-bot (inbox before ack)'] = row(botCmp);
      results['bot / floor: cmd ack p50, event ack p50 (targets <= 1.5)'] =
        `${round(botCmp.cmdP50 / floorCmp.cmdP50)}, ${round(botCmp.evtP50 / floorCmp.evtP50)}`;
      results['bot / floor: events/s acked (target >= 0.8)'] = round(
        botCmp.ackedPerSecond / floorCmp.ackedPerSecond,
      );
      results[
        'bot: ack p99 commands / events (target <= 50 ms), loop delay p99 (target <= 20 ms)'
      ] = `${round(botCmp.cmdP99)} / ${round(botCmp.evtP99)} ms, ${round(botCmp.eldP99)} ms`;
    } finally {
      await floor.stop().catch(() => undefined);
      await bare2.stop().catch(() => undefined);
      rmSync(floorDir, { recursive: true, force: true });
    }
    phase('comparison');
    console.log(`  (phases: ${phases.join(', ')})`);
    printTable(results, {
      ackOk: botP99 <= 50 && botP50 <= 1.5 * bareP50,
      ingestOk: perSecond >= 500 && exactlyOnce,
      cardOk:
        burst.calls <= burst.bound &&
        paced.calls <= paced.bound &&
        burst.stored === BURST &&
        paced.stored === BURST,
    });
    return results;
  } finally {
    await gen.stop();
    await bare.stop().catch(() => undefined);
    await bot.close();
  }
}

function printTable(
  results: Record<string, number | string>,
  ok: { ackOk: boolean; ingestOk: boolean; cardOk: boolean },
): void {
  const rows = Object.entries(results).map(([k, v]) => [k, String(v)] as const);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    'Slack path',
    ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`),
    `  targets: ack ${ok.ackOk ? 'met' : 'MISSED'}, ingest ${ok.ingestOk ? 'met' : 'MISSED'}, card updates ${ok.cardOk ? 'within bound' : 'OVER BOUND'}`,
  ];
  console.log(lines.join('\n'));
}

if (require.main === module) {
  runSlackBench().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
