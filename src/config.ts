/**
 * Application settings, read from the environment (and a `.env` file when there is one) and
 * validated with zod. Every missing or invalid setting is reported at once, in one message that
 * says what is allowed, so a misconfigured deployment fails fast with one clear error.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { intSetting, optionalText } from './configSchema';
import { DEFAULT_REMINDER_SETTINGS, type ReminderSettings } from './core/reminders';
import type { Severity } from './core/model';
import { EmojiConfigError, parseEmojiConfig, type EmojiConfig } from './app/capture';
import { MongoConfigError, parseMongoConfig, type MongoConfig } from './store/mongo/config';
import { parseWebConfig, WebConfigError, type WebConfig } from './web/config';
import {
  parsePublishTargets,
  PublishConfigError,
  type PublishTarget,
} from './integrations/publish/config';
import {
  DEFAULT_URLS,
  loadResponders,
  RespondersConfigError,
  describePaging,
  type PagingConfig,
} from './integrations/paging/config';

/** Slack's own Web API base URL (what WebClient uses when SLACK_API_URL is not set). */
export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface AppConfig {
  /** SLACK_BOT_TOKEN (xoxb-…). Secret: never log it. */
  botToken: string;
  /** SLACK_SIGNING_SECRET; required in HTTP mode. Secret: never log it. */
  signingSecret?: string;
  /** SLACK_APP_TOKEN (xapp-…); when set the app connects with Socket Mode. */
  appToken?: string;
  /** `socket` when SLACK_APP_TOKEN is set, else `http`. */
  mode: 'http' | 'socket';
  /** PORT for HTTP mode (0 picks a free port). */
  port: number;
  /** SLACK_API_URL, normalised to end with `/`; undefined means Slack's own API. */
  slackApiUrl?: string;
  /** MONGODB_URI: selects the MongoDB store. May hold credentials: never log it. */
  mongodbUri?: string;
  /** The MongoDB settings (pool, timeouts), when MONGODB_URI is set. */
  mongo?: MongoConfig;
  /** INCIDENT_DATA_DIR: where the SQLite file lives (absolute). */
  dataDir: string;
  /** INCIDENT_TIMEZONE: default IANA zone for times users type and for display. */
  timezone: string;
  /** INCIDENT_ANNOUNCE_CHANNEL: channel id where new incidents are announced. */
  announceChannel?: string;
  /** INCIDENT_CHANNEL_PREFIX: incident channels are `<prefix>-<number>-<slug>`. */
  channelPrefix: string;
  /** POSTMORTEM_TEMPLATE: template name or path. */
  postmortemTemplate: string;
  /** POSTMORTEM_TEMPLATE_DIR: extra directory of templates (absolute). */
  postmortemTemplateDir?: string;
  /** INCIDENT_GAP_MINUTES: a quiet stretch longer than this is flagged at close-time review. */
  gapMinutes: number;
  /** LOG_LEVEL */
  logLevel: LogLevelName;
  /** STATUS_CARD_INTERVAL_MS: at most one status-card update per incident per interval. */
  statusCardIntervalMs: number;
  /** INCIDENT_EMOJI: reaction meanings (see src/app/capture.ts). */
  emoji: EmojiConfig;
  /** INCIDENT_ADMIN_GROUP: user group id whose members may close, page, … any incident. */
  adminGroup?: string;
  /** INSIGHTS_*: the insights page (see src/web/config.ts); defaults when absent. */
  web?: WebConfig;
  /** PUBLISH_TARGETS: where postmortems are published for review (tokens inside: never log). */
  publishTargets?: PublishTarget[];
  /** INCIDENT_HOME_DEBOUNCE_MS: App Home publishes per user are coalesced over this window. */
  homeDebounceMs: number;
  /** Paging: INCIDENT_RESPONDERS_FILE's targets (no targets when unset) and provider URLs. */
  paging: PagingConfig;
  /** Reminders, nudges and auto-archive (INCIDENT_UPDATE_REMINDER_MINUTES …). */
  reminders: ReminderSettings;
  /** INCIDENT_REMINDER_INTERVAL_MS: how often reminders are checked (0: never). */
  reminderIntervalMs: number;
  /**
   * INBOX_LEASE_MS: how long a replica holds a stored request it is processing, or an effect it
   * is delivering; an unfinished one (a crash) is taken up again (here or by another replica)
   * once its lease has run out.
   */
  inboxLeaseMs: number;
  /** INBOX_POLL_MS: how often unfinished stored requests and due effects are looked for. */
  inboxPollMs: number;
  /**
   * INSTANCE_ID: this bot process's stable name in leases. A restarted process with the same id
   * takes over at once what its killed predecessor held (it is dead: it was us), instead of
   * waiting for the leases to run out. Two replicas running at once MUST have different ids.
   * Default: `<hostname>-<hash of the data location>` (on Kubernetes the hostname is the pod name).
   */
  instanceId: string;
  /** Housekeeping (src/app/housekeeping.ts): retention of finished queue rows. */
  retention: {
    /** INBOX_RETENTION_HOURS: done inbox items are deleted after this long. */
    inboxHours: number;
    /** EFFECT_RETENTION_HOURS: delivered effects are deleted after this long. */
    effectHours: number;
    /** DEAD_EFFECT_RETENTION_DAYS: dead effects (the reason something failed) are kept longer. */
    deadEffectDays: number;
    /** PRUNE_INTERVAL_MINUTES: how often the deletion runs (0: never). */
    intervalMinutes: number;
  };
}

export type ParseConfigResult = { ok: true; config: AppConfig } | { ok: false; errors: string[] };

type Env = Record<string, string | undefined>;

function fail(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

const show = (v: string): string => JSON.stringify(v);

/** Shows the shape of a secret without revealing it. */
function showSecret(v: string): string {
  return v.length <= 5 ? `"${'*'.repeat(v.length)}"` : `"${v.slice(0, 5)}…" (${v.length} chars)`;
}

const botToken = optionalText.transform((v, ctx) => {
  if (v === undefined) {
    return fail(
      ctx,
      'is required (xoxb-…): the Bot User OAuth Token from your Slack app’s OAuth & Permissions page',
    );
  }
  if (!v.startsWith('xoxb-')) {
    return fail(ctx, `must be a bot token starting with xoxb- (got ${showSecret(v)})`);
  }
  return v;
});

const appToken = optionalText.transform((v, ctx) => {
  if (v !== undefined && !v.startsWith('xapp-')) {
    return fail(
      ctx,
      `must be an app-level token starting with xapp- (Basic Information → App-Level Tokens, scope connections:write) (got ${showSecret(v)})`,
    );
  }
  return v;
});

const slackApiUrl = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return fail(ctx, `must be an http(s) URL such as https://slack.com/api/ (got ${show(v)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail(ctx, `must be an http(s) URL such as https://slack.com/api/ (got ${show(v)})`);
  }
  if (url.search || url.hash) {
    return fail(ctx, `must not have a query string or fragment (got ${show(v)})`);
  }
  // WebClient appends the method name directly: the base must end with a slash.
  const s = url.toString();
  return s.endsWith('/') ? s : `${s}/`;
});

const mongodbUri = optionalText.transform((v, ctx) => {
  if (v !== undefined && !/^mongodb(\+srv)?:\/\//.test(v)) {
    return fail(ctx, 'must be a mongodb:// or mongodb+srv:// connection string');
  }
  return v;
});

const timezone = optionalText.transform((v, ctx) => {
  if (v === undefined) return 'UTC';
  if (!IANAZone.isValidZone(v)) {
    return fail(
      ctx,
      `must be an IANA time zone such as UTC, Europe/London or America/New_York (got ${show(v)})`,
    );
  }
  // Canonical spelling (e.g. "europe/london" → "Europe/London").
  return new Intl.DateTimeFormat('en-US', { timeZone: v }).resolvedOptions().timeZone;
});

const announceChannel = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  if (!/^[CG][A-Z0-9]{2,}$/.test(v)) {
    return fail(
      ctx,
      `must be a channel id such as C0123ABCDEF, not a name (in Slack: channel details → copy the Channel ID at the bottom) (got ${show(v)})`,
    );
  }
  return v;
});

const channelPrefix = optionalText.transform((v, ctx) => {
  if (v === undefined) return 'inc';
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(v) || v.length > 40) {
    return fail(
      ctx,
      `must be 1-40 lowercase letters, digits, - or _ starting with a letter or digit, as Slack channel names allow (got ${show(v)})`,
    );
  }
  return v;
});

const templateName = optionalText.transform((v) => v ?? 'default');

const templateDir = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const abs = path.resolve(v);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) return fail(ctx, `must be an existing directory of templates (got ${show(v)})`);
  return abs;
});

const dataDir = optionalText.transform((v) => path.resolve(v ?? './data'));

const logLevel = optionalText.transform((v, ctx): LogLevelName => {
  if (v === undefined) return 'info';
  const l = v.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(l)) {
    return fail(ctx, `must be one of ${LOG_LEVELS.join(', ')} (got ${show(v)})`);
  }
  return l as LogLevelName;
});

const adminGroup = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  if (!/^S[A-Z0-9]{2,}$/.test(v)) {
    return fail(
      ctx,
      `must be a user group id such as S0123ABCDEF, not a handle (in Slack: the group's profile → ⋯ → Copy group ID) (got ${show(v)})`,
    );
  }
  return v;
});

/** `sev1=15,sev2=30,sev3=60,sev4=120`: minutes per severity; severities not named keep the default. */
const updateMinutes = optionalText.transform((v, ctx) => {
  const out = { ...DEFAULT_REMINDER_SETTINGS.updateMinutes };
  if (v === undefined) return out;
  for (const part of v
    .split(/[,;]/)
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(sev[1-4])\s*=\s*(\d{1,5})$/i.exec(part);
    if (!m || Number(m[2]) > 10080) {
      return fail(
        ctx,
        `must be severity=minutes pairs such as sev1=15,sev2=30,sev3=60,sev4=0 (0 turns a severity's reminder off; at most 10080) (got ${show(v)})`,
      );
    }
    out[m[1].toLowerCase() as Severity] = Number(m[2]);
  }
  return out;
});

const emoji = optionalText.transform((v, ctx) => {
  try {
    return parseEmojiConfig(v);
  } catch (err) {
    if (err instanceof EmojiConfigError) {
      return fail(ctx, err.message.replace(/^INCIDENT_EMOJI:\s*/, ''));
    }
    throw err;
  }
});

/** A provider's base URL (tests point these at local fakes); no trailing slash. */
const baseUrl = (fallback: string) =>
  optionalText.transform((v, ctx) => {
    if (v === undefined) return fallback;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      return fail(ctx, `must be an http(s) URL such as ${fallback} (got ${show(v)})`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
      return fail(
        ctx,
        `must be an http(s) URL without query or fragment, such as ${fallback} (got ${show(v)})`,
      );
    }
    return url.toString().replace(/\/+$/, '');
  });

const flag = optionalText.transform((v, ctx) => {
  if (v === undefined) return false;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  return fail(ctx, `must be 1 or 0 (got ${show(v)})`);
});

/** Lease owners are `<instance id>/<incarnation>`: the id itself has no `/`. */
const instanceId = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(v)) {
    return fail(
      ctx,
      `must be 1-100 letters, digits, ., _, : or - starting with a letter or digit, such as the pod name (got ${show(v)})`,
    );
  }
  return v;
});

/**
 * The default INSTANCE_ID: the host name plus a hash of where the data is (the SQLite directory
 * or the MongoDB URI, hashed so no credential shows), so a process restarted on the same host and
 * data gets the same id, and two bots on one host with different data get different ones.
 */
export function defaultInstanceId(dataLocation: string, hostname = os.hostname()): string {
  const host = hostname.replace(/[^A-Za-z0-9._:-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'host';
  const hash = createHash('sha256').update(dataLocation).digest('hex').slice(0, 8);
  return `${host.slice(0, 80)}-${hash}`;
}

/** Every setting read, and how it is validated. */
export const configSchema = z.object({
  SLACK_BOT_TOKEN: botToken,
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_APP_TOKEN: appToken,
  SLACK_API_URL: slackApiUrl,
  PORT: intSetting(0, 65535, 3000, ' (0 picks a free port)'),
  MONGODB_URI: mongodbUri,
  INCIDENT_DATA_DIR: dataDir,
  INCIDENT_TIMEZONE: timezone,
  INCIDENT_ANNOUNCE_CHANNEL: announceChannel,
  INCIDENT_CHANNEL_PREFIX: channelPrefix,
  POSTMORTEM_TEMPLATE: templateName,
  POSTMORTEM_TEMPLATE_DIR: templateDir,
  INCIDENT_GAP_MINUTES: intSetting(1, 10080, 30),
  LOG_LEVEL: logLevel,
  STATUS_CARD_INTERVAL_MS: intSetting(0, 600_000, 3000),
  INCIDENT_EMOJI: emoji,
  INCIDENT_ADMIN_GROUP: adminGroup,
  INCIDENT_HOME_DEBOUNCE_MS: intSetting(0, 60_000, 2000),
  INCIDENT_RESPONDERS_FILE: optionalText,
  PAGERDUTY_EVENTS_URL: baseUrl(DEFAULT_URLS.pagerdutyEventsUrl),
  PAGERDUTY_API_URL: baseUrl(DEFAULT_URLS.pagerdutyApiUrl),
  JSM_API_URL: baseUrl(DEFAULT_URLS.jsmApiUrl),
  OPSGENIE_API_URL: baseUrl(DEFAULT_URLS.opsgenieApiUrl),
  PAGING_DRY_RUN: flag,
  PAGERDUTY_WEBHOOK_SECRET: optionalText,
  INCIDENT_UPDATE_REMINDER_MINUTES: updateMinutes,
  INCIDENT_CLOSE_NUDGE_HOURS: intSetting(0, 720, 24, ' (0 turns the nudge off)'),
  INCIDENT_ARCHIVE_AFTER_DAYS: intSetting(0, 3650, 0, ' (0 never archives)'),
  INCIDENT_ACTION_REMINDER_HOUR: intSetting(0, 23, 9),
  INCIDENT_REMINDER_INTERVAL_MS: intSetting(0, 3_600_000, 60_000, ' (0 turns reminders off)'),
  INBOX_LEASE_MS: intSetting(100, 3_600_000, 30_000),
  INBOX_POLL_MS: intSetting(50, 600_000, 5000),
  INSTANCE_ID: instanceId,
  // At least an hour: an inbox key must outlive Slack's retries of it (minutes).
  INBOX_RETENTION_HOURS: intSetting(1, 87_600, 72),
  EFFECT_RETENTION_HOURS: intSetting(1, 87_600, 72),
  DEAD_EFFECT_RETENTION_DAYS: intSetting(1, 3650, 30),
  PRUNE_INTERVAL_MINUTES: intSetting(0, 10_080, 60, ' (0 turns the deletion off)'),
});

export const CONFIG_KEYS = Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[];

/** Validates the settings in `env`; pure (does not read `.env` or process.env). */
export function parseConfig(env: Env): ParseConfigResult {
  const errors: string[] = [];
  const input: Env = {};
  for (const k of CONFIG_KEYS) input[k] = env[k];
  const result = configSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      errors.push(`${issue.path.join('.') || 'settings'} ${issue.message}`);
    }
  }

  // Cross-field: HTTP mode needs the signing secret to verify requests.
  const appTokenSet = (env.SLACK_APP_TOKEN ?? '').trim() !== '';
  if (!appTokenSet && (env.SLACK_SIGNING_SECRET ?? '').trim() === '') {
    errors.push(
      'SLACK_SIGNING_SECRET is required in HTTP mode (Basic Information → App Credentials → Signing Secret); or set SLACK_APP_TOKEN (xapp-…) to use Socket Mode',
    );
  }

  // MongoDB pool and timeouts are validated by the store's own parser.
  let mongo: MongoConfig | undefined;
  if ((env.MONGODB_URI ?? '').trim() !== '') {
    try {
      mongo = parseMongoConfig(env);
    } catch (err) {
      if (!(err instanceof MongoConfigError)) throw err;
      // MONGODB_URI itself is already reported above when its scheme is wrong.
      const own = errors.some((e) => e.startsWith('MONGODB_URI '));
      for (const p of err.problems) {
        if (own && p.startsWith('MONGODB_URI ')) continue;
        errors.push(p);
      }
    }
  }

  // The insights page's settings are validated by their own parser.
  let web: WebConfig | undefined;
  try {
    web = parseWebConfig(env);
  } catch (err) {
    if (!(err instanceof WebConfigError)) throw err;
    errors.push(...err.problems);
  }

  let publishTargets: PublishTarget[] = [];
  try {
    publishTargets = parsePublishTargets(env);
  } catch (err) {
    if (!(err instanceof PublishConfigError)) throw err;
    errors.push(...err.problems);
  }

  // The responders file: every problem in it is listed with the other settings' problems.
  let targets: PagingConfig['targets'] = [];
  const respondersFile = (env.INCIDENT_RESPONDERS_FILE ?? '').trim();
  if (respondersFile) {
    try {
      targets = loadResponders(path.resolve(respondersFile), env);
    } catch (err) {
      if (!(err instanceof RespondersConfigError)) throw err;
      for (const p of err.problems) errors.push(`INCIDENT_RESPONDERS_FILE ${p}`);
    }
  }

  if (errors.length > 0 || !result.success) return { ok: false, errors };
  const e = result.data;
  return {
    ok: true,
    config: {
      botToken: e.SLACK_BOT_TOKEN,
      ...(e.SLACK_SIGNING_SECRET ? { signingSecret: e.SLACK_SIGNING_SECRET } : {}),
      ...(e.SLACK_APP_TOKEN ? { appToken: e.SLACK_APP_TOKEN } : {}),
      mode: e.SLACK_APP_TOKEN ? 'socket' : 'http',
      port: e.PORT,
      ...(e.SLACK_API_URL ? { slackApiUrl: e.SLACK_API_URL } : {}),
      ...(e.MONGODB_URI ? { mongodbUri: e.MONGODB_URI } : {}),
      ...(mongo ? { mongo } : {}),
      dataDir: e.INCIDENT_DATA_DIR,
      timezone: e.INCIDENT_TIMEZONE,
      ...(e.INCIDENT_ANNOUNCE_CHANNEL ? { announceChannel: e.INCIDENT_ANNOUNCE_CHANNEL } : {}),
      channelPrefix: e.INCIDENT_CHANNEL_PREFIX,
      postmortemTemplate: e.POSTMORTEM_TEMPLATE,
      ...(e.POSTMORTEM_TEMPLATE_DIR ? { postmortemTemplateDir: e.POSTMORTEM_TEMPLATE_DIR } : {}),
      gapMinutes: e.INCIDENT_GAP_MINUTES,
      logLevel: e.LOG_LEVEL,
      statusCardIntervalMs: e.STATUS_CARD_INTERVAL_MS,
      emoji: e.INCIDENT_EMOJI,
      ...(e.INCIDENT_ADMIN_GROUP ? { adminGroup: e.INCIDENT_ADMIN_GROUP } : {}),
      ...(web ? { web } : {}),
      ...(publishTargets.length ? { publishTargets } : {}),
      homeDebounceMs: e.INCIDENT_HOME_DEBOUNCE_MS,
      paging: {
        ...(respondersFile ? { file: path.resolve(respondersFile) } : {}),
        targets,
        pagerdutyEventsUrl: e.PAGERDUTY_EVENTS_URL,
        pagerdutyApiUrl: e.PAGERDUTY_API_URL,
        jsmApiUrl: e.JSM_API_URL,
        opsgenieApiUrl: e.OPSGENIE_API_URL,
        dryRun: e.PAGING_DRY_RUN,
        ...(e.PAGERDUTY_WEBHOOK_SECRET
          ? { pagerdutyWebhookSecret: e.PAGERDUTY_WEBHOOK_SECRET }
          : {}),
      },
      reminders: {
        updateMinutes: e.INCIDENT_UPDATE_REMINDER_MINUTES,
        closeNudgeHours: e.INCIDENT_CLOSE_NUDGE_HOURS,
        archiveDays: e.INCIDENT_ARCHIVE_AFTER_DAYS,
        actionHour: e.INCIDENT_ACTION_REMINDER_HOUR,
      },
      reminderIntervalMs: e.INCIDENT_REMINDER_INTERVAL_MS,
      inboxLeaseMs: e.INBOX_LEASE_MS,
      inboxPollMs: e.INBOX_POLL_MS,
      instanceId: e.INSTANCE_ID ?? defaultInstanceId(e.MONGODB_URI ?? e.INCIDENT_DATA_DIR),
      retention: {
        inboxHours: e.INBOX_RETENTION_HOURS,
        effectHours: e.EFFECT_RETENTION_HOURS,
        deadEffectDays: e.DEAD_EFFECT_RETENTION_DAYS,
        intervalMinutes: e.PRUNE_INTERVAL_MINUTES,
      },
    },
  };
}

/** The one error thrown by loadConfig; `errors` has one line per bad setting. */
export class ConfigError extends Error {
  constructor(readonly errors: string[]) {
    super(`Invalid configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Loads `.env` (if present; real environment variables win), validates, and returns the config.
 * @throws ConfigError listing every missing or invalid setting.
 */
export function loadConfig(
  opts: { env?: NodeJS.ProcessEnv; dotenvPath?: string | false } = {},
): AppConfig {
  const env = opts.env ?? process.env;
  if (opts.dotenvPath !== false) {
    // override: false keeps real environment variables; quiet: no banner on stdout.
    loadDotenv({ path: opts.dotenvPath ?? path.resolve('.env'), processEnv: env, quiet: true });
  }
  const res = parseConfig(env);
  if (!res.ok) throw new ConfigError(res.errors);
  return res.config;
}

/** A one-line, secret-free description of the config, for the startup log. */
export function describeConfig(c: AppConfig): Record<string, unknown> {
  return {
    mode: c.mode,
    port: c.mode === 'http' ? c.port : undefined,
    slackApiUrl: c.slackApiUrl ?? DEFAULT_SLACK_API_URL,
    store: c.mongodbUri ? 'mongodb' : 'sqlite',
    dataDir: c.mongodbUri ? undefined : c.dataDir,
    timezone: c.timezone,
    channelPrefix: c.channelPrefix,
    announceChannel: c.announceChannel,
    template: c.postmortemTemplate,
    templateDir: c.postmortemTemplateDir,
    gapMinutes: c.gapMinutes,
    statusCardIntervalMs: c.statusCardIntervalMs,
    logLevel: c.logLevel,
    adminGroup: c.adminGroup,
    paging: describePaging(c.paging),
    instanceId: c.instanceId,
  };
}
