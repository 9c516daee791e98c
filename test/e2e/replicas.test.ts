/**
 * Two bot replicas (two apps, two connections) on ONE MongoDB database and one Slack: numbers
 * allocated once across replicas, and a Slack event delivered to both (a retry that reached the
 * other replica) recorded once. Needs MONGODB_URI (runs in the GitHub Actions workflow); skipped
 * loudly otherwise.
 */
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { parseMongoConfig } from '../../src/store/mongo/config';
import { openMongoStore, type MongoStore } from '../../src/store/mongo/store';
import { startTestBot, type TestBot } from '../helpers/testBot';
import { startSlackEmulator, TEST_TEAM, type SlackEmulator } from '../helpers/slackEmulator';
import { DEFAULT_TEST_CHANNELS, DEFAULT_TEST_USERS } from '../helpers/testBot';

const uri = process.env.MONGODB_URI;

if (!uri) {
  console.warn('MongoDB two-replica e2e SKIPPED: MONGODB_URI is not set.');
  describe.skip('two replicas on MongoDB (needs MONGODB_URI)', () => {
    test.skip('replicas', () => undefined);
  });
} else {
  describe('two bot replicas on one MongoDB', () => {
    let emulator: SlackEmulator;
    let a: TestBot;
    let b: TestBot;
    let dbName: string;

    async function open(): Promise<MongoStore> {
      return openMongoStore({ ...parseMongoConfig({ MONGODB_URI: uri }), dbName });
    }

    beforeEach(async () => {
      dbName = `incident_bot_e2e_${Date.now()}_${randomBytes(4).toString('hex')}`;
      const members = DEFAULT_TEST_USERS.map((u) => u.id);
      emulator = await startSlackEmulator({
        users: DEFAULT_TEST_USERS,
        channels: DEFAULT_TEST_CHANNELS.map((c) => ({ ...c, members })),
      });
      a = await startTestBot({ store: await open(), emulator });
      b = await startTestBot({ store: await open(), emulator });
    });

    afterEach(async () => {
      await a?.close();
      await b?.close();
      await emulator?.close();
      const conn = await mongoose
        .createConnection(uri as string, { dbName, serverSelectionTimeoutMS: 5000 })
        .asPromise();
      await conn.dropDatabase();
      await conn.close();
    });

    test('incidents started on both replicas at once get distinct numbers 1..6', async () => {
      await Promise.all(
        [a, b, a, b, a, b].map((bot, i) => bot.command(`start sev2 Outage number ${i}`)),
      );
      const listed = await a.store.listIncidents({ team: TEST_TEAM.id });
      expect(listed.map((i) => i.number).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(new Set(listed.map((i) => i.channel)).size).toBe(6);
    });

    test('a Slack event delivered to both replicas is recorded once, in one gap-free record', async () => {
      await a.command('start sev2 Checkout is down');
      const [incident] = await b.store.listIncidents({ team: TEST_TEAM.id });
      const channel = incident.channel as string;
      const before = (await b.store.loadEvents(incident.id)).length;
      const messages = Array.from({ length: 10 }, (_, i) => ({
        type: 'message',
        channel,
        channel_type: 'channel',
        user: 'U_BOB',
        text: `observation ${i}`,
        ts: `1741082400.00${String(i).padStart(4, '0')}`,
        event_ts: `1741082400.00${String(i).padStart(4, '0')}`,
      }));
      // Each event reaches both replicas (Slack retried it to the other one), concurrently.
      await Promise.all(
        messages.flatMap((m, i) => [
          a.event(m, { eventId: `EvSame${i}` }),
          b.event(m, { eventId: `EvSame${i}`, retryNum: 1 }),
        ]),
      );
      const events = await a.store.loadEvents(incident.id);
      const chats = events.filter((e) => e.type === 'chat.message');
      expect(chats.map((e) => (e.type === 'chat.message' ? e.text : '')).sort()).toEqual(
        messages.map((m) => m.text).sort(),
      );
      expect(events.length).toBe(before + 10);
      expect(events.map((e) => e.seq).sort((x, y) => x - y)).toEqual(
        Array.from({ length: events.length }, (_, i) => i + 1),
      );
    });
  });
}
