/**
 * Acknowledged means durable: the bot runs in a child process on a SQLite file; a burst of 300
 * chat messages and 20 `/incident log` commands (16 requests in flight) is cut by SIGKILL at a
 * random moment; the bot is restarted on the same data. Every request that was acknowledged is
 * recorded exactly once, and each acknowledged command's reply and the card update arrive; each
 * acknowledged command's line is in the channel exactly once (no command's line twice). Run
 * with two different kill points.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite';
import type { IncidentStore } from '../../src/store/store';
import {
  eventCallbackBody,
  newTriggerId,
  postEvent,
  postSlashCommand,
  slashCommandBody,
  TEST_SIGNING_SECRET,
  type SlashCommandFields,
} from '../helpers/signing';
import { startSocketEmulator, type SocketEmulator } from '../helpers/socketEmulator';
import { TRANSPORTS, type TransportKind } from '../helpers/transport';
import { startSlackEmulator, TEST_TEAM, type SlackEmulator } from '../helpers/slackEmulator';
import {
  killChildBot,
  startChildBot,
  until as waitUntil,
  type ChildBot,
} from '../helpers/childBot';
import { DEFAULT_TEST_CHANNELS, DEFAULT_TEST_USERS, TEST_APP_TOKEN } from '../helpers/testBot';

jest.setTimeout(120_000);

const MESSAGES = 300;
const COMMANDS = 20;
const IN_FLIGHT = 16;

const until = <T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> =>
  waitUntil(what, fn, ms);

function pendingInbox(file: string, kind?: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const sql = `SELECT COUNT(*) AS n FROM inbox WHERE state = 'pending'${kind ? ' AND kind = ?' : ''}`;
    return (db.prepare(sql).get(...(kind ? [kind] : [])) as { n: number }).n;
  } finally {
    db.close();
  }
}

type Item =
  | { kind: 'message'; ts: string; text: string }
  | { kind: 'command'; text: string; trigger: string; responseId: string };

describe.each(TRANSPORTS)(
  'crash: kill -9 during a burst, restart on the same data (over %s)',
  (transport: TransportKind) => {
    let emulator: SlackEmulator;
    let socket: SocketEmulator | undefined;
    let dataDir: string;
    let store: IncidentStore | undefined;
    const bots: ChildBot[] = [];

    beforeEach(async () => {
      const members = DEFAULT_TEST_USERS.filter((u) => !u.is_bot).map((u) => u.id);
      emulator = await startSlackEmulator({
        users: DEFAULT_TEST_USERS,
        channels: DEFAULT_TEST_CHANNELS.map((c) => ({ ...c, members })),
      });
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-crash-'));
      if (transport === 'socket') socket = await startSocketEmulator(emulator);
    });

    afterEach(async () => {
      await Promise.all(bots.splice(0).map(killChildBot));
      await store?.close();
      store = undefined;
      await socket?.close();
      socket = undefined;
      await emulator.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    async function run(killAfterAcks: number): Promise<Record<string, number>> {
      const env = {
        SLACK_BOT_TOKEN: 'xoxb-test-token',
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        PORT: '0',
        SLACK_API_URL: emulator.url,
        INCIDENT_DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        STATUS_CARD_INTERVAL_MS: '20',
        INBOX_LEASE_MS: '300',
        INBOX_POLL_MS: '100',
        ...(transport === 'socket' ? { SLACK_APP_TOKEN: TEST_APP_TOKEN } : {}),
      };
      // Over Socket Mode an envelope is acknowledged by its ack ("200"); one whose connection died
      // with the bot is not (and is not delivered again here: the count is of acknowledged ones).
      const viaSocket = async (
        send: (s: SocketEmulator) => Promise<{ acked: boolean }>,
      ): Promise<{ status: number }> => ({
        status: (await send(socket as SocketEmulator)).acked ? 200 : 0,
      });
      const sendCommand = (b: ChildBot, fields: SlashCommandFields) =>
        transport === 'socket'
          ? viaSocket((s) =>
              s.slashCommand(Object.fromEntries(new URLSearchParams(slashCommandBody(fields))), {
                retries: 0,
              }),
            )
          : postSlashCommand(b.url, TEST_SIGNING_SECRET, fields);
      const sendEvent = (b: ChildBot, event: Record<string, unknown>) =>
        transport === 'socket'
          ? viaSocket((s) => s.event(eventCallbackBody(event), { retries: 0 }))
          : postEvent(b.url, TEST_SIGNING_SECRET, event);
      const file = path.join(dataDir, 'incident-bot.sqlite');
      let bot = await startChildBot(env);
      bots.push(bot);
      const command = (
        b: ChildBot,
        text: string,
        trigger: string,
        responseId: string,
        channel: string,
      ) =>
        sendCommand(b, {
          text,
          user_id: 'U_ALICE',
          user_name: 'alice',
          channel_id: channel,
          team_id: TEST_TEAM.id,
          response_url: emulator.responseUrl(responseId),
          trigger_id: trigger,
        });

      const started = await command(
        bot,
        'start sev2 Crash test',
        newTriggerId(),
        'start',
        'C_GENERAL',
      );
      expect(started.status).toBe(200);
      store = openSqliteStore({ file });
      const s = store;
      const incident = await until('the incident channel', async () => {
        const [rec] = await s.listIncidents();
        return rec?.channel ? rec : undefined;
      });
      const channel = incident.channel as string;

      // The burst: 300 messages with a command after every 15th.
      const items: Item[] = [];
      const base = 1741089600;
      for (let i = 0; i < MESSAGES; i++) {
        items.push({ kind: 'message', ts: `${base + i}.000100`, text: `message ${i}` });
        if (i % 15 === 14) {
          const n = items.filter((x) => x.kind === 'command').length;
          items.push({
            kind: 'command',
            text: `log entry ${n}`,
            trigger: newTriggerId(),
            responseId: `log-${n}`,
          });
        }
      }
      expect(items.filter((x) => x.kind === 'command')).toHaveLength(COMMANDS);

      const acked = new Set<Item>();
      let next = 0;
      let killed = false;
      const worker = async (): Promise<void> => {
        while (!killed && next < items.length) {
          const item = items[next++];
          try {
            const res =
              item.kind === 'message'
                ? await sendEvent(bot, {
                    type: 'message',
                    channel,
                    user: 'U_BOB',
                    text: item.text,
                    ts: item.ts,
                  })
                : await command(bot, item.text, item.trigger, item.responseId, channel);
            if (res.status === 200) acked.add(item);
          } catch {
            // The connection died with the bot: not acknowledged.
          }
          if (!killed && acked.size >= killAfterAcks) {
            killed = true;
            await killChildBot(bot);
          }
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      if (!killed) await killChildBot(bot);
      const updatesBefore = emulator.callsTo('chat.update').length;
      const responsesBefore = emulator.responses.length;
      // Commands stored but not finished when the bot died: processed after the restart.
      const unfinishedCommands = pendingInbox(file, 'command');

      bot = await startChildBot(env);
      bots.push(bot);
      await until('the unfinished requests to be processed', async () =>
        pendingInbox(file) === 0 ? true : undefined,
      );
      const ackedCommands = [...acked].filter(
        (x): x is Extract<Item, { kind: 'command' }> => x.kind === 'command',
      );
      await until('the owed replies', async () =>
        ackedCommands.every((c) => emulator.responsesTo(c.responseId).length > 0)
          ? true
          : undefined,
      );

      const events = await s.loadEvents(incident.id);
      const byKey = new Map<string, number>();
      for (const e of events) if (e.key) byKey.set(e.key, (byKey.get(e.key) ?? 0) + 1);
      for (const item of acked) {
        if (item.kind === 'message') {
          expect(byKey.get(`msg:${channel}:${item.ts}`)).toBe(1);
        } else {
          expect(byKey.get(`cmd:${item.trigger}`)).toBe(1);
          const entry = events.filter(
            (e) => e.type === 'timeline.entry' && e.text === item.text.replace(/^log /, ''),
          );
          expect(entry).toHaveLength(1);
          expect(emulator.responsesTo(item.responseId)[0]?.body.text).toMatch(/^Logged in INC-1/);
        }
      }
      // Each command's line in the channel at most once, an acknowledged one's exactly once
      // (replies are owed with the inbox completion and keyed: never posted twice, even when the
      // bot died between posting and recording the delivery).
      const lineCount = (text: string) =>
        emulator.messages.filter(
          (m) => m.channel === channel && m.text.includes(` — ${text.replace(/^log /, '')} (`),
        ).length;
      for (const item of items) {
        if (item.kind !== 'command') continue;
        const n = lineCount(item.text);
        if (acked.has(item)) expect([item.text, n]).toEqual([item.text, 1]);
        else expect([item.text, n <= 1]).toEqual([item.text, true]);
      }
      // Nothing is recorded twice, acknowledged or not.
      expect([...byKey.values()].every((n) => n === 1)).toBe(true);
      const repliedAfter = emulator.responses.length - responsesBefore;
      if (unfinishedCommands > 0) {
        // Commands processed after the restart refresh the card. (Replies delivered after the
        // restart may also be owed by commands finished before the kill: outbox effects.)
        await until('a card update after the restart', async () =>
          emulator.callsTo('chat.update').length > updatesBefore ? true : undefined,
        );
      }
      return {
        killAfterAcks,
        acked: acked.size,
        ackedMessages: [...acked].filter((x) => x.kind === 'message').length,
        ackedCommands: ackedCommands.length,
        recoveredReplies: repliedAfter,
        unfinishedCommands,
        channelLines: items.filter((x) => x.kind === 'command' && lineCount(x.text) > 0).length,
        recorded: events.filter((e) => e.type === 'chat.message' || e.type === 'timeline.entry')
          .length,
      };
    }

    it('records every acknowledged request exactly once (kill at a random early point)', async () => {
      const figures = await run(40 + Math.floor(Math.random() * 100));
      process.stderr.write(`crash test figures (${transport}): ${JSON.stringify(figures)}\n`);
    });

    it('records every acknowledged request exactly once (kill at a random late point)', async () => {
      const figures = await run(180 + Math.floor(Math.random() * 120));
      process.stderr.write(`crash test figures (${transport}): ${JSON.stringify(figures)}\n`);
    });
  },
);
