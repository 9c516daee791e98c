/**
 * MongoDB settings, read from the environment and validated with zod. Every bad setting is
 * reported at once, in one error, with what is allowed.
 */
import { z } from 'zod';
import { intSetting, optionalText } from '../../configSchema';

/** Database used when neither MONGODB_DB nor the URI path names one. */
export const DEFAULT_MONGODB_DB = 'incident-bot';

export interface MongoConfig {
  /** mongodb:// or mongodb+srv:// connection string (may hold credentials: never log it). */
  uri: string;
  /** Database name: MONGODB_DB, else the URI path, else `incident-bot`. */
  dbName: string;
  maxPoolSize: number;
  minPoolSize: number;
  serverSelectionTimeoutMS: number;
  connectTimeoutMS: number;
  /** 0 = no socket timeout. */
  socketTimeoutMS: number;
  writeConcern: 'majority' | number;
  /** wtimeout for acknowledged writes; 0 = wait forever. */
  writeTimeoutMS: number;
}

/** Thrown by parseMongoConfig; `problems` has one line per bad setting. */
export class MongoConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid MongoDB settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'MongoConfigError';
  }
}

const uriSetting = optionalText.transform((v, ctx) => {
  if (v === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'is required: a mongodb:// or mongodb+srv:// connection string',
    });
    return z.NEVER;
  }
  if (!/^mongodb(\+srv)?:\/\/[^/?]+/.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a mongodb:// or mongodb+srv:// connection string with a host (got ${JSON.stringify(redactUri(v))})`,
    });
    return z.NEVER;
  }
  return v;
});

const dbNameSetting = optionalText.transform((v, ctx) => {
  // MongoDB forbids these characters in database names (and limits them to 63 bytes).
  if (v !== undefined && (/[/\\. "$*<>:|?]/.test(v) || Buffer.byteLength(v) > 63)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a database name of at most 63 bytes without / \\ . " $ * < > : | ? or spaces (got ${JSON.stringify(v)})`,
    });
    return z.NEVER;
  }
  return v;
});

const writeConcernSetting = optionalText.transform((v, ctx): 'majority' | number => {
  if (v === undefined || v === 'majority') return 'majority';
  if (/^\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
  ctx.addIssue({
    code: 'custom',
    message: `must be "majority" or an integer >= 0 (got ${JSON.stringify(v)})`,
  });
  return z.NEVER;
});

/** The environment variables read, and how each is validated. */
export const mongoEnvSchema = z.object({
  MONGODB_URI: uriSetting,
  MONGODB_DB: dbNameSetting,
  MONGODB_MAX_POOL_SIZE: intSetting(1, 1000, 10),
  MONGODB_MIN_POOL_SIZE: intSetting(0, 1000, 0),
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: intSetting(100, 120_000, 5000),
  MONGODB_CONNECT_TIMEOUT_MS: intSetting(100, 120_000, 10_000),
  MONGODB_SOCKET_TIMEOUT_MS: intSetting(0, 3_600_000, 0),
  MONGODB_WRITE_CONCERN: writeConcernSetting,
  MONGODB_WRITE_TIMEOUT_MS: intSetting(0, 120_000, 10_000),
});

/**
 * Validates the MongoDB settings in `env` (normally process.env).
 * @throws MongoConfigError listing every bad setting.
 */
export function parseMongoConfig(env: Record<string, string | undefined>): MongoConfig {
  const problems: string[] = [];
  const result = mongoEnvSchema.safeParse(pick(env, Object.keys(mongoEnvSchema.shape)));
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(`${issue.path.join('.') || 'settings'} ${issue.message}`);
    }
  }
  // Cross-field check, reported even when other settings are bad too.
  const max = mongoEnvSchema.shape.MONGODB_MAX_POOL_SIZE.safeParse(env.MONGODB_MAX_POOL_SIZE);
  const min = mongoEnvSchema.shape.MONGODB_MIN_POOL_SIZE.safeParse(env.MONGODB_MIN_POOL_SIZE);
  if (max.success && min.success && min.data > max.data) {
    problems.push(
      `MONGODB_MIN_POOL_SIZE must be an integer from 0 to MONGODB_MAX_POOL_SIZE (${max.data}) (got ${min.data})`,
    );
  }
  if (problems.length > 0 || !result.success) throw new MongoConfigError(problems);
  const e = result.data;
  return {
    uri: e.MONGODB_URI,
    dbName: e.MONGODB_DB ?? dbNameFromUri(e.MONGODB_URI) ?? DEFAULT_MONGODB_DB,
    maxPoolSize: e.MONGODB_MAX_POOL_SIZE,
    minPoolSize: e.MONGODB_MIN_POOL_SIZE,
    serverSelectionTimeoutMS: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    connectTimeoutMS: e.MONGODB_CONNECT_TIMEOUT_MS,
    socketTimeoutMS: e.MONGODB_SOCKET_TIMEOUT_MS,
    writeConcern: e.MONGODB_WRITE_CONCERN,
    writeTimeoutMS: e.MONGODB_WRITE_TIMEOUT_MS,
  };
}

function pick(
  env: Record<string, string | undefined>,
  keys: string[],
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const k of keys) out[k] = env[k];
  return out;
}

/** Splits a connection string into hosts and path without a URL parser (multi-host URIs). */
function uriParts(uri: string): { scheme: string; hosts: string; path: string } | undefined {
  const m = /^(mongodb(?:\+srv)?):\/\/([^/?#]*)([^?#]*)/.exec(uri);
  if (!m) return undefined;
  const authority = m[2];
  const at = authority.lastIndexOf('@');
  return { scheme: m[1], hosts: at >= 0 ? authority.slice(at + 1) : authority, path: m[3] };
}

/** The database named in the URI path (`mongodb://h/name`), if any. */
export function dbNameFromUri(uri: string): string | undefined {
  const path = uriParts(uri)?.path.replace(/^\//, '');
  return path ? decodeURIComponent(path) : undefined;
}

/**
 * The hosts of a connection string, for messages: no credentials, default port made explicit
 * (`mongodb://u:p@h1,h2:27018/db` → `h1:27017,h2:27018`; SRV names are kept as given).
 */
export function describeMongoHosts(uri: string): string {
  const parts = uriParts(uri);
  if (!parts) return '(unparseable MongoDB URI)';
  if (parts.scheme === 'mongodb+srv') return parts.hosts;
  return parts.hosts
    .split(',')
    .map((h) => (/:\d+$/.test(h) ? h : `${h}:27017`))
    .join(',');
}

/** The connection string with any password replaced by `***`. */
export function redactUri(uri: string): string {
  return uri.replace(/^(mongodb(?:\+srv)?:\/\/[^:/?#@]*:)[^@/?#]*@/, '$1***@');
}
