/**
 * Store selection: MongoDB when MONGODB_URI is set, otherwise the embedded SQLite file under
 * INCIDENT_DATA_DIR. The MongoDB adapter (and mongoose) is loaded only when it is used.
 */
import type { IncidentStore } from './store';

export interface StoreLogger {
  info: (obj: unknown, msg?: string) => void;
  warn: (obj: unknown, msg?: string) => void;
  error: (obj: unknown, msg?: string) => void;
}

export interface OpenStoreOptions {
  mongodbUri?: string;
  dataDir: string;
  /** The environment, for the MongoDB adapter's own settings (pool size, timeouts, …). */
  env: Record<string, string | undefined>;
}

export async function openStore(
  cfg: OpenStoreOptions,
  logger?: StoreLogger,
): Promise<IncidentStore> {
  if (cfg.mongodbUri) {
    const { parseMongoConfig } = await import('./mongo/config');
    const { openMongoStore } = await import('./mongo/store');
    const mongo = parseMongoConfig({ ...cfg.env, MONGODB_URI: cfg.mongodbUri });
    return openMongoStore(mongo, logger);
  }
  const { openSqliteStore } = await import('./sqlite');
  return openSqliteStore({ dataDir: cfg.dataDir });
}

/** Where the SQLite file lives for a data dir (for messages). */
export function describeStore(cfg: OpenStoreOptions): string {
  if (cfg.mongodbUri) return `MongoDB at ${redactUri(cfg.mongodbUri)}`;
  return `SQLite at ${cfg.dataDir}/incident-bot.sqlite`;
}

export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^@/]+)@/, '//***@');
}
