/**
 * Requests signed exactly as Slack signs them: `X-Slack-Signature: v0=<hex HMAC-SHA256 of
 * "v0:<timestamp>:<raw body>" with the signing secret>` and `X-Slack-Request-Timestamp`.
 * Slash commands and interactivity are `application/x-www-form-urlencoded` (interactivity as one
 * `payload=<json>` field); the Events API is JSON.
 */
import { createHmac } from 'node:crypto';

export const TEST_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

export interface SignedResponse {
  status: number;
  body: string;
  headers: Headers;
}

export interface SignOptions {
  /** Unix seconds; default now. Use an old one to test stale-request rejection. */
  timestamp?: number;
  /** Sign with this secret instead (a wrong secret tests signature rejection). */
  secret?: string;
  /** Extra headers, e.g. X-Slack-Retry-Num. */
  headers?: Record<string, string>;
}

export function slackSignature(secret: string, timestamp: number, rawBody: string): string {
  const hmac = createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex');
  return `v0=${hmac}`;
}

export function signedHeaders(
  secret: string,
  rawBody: string,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    'X-Slack-Request-Timestamp': String(timestamp),
    'X-Slack-Signature': slackSignature(secret, timestamp, rawBody),
  };
}

/** POSTs `rawBody` signed with `secret` (or `opts.secret`). */
export async function postSigned(
  url: string,
  secret: string,
  rawBody: string,
  contentType: string,
  opts: SignOptions = {},
): Promise<SignedResponse> {
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': contentType,
      ...signedHeaders(opts.secret ?? secret, rawBody, ts),
      ...opts.headers,
    },
    body: rawBody,
  });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

export interface SlashCommandFields {
  text: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  channel_name?: string;
  team_id?: string;
  team_domain?: string;
  command?: string;
  response_url?: string;
  trigger_id?: string;
  api_app_id?: string;
  token?: string;
}

let triggerSeq = 0;

/** A Slack-like trigger id (unique per call). */
export function newTriggerId(): string {
  triggerSeq += 1;
  return `${Date.now()}.${triggerSeq}.${Math.random().toString(16).slice(2, 12)}`;
}

/** The form body of a slash command, with Slack's fields in Slack's order. */
export function slashCommandBody(f: SlashCommandFields): string {
  const fields: Record<string, string> = {
    token: f.token ?? 'verification-token-unused',
    team_id: f.team_id ?? 'T_TEST',
    team_domain: f.team_domain ?? 'test-workspace',
    channel_id: f.channel_id ?? 'C_GENERAL',
    channel_name: f.channel_name ?? 'general',
    user_id: f.user_id ?? 'U_ALICE',
    user_name: f.user_name ?? 'alice',
    command: f.command ?? '/incident',
    text: f.text,
    api_app_id: f.api_app_id ?? 'A_TEST',
    is_enterprise_install: 'false',
    response_url: f.response_url ?? 'https://hooks.slack.com/commands/T_TEST/1/xyz',
    trigger_id: f.trigger_id ?? newTriggerId(),
  };
  return new URLSearchParams(fields).toString();
}

export function postSlashCommand(
  url: string,
  secret: string,
  fields: SlashCommandFields,
  opts?: SignOptions,
): Promise<SignedResponse> {
  return postSigned(
    url,
    secret,
    slashCommandBody(fields),
    'application/x-www-form-urlencoded',
    opts,
  );
}

export interface EventOptions extends SignOptions {
  eventId?: string;
  eventTime?: number;
  team?: string;
  apiAppId?: string;
  /** Sets X-Slack-Retry-Num (and X-Slack-Retry-Reason, default http_timeout). */
  retryNum?: number;
  retryReason?: string;
}

let eventSeq = 0;

/** The JSON body of an Events API `event_callback`. */
export function eventCallbackBody(
  event: Record<string, unknown>,
  opts: EventOptions = {},
): Record<string, unknown> {
  eventSeq += 1;
  const team = opts.team ?? 'T_TEST';
  const eventTime = opts.eventTime ?? Math.floor(Date.now() / 1000);
  return {
    token: 'verification-token-unused',
    team_id: team,
    api_app_id: opts.apiAppId ?? 'A_TEST',
    event: { event_ts: `${eventTime}.000100`, ...event },
    type: 'event_callback',
    event_id: opts.eventId ?? `Ev${Date.now().toString(36).toUpperCase()}${eventSeq}`,
    event_time: eventTime,
    authorizations: [
      {
        enterprise_id: null,
        team_id: team,
        user_id: 'U_BOT',
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${Buffer.from(String(eventSeq)).toString('base64')}`,
  };
}

export function postEvent(
  url: string,
  secret: string,
  event: Record<string, unknown>,
  opts: EventOptions = {},
): Promise<SignedResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.retryNum !== undefined) {
    headers['X-Slack-Retry-Num'] = String(opts.retryNum);
    headers['X-Slack-Retry-Reason'] = opts.retryReason ?? 'http_timeout';
  }
  return postSigned(
    url,
    secret,
    JSON.stringify(eventCallbackBody(event, opts)),
    'application/json',
    { ...opts, headers },
  );
}

/** Interactivity (block_actions, view_submission …): form body `payload=<json>`. */
export function postInteraction(
  url: string,
  secret: string,
  payload: Record<string, unknown>,
  opts?: SignOptions,
): Promise<SignedResponse> {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return postSigned(url, secret, body, 'application/x-www-form-urlencoded', opts);
}

/** The interactivity payload of a message shortcut (`message_action`), as Slack sends it. */
export function messageShortcutPayload(f: {
  callbackId: string;
  channel: { id: string; name: string };
  message: { ts: string; text: string; user: string; thread_ts?: string };
  user: { id: string; name: string };
  responseUrl: string;
  triggerId?: string;
  team?: string;
}): Record<string, unknown> {
  const team = f.team ?? 'T_TEST';
  return {
    type: 'message_action',
    token: 'verification-token-unused',
    action_ts: `${Math.floor(Date.now() / 1000)}.000300`,
    team: { id: team, domain: 'test-workspace' },
    user: { id: f.user.id, name: f.user.name, username: f.user.name, team_id: team },
    channel: f.channel,
    is_enterprise_install: false,
    enterprise: null,
    callback_id: f.callbackId,
    trigger_id: f.triggerId ?? newTriggerId(),
    response_url: f.responseUrl,
    message_ts: f.message.ts,
    message: { type: 'message', ...f.message },
  };
}
