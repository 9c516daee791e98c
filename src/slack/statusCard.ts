/**
 * The pinned status card in each incident channel: title, INC-n, severity, status, commander,
 * duration so far, open hypotheses and the latest timeline entries. An outbox subscriber
 * (src/app/effects.ts):
 *
 * - `effectsFor`: a commit whose events change what the card shows (see `changesCard`) owes one
 *   `card.refresh` effect keyed `card:<incident id>` with `spacingMs` = STATUS_CARD_INTERVAL_MS
 *   (3 s). The store coalesces pending effects of one key and spaces deliveries of a key by
 *   `spacingMs` (NewEffect in src/store/store.ts): at most one `chat.update` per incident per
 *   interval whatever the rate of commits, and the update shows the state when it is delivered.
 *   Plain chat capture changes nothing on the card and owes nothing (the message path is hot).
 * - `card.refresh`: builds the card from the incident as recorded at delivery and `chat.update`s
 *   it. A Slack rate limit is retried no earlier than Retry-After; a deleted card or channel
 *   (message_not_found, channel_not_found) is permanent: the effect is dead, the reason logged.
 * - `card.post`: posts and pins the card (once per incident: keyed `card-post:<incident id>`)
 *   and records `status_card.posted` { channel, ts }, so every replica and every restart knows
 *   which message to update. Cards posted before that event existed are found once in the
 *   channel's pins (`pins.list`, the card's first block has block_id `incident_status:<id>`) and
 *   the ts found is recorded the same way.
 *
 * Web API methods: chat.postMessage + pins.add (via SlackOps), chat.update, pins.list (scopes
 * chat:write, pins:write, pins:read). The WebClient given should reject rate-limited calls
 * (`rejectRateLimitedCalls`) so the dispatcher, not the client, waits for Retry-After.
 */
import type { DateTime } from 'luxon';
import type { types, webApi } from '@slack/bolt';
import type { Incident } from '../app/service';
import {
  PermanentEffectError,
  RetryableEffectError,
  type EffectContext,
  type EffectOutcome,
  type Subscriber,
} from '../app/effects';
import { chainable, shortReason, type StepOutcome } from '../app/effectChain';
import {
  formatIncidentNumber,
  type EventType,
  type NewEvent,
  type StoredEvent,
} from '../core/model';
import type { NewEffect, StoredEffect } from '../store/store';
import { formatClock } from '../core/time';
import { shortDuration } from '../core/duration';
import {
  andMore,
  context,
  escClip,
  fields,
  fitLines,
  header,
  LIMITS,
  messageText,
  oneLine,
  section,
} from './blockKit';
import type { SlackOps } from './ports';
import { describeSlackError } from './webOps';

export const DEFAULT_STATUS_CARD_INTERVAL_MS = 3000;
export const CARD_REFRESH = 'card.refresh';
export const CARD_POST = 'card.post';
/** How many timeline entries / open hypotheses the card shows. */
const TIMELINE_ENTRIES = 5;
const HYPOTHESES_SHOWN = 5;
/** Hypothesis ids named in the fallback text. */
const FALLBACK_IDS = 20;

export const cardBlockId = (incidentId: string): string => `incident_status:${incidentId}`;

/** The refresh owed after a change (coalesced per incident, spaced by `spacingMs`). */
export function cardRefreshEffect(incidentId: string, spacingMs: number): NewEffect {
  return {
    key: `card:${incidentId}`,
    kind: CARD_REFRESH,
    incidentId,
    payload: {},
    ...(spacingMs > 0 ? { spacingMs } : {}),
  };
}

/** Posting and pinning the card: owed once per incident (and channel). */
export function cardPostEffect(incidentId: string, channel: string): NewEffect {
  return { key: `card-post:${incidentId}`, kind: CARD_POST, incidentId, payload: { channel } };
}

/**
 * Events that never change the card: chat capture (a message reaches the card only when it is
 * pinned or becomes a hypothesis, which are events of their own), and bookkeeping the card does
 * not show. Any other event type refreshes it (a new type shows up on the card unless listed).
 */
const NOT_ON_CARD: ReadonlySet<EventType> = new Set<EventType>([
  'chat.message',
  'status_card.posted',
  'incident.channel_set',
  'incident.kind_set',
  'postmortem.rendered',
  'postmortem.publish_requested',
  'postmortem.published',
  'reminder.sent',
  'reminder.snoozed',
  'reminder.dismissed',
  'channel.archived',
]);

/** Whether events just recorded change what the card of `incident` (after them) shows. */
export function changesCard(incident: Incident, appended: readonly StoredEvent[]): boolean {
  return appended.some((e) => {
    if (NOT_ON_CARD.has(e.type)) return false;
    switch (e.type) {
      // An edit or delete shows only when the message is on the timeline (pinned) or is the
      // source of a hypothesis; an unpin only when it was pinned.
      case 'chat.message_edited':
      case 'chat.message_deleted':
        return (
          incident.state.messages.some(
            (m) => m.ts === e.ts && m.channel === e.channel && m.pinned,
          ) ||
          incident.state.hypotheses.some((h) => h.ref?.ts === e.ts && h.ref.channel === e.channel)
        );
      case 'message.unpinned':
        return incident.events.some(
          (p) => p.type === 'message.pinned' && p.ts === e.ts && p.channel === e.channel,
        );
      default:
        return true;
    }
  });
}

/** What the card subscriber needs (`SlackDeps` fits, with a rate-limit-rejecting client). */
export interface StatusCardDeps {
  /** chat.update and pins.list; should reject rate-limited calls (see the header). */
  client: webApi.WebClient;
  slack: Pick<SlackOps, 'post' | 'pin'>;
  logger: {
    warn(obj: unknown, msg?: string): void;
    debug(obj: unknown, msg?: string): void;
  };
  config?: { statusCardIntervalMs?: number };
  /** Told after each card update (the App Home republishes the homes that look). */
  onRefresh?: (incidentId: string) => void;
}

const SYSTEM = { id: 'system', name: 'incident-bot' };

/** The keyed outcome event naming the card's message. */
function postedEvent(now: DateTime, channel: string, ts: string, incidentId: string): NewEvent {
  return {
    type: 'status_card.posted',
    channel,
    ts,
    occurredAt: now,
    recordedAt: now,
    actor: SYSTEM,
    source: 'system',
    key: `status_card:${incidentId}:${channel}:${ts}`,
  };
}

export function statusCardSubscriber(deps: StatusCardDeps): Subscriber {
  const spacingMs = deps.config?.statusCardIntervalMs ?? DEFAULT_STATUS_CARD_INTERVAL_MS;

  const channelOf = (incident: Incident): string | undefined =>
    incident.state.channel ?? incident.record.channel;

  /** The card's ts in `channel`: recorded, else (a card older than the event) from the pins. */
  async function cardTs(
    incident: Incident,
    channel: string,
  ): Promise<{ ts: string; recovered: boolean } | undefined> {
    const known = incident.state.statusCard;
    if (known && known.channel === channel) return { ts: known.ts, recovered: false };
    const ts = await pinnedCard(incident.record.id, channel);
    return ts ? { ts, recovered: true } : undefined;
  }

  /** Finds the bot's pinned card in the channel. */
  async function pinnedCard(incidentId: string, channel: string): Promise<string | undefined> {
    let res: Awaited<ReturnType<webApi.WebClient['pins']['list']>>;
    try {
      res = await deps.client.pins.list({ channel });
    } catch (err) {
      throw slackFailure(err);
    }
    const blockId = cardBlockId(incidentId);
    for (const item of res.items ?? []) {
      const msg = item.message;
      if (msg?.ts && msg.blocks?.some((b) => b.block_id === blockId)) return msg.ts;
    }
    return undefined;
  }

  async function refresh(_effect: StoredEffect, ctx: EffectContext): Promise<EffectOutcome> {
    const incident = ctx.incident;
    if (!incident) throw new PermanentEffectError('the incident is not recorded');
    const id = incident.record.id;
    const channel = channelOf(incident);
    if (!channel) return {};
    const found = await cardTs(incident, channel);
    if (!found) {
      deps.logger.debug({ incidentId: id, channel }, 'no status card to update');
      return {};
    }
    const card = buildStatusCard(incident, ctx.now);
    try {
      await deps.client.chat.update({
        channel,
        ts: found.ts,
        text: card.text,
        blocks: card.blocks,
      });
    } catch (err) {
      const failure = slackFailure(err);
      if (failure instanceof PermanentEffectError) {
        deps.logger.warn(
          { incidentId: id, channel, reason: failure.message },
          'status card not updated (gone); no further updates of this card',
        );
      } else if (failure.afterMs !== undefined) {
        deps.logger.warn(
          { incidentId: id, retryAfterMs: failure.afterMs },
          'status card update rate-limited; retrying after Retry-After',
        );
      }
      throw failure;
    }
    deps.onRefresh?.(id);
    return found.recovered ? { events: [postedEvent(ctx.now, channel, found.ts, id)] } : {};
  }

  async function post(effect: StoredEffect, ctx: EffectContext): Promise<StepOutcome> {
    const incident = ctx.incident;
    if (!incident) throw new PermanentEffectError('the incident is not recorded');
    const id = incident.record.id;
    const channel = (effect.payload as { channel?: string }).channel ?? channelOf(incident);
    if (!channel) throw new PermanentEffectError('the incident has no channel');
    const known = incident.state.statusCard;
    if (known && known.channel === channel) return {}; // posted already
    // Delivered again (a crash after the post?): a card pinned then is the one.
    if (ctx.attempt > 1) {
      const ts = await pinnedCard(id, channel);
      if (ts) return { events: [postedEvent(ctx.now, channel, ts, id)] };
    }
    const card = buildStatusCard(incident, ctx.now);
    let ts: string;
    try {
      ts = (await deps.slack.post(channel, card.text, card.blocks)).ts;
    } catch (err) {
      throw slackFailure(err);
    }
    const events = [postedEvent(ctx.now, channel, ts, id)];
    try {
      await deps.slack.pin(channel, ts);
    } catch (err) {
      deps.logger.warn({ err, incidentId: id, channel }, 'could not pin the status card');
      return {
        events,
        failures: [`pin the status card (${shortReason(describeSlackError(err))})`],
      };
    }
    deps.onRefresh?.(id);
    return { events };
  }

  return {
    name: 'status-card',
    effectsFor(incident, appended) {
      return changesCard(incident, appended)
        ? [cardRefreshEffect(incident.record.id, spacingMs)]
        : [];
    },
    handlers: {
      [CARD_REFRESH]: refresh,
      [CARD_POST]: chainable(
        post,
        (_e, reason) => `post and pin the status card (${shortReason(reason)})`,
      ),
    },
  };
}

/** Slack error answers worth trying again (besides rate limits). */
const TRANSIENT = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/**
 * A Slack failure as the dispatcher's error: a rate limit is retried no earlier than its
 * Retry-After; network errors, HTTP 5xx and Slack's transient errors are retried with backoff;
 * any other Slack answer (message_not_found, channel_not_found, is_archived …: the card or its
 * channel is gone) is permanent.
 */
export function slackFailure(err: unknown): RetryableEffectError | PermanentEffectError {
  const retryAfterSec = rateLimitedFor(err);
  if (retryAfterSec !== undefined) {
    return new RetryableEffectError(
      `Slack rate-limited the request (Retry-After ${retryAfterSec} s)`,
      { afterMs: retryAfterSec * 1000 },
    );
  }
  const code = platformError(err);
  if (code && !TRANSIENT.has(code)) return new PermanentEffectError(`Slack answered ${code}`);
  return new RetryableEffectError(describeSlackError(err));
}

/** Retry-After seconds when the error is a Slack rate limit, else undefined. */
export function rateLimitedFor(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as {
    code?: string;
    retryAfter?: number;
    statusCode?: number;
    headers?: Record<string, string>;
    data?: { error?: string; response_metadata?: { retryAfter?: number } };
  };
  // WebClient with rejectRateLimitedCalls: WebAPIRateLimitedError.
  if (e.code === 'slack_webapi_rate_limited_error') return positive(e.retryAfter) ?? 1;
  // A 429 without a usable Retry-After header surfaces as an HTTP error.
  if (e.code === 'slack_webapi_http_error' && e.statusCode === 429) {
    return positive(Number(e.headers?.['retry-after'])) ?? 1;
  }
  // `{ ok: false, error: 'ratelimited' }` in a 200 response.
  if (e.code === 'slack_webapi_platform_error' && e.data?.error === 'ratelimited') {
    return positive(e.data.response_metadata?.retryAfter) ?? 1;
  }
  return undefined;
}

function positive(n: number | undefined): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

function platformError(err: unknown): string | undefined {
  const e = err as { code?: string; data?: { error?: string } } | null;
  return e?.code === 'slack_webapi_platform_error' ? e.data?.error : undefined;
}

// ---- the card ----------------------------------------------------------------------------------

/** One list line's user text on the card, after escaping (the record keeps it whole). */
const LINE_CHARS = 300;

function titleCase(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * The card for an incident at `now`: Block Kit plus the plain-text fallback. Every text is
 * within Block Kit's limits after escaping (src/slack/blockKit.ts): the header within 150
 * characters, each field within 2,000, each list section within 3,000 with "… and N more" for
 * what does not fit, and the fallback within 4,000.
 */
export function buildStatusCard(
  incident: Incident,
  now: DateTime,
): { text: string; blocks: types.KnownBlock[] } {
  const st = incident.state;
  const number = formatIncidentNumber(incident.record.number);
  const title = st.title || incident.record.title;
  const zone = st.zone || incident.record.zone || 'UTC';
  const severity = st.severity.toUpperCase();
  const status = titleCase(st.status);
  const commander = st.roles.commander?.name;
  const start = st.detectedAt ?? st.openedAt;
  const end = st.resolvedAt ?? now;
  const duration = start ? shortDuration(end.toMillis() - start.toMillis()) : '<1m';
  const durationText = st.resolvedAt ? `${duration} (resolved)` : `${duration} so far`;

  const open = st.hypotheses.filter((h) => h.outcome === 'open');
  const hypLines = open
    .slice(0, HYPOTHESES_SHOWN)
    .map((h) => `• *${h.id}* ${escClip(oneLine(h.text), LINE_CHARS)}`);
  const latest = st.timeline
    .slice(-TIMELINE_ENTRIES)
    .map((t) => `\`${formatClock(t.at, zone)}\` — ${escClip(oneLine(t.text), LINE_CHARS)}`);
  const hypHead = '*Open hypotheses*\n';
  const latestHead = '*Latest on the timeline*\n';

  const blocks: types.KnownBlock[] = [
    header(`${number} · ${title}`, cardBlockId(incident.record.id)),
    fields([
      `*Severity*\n${severity}`,
      `*Status*\n${status}`,
      `*Commander*\n${commander ? escClip(oneLine(commander), 200) : '_unassigned_'}`,
      `*Duration*\n${durationText}`,
    ]),
    section(
      hypHead +
        (hypLines.length
          ? fitLines(hypLines, LIMITS.sectionText - hypHead.length, { total: open.length })
          : '_none_'),
    ),
    section(
      latestHead +
        (latest.length
          ? fitLines(latest, LIMITS.sectionText - latestHead.length)
          : '_nothing yet_'),
    ),
    context([
      `Updated ${formatClock(now, zone)} · react :mag: to raise a hypothesis, :pushpin: to add a message to the timeline · \`/incident help\``,
    ]),
  ];
  // The fallback is mrkdwn too: user text is escaped so a title cannot ping <!channel>.
  const ids = open.slice(0, FALLBACK_IDS).map((h) => h.id);
  if (open.length > ids.length) ids.push(andMore(open.length - ids.length));
  const text = messageText(
    `${number} ${escClip(oneLine(title), 300)} — ${severity}, ${st.status}, ${durationText}` +
      (commander ? `, commander ${escClip(oneLine(commander), 200)}` : '') +
      (ids.length ? `; open hypotheses: ${ids.join(', ')}` : ''),
  );
  return { text, blocks };
}
