/**
 * Chat capture: the Slack events that feed an incident's record without anyone typing a command.
 *
 * - `message` in an incident channel: people's messages (incl. thread replies, file shares,
 *   thread broadcasts, /me) are recorded at their Slack ts, text decoded to plain names. Bot
 *   messages and system subtypes (joins, leaves, topic, purpose, pins, archive …) are not.
 *   `message_changed` → chat.message_edited (only when the text changed: unfurls and thread
 *   bookkeeping are ignored), `message_deleted` → chat.message_deleted.
 * - `reaction_added` / `reaction_removed` on messages in incident channels → the capture rules of
 *   `src/app/capture.ts` (📌 🔍 ❌ ✅ 🚨 🎯, INCIDENT_EMOJI). The effect ("H3 raised") is answered
 *   in the message's thread so everyone sees it took effect; a mistake ("react with :mag: first")
 *   is answered to the reacting user only (ephemeral).
 * - `pin_added` / `pin_removed` (Slack's own pins) promote / demote a message like 📌.
 * - `member_joined_channel`: an ephemeral welcome to the joiner with the incident's title,
 *   severity, status and commander (optional nicety; never recorded).
 *
 * Every listener returns after its work is done; Bolt has already acknowledged the event (events
 * are acked on receipt). Slack retries an event (same event_id, `x-slack-retry-num`) when it
 * thinks it was lost: each fact is recorded once through idempotency keys — `msg:<channel>:<ts>`
 * for messages, `evt:<event_id>` for edits, deletes and pins, `rx:<event_id>` for reactions — and
 * a repeated reaction has no effect (so no second thread reply).
 *
 * The channel → incident look-up of the message hot path is cached briefly (CHANNEL_CACHE_MS),
 * and the cache is dropped whenever a slash command, button or modal finishes (any of them may
 * open or close an incident). Nothing is ever recorded into a closed incident: the group-commit
 * recorder re-reads the incident once per write (so a close by another replica counts too), the
 * rarer paths (edits, deletes, pins, reactions, joins) read it fresh, and the service refuses to
 * record into a closed incident.
 *
 * Web API methods used here: users.info (via SlackOps, cached there), conversations.history and
 * conversations.replies (to read a reacted-to message the bot never recorded:
 * `latest=oldest=ts, inclusive, limit=1`). Thread confirmations and ephemeral notices are owed by
 * the request and delivered by the outbox (src/slack/replies.ts): posted once the request is
 * complete, retried, never twice.
 */
import { DateTime } from 'luxon';
import type { App } from '@slack/bolt';
import {
  applyReaction,
  createMessageRecorder,
  fileRefs,
  isHumanMessage,
  parseEmojiConfig,
  reactionMeaning,
  slackTime,
  type EmojiConfig,
} from '../app/capture';
import { MAX_TEXT, type Incident } from '../app/service';
import { formatIncidentNumber, type Actor } from '../core/model';
import type { IncidentRecord } from '../store/store';
import type { SlackDeps } from './app';
import { ephemeralEffect, oweEffects, threadReplyEffect } from './replies';
import { decodeSlackText, escapeSlackText, extractMentions } from './text';

/** How long a channel → incident look-up is reused. */
export const CHANNEL_CACHE_MS = 2000;

/** The fields of a Slack message event the capture reads (live events and history answers). */
interface SlackMessage {
  type?: string;
  subtype?: string;
  channel?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts?: string;
  thread_ts?: string;
  files?: { name?: string | null; title?: string | null; permalink?: string }[];
  edited?: { user?: string; ts?: string };
  message?: SlackMessage;
  previous_message?: SlackMessage;
  deleted_ts?: string;
  event_ts?: string;
}

interface ReactionEvent {
  type: 'reaction_added' | 'reaction_removed';
  user: string;
  reaction: string;
  item: { type: string; channel?: string; ts?: string };
  event_ts: string;
}

interface PinEvent {
  type: 'pin_added' | 'pin_removed';
  user: string;
  channel_id: string;
  item: { type: string; channel?: string; message?: SlackMessage };
  event_ts: string;
}

interface MemberJoinedEvent {
  type: 'member_joined_channel';
  user: string;
  channel: string;
}

/** The envelope fields the capture needs (Bolt's `body`). */
interface Envelope {
  event_id?: string;
}

/** A Slack ts as the time it happened (UTC, whole milliseconds). */
const tsTime = (ts: string): DateTime => {
  const t = slackTime(ts);
  return t.isValid ? t : DateTime.utc();
};

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

export interface Capture {
  onMessage(ev: SlackMessage, eventId?: string): Promise<void>;
  onReaction(ev: ReactionEvent, eventId?: string): Promise<void>;
  onPin(ev: PinEvent, eventId?: string): Promise<void>;
  onMemberJoined(ev: MemberJoinedEvent, eventId?: string, botUserId?: string): Promise<void>;
  /** Forgets every cached channel look-up. */
  invalidate(): void;
}

/** Registers the capture listeners on the Bolt app. */
export function registerCapture(app: App, deps: SlackDeps): Capture {
  const capture = createCapture(deps);

  // Any command, button or modal may open or close an incident: drop the channel cache before it
  // runs and once it has finished (the dispatcher awaits the command's work).
  app.use(async ({ body, next }) => {
    const b = body as { command?: string; type?: string };
    const interactive =
      typeof b.command === 'string' ||
      b.type === 'block_actions' ||
      b.type === 'view_submission' ||
      b.type === 'shortcut' ||
      b.type === 'message_action';
    if (!interactive) {
      await next();
      return;
    }
    capture.invalidate();
    try {
      await next();
    } finally {
      capture.invalidate();
    }
  });

  // Bolt's event payload types are unions per subtype; the capture reads the fields it needs
  // through its own narrow interfaces above (checked at runtime), hence the casts.
  app.event('message', async ({ event, body }) => {
    await capture.onMessage(event as SlackMessage, (body as Envelope).event_id);
  });
  app.event('reaction_added', async ({ event, body }) => {
    await capture.onReaction(event as ReactionEvent, (body as Envelope).event_id);
  });
  app.event('reaction_removed', async ({ event, body }) => {
    await capture.onReaction(event as ReactionEvent, (body as Envelope).event_id);
  });
  app.event('pin_added', async ({ event, body }) => {
    await capture.onPin(event as unknown as PinEvent, (body as Envelope).event_id);
  });
  app.event('pin_removed', async ({ event, body }) => {
    await capture.onPin(event as unknown as PinEvent, (body as Envelope).event_id);
  });
  app.event('member_joined_channel', async ({ event, body, context }) => {
    await capture.onMemberJoined(
      event as MemberJoinedEvent,
      (body as Envelope).event_id,
      context.botUserId,
    );
  });
  return capture;
}

/** The capture logic, independent of Bolt's listener wiring (the tests and bench drive it). */
export function createCapture(deps: SlackDeps): Capture {
  const log = deps.logger.child({ component: 'capture' });
  const emoji: EmojiConfig = deps.config.emoji ?? parseEmojiConfig(process.env.INCIDENT_EMOJI);
  const cache = new Map<string, { record?: IncidentRecord; at: number }>();
  const lookups = new Map<string, Promise<IncidentRecord | undefined>>();
  let generation = 0;
  /** Reactions and pins are applied one at a time per channel, in arrival order. */
  const queues = new Map<string, Promise<void>>();
  /** member_joined_channel retries: welcome once per event id (bounded memory). */
  const welcomed = new Set<string>();
  /** Messages arriving together are appended in one durable write (group commit). */
  const recorder = createMessageRecorder(deps.service);

  /**
   * The incident whose channel this is. The hot message path uses the brief cache (the recorder
   * re-reads the record once per write, so a closed incident is never written to); the rare
   * paths (edits, deletes, pins, joins) read it fresh.
   */
  async function incidentFor(
    channel: string,
    opts: { fresh?: boolean } = {},
  ): Promise<IncidentRecord | undefined> {
    if (opts.fresh) return deps.service.recordByChannel(channel);
    const hit = cache.get(channel);
    if (hit && Date.now() - hit.at < CHANNEL_CACHE_MS) return hit.record;
    let p = lookups.get(channel);
    if (!p) {
      const gen = generation;
      p = deps.service.recordByChannel(channel).then(
        (record) => {
          // A look-up that started before an invalidation is used once but not cached.
          if (gen === generation) cache.set(channel, { record, at: Date.now() });
          lookups.delete(channel);
          return record;
        },
        (err: unknown) => {
          lookups.delete(channel);
          throw err;
        },
      );
      lookups.set(channel, p);
    }
    return p;
  }

  function serial(channel: string, fn: () => Promise<void>): Promise<void> {
    const prev = queues.get(channel) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    queues.set(channel, tail);
    void tail.then(() => {
      if (queues.get(channel) === tail) queues.delete(channel);
    });
    return next;
  }

  async function actorFor(userId: string): Promise<Actor> {
    try {
      const u = await deps.slack.user(userId);
      return { id: userId, name: u.name || userId };
    } catch (err) {
      log.warn({ err, user: userId }, 'users.info failed; recording the user id as the name');
      return { id: userId, name: userId };
    }
  }

  /** Slack markup → plain text, with user mentions resolved to display names. */
  async function plainText(text: string | undefined): Promise<string> {
    if (!text) return '';
    // extractMentions plus ids of any shape Slack (or an emulator) uses inside <@…>.
    const users = new Set(extractMentions(text).users);
    for (const m of text.matchAll(/<@([A-Z0-9_]+)(?:\|[^>]*)?>/gi)) users.add(m[1]);
    const names = new Map<string, string>();
    await Promise.all(
      [...users].map(async (id) => {
        const a = await actorFor(id);
        if (a.name !== id) names.set(id, a.name);
      }),
    );
    return clip(decodeSlackText(text, names));
  }

  async function recordNew(ev: SlackMessage, channel: string): Promise<void> {
    if (!isHumanMessage(ev) || !ev.ts || !ev.user) return;
    const record = await incidentFor(channel);
    if (!record || record.status === 'closed') return;
    const [actor, text] = await Promise.all([actorFor(ev.user), plainText(ev.text)]);
    const files = fileRefs(ev.files);
    await recorder.record(
      record,
      {
        channel,
        ts: ev.ts,
        user: ev.user,
        userName: actor.name,
        text,
        ...(ev.thread_ts && ev.thread_ts !== ev.ts ? { threadTs: ev.thread_ts } : {}),
        ...(files.length ? { files } : {}),
      },
      { actor, source: 'message', at: tsTime(ev.ts), key: `msg:${channel}:${ev.ts}` },
    );
  }

  async function recordEdit(ev: SlackMessage, channel: string, eventId?: string): Promise<void> {
    const m = ev.message;
    const prev = ev.previous_message;
    if (!m?.ts || m.bot_id || m.subtype === 'bot_message' || prev?.bot_id) return;
    const record = await incidentFor(channel, { fresh: true });
    if (!record || record.status === 'closed') return;
    await recorder.settled(record.id); // the message itself first
    const key = eventId ? `evt:${eventId}` : undefined;
    const editor = m.edited?.user ?? m.user;
    const actor = editor ? await actorFor(editor) : { id: 'unknown', name: 'unknown' };
    const at = tsTime(m.edited?.ts ?? ev.event_ts ?? ev.ts ?? m.ts);
    // A thread parent deleted while it has replies becomes a tombstone.
    if (m.subtype === 'tombstone') {
      await deps.service.recordMessageChange(
        record,
        'chat.message_deleted',
        { channel, ts: m.ts },
        { actor, source: 'message', at, ...(key ? { key } : {}) },
      );
      return;
    }
    // Unfurls, reply counts and other bookkeeping change the message but not its text.
    if (prev && (prev.text ?? '') === (m.text ?? '')) return;
    const text = await plainText(m.text);
    await deps.service.recordMessageChange(
      record,
      'chat.message_edited',
      { channel, ts: m.ts, text },
      { actor, source: 'message', at, ...(key ? { key } : {}) },
    );
  }

  async function recordDelete(ev: SlackMessage, channel: string, eventId?: string): Promise<void> {
    const ts = ev.deleted_ts ?? ev.previous_message?.ts;
    const prev = ev.previous_message;
    if (!ts || prev?.bot_id || prev?.subtype === 'bot_message') return;
    const record = await incidentFor(channel, { fresh: true });
    if (!record || record.status === 'closed') return;
    await recorder.settled(record.id);
    // Slack does not say who deleted it; the author is the best account.
    const actor = prev?.user ? await actorFor(prev.user) : { id: 'unknown', name: 'unknown' };
    await deps.service.recordMessageChange(
      record,
      'chat.message_deleted',
      { channel, ts },
      {
        actor,
        source: 'message',
        at: tsTime(ev.event_ts ?? ev.ts ?? ts),
        ...(eventId ? { key: `evt:${eventId}` } : {}),
      },
    );
  }

  /** The reacted-to message: from the record, else read from Slack. */
  async function messageFor(
    incident: Incident,
    channel: string,
    ts: string,
  ): Promise<
    { text: string; user: string; userName?: string; threadTs?: string; at: DateTime } | undefined
  > {
    const known = incident.state.messages.find((m) => m.channel === channel && m.ts === ts);
    if (known) {
      return {
        text: known.text,
        user: known.user,
        ...(known.userName ? { userName: known.userName } : {}),
        ...(known.threadTs ? { threadTs: known.threadTs } : {}),
        at: known.at,
      };
    }
    const raw = await fetchMessage(channel, ts);
    if (!raw) return undefined;
    const user = raw.user ?? raw.bot_id ?? 'unknown';
    const author = raw.user ? await actorFor(raw.user) : undefined;
    const files = fileRefs(raw.files)
      .map((f) => f.name)
      .join(', ');
    return {
      text: (await plainText(raw.text)) || files,
      user,
      ...(author ? { userName: author.name } : {}),
      ...(raw.thread_ts && raw.thread_ts !== ts ? { threadTs: raw.thread_ts } : {}),
      at: tsTime(ts),
    };
  }

  async function fetchMessage(channel: string, ts: string): Promise<SlackMessage | undefined> {
    const args = { channel, latest: ts, oldest: ts, inclusive: true, limit: 1 };
    try {
      const h = await deps.client.conversations.history(args);
      const m = (h.messages as SlackMessage[] | undefined)?.find((x) => x.ts === ts);
      if (m) return m;
      // A thread reply is not in the channel's history: read it from its thread.
      const r = await deps.client.conversations.replies({ ...args, ts });
      return (r.messages as SlackMessage[] | undefined)?.find((x) => x.ts === ts);
    } catch (err) {
      log.warn({ err, channel, ts }, 'could not read the reacted-to message');
      return undefined;
    }
  }

  /** An ephemeral notice, owed by the request (delivered by the outbox: src/slack/replies.ts). */
  async function ephemeral(channel: string, user: string, text: string): Promise<void> {
    await oweEffects(deps, [ephemeralEffect(channel, user, text)]);
  }

  async function applyReactionEvent(ev: ReactionEvent, eventId?: string): Promise<void> {
    const channel = ev.item.channel;
    const ts = ev.item.ts;
    if (!channel || !ts) return;
    const record = await incidentFor(channel);
    if (!record) return;
    await recorder.settled(record.id); // a message reacted to right away may still be queued
    const incident = await deps.service.load(record.id);
    const message = await messageFor(incident, channel, ts);
    if (!message) {
      await ephemeral(
        channel,
        ev.user,
        `I could not read that message, so your :${ev.reaction}: was not recorded. Use \`/incident\` commands instead.`,
      );
      return;
    }
    const actor = await actorFor(ev.user);
    const res = await applyReaction(
      deps.service,
      incident,
      {
        message: { channel, ts, ...message },
        emoji: ev.reaction,
        added: ev.type === 'reaction_added',
        actor,
        at: tsTime(ev.event_ts),
        source: 'reaction',
        ...(eventId ? { key: `rx:${eventId}` } : {}),
      },
      emoji,
    );
    if (res.effect) {
      // Confirmed in the thread once the request is complete (outbox: retried, never twice).
      const now = (deps.clock ? deps.clock() : deps.service.now()).toUTC();
      await oweEffects(deps, [
        threadReplyEffect(
          { channel, threadTs: message.threadTs ?? ts, text: res.effect, incidentId: record.id },
          now,
        ),
      ]);
    } else if (res.error) {
      await ephemeral(channel, ev.user, res.error);
    }
  }

  return {
    async onMessage(ev, eventId) {
      const channel = ev.channel;
      if (!channel) return;
      switch (ev.subtype) {
        case 'message_changed':
          return recordEdit(ev, channel, eventId);
        case 'message_deleted':
          return recordDelete(ev, channel, eventId);
        default:
          return recordNew(ev, channel);
      }
    },

    async onReaction(ev, eventId) {
      if (ev.item?.type !== 'message' || !ev.item.channel) return;
      if (!reactionMeaning(ev.reaction, emoji)) return; // an ordinary reaction: nothing to do
      const channel = ev.item.channel;
      await serial(channel, () => applyReactionEvent(ev, eventId));
    },

    async onPin(ev, eventId) {
      const channel = ev.channel_id ?? ev.item?.channel;
      const m = ev.item?.message;
      if (!channel || ev.item?.type !== 'message' || !m?.ts) return;
      if (m.bot_id || m.subtype === 'bot_message') return; // e.g. the status card itself
      const ts = m.ts;
      await serial(channel, async () => {
        const record = await incidentFor(channel, { fresh: true });
        if (!record || record.status === 'closed') return;
        await recorder.settled(record.id);
        const key = eventId ? { key: `evt:${eventId}` } : {};
        const actor = await actorFor(ev.user);
        const at = tsTime(ev.event_ts);
        if (ev.type === 'pin_added' && m.user) {
          // Make sure the pinned message is in the record (the key makes this a no-op if it is).
          const author = await actorFor(m.user);
          await deps.service.recordMessage(
            record,
            {
              channel,
              ts,
              user: m.user,
              userName: author.name,
              text: await plainText(m.text),
              ...(m.thread_ts && m.thread_ts !== ts ? { threadTs: m.thread_ts } : {}),
            },
            { actor: author, source: 'message', at: tsTime(ts), key: `msg:${channel}:${ts}` },
          );
        }
        await deps.service.recordMessageChange(
          record,
          ev.type === 'pin_added' ? 'message.pinned' : 'message.unpinned',
          { channel, ts },
          { actor, source: 'message', at, ...key },
        );
      });
    },

    async onMemberJoined(ev, eventId, botUserId) {
      if (!ev.user || !ev.channel || ev.user === botUserId) return;
      if (eventId) {
        if (welcomed.has(eventId)) return;
        welcomed.add(eventId);
        if (welcomed.size > 1000) welcomed.delete(welcomed.values().next().value as string);
      }
      const record = await incidentFor(ev.channel, { fresh: true });
      if (!record || record.status === 'closed') return;
      const incident = await deps.service.load(record.id);
      const st = incident.state;
      const commander = st.roles.commander?.name;
      const text =
        `Welcome to *${formatIncidentNumber(record.number)} · ${escapeSlackText(st.title || record.title)}* — ` +
        `${st.severity.toUpperCase()}, ${st.status}` +
        (commander ? `, commander ${escapeSlackText(commander)}` : '') +
        `. The pinned status card has the latest. Everything said here is recorded for the ` +
        `postmortem; react :${emoji.pin[0] ?? 'pushpin'}: to put a message on the timeline, ` +
        `:${emoji.hypothesis[0] ?? 'mag'}: to raise it as a hypothesis. \`/incident help\` lists the commands.`;
      await ephemeral(ev.channel, ev.user, text);
    },

    invalidate() {
      generation += 1;
      cache.clear();
    },
  };
}
