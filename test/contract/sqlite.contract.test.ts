import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite';
import { describeStoreContract, type StoreHarness } from './storeContract';

let dir: string;
let counter = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-sqlite-contract-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describeStoreContract('sqlite', async (): Promise<StoreHarness> => {
  counter += 1;
  const file = path.join(dir, `store-${counter}.sqlite`);
  const opened: SqliteStore[] = [];
  return {
    async open() {
      const store = openSqliteStore({ file });
      opened.push(store);
      return store;
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
});
