/**
 * Replies as outbox effects: the answers to commands, buttons and modals (the in-channel line and
 * the ephemeral answer), capture's thread confirmations and its ephemeral notices.
 *
 * Owing: the code handling a stored request calls `oweEffects`; the effects are collected on the
 * request (`owe`, src/app/requestContext.ts) and written by the request path in the same atomic
 * write that marks the inbox item done (`store.completeInbox(ids, effects)`), only if it was
 * still pending. So a request processed twice (a crash after its completion, two replicas after
 * a lease expiry) owes its replies once, and nothing is posted before the record is durable.
 * Outside a stored request the effects are added to the outbox at once (`store.addEffects`).
 * Keys derive from the inbox key: `reply:<key>`, `ephemeral:<key>`, `thread:<key>`.
 *
 * Delivering (`replySubscriber`, handlers run by the effect dispatcher, retried with backoff):
 * - `slack.reply`: the in-channel line (chat.postMessage). Then the ephemeral answer as a
 *   follow-up effect, so a failed ephemeral never re-posts the line. A channel the bot cannot post
 *   in (not_in_channel, channel_not_found …) ends the line (dead) and the ephemeral says so.
 * - `slack.ephemeral`: through the response_url while the request is younger than 29 minutes
 *   (from the stored receivedAt; Slack takes it for 30), else chat.postEphemeral; a DM when there
 *   is no channel, or when the user cannot be reached in it.
 * - `slack.thread_reply`: a reply in a message's thread (chat.postMessage with thread_ts).
 * - Failures: 429 → retried after Retry-After; network errors, 5xx and Slack's transient errors
 *   → retried with backoff; other 4xx / platform errors → dead, the reason kept.
 * - Never twice in a channel: lines and thread replies carry message metadata
 *   (`event_type: incident_bot_effect`, `event_payload: { key }`). A delivery after a first
 *   attempt (the process may have died after posting and before completing) first looks for a
 *   message with that key in conversations.history / conversations.replies since the line was
 *   owed; if one is there it completes without posting. When Slack cannot be asked (a missing
 *   scope), it posts: at least once rather than never.
 *
 * Scopes: chat:write; channels:history / groups:history for the redelivery check.
 */
import { randomUUID } from 'node:crypto';
import { webApi, type types as SlackTypes } from '@slack/bolt';
import { DateTime } from 'luxon';
import {
  PermanentEffectError,
  RetryableEffectError,
  type EffectHandler,
  type EffectOutcome,
  type Subscriber,
} from '../app/effects';
import type { SubscriberRegistry } from '../app/outbox';
import { currentRequest, owe } from '../app/requestContext';
import { toBoltLogger, type Logger } from '../logger';
import type { IncidentStore, NewEffect, StoredEffect } from '../store/store';
import type { Reply } from './ports';
import { rateLimitedFor } from './statusCard';
import { describeSlackError, slackErrorCode } from './webOps';

export const REPLY = 'slack.reply';
export const EPHEMERAL = 'slack.ephemeral';
export const THREAD_REPLY = 'slack.thread_reply';
/** The `event_type` of the message metadata that marks the bot's keyed posts. */
export const EFFECT_METADATA_TYPE = 'incident_bot_effect';

/** Slack accepts posts to a command's response_url for 30 minutes; a little margin. */
export const RESPONSE_URL_TTL_MS = 29 * 60_000;

/** An ephemeral answer to one user. */
export interface EphemeralPayload {
  /** Where the user typed or clicked; empty: a DM (app home, modals without a channel). */
  channel: string;
  user: string;
  text: string;
  blocks?: unknown[];
  /** The command's / interaction's response_url (used while it is alive). */
  responseUrl?: string;
  /** Buttons on an ephemeral answer: the answer replaces them. */
  replaceOriginal?: boolean;
  /** When Slack delivered the request (ISO, UTC): the response_url lives 30 minutes from it. */
  receivedAt?: string;
}

/** The in-channel line of a reply, and the ephemeral answer that follows it. */
export interface ChannelLinePayload {
  channel: string;
  text: string;
  /** When the line was owed (ISO): where the redelivery check starts looking. */
  owedAt: string;
  /** True when the channel is not the one the request came from (the note names it). */
  elsewhere?: boolean;
  /** The ephemeral answer, owed once the line is posted (or could not be). */
  then?: { key: string; payload: EphemeralPayload };
}

export interface ThreadReplyPayload {
  channel: string;
  threadTs: string;
  text: string;
  /** When it was owed (ISO): where the redelivery check starts looking. */
  owedAt: string;
}

/** What owing needs from the app (SlackDeps fits). */
export interface OweDeps {
  service: { store: IncidentStore };
  effects?: { wake(): void };
  subscribers: SubscriberRegistry;
  logger: Logger;
}

/** The inbox key of the stored request being processed, or a fresh one outside of any. */
export function requestKey(): string {
  return currentRequest()?.key ?? `local:${randomUUID()}`;
}

/**
 * Owes effects: on the current stored request (written with its completion), else added to the
 * outbox now and the dispatcher woken. If the store cannot take them, they are delivered here and
 * now, once, as a best effort (the user must still hear what happened).
 */
export async function oweEffects(deps: OweDeps, effects: NewEffect[]): Promise<void> {
  const left = effects.filter((e) => !owe(e));
  if (left.length === 0) return;
  try {
    await deps.service.store.addEffects(left);
    deps.effects?.wake();
  } catch (err) {
    deps.logger.warn({ err, count: left.length }, 'could not store replies; delivering them now');
    await deliverDirectly(deps.subscribers, left, deps.logger);
  }
}

/**
 * Delivers effects without the store (it is down): each handler once, follow-up effects too;
 * failures are logged, nothing is retried. Used only when the outbox cannot be written.
 */
export async function deliverDirectly(
  registry: Pick<SubscriberRegistry, 'handler'>,
  effects: NewEffect[],
  logger: Pick<Logger, 'warn'>,
  clock: () => DateTime = () => DateTime.utc(),
): Promise<void> {
  const queue = [...effects];
  for (let n = 0; queue.length > 0 && n < 20; n++) {
    const e = queue.shift() as NewEffect;
    const handler = registry.handler(e.kind);
    if (!handler) continue;
    const stored: StoredEffect = { ...e, id: `direct:${e.key}`, state: 'pending', attempts: 1 };
    try {
      const outcome = await handler(stored, { now: clock().toUTC(), attempt: 1 });
      queue.push(...(outcome?.effects ?? []));
    } catch (err) {
      const follow = err instanceof PermanentEffectError ? err.outcome?.effects : undefined;
      queue.push(...(follow ?? []));
      logger.warn({ err, effect: e.key }, 'a reply could not be delivered directly');
    }
  }
}

export interface ReplyTarget {
  /** The channel the request came from ('' for none: a DM then). */
  channel: string;
  user: string;
  responseUrl?: string;
  replaceOriginal?: boolean;
  /** The incident the reply is about: its replies are delivered in order. */
  incidentId?: string;
}

/** The effects that deliver a command's / button's / modal's reply. */
export function replyEffects(
  reply: Reply,
  target: ReplyTarget,
  now: DateTime,
  base = requestKey(),
): NewEffect[] {
  const receivedAt = (currentRequest()?.receivedAt ?? now).toUTC().toISO() as string;
  const ephemeral: EphemeralPayload = {
    channel: target.channel,
    user: target.user,
    text: reply.ephemeral ?? '',
    ...(reply.blocks ? { blocks: reply.blocks } : {}),
    ...(target.responseUrl ? { responseUrl: target.responseUrl } : {}),
    ...(target.replaceOriginal ? { replaceOriginal: true } : {}),
    receivedAt,
  };
  const hasEphemeral = Boolean(reply.ephemeral || reply.blocks);
  const lineChannel = reply.channel ?? target.channel;
  const inc = target.incidentId ? { incidentId: target.incidentId } : {};
  if (reply.inChannel && lineChannel) {
    const line: ChannelLinePayload = {
      channel: lineChannel,
      text: reply.inChannel,
      owedAt: now.toUTC().toISO() as string,
      ...(lineChannel !== target.channel ? { elsewhere: true } : {}),
      then: { key: `ephemeral:${base}`, payload: ephemeral },
    };
    return [{ key: `reply:${base}`, kind: REPLY, ...inc, payload: line }];
  }
  if (!hasEphemeral) return [];
  return [{ key: `ephemeral:${base}`, kind: EPHEMERAL, ...inc, payload: ephemeral }];
}

/** An ephemeral notice to one user in a channel (no response_url). */
export function ephemeralEffect(
  channel: string,
  user: string,
  text: string,
  base = requestKey(),
): NewEffect {
  const payload: EphemeralPayload = { channel, user, text };
  return { key: `ephemeral:${base}`, kind: EPHEMERAL, payload };
}

/** A reply in a message's thread (capture's confirmations). */
export function threadReplyEffect(
  r: { channel: string; threadTs: string; text: string; incidentId?: string },
  now: DateTime,
  base = requestKey(),
): NewEffect {
  const payload: ThreadReplyPayload = {
    channel: r.channel,
    threadTs: r.threadTs,
    text: r.text,
    owedAt: now.toUTC().toISO() as string,
  };
  return {
    key: `thread:${base}`,
    kind: THREAD_REPLY,
    ...(r.incidentId ? { incidentId: r.incidentId } : {}),
    payload,
  };
}

// ---- delivery --------------------------------------------------------------------------------

export interface ReplySubscriberDeps {
  /** The bot token and Web API base (SLACK_API_URL). */
  config: { botToken: string; slackApiUrl?: string };
  logger: Logger;
  /** Replaces the Web client (tests); it must reject rate-limited calls (not wait). */
  client?: webApi.WebClient;
  /** Replaces fetch for response_url posts (tests). */
  fetch?: typeof fetch;
}

/** Slack errors worth another try (a moment later). */
const TRANSIENT = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);
/** The bot cannot post there: the user is told in the ephemeral answer. */
const CANNOT_POST = new Set([
  'not_in_channel',
  'channel_not_found',
  'is_archived',
  'restricted_action',
]);
/** chat.postEphemeral cannot reach the user there: a DM instead. */
const CANNOT_REACH = new Set([
  'user_not_in_channel',
  'not_in_channel',
  'channel_not_found',
  'is_archived',
]);

/** The subscriber that delivers replies (register it with the app's SubscriberRegistry). */
export function replySubscriber(deps: ReplySubscriberDeps): Subscriber {
  // Its own client: a 429 surfaces at once (the dispatcher waits Retry-After, not the handler)
  // and network errors are retried by the outbox, not inside the call.
  const client =
    deps.client ??
    new webApi.WebClient(deps.config.botToken, {
      ...(deps.config.slackApiUrl ? { slackApiUrl: deps.config.slackApiUrl } : {}),
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      timeout: 20_000,
      logger: toBoltLogger(deps.logger, 'slack-replies'),
    });
  const post = deps.fetch ?? fetch;
  const log = deps.logger.child({ component: 'replies' });

  const metadata = (key: string): SlackTypes.MessageMetadata => ({
    event_type: EFFECT_METADATA_TYPE,
    event_payload: { key },
  });

  /** Whether a message carrying `key` is already in the channel (or thread) since `owedAt`. */
  async function alreadyPosted(
    key: string,
    where: { channel: string; threadTs?: string; owedAt: string },
  ): Promise<boolean> {
    const since = DateTime.fromISO(where.owedAt).minus({ minutes: 1 });
    const oldest = since.isValid ? (since.toMillis() / 1000).toFixed(6) : undefined;
    const args = {
      channel: where.channel,
      include_all_metadata: true,
      limit: 100,
      ...(oldest ? { oldest } : {}),
    };
    try {
      let cursor: string | undefined;
      for (let page = 0; page < 5; page++) {
        const res = where.threadTs
          ? await client.conversations.replies({
              ...args,
              ts: where.threadTs,
              ...(cursor ? { cursor } : {}),
            })
          : await client.conversations.history({ ...args, ...(cursor ? { cursor } : {}) });
        const messages = (res.messages ?? []) as { metadata?: SlackTypes.MessageMetadata }[];
        if (
          messages.some(
            (m) =>
              m.metadata?.event_type === EFFECT_METADATA_TYPE &&
              m.metadata.event_payload?.key === key,
          )
        ) {
          return true;
        }
        cursor = res.response_metadata?.next_cursor || undefined;
        if (!cursor) return false;
      }
      return false;
    } catch (err) {
      const retryAfter = rateLimitedFor(err);
      if (retryAfter !== undefined) throw retryLater(err, retryAfter);
      log.warn(
        { err, effect: key, channel: where.channel },
        'could not look for an earlier post of this reply; posting it (at least once)',
      );
      return false;
    }
  }

  const line: EffectHandler = async (effect, ctx) => {
    const p = effect.payload as ChannelLinePayload;
    const then = (note = ''): EffectOutcome => {
      if (!p.then) return {};
      const text = `${p.then.payload.text}${note}`.trim();
      if (!text && !p.then.payload.blocks) return {};
      return {
        effects: [
          {
            key: p.then.key,
            kind: EPHEMERAL,
            ...(effect.incidentId ? { incidentId: effect.incidentId } : {}),
            payload: { ...p.then.payload, text },
          },
        ],
      };
    };
    if (ctx.attempt > 1 && (await alreadyPosted(effect.key, p))) return then();
    try {
      await client.chat.postMessage({
        channel: p.channel,
        text: p.text,
        metadata: metadata(effect.key),
      });
    } catch (err) {
      throw failure(err, (code) => then(lineNote(code, err, p)));
    }
    return then();
  };

  const thread: EffectHandler = async (effect, ctx) => {
    const p = effect.payload as ThreadReplyPayload;
    if (ctx.attempt > 1 && (await alreadyPosted(effect.key, p))) return;
    try {
      await client.chat.postMessage({
        channel: p.channel,
        thread_ts: p.threadTs,
        text: p.text,
        metadata: metadata(effect.key),
      });
    } catch (err) {
      throw failure(err);
    }
  };

  const ephemeral: EffectHandler = async (effect, ctx) => {
    const p = effect.payload as EphemeralPayload;
    if (!p.text && !p.blocks) return;
    if (p.responseUrl && responseUrlAlive(p, ctx.now)) {
      if (await viaResponseUrl(p)) return;
    }
    // chat.postEphemeral takes Block Kit; the modules build it (ports.ts types it unknown[]).
    const blocks = p.blocks as (SlackTypes.KnownBlock | SlackTypes.Block)[] | undefined;
    const content = { text: p.text, ...(blocks ? { blocks } : {}) };
    if (p.channel) {
      try {
        await client.chat.postEphemeral({ channel: p.channel, user: p.user, ...content });
        return;
      } catch (err) {
        const code = slackErrorCode(err);
        if (!code || !CANNOT_REACH.has(code)) throw failure(err);
        log.info(
          { channel: p.channel, user: p.user, code },
          'ephemeral not possible; a DM instead',
        );
      }
    }
    try {
      // A user id as channel: the app's DM with that user.
      await client.chat.postMessage({ channel: p.user, ...content });
    } catch (err) {
      throw failure(err);
    }
  };

  /** true when the response_url took it; false to fall back to chat.postEphemeral. */
  async function viaResponseUrl(p: EphemeralPayload): Promise<boolean> {
    let res: Response;
    try {
      res = await post(p.responseUrl as string, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          response_type: 'ephemeral',
          replace_original: p.replaceOriginal === true,
          text: p.text,
          ...(p.blocks ? { blocks: p.blocks } : {}),
        }),
        signal: AbortSignal.timeout(20_000),
      });
    } catch (err) {
      throw new RetryableEffectError(
        `response_url could not be reached: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (res.ok) return true;
    if (res.status === 429 || res.status >= 500) {
      const sec = Number(res.headers.get('retry-after'));
      throw new RetryableEffectError(
        `response_url answered HTTP ${res.status}`,
        res.status === 429 && sec > 0 ? { afterMs: sec * 1000 } : undefined,
      );
    }
    // Expired, used up or refused: the answer goes another way.
    log.warn({ status: res.status }, 'response_url refused the answer; using chat.postEphemeral');
    return false;
  }

  return {
    name: 'replies',
    handlers: { [REPLY]: line, [EPHEMERAL]: ephemeral, [THREAD_REPLY]: thread },
  };
}

function responseUrlAlive(p: EphemeralPayload, now: DateTime): boolean {
  if (!p.receivedAt) return true;
  const received = DateTime.fromISO(p.receivedAt);
  if (!received.isValid) return false;
  return now.toMillis() - received.toMillis() < RESPONSE_URL_TTL_MS;
}

/** The note the ephemeral answer gets when the line could not be posted. */
function lineNote(code: string | undefined, err: unknown, p: ChannelLinePayload): string {
  if (code && CANNOT_POST.has(code)) {
    return p.elsewhere
      ? `\n_(Recorded, but I can't post in <#${p.channel}> — invite me with \`/invite\` to show updates there.)_`
      : `\n_(Recorded, but I can't post in this channel — invite me with \`/invite\` to show updates here.)_`;
  }
  return `\n_(Recorded, but the line for the channel was not posted: ${describeSlackError(err)}.)_`;
}

function retryLater(err: unknown, seconds: number): RetryableEffectError {
  return new RetryableEffectError(`${describeSlackError(err)} (retry after ${seconds} s)`, {
    afterMs: seconds * 1000,
  });
}

/**
 * The dispatcher's error for a failed Web API call: retried (429 after Retry-After; network,
 * 5xx and transient Slack errors with backoff), or dead (other 4xx / platform errors), with the
 * outcome `onPermanent` gives (e.g. the ephemeral answer with a note).
 */
function failure(err: unknown, onPermanent?: (code: string | undefined) => EffectOutcome): Error {
  const retryAfter = rateLimitedFor(err);
  if (retryAfter !== undefined) return retryLater(err, retryAfter);
  const e = err as { code?: string; statusCode?: number } | null;
  const code = slackErrorCode(err);
  const permanent =
    (code !== undefined && !TRANSIENT.has(code)) ||
    (e?.code === webApi.ErrorCode.HTTPError &&
      typeof e.statusCode === 'number' &&
      e.statusCode >= 400 &&
      e.statusCode < 500);
  if (permanent) return new PermanentEffectError(describeSlackError(err), onPermanent?.(code));
  return new RetryableEffectError(describeSlackError(err));
}
