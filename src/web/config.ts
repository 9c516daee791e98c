/**
 * Settings of the insights page (read with the rest of the configuration, validated here with
 * zod so every problem is reported at once):
 *
 * - INSIGHTS_PUBLIC_URL: the bot's public base URL, used in the one-time links
 *   (default `http://localhost:<PORT>`).
 * - INSIGHTS_SESSION_SECRET: the key sessions are signed with (32+ characters). When unset it is
 *   derived from the Slack signing secret (or bot token), so it is stable across restarts and
 *   replicas without another secret to manage.
 * - INSIGHTS_LINK_MINUTES: how long a one-time link stays valid (default 10).
 * - INSIGHTS_SESSION_HOURS: how long a session lasts (default 8).
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { intSetting, optionalText } from '../configSchema';
import type { OidcSettings } from './slackOidc';

export interface WebConfig {
  publicUrl?: string;
  /** Sign in with Slack, when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are both set. */
  slack?: OidcSettings;
  sessionSecret?: string;
  linkMinutes: number;
  sessionHours: number;
}

export class WebConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'WebConfigError';
  }
}

const schema = z.object({
  INSIGHTS_PUBLIC_URL: optionalText.refine(
    (v) => v === undefined || /^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(v),
    'must be an http(s) URL such as https://incident-bot.example.com',
  ),
  INSIGHTS_SESSION_SECRET: optionalText.refine(
    (v) => v === undefined || v.length >= 32,
    'must be at least 32 characters',
  ),
  INSIGHTS_LINK_MINUTES: intSetting(1, 60, 10),
  INSIGHTS_SESSION_HOURS: intSetting(1, 168, 8),
  SLACK_CLIENT_ID: optionalText,
  SLACK_CLIENT_SECRET: optionalText,
  SLACK_OIDC_URL: optionalText.refine(
    (v) => v === undefined || /^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(v),
    'must be an http(s) URL (default https://slack.com)',
  ),
});

export function parseWebConfig(env: Record<string, string | undefined>): WebConfig {
  const r = schema.safeParse({
    INSIGHTS_PUBLIC_URL: env.INSIGHTS_PUBLIC_URL,
    INSIGHTS_SESSION_SECRET: env.INSIGHTS_SESSION_SECRET,
    INSIGHTS_LINK_MINUTES: env.INSIGHTS_LINK_MINUTES,
    INSIGHTS_SESSION_HOURS: env.INSIGHTS_SESSION_HOURS,
    SLACK_CLIENT_ID: env.SLACK_CLIENT_ID,
    SLACK_CLIENT_SECRET: env.SLACK_CLIENT_SECRET,
    SLACK_OIDC_URL: env.SLACK_OIDC_URL,
  });
  if (!r.success) {
    throw new WebConfigError(r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`));
  }
  const e = r.data;
  if (!!e.SLACK_CLIENT_ID !== !!e.SLACK_CLIENT_SECRET) {
    throw new WebConfigError([
      'SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together (Sign in with Slack needs both)',
    ]);
  }
  return {
    ...(e.INSIGHTS_PUBLIC_URL ? { publicUrl: e.INSIGHTS_PUBLIC_URL.replace(/\/+$/, '') } : {}),
    ...(e.INSIGHTS_SESSION_SECRET ? { sessionSecret: e.INSIGHTS_SESSION_SECRET } : {}),
    ...(e.SLACK_CLIENT_ID && e.SLACK_CLIENT_SECRET
      ? {
          slack: {
            clientId: e.SLACK_CLIENT_ID,
            clientSecret: e.SLACK_CLIENT_SECRET,
            baseUrl: (e.SLACK_OIDC_URL ?? 'https://slack.com').replace(/\/+$/, ''),
          },
        }
      : {}),
    linkMinutes: e.INSIGHTS_LINK_MINUTES,
    sessionHours: e.INSIGHTS_SESSION_HOURS,
  };
}

/** The session key: the configured one, else one derived from a secret the bot already has. */
export function sessionKey(web: WebConfig, fallbackSecret: string): Buffer {
  const base = web.sessionSecret ?? fallbackSecret;
  return createHmac('sha256', base).update('incident-bot insights session v1').digest();
}
