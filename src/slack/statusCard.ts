/**
 * The pinned status card in each incident channel: title, INC-n, severity, status, commander,
 * duration so far, open hypotheses and the latest timeline entries.
 *
 * `create` posts and pins it; `refresh` keeps it current, coalesced: at most one `chat.update`
 * per incident per interval (default STATUS_CARD_INTERVAL_MS, 3 s) whatever the message rate —
 * the first refresh after a quiet spell updates at once (leading), later ones within the interval
 * are folded into one trailing update that shows the state at the time it runs. Updates for one
 * incident never overlap. A Slack rate limit (HTTP 429) is respected: nothing is sent before
 * Retry-After has passed, then one update with the latest state goes out. Errors are logged,
 * never thrown.
 *
 * The card's ts is kept in memory; after a restart it is recovered once per incident from the
 * channel's pins (`pins.list`): the card's first block has block_id `incident_status:<id>`.
 * Web API methods used: chat.postMessage + pins.add (via SlackOps), chat.update, pins.list
 * (scopes chat:write, pins:write, pins:read).
 */
import type { DateTime } from 'luxon';
import type { types, webApi } from '@slack/bolt';
import type { Incident, IncidentService } from '../app/service';
import { formatIncidentNumber } from '../core/model';
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
import type { SlackOps, StatusCards } from './ports';

export const DEFAULT_STATUS_CARD_INTERVAL_MS = 3000;
/** How many timeline entries / open hypotheses the card shows. */
const TIMELINE_ENTRIES = 5;
const HYPOTHESES_SHOWN = 5;
/** Hypothesis ids named in the fallback text. */
const FALLBACK_IDS = 20;

/** What the cards need from the app's dependencies (`SlackDeps` fits). */
export interface StatusCardDeps {
  service: IncidentService;
  client: webApi.WebClient;
  slack: Pick<SlackOps, 'post' | 'pin'>;
  logger: {
    warn(obj: unknown, msg?: string): void;
    debug(obj: unknown, msg?: string): void;
  };
  config?: { statusCardIntervalMs?: number };
  clock?: () => DateTime;
  /** Background work the app waits for on shutdown / in tests (optional). */
  work?: { track?<T>(p: Promise<T>): Promise<T> };
}

export interface StatusCardsHandle extends StatusCards {
  /** Clears every timer; later refreshes do nothing. */
  stop(): void;
  /** Runs every pending update now (ignoring the interval) and waits for all in flight. */
  flush(): Promise<void>;
  /** The card ts known for an incident (for tests and diagnostics). */
  cardTs(incidentId: string): string | undefined;
}

interface CardState {
  channel?: string;
  ts?: string;
  /** Pins were searched for the card already (after a restart). */
  recovered: boolean;
  /** Date.now() when the last update started (or the card was posted). */
  lastRunAt: number;
  /** A refresh was asked for since the last update started. */
  pending: boolean;
  /** Not before this Date.now() (Slack's Retry-After). */
  notBefore: number;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
}

export const cardBlockId = (incidentId: string): string => `incident_status:${incidentId}`;

export function createStatusCards(
  deps: StatusCardDeps,
  opts: { intervalMs?: number } = {},
): StatusCardsHandle {
  const intervalMs =
    opts.intervalMs ?? deps.config?.statusCardIntervalMs ?? DEFAULT_STATUS_CARD_INTERVAL_MS;
  const cards = new Map<string, CardState>();
  let stopped = false;
  const nowDt = (): DateTime => (deps.clock ? deps.clock() : deps.service.now());

  const stateOf = (id: string): CardState => {
    let s = cards.get(id);
    if (!s) {
      s = { recovered: false, lastRunAt: -Infinity, pending: false, notBefore: 0 };
      cards.set(id, s);
    }
    return s;
  };

  const track = <T>(p: Promise<T>): Promise<T> => (deps.work?.track ? deps.work.track(p) : p);

  function schedule(id: string, s: CardState): void {
    if (stopped || s.timer || s.running || !s.pending) return;
    const due = Math.max(s.lastRunAt + intervalMs, s.notBefore);
    const delay = due - Date.now();
    if (delay <= 0) {
      run(id, s);
      return;
    }
    s.timer = setTimeout(() => {
      s.timer = undefined;
      run(id, s);
    }, delay);
    s.timer.unref?.();
  }

  function run(id: string, s: CardState): Promise<void> {
    s.pending = false;
    s.lastRunAt = Date.now();
    const p = update(id, s)
      .catch((err: unknown) =>
        deps.logger.warn({ err, incidentId: id }, 'status card update failed'),
      )
      .finally(() => {
        s.running = undefined;
        schedule(id, s);
      });
    s.running = p;
    void track(p);
    return p;
  }

  async function update(id: string, s: CardState): Promise<void> {
    const incident = await deps.service.load(id);
    const channel = incident.record.channel ?? incident.state.channel;
    if (!channel) return;
    if (!s.ts || s.channel !== channel) {
      if (s.recovered && s.channel === channel) return;
      s.channel = channel;
      s.recovered = true;
      s.ts = await recoverCardTs(id, channel);
      if (!s.ts) {
        deps.logger.debug({ incidentId: id, channel }, 'no status card to update');
        return;
      }
    }
    const card = buildStatusCard(incident, nowDt());
    // The interval is measured between the chat.update calls themselves.
    s.lastRunAt = Date.now();
    try {
      await deps.client.chat.update({ channel, ts: s.ts, text: card.text, blocks: card.blocks });
    } catch (err) {
      const retryAfterSec = rateLimitedFor(err);
      if (retryAfterSec !== undefined) {
        // Respect Retry-After, then send the latest state once.
        s.notBefore = Date.now() + retryAfterSec * 1000;
        s.pending = true;
        deps.logger.warn(
          { incidentId: id, retryAfterSec },
          'status card update rate-limited; retrying after Retry-After',
        );
        return;
      }
      const code = platformError(err);
      if (code === 'message_not_found' || code === 'channel_not_found') {
        // The card was deleted: forget it (a new one is posted by `create` only).
        s.ts = undefined;
      }
      throw err;
    }
  }

  /** Finds the bot's pinned card in the channel (after a restart). */
  async function recoverCardTs(id: string, channel: string): Promise<string | undefined> {
    try {
      const res = await deps.client.pins.list({ channel });
      const blockId = cardBlockId(id);
      for (const item of res.items ?? []) {
        const msg = item.message;
        if (msg?.ts && msg.blocks?.some((b) => b.block_id === blockId)) return msg.ts;
      }
    } catch (err) {
      deps.logger.warn(
        { err, incidentId: id, channel },
        'could not look up the pinned status card',
      );
    }
    return undefined;
  }

  return {
    async create(incident: Incident): Promise<string | undefined> {
      const id = incident.record.id;
      const channel = incident.record.channel ?? incident.state.channel;
      if (!channel) return undefined;
      const s = stateOf(id);
      // Already posted (a retried command): one card per incident.
      if (s.ts && s.channel === channel) return s.ts;
      const card = buildStatusCard(incident, nowDt());
      let ts: string;
      try {
        ts = (await deps.slack.post(channel, card.text, card.blocks)).ts;
      } catch (err) {
        deps.logger.warn({ err, incidentId: id, channel }, 'could not post the status card');
        return undefined;
      }
      s.channel = channel;
      s.ts = ts;
      s.recovered = true;
      s.lastRunAt = Date.now();
      try {
        await deps.slack.pin(channel, ts);
      } catch (err) {
        deps.logger.warn({ err, incidentId: id, channel }, 'could not pin the status card');
      }
      schedule(id, s);
      return ts;
    },

    refresh(incidentId: string): void {
      if (stopped) return;
      const s = stateOf(incidentId);
      s.pending = true;
      schedule(incidentId, s);
    },

    stop(): void {
      stopped = true;
      for (const s of cards.values()) {
        if (s.timer) clearTimeout(s.timer);
        s.timer = undefined;
      }
    },

    async flush(): Promise<void> {
      await Promise.all([...cards.values()].map((s) => s.running));
      const runs: Promise<void>[] = [];
      for (const [id, s] of cards) {
        if (!s.pending || s.running) continue;
        if (s.timer) clearTimeout(s.timer);
        s.timer = undefined;
        runs.push(run(id, s));
      }
      await Promise.all(runs);
    },

    cardTs(incidentId: string): string | undefined {
      return cards.get(incidentId)?.ts;
    },
  };
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
