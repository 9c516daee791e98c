/**
 * Runs the shared store contract against a real MongoDB when MONGODB_URI is set (one fresh
 * database per test, dropped afterwards), plus a multi-replica race test. Without MONGODB_URI
 * the suite is reported as skipped, loudly.
 */
import { randomBytes } from 'node:crypto';
import { DateTime } from 'luxon';
import mongoose from 'mongoose';
import type { NewEvent } from '../../src/core/model';
import { parseMongoConfig, type MongoConfig } from '../../src/store/mongo/config';
import { openMongoStore, type MongoStore } from '../../src/store/mongo/store';
import { describeStoreContract, type StoreHarness } from './storeContract';

const uri = process.env.MONGODB_URI;

function freshConfig(): MongoConfig {
  const base = parseMongoConfig({ ...process.env, MONGODB_URI: uri });
  return { ...base, dbName: `incident_bot_test_${Date.now()}_${randomBytes(4).toString('hex')}` };
}

async function dropDatabase(config: MongoConfig): Promise<void> {
  const conn = await mongoose
    .createConnection(config.uri, { dbName: config.dbName, serverSelectionTimeoutMS: 5000 })
    .asPromise();
  try {
    await conn.dropDatabase();
  } finally {
    await conn.close();
  }
}

interface MongoHarness extends StoreHarness {
  open(): Promise<MongoStore>;
}

async function makeHarness(): Promise<MongoHarness> {
  const config = freshConfig();
  const opened: MongoStore[] = [];
  return {
    async open() {
      const store = await openMongoStore(config);
      opened.push(store);
      return store;
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      await dropDatabase(config);
    },
  };
}

if (!uri) {
  console.warn(
    'MongoDB contract suite SKIPPED: MONGODB_URI is not set (no MongoDB server on this machine). Set MONGODB_URI=mongodb://localhost:27017 to run it.',
  );
  describe.skip('mongodb store contract (needs MONGODB_URI)', () => {
    test.skip('contract', () => undefined);
  });
} else {
  describeStoreContract('mongodb', makeHarness);

  describe('mongodb replicas', () => {
    let harness: MongoHarness;
    beforeEach(async () => {
      harness = await makeHarness();
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    const T0 = DateTime.fromISO('2025-03-04T10:00:00.000Z', { zone: 'utc' });
    const note = (text: string, key?: string): NewEvent => ({
      type: 'timeline.entry',
      text,
      occurredAt: T0,
      recordedAt: T0,
      actor: { id: 'U1', name: 'Ana' },
      source: 'message',
      ...(key ? { key } : {}),
    });
    const summary = {
      title: 'x',
      severity: 'sev2',
      status: 'investigating',
      zone: 'eu',
    } as const;

    test('two replicas number incidents and record keyed events without duplicates', async () => {
      const a = await harness.open();
      const b = await harness.open();
      expect(a.connection).not.toBe(b.connection);
      const created = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? a : b).createIncident({ team: 'T1', summary, events: [note(`open ${i}`)] }),
        ),
      );
      const numbers = created.map((r) => r.incident.number).sort((x, y) => x - y);
      expect(numbers).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

      const target = created[0].incident.id;
      // Both replicas receive the same Slack retries (same keys) at the same time.
      const results = await Promise.all(
        [a, b, a, b].map((s) =>
          s.append(
            target,
            Array.from({ length: 25 }, (_, i) => note(`slack ${i}`, `slack:Ev${i}`)),
          ),
        ),
      );
      expect(results.reduce((n, r) => n + r.appended.length, 0)).toBe(25);
      expect(results.reduce((n, r) => n + r.duplicates.length, 0)).toBe(75);
      const events = await b.loadEvents(target);
      const keys = events.flatMap((e) => (e.key ? [e.key] : []));
      expect(keys).toHaveLength(25);
      expect(new Set(keys).size).toBe(25);
      expect(new Set(events.map((e) => e.seq)).size).toBe(events.length);
      if (a.transactions) {
        // Replica set: the losers' seq increments were rolled back, so no gaps.
        expect(events.map((e) => e.seq).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 26 }, (_, i) => i + 1),
        );
      }
    });

    test('ping answers, and a closed store reports StoreUnavailableError', async () => {
      const a = await harness.open();
      await expect(a.ping()).resolves.toBeUndefined();
      await a.close();
      await expect(a.ping()).rejects.toThrow(/closed/);
    });
  });
}
