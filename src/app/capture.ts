/**
 * Capture rules: what a chat message or an emoji reaction means for the incident record.
 *
 * Pure of Slack's API: the live bot (`src/slack/capture.ts`) and the Slack-export importer both
 * call these, so the same capture rules apply to every capture path.
 *
 * Reactions (default emoji; override with `INCIDENT_EMOJI`, see `parseEmojiConfig`):
 * - :pushpin: / :round_pushpin: promotes the message to the timeline (`message.pinned`); removing
 *   it demotes the message (`message.unpinned`).
 * - :mag: raises the message as a hypothesis: its text, at the MESSAGE's time, ref = the message.
 * - :x: on a hypothesis message rules it out, at the REACTION's time. The evidence is a note that
 *   stands on its own (it does not depend on the thread): "Ruled out by Alice with :x: on their
 *   message". Anyone wanting richer evidence uses `/incident ruleout H3 <evidence>`.
 * - :white_check_mark: on a hypothesis message confirms it as the root cause (reaction time).
 * - :rotating_light: records an escalation; `to` is the message text.
 * - :dart: records an action item; its text is the message text.
 * The reacting user is the actor. :x: / :white_check_mark: on a message that is not a hypothesis
 * answers an error ("react with :mag: first").
 *
 * Removing a reaction undoes its capture (`capture.retracted` with the message ref and the event
 * type, or `message.unpinned`) — but only when the person removing it is the one whose reaction
 * made the capture: when two people react with the same emoji, the second reaction is a no-op
 * and removing it changes nothing.
 *
 * Repeats are harmless: a reaction whose capture is already in force (a retried event, a second
 * person reacting) has no effect and answers `{}` (no effect, no error), so the caller posts
 * nothing. `key` is the idempotency key of the recorded event (`rx:<event_id>` live; something
 * deterministic from the importer).
 */
import { splitEscalation } from '../core/escalation';
import { DateTime } from 'luxon';
import type { IncidentService, Incident, IncidentRef, Ctx } from './service';
import { MAX_TEXT } from './service';
import { IncidentError } from './errors';
import { currentRequest, type RequestInfo } from './requestContext';
import type {
  Actor,
  EventPayloads,
  EventType,
  FileRef,
  MessageRef,
  NewEvent,
  StoredEvent,
} from '../core/model';
import type { IncidentRecord } from '../store/store';
import type { Hypothesis } from '../core/fold';

// ---- emoji configuration -----------------------------------------------------------------------

export const MEANINGS = ['pin', 'hypothesis', 'ruleOut', 'confirm', 'escalate', 'action'] as const;
export type Meaning = (typeof MEANINGS)[number];

/** Emoji names (without colons) per meaning. */
export type EmojiConfig = Record<Meaning, string[]>;

export const DEFAULT_EMOJI: Readonly<EmojiConfig> = Object.freeze({
  pin: ['pushpin', 'round_pushpin'],
  hypothesis: ['mag'],
  ruleOut: ['x'],
  confirm: ['white_check_mark'],
  escalate: ['rotating_light'],
  action: ['dart'],
});

/** Lower-case, separator-free spellings accepted for each meaning (`rule_out`, `ruleout` …). */
const MEANING_ALIASES: Record<string, Meaning> = {
  pin: 'pin',
  timeline: 'pin',
  hypothesis: 'hypothesis',
  ruleout: 'ruleOut',
  confirm: 'confirm',
  rootcause: 'confirm',
  escalate: 'escalate',
  escalation: 'escalate',
  action: 'action',
  actionitem: 'action',
};

export class EmojiConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmojiConfigError';
  }
}

/**
 * Normalises an emoji name as Slack sends it in reactions: no surrounding colons, no skin tone
 * (`thumbsup::skin-tone-2` → `thumbsup`), lower case.
 */
export function normalizeEmoji(name: string): string {
  return name
    .trim()
    .replace(/^:+|:+$/g, '')
    .replace(/::skin-tone-\d$/, '')
    .toLowerCase();
}

/**
 * Parses `INCIDENT_EMOJI`: `meaning=emoji[,emoji…]` pairs separated by `;`, e.g.
 * `hypothesis=mag,thinking_face;ruleOut=x`. Each listed meaning replaces the default list for that
 * meaning (an empty list, `action=`, turns the meaning off); unlisted meanings keep their
 * defaults. Meanings are case-insensitive and may be written with `_` or `-` (`rule_out`).
 * Emoji may be written with colons (`:mag:`). An emoji given explicitly is removed from the
 * defaults of every other meaning; the same emoji listed under two meanings is an error, as is an
 * unknown meaning. An empty or missing value gives the defaults.
 */
export function parseEmojiConfig(value?: string): EmojiConfig {
  const config: EmojiConfig = cloneConfig(DEFAULT_EMOJI);
  if (value === undefined || value.trim() === '') return config;
  const explicit = new Map<string, Meaning>();
  const set = new Set<Meaning>();
  for (const part of value.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw new EmojiConfigError(
        `INCIDENT_EMOJI: "${part.trim()}" is not meaning=emoji[,emoji]; e.g. "hypothesis=mag,thinking_face;ruleOut=x".`,
      );
    }
    const rawMeaning = part.slice(0, eq).trim();
    const meaning = MEANING_ALIASES[rawMeaning.toLowerCase().replace(/[_\s-]/g, '')];
    if (!meaning) {
      throw new EmojiConfigError(
        `INCIDENT_EMOJI: unknown meaning "${rawMeaning}"; the meanings are ${MEANINGS.join(', ')}.`,
      );
    }
    if (set.has(meaning)) {
      throw new EmojiConfigError(`INCIDENT_EMOJI: "${meaning}" is listed twice.`);
    }
    set.add(meaning);
    const emoji = part
      .slice(eq + 1)
      .split(',')
      .map(normalizeEmoji)
      .filter((e) => e !== '');
    for (const e of emoji) {
      if (!/^[a-z0-9_+'-]+$/.test(e)) {
        throw new EmojiConfigError(
          `INCIDENT_EMOJI: "${e}" is not an emoji name (letters, digits, _ + - only, e.g. thinking_face).`,
        );
      }
      const other = explicit.get(e);
      if (other && other !== meaning) {
        throw new EmojiConfigError(
          `INCIDENT_EMOJI: :${e}: is listed for both ${other} and ${meaning}; an emoji can mean one thing only.`,
        );
      }
      explicit.set(e, meaning);
    }
    config[meaning] = [...new Set(emoji)];
  }
  // An emoji given explicitly leaves the defaults of the meanings not listed.
  for (const m of MEANINGS) {
    if (set.has(m)) continue;
    config[m] = config[m].filter((e) => !explicit.has(e));
  }
  return config;
}

function cloneConfig(c: Readonly<EmojiConfig>): EmojiConfig {
  return {
    pin: [...c.pin],
    hypothesis: [...c.hypothesis],
    ruleOut: [...c.ruleOut],
    confirm: [...c.confirm],
    escalate: [...c.escalate],
    action: [...c.action],
  };
}

/** What a reaction emoji means under the config, or undefined for an ordinary reaction. */
export function reactionMeaning(
  emoji: string,
  config: Readonly<EmojiConfig> = DEFAULT_EMOJI,
): Meaning | undefined {
  const e = normalizeEmoji(emoji);
  return MEANINGS.find((m) => config[m].includes(e));
}

// ---- Slack timestamps ---------------------------------------------------------------------------

/**
 * A Slack message ts ("1741082700.000100": seconds.microseconds) as a UTC DateTime with whole
 * milliseconds (parsed from the string, so no float rounding: the sub-millisecond digits are
 * dropped). Invalid input gives an invalid DateTime.
 */
export function slackTime(ts: string): DateTime {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(ts.trim());
  if (!m) return DateTime.invalid(`not a Slack ts: ${ts}`);
  const ms = Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0').slice(0, 3));
  return DateTime.fromMillis(ms, { zone: 'utc' });
}

// ---- which messages are recorded ----------------------------------------------------------------

/** Message subtypes that are people talking (recorded); every other subtype is ignored. */
export const RECORDED_SUBTYPES: ReadonlySet<string> = new Set([
  'file_share',
  'thread_broadcast',
  'me_message',
]);

/**
 * Whether a Slack message (live event or export line) is a human message to record: no bot
 * (`bot_id`, subtype `bot_message`), no system subtypes (joins, leaves, topic, purpose, pins,
 * archive, edits and deletes — those two are handled as changes), and it has an author.
 */
export function isHumanMessage(m: { subtype?: string; bot_id?: string; user?: string }): boolean {
  if (m.bot_id) return false;
  if (m.subtype !== undefined && !RECORDED_SUBTYPES.has(m.subtype)) return false;
  return typeof m.user === 'string' && m.user !== '';
}

/** File references (name and permalink) from a Slack message's `files`. */
export function fileRefs(
  files?: readonly { name?: string | null; title?: string | null; permalink?: string }[],
): FileRef[] {
  return (files ?? []).map((f) => {
    const ref: FileRef = { name: f.name || f.title || 'file' };
    if (f.permalink) ref.url = f.permalink;
    return ref;
  });
}

// ---- recording messages in groups ----------------------------------------------------------------

export interface MessageRecorder {
  /**
   * Records one channel message like `IncidentService.recordMessage` (same event, same key
   * `msg:<channel>:<ts>` unless ctx.key is given, nothing for a closed record), but appends the
   * messages that arrive together in one store write (one transaction, one fsync).
   */
  record(
    record: IncidentRecord,
    msg: EventPayloads['chat.message'],
    ctx: Ctx,
  ): Promise<{ recorded: boolean; events: StoredEvent[] }>;
  /**
   * Resolves once every message queued so far for the incident is written (or failed): call it
   * before recording something that must come after them (an edit, a reaction).
   */
  settled(incidentId: string): Promise<void>;
}

interface Pending {
  event: NewEvent;
  /** The stored request this message came from (its inbox item is completed by the write). */
  request?: RequestInfo;
  resolve(r: { recorded: boolean; events: StoredEvent[] }): void;
  reject(err: unknown): void;
}

/**
 * Group commit for the chat hot path. With a durable store every append waits for the disk
 * (SQLite synchronous=FULL: one fsync per write), so one write per message caps capture at a few
 * hundred messages a second. The recorder queues the messages that arrive in the same turn of the
 * event loop (and while a write is in progress) and appends them per incident in one write.
 * Each caller still learns whether its own message was new (`recorded`), so retries stay harmless.
 * When a message comes from a stored request (the request path's inbox), the same write marks
 * that inbox item done (`CommitInput.inboxDone`): one write per batch instead of one more per
 * message, and the message and its completion are durable together or not at all.
 *
 * The event is built by `IncidentService.messageEvent`, as `recordMessage` builds it.
 */
export function createMessageRecorder(
  service: IncidentService,
  opts: { maxBatch?: number } = {},
): MessageRecorder {
  const maxBatch = opts.maxBatch ?? 500;
  const queues = new Map<string, { record: IncidentRecord; items: Pending[] }>();
  const writing = new Set<string>();
  /** The promise of the last message queued per incident (writes are FIFO per incident). */
  const last = new Map<string, Promise<unknown>>();
  let scheduled = false;

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      for (const id of [...queues.keys()]) void flush(id);
    });
  };

  async function flush(id: string): Promise<void> {
    if (writing.has(id)) return; // the write in progress flushes again when it is done
    const q = queues.get(id);
    if (!q || q.items.length === 0) return;
    const items = q.items.splice(0, maxBatch);
    if (q.items.length === 0) queues.delete(id);
    writing.add(id);
    try {
      // One durable write per batch; nothing once the incident is closed (here or elsewhere).
      const inboxDone = [
        ...new Set(items.flatMap((i) => (i.request?.inboxId ? [i.request.inboxId] : []))),
      ];
      const res = await service.appendMessages(
        id,
        items.map((i) => i.event),
        inboxDone,
      );
      if (!res) {
        for (const i of items) i.resolve({ recorded: false, events: [] });
        return;
      }
      const byKey = new Map(res.appended.map((e) => [e.key, e]));
      for (const i of items) {
        if (i.request?.inboxId) i.request.completed = true;
        const e = byKey.get(i.event.key);
        // A key repeated within the batch is appended once: the first caller records it.
        if (e) byKey.delete(i.event.key);
        i.resolve(e ? { recorded: true, events: [e] } : { recorded: false, events: [] });
      }
    } catch (e) {
      for (const i of items) i.reject(e);
    } finally {
      writing.delete(id);
      if (queues.get(id)?.items.length) void flush(id);
    }
  }

  return {
    record(record, msg, ctx) {
      if (record.status === 'closed') return Promise.resolve({ recorded: false, events: [] });
      const event = service.messageEvent(msg, ctx);
      const p = new Promise<{ recorded: boolean; events: StoredEvent[] }>((resolve, reject) => {
        let q = queues.get(record.id);
        if (!q) {
          q = { record, items: [] };
          queues.set(record.id, q);
        }
        const request = currentRequest();
        q.items.push({ event, resolve, reject, ...(request ? { request } : {}) });
        if (q.items.length >= maxBatch) void flush(record.id);
        else schedule();
      });
      const tail = p.catch(() => undefined);
      last.set(record.id, tail);
      void tail.then(() => {
        if (last.get(record.id) === tail) last.delete(record.id);
      });
      return p;
    },

    async settled(incidentId) {
      await last.get(incidentId);
    },
  };
}

// ---- reactions --------------------------------------------------------------------------------

export interface ReactionInput {
  /** The message reacted to; `text` is plain (names decoded, no Slack markup). */
  message: {
    channel: string;
    ts: string;
    text: string;
    /** Author's user id. */
    user: string;
    userName?: string;
    threadTs?: string;
    /** The message's time (its Slack ts). */
    at: DateTime;
  };
  /** Emoji name as Slack sends it (`mag`, `:mag:`, `thumbsup::skin-tone-2`). */
  emoji: string;
  /** True for reaction_added, false for reaction_removed. */
  added: boolean;
  /** Who reacted. */
  actor: Actor;
  /** When they reacted. */
  at: DateTime;
  /** `command` for the message shortcuts ("Add to incident timeline", "Raise as hypothesis"). */
  source: 'reaction' | 'import' | 'command';
  /** Idempotency key for the recorded event. */
  key?: string;
}

export interface ReactionResult {
  /** What happened, for a short confirmation ("H3 raised"); absent when nothing changed. */
  effect?: string;
  /** Why nothing happened, for the reacting user. */
  error?: string;
}

/**
 * Applies one reaction (added or removed) to an incident. Never throws for a user mistake or a
 * closed incident: the answer's `error` says what went wrong. Store failures surface as `error`
 * too (the IncidentError "not saved" text).
 */
export async function applyReaction(
  service: IncidentService,
  incidentRef: IncidentRef,
  input: ReactionInput,
  config: Readonly<EmojiConfig> = DEFAULT_EMOJI,
): Promise<ReactionResult> {
  const meaning = reactionMeaning(input.emoji, config);
  if (!meaning) return {};
  try {
    const incident = await service.resolveIncident(incidentRef);
    return input.added
      ? await added(service, incident, meaning, input, config)
      : await removed(service, incident, meaning, input);
  } catch (err) {
    if (err instanceof IncidentError) return { error: err.message };
    throw err;
  }
}

const sameRef = (a: MessageRef | undefined, b: MessageRef): boolean =>
  !!a && a.channel === b.channel && a.ts === b.ts;

function clipText(text: string): string {
  const t = text.trim();
  return t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT - 1)}…` : t;
}

/** The newest hypothesis (still standing, i.e. not withdrawn) raised from this message. */
function hypothesisOf(incident: Incident, ref: MessageRef): Hypothesis | undefined {
  return [...incident.state.hypotheses].reverse().find((h) => sameRef(h.ref, ref));
}

async function added(
  service: IncidentService,
  incident: Incident,
  meaning: Meaning,
  input: ReactionInput,
  config: Readonly<EmojiConfig>,
): Promise<ReactionResult> {
  const ref: MessageRef = { channel: input.message.channel, ts: input.message.ts };
  const emoji = `:${normalizeEmoji(input.emoji)}:`;
  const ctx = {
    actor: input.actor,
    source: input.source,
    at: input.at,
    ...(input.key ? { key: input.key } : {}),
  };
  const text = clipText(input.message.text);
  switch (meaning) {
    case 'pin': {
      assertOpen(incident);
      const m = incident.state.messages.find((x) => sameRef(x, ref));
      if (m?.pinned && !m.deleted) return {};
      if (!m) await recordTheMessage(service, incident, input);
      const res = await service.recordMessageChange(incident.record, 'message.pinned', ref, ctx);
      return res.recorded ? { effect: 'Pinned to the timeline' } : {};
    }
    case 'hypothesis': {
      if (hypothesisOf(incident, ref)) return {};
      if (!text) return { error: 'That message has no text to raise as a hypothesis.' };
      // Raised at the MESSAGE's time: the reaction only says "this one is a hypothesis".
      const res = await service.raiseHypothesis(
        incident,
        text,
        { ...ctx, at: input.message.at },
        ref,
      );
      return res.recorded && res.hypothesis ? { effect: `${res.hypothesis.id} raised` } : {};
    }
    case 'ruleOut':
    case 'confirm': {
      const h = hypothesisOf(incident, ref);
      if (!h) {
        return {
          // Names the hypothesis emoji actually configured (default :mag:).
          error: `That message is not a hypothesis yet: react with :${config.hypothesis[0] ?? 'mag'}: first.`,
        };
      }
      const want = meaning === 'ruleOut' ? 'ruled_out' : 'confirmed';
      if (h.outcome === want) return {};
      const by = `${input.actor.name} with ${emoji}`;
      if (meaning === 'ruleOut') {
        const res = await service.ruleOut(incident, h.id, `Ruled out by ${by}`, ctx);
        return res.recorded ? { effect: `${h.id} ruled out` } : {};
      }
      const res = await service.confirm(incident, h.id, `Confirmed by ${by}`, ctx);
      return res.recorded ? { effect: `${h.id} confirmed as root cause` } : {};
    }
    case 'escalate': {
      if (incident.state.escalations.some((e) => sameRef(e.ref, ref))) return {};
      if (!text) return { error: 'That message has no text to record as an escalation.' };
      const res = await service.escalate(incident, { ...splitEscalation(text), ref }, ctx);
      return res.recorded ? { effect: 'Escalation recorded' } : {};
    }
    case 'action': {
      if (incident.state.actions.some((a) => sameRef(a.ref, ref))) return {};
      if (!text) return { error: 'That message has no text to record as an action item.' };
      const res = await service.addAction(incident, { text, ref }, ctx);
      return res.recorded && res.action ? { effect: `${res.action.id} added` } : {};
    }
  }
}

async function removed(
  service: IncidentService,
  incident: Incident,
  meaning: Meaning,
  input: ReactionInput,
): Promise<ReactionResult> {
  const ref: MessageRef = { channel: input.message.channel, ts: input.message.ts };
  const ctx = {
    actor: input.actor,
    source: input.source,
    at: input.at,
    ...(input.key ? { key: input.key } : {}),
  };
  const mine = (by: Actor | undefined): boolean => !by || by.id === input.actor.id;
  const retract = async (type: EventType, effect: string): Promise<ReactionResult> => {
    const res = await service.retract(incident, ref, type, ctx);
    return res.recorded ? { effect } : {};
  };
  switch (meaning) {
    case 'pin': {
      assertOpen(incident);
      const m = incident.state.messages.find((x) => sameRef(x, ref));
      if (!m?.pinned || !mine(m.pinnedBy)) return {};
      const res = await service.recordMessageChange(incident.record, 'message.unpinned', ref, ctx);
      return res.recorded ? { effect: 'Removed from the timeline' } : {};
    }
    case 'hypothesis': {
      const h = hypothesisOf(incident, ref);
      if (!h || !mine(h.raisedBy)) return {};
      return retract('hypothesis.raised', `${h.id} withdrawn`);
    }
    case 'ruleOut': {
      const h = hypothesisOf(incident, ref);
      if (!h || h.outcome !== 'ruled_out' || !mine(h.outcomeBy)) return {};
      return retract('hypothesis.ruled_out', `${h.id} no longer ruled out`);
    }
    case 'confirm': {
      const h = hypothesisOf(incident, ref);
      if (!h || h.outcome !== 'confirmed' || !mine(h.outcomeBy)) return {};
      return retract('hypothesis.confirmed', `${h.id} no longer the root cause`);
    }
    case 'escalate': {
      const e = [...incident.state.escalations].reverse().find((x) => sameRef(x.ref, ref));
      if (!e || !mine(e.by)) return {};
      return retract('escalated', 'Escalation withdrawn');
    }
    case 'action': {
      const a = [...incident.state.actions].reverse().find((x) => sameRef(x.ref, ref));
      if (!a || !mine(a.addedBy)) return {};
      return retract('action.added', `${a.id} withdrawn`);
    }
  }
}

function assertOpen(incident: Incident): void {
  if (incident.record.status === 'closed' || incident.state.status === 'closed') {
    throw new IncidentError(
      'closed',
      `This incident is closed; its record no longer changes. Start a new incident with \`/incident start <title>\`.`,
    );
  }
}

/** Records the reacted-to message itself when it was not captured (so a pin has something to show). */
async function recordTheMessage(
  service: IncidentService,
  incident: Incident,
  input: ReactionInput,
): Promise<void> {
  const m = input.message;
  await service.recordMessage(
    incident.record,
    {
      channel: m.channel,
      ts: m.ts,
      user: m.user,
      ...(m.userName ? { userName: m.userName } : {}),
      text: clipText(m.text),
      ...(m.threadTs && m.threadTs !== m.ts ? { threadTs: m.threadTs } : {}),
    },
    {
      actor: { id: m.user, name: m.userName ?? m.user },
      source: input.source === 'import' ? 'import' : 'message',
      at: m.at,
    },
  );
}
