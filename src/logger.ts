/**
 * Logging: one pino logger for the app (JSON lines on stdout), and an adapter that lets Bolt and
 * its WebClient log through it.
 */
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { LogLevelName } from './config';

export type Logger = PinoLogger;

/** Never log secrets: these paths are replaced by `[redacted]` wherever they appear. */
const REDACT = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'mongodbUri',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  '*.mongodbUri',
  'headers.authorization',
  'headers["x-slack-signature"]',
];

export function createLogger(
  level: LogLevelName | string = 'info',
  destination?: DestinationStream,
): Logger {
  const opts = {
    level,
    base: { app: 'incident-bot' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(opts, destination) : pino(opts);
}

const TO_PINO: Record<LogLevel, string> = {
  [LogLevel.ERROR]: 'error',
  [LogLevel.WARN]: 'warn',
  [LogLevel.INFO]: 'info',
  [LogLevel.DEBUG]: 'debug',
};

function fromPino(level: string): LogLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return LogLevel.DEBUG;
    case 'info':
      return LogLevel.INFO;
    case 'warn':
      return LogLevel.WARN;
    default:
      return LogLevel.ERROR;
  }
}

/**
 * Bolt's Logger interface (debug/info/warn/error with any arguments, setLevel/getLevel/setName)
 * over a child of the pino logger, so Bolt's level changes never affect the app's own logs.
 * Bolt may pass Errors, objects and strings: the first Error becomes `err`, the rest the message.
 */
export function toBoltLogger(logger: Logger, name = 'bolt'): BoltLogger {
  const child = logger.child({ component: name });
  const emit = (level: 'debug' | 'info' | 'warn' | 'error', msg: unknown[]): void => {
    if (!child.isLevelEnabled(level)) return;
    const err = msg.find((m): m is Error => m instanceof Error);
    const text = msg
      .filter((m) => m !== err)
      .map((m) => (typeof m === 'string' ? m : safeJson(m)))
      .join(' ');
    if (err) child[level]({ err }, text || err.message);
    else child[level](text);
  };
  return {
    // Bolt's Logger interface declares `...msg: any[]`; unknown[] is assignable to it.
    debug: (...msg: unknown[]) => emit('debug', msg),
    info: (...msg: unknown[]) => emit('info', msg),
    warn: (...msg: unknown[]) => emit('warn', msg),
    error: (...msg: unknown[]) => emit('error', msg),
    // Bolt sets a level on its logger; it may raise the threshold but never log below the app's.
    setLevel: (level: LogLevel) => {
      const want = TO_PINO[level] ?? 'info';
      child.level = (child.levels.values[want] ?? 0) >= logger.levelVal ? want : logger.level;
    },
    getLevel: () => fromPino(child.level),
    setName: (n: string) => {
      child.setBindings({ component: n });
    },
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
