import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  defaultInstanceId,
  loadConfig,
  parseConfig,
  type AppConfig,
} from '../../src/config';

const BASE = { SLACK_BOT_TOKEN: 'xoxb-123-456-abc', SLACK_SIGNING_SECRET: 'shhh' };

function ok(env: Record<string, string | undefined>): AppConfig {
  const r = parseConfig(env);
  if (!r.ok) throw new Error(`expected valid config, got:\n${r.errors.join('\n')}`);
  return r.config;
}

function errors(env: Record<string, string | undefined>): string[] {
  const r = parseConfig(env);
  if (r.ok) throw new Error('expected invalid config');
  return r.errors;
}

describe('parseConfig', () => {
  it('applies every default', () => {
    const c = ok(BASE);
    expect(c).toMatchObject({
      botToken: 'xoxb-123-456-abc',
      signingSecret: 'shhh',
      mode: 'http',
      port: 3000,
      dataDir: path.resolve('./data'),
      timezone: 'UTC',
      channelPrefix: 'inc',
      postmortemTemplate: 'default',
      gapMinutes: 30,
      logLevel: 'info',
      statusCardIntervalMs: 3000,
    });
    expect(c.slackApiUrl).toBeUndefined();
    expect(c.mongodbUri).toBeUndefined();
    expect(c.appToken).toBeUndefined();
    expect(c.announceChannel).toBeUndefined();
    expect(c.postmortemTemplateDir).toBeUndefined();
    expect(c.emoji.hypothesis).toEqual(['mag']);
  });

  it('reads every setting', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-templates-'));
    try {
      const c = ok({
        ...BASE,
        PORT: '8080',
        SLACK_API_URL: 'http://127.0.0.1:4000/api',
        INCIDENT_DATA_DIR: '/var/lib/incident-bot',
        INCIDENT_TIMEZONE: 'europe/london',
        INCIDENT_ANNOUNCE_CHANNEL: 'C0123ABCDEF',
        INCIDENT_CHANNEL_PREFIX: 'incident_',
        POSTMORTEM_TEMPLATE: 'sre',
        POSTMORTEM_TEMPLATE_DIR: dir,
        INCIDENT_GAP_MINUTES: '45',
        LOG_LEVEL: 'DEBUG',
        STATUS_CARD_INTERVAL_MS: '0',
        INCIDENT_EMOJI: 'hypothesis=thinking_face',
      });
      expect(c).toMatchObject({
        port: 8080,
        // WebClient appends the method name: the base gets its trailing slash.
        slackApiUrl: 'http://127.0.0.1:4000/api/',
        dataDir: '/var/lib/incident-bot',
        timezone: 'Europe/London',
        announceChannel: 'C0123ABCDEF',
        channelPrefix: 'incident_',
        postmortemTemplate: 'sre',
        postmortemTemplateDir: dir,
        gapMinutes: 45,
        logLevel: 'debug',
        statusCardIntervalMs: 0,
      });
      expect(c.emoji.hypothesis).toEqual(['thinking_face']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a SLACK_API_URL that already ends with a slash', () => {
    expect(ok({ ...BASE, SLACK_API_URL: 'https://slack.com/api/' }).slackApiUrl).toBe(
      'https://slack.com/api/',
    );
  });

  it('treats empty values as unset', () => {
    const c = ok({ ...BASE, PORT: '', INCIDENT_TIMEZONE: '  ', SLACK_APP_TOKEN: '' });
    expect(c.port).toBe(3000);
    expect(c.timezone).toBe('UTC');
    expect(c.mode).toBe('http');
  });

  it('switches to Socket Mode with SLACK_APP_TOKEN, where no signing secret is needed', () => {
    const c = ok({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1-A1-2-abc' });
    expect(c.mode).toBe('socket');
    expect(c.appToken).toBe('xapp-1-A1-2-abc');
    expect(c.signingSecret).toBeUndefined();
  });

  it('requires the bot token and, in HTTP mode, the signing secret', () => {
    const e = errors({});
    expect(e).toHaveLength(2);
    expect(e[0]).toMatch(/^SLACK_BOT_TOKEN is required \(xoxb-…\)/);
    expect(e[1]).toMatch(/^SLACK_SIGNING_SECRET is required in HTTP mode/);
    expect(e[1]).toContain('SLACK_APP_TOKEN');
  });

  it('reports every invalid setting at once, each with what is allowed and what was given', () => {
    const e = errors({
      SLACK_BOT_TOKEN: 'xoxp-user-token-123',
      SLACK_SIGNING_SECRET: 's',
      SLACK_APP_TOKEN: 'abc',
      PORT: 'abc',
      SLACK_API_URL: 'not a url',
      INCIDENT_TIMEZONE: 'Mars/Olympus',
      INCIDENT_ANNOUNCE_CHANNEL: '#incidents',
      INCIDENT_CHANNEL_PREFIX: 'Inc!',
      POSTMORTEM_TEMPLATE_DIR: '/definitely/not/here',
      INCIDENT_GAP_MINUTES: '0',
      LOG_LEVEL: 'loud',
      STATUS_CARD_INTERVAL_MS: '-5',
      INCIDENT_EMOJI: 'nonsense',
    });
    const byKey = (k: string): string | undefined => e.find((x) => x.startsWith(`${k} `));
    expect(byKey('SLACK_BOT_TOKEN')).toMatch(/starting with xoxb-/);
    // Secrets are never echoed back in full.
    expect(e.join('\n')).not.toContain('xoxp-user-token-123');
    expect(byKey('SLACK_APP_TOKEN')).toMatch(/xapp-/);
    expect(byKey('PORT')).toBe(
      'PORT must be an integer from 0 to 65535 (0 picks a free port) (got "abc")',
    );
    expect(byKey('SLACK_API_URL')).toMatch(/http\(s\) URL.*"not a url"/);
    expect(byKey('INCIDENT_TIMEZONE')).toMatch(/IANA time zone.*"Mars\/Olympus"/);
    expect(byKey('INCIDENT_ANNOUNCE_CHANNEL')).toMatch(/channel id.*"#incidents"/);
    expect(byKey('INCIDENT_CHANNEL_PREFIX')).toMatch(/lowercase.*"Inc!"/);
    expect(byKey('POSTMORTEM_TEMPLATE_DIR')).toMatch(/existing directory/);
    expect(byKey('INCIDENT_GAP_MINUTES')).toMatch(/integer from 1 to 10080 \(got "0"\)/);
    expect(byKey('LOG_LEVEL')).toMatch(/one of fatal, error, warn, info, debug, trace, silent/);
    expect(byKey('STATUS_CARD_INTERVAL_MS')).toMatch(/integer from 0 to 600000 \(got "-5"\)/);
    expect(byKey('INCIDENT_EMOJI')).toMatch(/meaning=emoji/);
    expect(e).toHaveLength(12);
  });

  it('rejects ports out of range and non-http API URLs', () => {
    expect(errors({ ...BASE, PORT: '70000' })).toEqual([
      'PORT must be an integer from 0 to 65535 (0 picks a free port) (got "70000")',
    ]);
    expect(errors({ ...BASE, PORT: '3.5' })).toHaveLength(1);
    expect(errors({ ...BASE, SLACK_API_URL: 'ftp://x/api/' })[0]).toMatch(/^SLACK_API_URL /);
    expect(ok({ ...BASE, PORT: '0' }).port).toBe(0);
  });

  it('validates the MongoDB settings with the store’s parser when MONGODB_URI is set', () => {
    const c = ok({ ...BASE, MONGODB_URI: 'mongodb://db1:27017/incidents' });
    expect(c.mongodbUri).toBe('mongodb://db1:27017/incidents');
    expect(c.mongo).toMatchObject({ dbName: 'incidents', maxPoolSize: 10 });

    const e = errors({
      ...BASE,
      PORT: 'x',
      MONGODB_URI: 'mongodb://db1',
      MONGODB_MAX_POOL_SIZE: '0',
    });
    // One message for everything: the app's own settings and the MongoDB ones.
    expect(e.some((x) => x.startsWith('PORT '))).toBe(true);
    expect(e.some((x) => x.startsWith('MONGODB_MAX_POOL_SIZE '))).toBe(true);

    const bad = errors({ ...BASE, MONGODB_URI: 'postgres://x' });
    expect(bad.filter((x) => x.startsWith('MONGODB_URI '))).toHaveLength(1);
  });

  it('ignores MongoDB settings when MONGODB_URI is not set', () => {
    expect(ok({ ...BASE, MONGODB_MAX_POOL_SIZE: 'lots' }).mongo).toBeUndefined();
  });

  it('derives a stable INSTANCE_ID from the host and the data location unless one is set', () => {
    const a = ok({ ...BASE, INCIDENT_DATA_DIR: '/srv/a' }).instanceId;
    expect(a).toBe(defaultInstanceId('/srv/a'));
    expect(ok({ ...BASE, INCIDENT_DATA_DIR: '/srv/a' }).instanceId).toBe(a);
    expect(ok({ ...BASE, INCIDENT_DATA_DIR: '/srv/b' }).instanceId).not.toBe(a);
    expect(a.startsWith(`${os.hostname().replace(/[^A-Za-z0-9._:-]/g, '-')}-`)).toBe(true);
    // The MongoDB URI is hashed: no credential shows in the id.
    const m = ok({ ...BASE, MONGODB_URI: 'mongodb://bot:s3cret@db:27017/x' }).instanceId;
    expect(m).not.toContain('s3cret');
    expect(defaultInstanceId('/d', 'web_1.pods!')).toMatch(/^web_1\.pods--[0-9a-f]{8}$/);
    expect(ok({ ...BASE, INSTANCE_ID: 'incident-bot-7f9c-x2' }).instanceId).toBe(
      'incident-bot-7f9c-x2',
    );
    expect(errors({ ...BASE, INSTANCE_ID: 'a/b' })[0]).toMatch(/^INSTANCE_ID must be 1-100/);
  });

  it('reads the retention settings, with an hour at least for the inbox (Slack retries)', () => {
    expect(ok(BASE).retention).toEqual({
      inboxHours: 72,
      effectHours: 72,
      deadEffectDays: 30,
      intervalMinutes: 60,
    });
    expect(
      ok({
        ...BASE,
        INBOX_RETENTION_HOURS: '6',
        EFFECT_RETENTION_HOURS: '12',
        DEAD_EFFECT_RETENTION_DAYS: '90',
        PRUNE_INTERVAL_MINUTES: '0',
      }).retention,
    ).toEqual({ inboxHours: 6, effectHours: 12, deadEffectDays: 90, intervalMinutes: 0 });
    expect(errors({ ...BASE, INBOX_RETENTION_HOURS: '0' })[0]).toMatch(
      /^INBOX_RETENTION_HOURS must be an integer from 1/,
    );
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-dotenv-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads .env without overriding real environment variables', () => {
    const file = path.join(dir, '.env');
    writeFileSync(
      file,
      'SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=file-secret\nPORT=4000\n',
    );
    const env: NodeJS.ProcessEnv = { PORT: '5000' };
    const c = loadConfig({ env, dotenvPath: file });
    expect(c.botToken).toBe('xoxb-from-file');
    expect(c.signingSecret).toBe('file-secret');
    expect(c.port).toBe(5000);
  });

  it('works without a .env file', () => {
    const c = loadConfig({ env: { ...BASE }, dotenvPath: path.join(dir, 'missing.env') });
    expect(c.port).toBe(3000);
  });

  it('throws ONE error listing every problem', () => {
    let thrown: unknown;
    try {
      loadConfig({ env: { PORT: 'abc' }, dotenvPath: false });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const message = (thrown as Error).message;
    expect(message.split('\n')[0]).toBe('Invalid configuration:');
    expect(message).toContain('\n  - SLACK_BOT_TOKEN is required (xoxb-…)');
    expect(message).toContain(
      '\n  - PORT must be an integer from 0 to 65535 (0 picks a free port) (got "abc")',
    );
    expect(message).toContain('\n  - SLACK_SIGNING_SECRET is required in HTTP mode');
    expect((thrown as ConfigError).errors).toHaveLength(3);
  });
});
