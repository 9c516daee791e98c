/**
 * The comparison of `npm run bench` (section 4 of bench/slack.ts) on its own, repeated: the bot
 * beside a bare Bolt app and the durable floor (Bolt + one SQLite WAL/FULL insert before the
 * ack), 300 sequential commands then 2,000 message events with 16 in flight, per round; the
 * ratios bot / floor of each round and their medians. On a shared machine only the ratios of one
 * round (three apps measured minutes apart at most) mean something; the median of several rounds
 * is what to quote.
 *
 *   npm run build && node dist/bench/compare.js [rounds=3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_SIGNING_SECRET } from '../test/helpers/signing';
import { startTestBot } from '../test/helpers/testBot';
import {
  compareRun,
  LoadGen,
  openIncident,
  round,
  startBareApp,
  startFloorApp,
  type Comparison,
} from './slack';

interface Round {
  bare: Comparison;
  floor: Comparison;
  bot: Comparison;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function oneRound(gen: LoadGen): Promise<Round> {
  const bot = await startTestBot({ env: { STATUS_CARD_INTERVAL_MS: '3000' } });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-floor-'));
  const floor = await startFloorApp(dir);
  const bare = await startBareApp();
  bare.app.event('message', async () => undefined);
  try {
    const responseUrl = (id: string): string => bot.emulator.responseUrl(id);
    const none = async (): Promise<undefined> => undefined;
    // Warm-up for all three (JIT, connections): one short run each into a throw-away incident.
    const warm = await openIncident(bot, 'Bench warm-up');
    for (const [label, target] of [
      ['wbare', { url: bare.url, secret: TEST_SIGNING_SECRET }],
      ['wfloor', { url: floor.url, secret: TEST_SIGNING_SECRET }],
      ['wbot', { url: bot.url, secret: bot.signingSecret }],
    ] as const) {
      await compareRun(gen, target, warm.channel, label, responseUrl, () => bot.idle(), none);
    }
    await bot.idle();
    const inc = await openIncident(bot, 'Bench comparison');
    const bareR = await compareRun(
      gen,
      { url: bare.url, secret: TEST_SIGNING_SECRET },
      inc.channel,
      'bare',
      responseUrl,
      none,
      none,
    );
    const floorR = await compareRun(
      gen,
      { url: floor.url, secret: TEST_SIGNING_SECRET },
      inc.channel,
      'floor',
      responseUrl,
      none,
      none,
    );
    const botR = await compareRun(
      gen,
      { url: bot.url, secret: bot.signingSecret },
      inc.channel,
      'bot',
      responseUrl,
      () => bot.idle(),
      async () => {
        const events = (await bot.service.load(inc.id)).events;
        return {
          commands: events.filter(
            (e) => e.type === 'timeline.entry' && e.text.startsWith('bench bot-cmp entry'),
          ).length,
          events: events.filter((e) => e.type === 'chat.message').length,
        };
      },
    );
    return { bare: bareR, floor: floorR, bot: botR };
  } finally {
    await floor.stop().catch(() => undefined);
    await bare.stop().catch(() => undefined);
    await bot.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const gen = new LoadGen();
  const all: Round[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const r = await oneRound(gen);
      all.push(r);
      const line = (name: string, c: Comparison): string =>
        `  ${name.padEnd(5)} cmd p50 ${round(c.cmdP50)} p99 ${round(c.cmdP99)} | evt p50 ${round(c.evtP50)} p99 ${round(c.evtP99)} | ${Math.round(c.ackedPerSecond)}/s acked ${Math.round(c.recordedPerSecond)}/s recorded | eld p99 ${round(c.eldP99)} | ${c.recordedOnce}`;
      console.log(`round ${i + 1}`);
      console.log(line('bare', r.bare));
      console.log(line('floor', r.floor));
      console.log(line('bot', r.bot));
      console.log(
        `  bot/floor: cmd p50 ${round(r.bot.cmdP50 / r.floor.cmdP50)}, evt p50 ${round(r.bot.evtP50 / r.floor.evtP50)}, events/s ${round(r.bot.ackedPerSecond / r.floor.ackedPerSecond)}`,
      );
    }
  } finally {
    await gen.stop();
  }
  const m = (f: (r: Round) => number): number => round(median(all.map(f)));
  console.log(`median of ${rounds} rounds`);
  console.log(`  bot/floor cmd ack p50      ${m((r) => r.bot.cmdP50 / r.floor.cmdP50)} (<= 1.5)`);
  console.log(`  bot/floor event ack p50    ${m((r) => r.bot.evtP50 / r.floor.evtP50)} (<= 1.5)`);
  console.log(
    `  bot/floor events/s acked   ${m((r) => r.bot.ackedPerSecond / r.floor.ackedPerSecond)} (>= 0.8)`,
  );
  console.log(
    `  bot cmd / event ack p99    ${m((r) => r.bot.cmdP99)} / ${m((r) => r.bot.evtP99)} ms (<= 50)`,
  );
  console.log(`  bot loop delay p99         ${m((r) => r.bot.eldP99)} ms (<= 20)`);
  console.log(
    `  floor cmd p50 / evt p50 / events/s  ${m((r) => r.floor.cmdP50)} / ${m((r) => r.floor.evtP50)} / ${Math.round(median(all.map((r) => r.floor.ackedPerSecond)))}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
