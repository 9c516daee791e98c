/**
 * Builds an incident from one channel of a Slack workspace export, with the capture rules the
 * live bot uses (src/app/capture.ts):
 *
 * - Human messages are recorded (`chat.message`) at their `ts`, text decoded to plain names via
 *   users.json, files by name and permalink, thread replies with `threadTs`. Bots (`bot_id`,
 *   `bot_message`, users marked `is_bot`, Slackbot) and system subtypes (joins, topic, purpose,
 *   pins, …) are skipped and counted.
 * - The export holds a message's final text. When it says the message was `edited`, the edit is
 *   recorded too (`chat.message_edited` at the edit's time, by the editor), so the record shows
 *   the message as edited; the text before the edit is not in exports.
 * - `pinned_to` containing the channel → `message.pinned` (who pinned it and when are not in
 *   exports: the import actor, at the message's time).
 * - Reactions go through `applyReaction` (source `import`), one per reacting user, in the order
 *   the export lists them, after the message itself. Exports do not say when a reaction was
 *   added; see `reactionTime` for the time used.
 * - Detection (README "Import a Slack export"): the time the user gives (`detectedAt`), else
 *   the first real alert — a post by a bot or integration (`bot_message`, `bot_id`, a users.json
 *   bot), never a system subtype such as `bot_add` or `channel_join` — else the first human
 *   message. The resolution is not invented: the incident stays unresolved until someone
 *   records it.
 * - Human messages of every era: plain messages, `file_share`, `thread_broadcast`,
 *   `me_message`, and `file_comment` (2014–2018, authored by the comment's user). Tombstones,
 *   `huddle_thread` and other system subtypes are skipped; their thread replies are kept.
 *
 * Idempotency: the incident key `import:<team>:<channelId>` returns the existing incident on a
 * re-import, and every fact has a key (`import:<channelId>:<ts>`, `…:edited:<editTs>`,
 * `…:pinned`, `…:<emoji>:<user>`), so importing the same export twice records nothing new, and
 * importing a later export of the same channel adds only what is new.
 */
import { DateTime, IANAZone } from 'luxon';
import {
  DEFAULT_EMOJI,
  applyReaction,
  fileRefs,
  isHumanMessage,
  normalizeEmoji,
  reactionMeaning,
  type EmojiConfig,
  type Meaning,
} from '../app/capture';
import { IncidentError } from '../app/errors';
import type { Ctx, Incident, IncidentService } from '../app/service';
import { formatIncidentNumber, isSeverity, type Actor, type Severity } from '../core/model';
import { decodeSlackText } from '../slack/text';
import {
  compareSlackTs,
  readSlackExport,
  type ChannelHistory,
  type SlackExport,
  type SlackMessage,
  type SlackUser,
} from './slackExport';

export interface ImportOptions {
  /** Export directory or `.zip`. */
  source: string;
  /** Channel name (with or without `#`) or id. */
  channel: string;
  /** Incident title; default: the channel's purpose, else its topic, else `#<name>`. */
  title?: string;
  /** IANA zone for the incident's display times (default UTC). */
  zone?: string;
  /** Workspace id; default: the export's (users.json `team_id`), else `T_IMPORT`. */
  team?: string;
  /** Default sev3. */
  severity?: Severity;
  /** Detection time, when the user knows it better than the export (see the module comment). */
  detectedAt?: DateTime;
  /** Reaction meanings (INCIDENT_EMOJI); default the standard emoji. */
  emoji?: Readonly<EmojiConfig>;
}

export interface ImportResult {
  incident: Incident;
  /** False when this export (team + channel) had been imported before. */
  created: boolean;
  /** Events added to the record by this import (opening events included). */
  recorded: number;
  /** Facts in the export that an earlier import (same keys) had already recorded. */
  alreadyPresent: number;
  /** Messages not imported: bots and channel events (joins, topic, …). */
  skipped: number;
  /** Things the user should know (unknown users, reactions that had no effect, …). */
  warnings: string[];
  /** The channel imported. */
  channel: { id: string; name: string };
  /** Where detection came from: "given", "the first alert" or "the first human message". */
  detectionBasis: string;
}

export const DEFAULT_IMPORT_TEAM = 'T_IMPORT';

/** The actor of facts whose author the export does not give (pins, the opening). */
export const IMPORT_ACTOR: Actor = { id: 'import', name: 'Slack export import' };

/** Reactions are applied in this order within one message, so the hypothesis exists first. */
const MEANING_ORDER: Record<Meaning, number> = {
  pin: 0,
  hypothesis: 1,
  ruleOut: 2,
  confirm: 3,
  escalate: 4,
  action: 5,
};

export async function importSlackExport(
  service: IncidentService,
  opts: ImportOptions,
): Promise<ImportResult> {
  const severity = opts.severity ?? 'sev3';
  if (!isSeverity(severity)) {
    throw new IncidentError('invalid', `Severity must be sev1 … sev4 (got "${String(severity)}").`);
  }
  const zone = opts.zone?.trim() || 'UTC';
  if (!IANAZone.isValidZone(zone)) {
    throw new IncidentError('invalid', `"${zone}" is not an IANA time zone (e.g. Europe/Paris).`);
  }
  const emoji = opts.emoji ?? DEFAULT_EMOJI;

  const { export: exp, history } = await readSlackExport(opts.source, opts.channel);
  const channel = history.channel;
  const team = opts.team?.trim() || exp.team || DEFAULT_IMPORT_TEAM;
  const warnings = [...history.warnings];
  const names = nameMap(exp);
  const users = new Map(exp.users.map((u) => [u.id, u]));
  const unknownUsers = new Set<string>();
  const actorOf = (id: string, m?: SlackMessage): Actor => {
    const u = users.get(id);
    if (u) return { id, name: userName(u) };
    const embedded = m?.user === id ? m.userProfile : undefined;
    const name = embedded?.displayName || embedded?.realName || embedded?.name;
    if (!name) unknownUsers.add(id);
    return { id, name: name || id };
  };

  // Which messages are people talking (the live bot's rule, plus users.json bot accounts and
  // the file comments of older exports, whose author is the comment's).
  const human = (m: SlackMessage): boolean =>
    !m.hidden &&
    isHumanMessage({
      subtype: m.subtype === 'file_comment' ? undefined : m.subtype,
      bot_id: m.botId,
      user: m.user,
    }) &&
    !(m.user && users.get(m.user)?.isBot) &&
    m.user !== 'USLACKBOT';
  const messages = history.messages.filter(human);
  const skipped = history.messages.length - messages.length;
  if (messages.length === 0) {
    throw new IncidentError(
      'invalid',
      `#${channel.name} has no messages from people in this export (${history.messages.length} bot or channel messages only); nothing to import.`,
    );
  }

  const first = detectionOf(history.messages, users, human);
  const detectedAt = opts.detectedAt?.toUTC() ?? first.at;
  const detectionBasis = opts.detectedAt
    ? 'as given'
    : human(first)
      ? 'the first human message'
      : `the first alert${first.botName ? `, from ${first.botName}` : ''}`;
  const incidentKey = `import:${team}:${channel.id}`;
  const title = (opts.title?.trim() || channel.purpose || channel.topic || `#${channel.name}`)
    .replace(/\s+/g, ' ')
    .slice(0, 200);
  const startCtx: Ctx = { actor: IMPORT_ACTOR, source: 'import', at: detectedAt, key: incidentKey };
  const started = await service.start(
    {
      team,
      title: decodeSlackText(title, names),
      severity,
      zone,
      detectedAt,
      key: incidentKey,
    },
    startCtx,
  );
  const before = started.incident.events.length;
  const incidentId = started.incident.record.id;
  const number = formatIncidentNumber(started.incident.record.number);

  if (started.incident.record.status === 'closed') {
    warnings.push(
      `${number} (imported from #${channel.name} before) is closed, so its record no longer changes; nothing was added.`,
    );
    return {
      incident: started.incident,
      created: false,
      recorded: 0,
      alreadyPresent: 0,
      skipped,
      warnings,
      channel: { id: channel.id, name: channel.name },
      detectionBasis,
    };
  }

  let alreadyPresent = 0;
  const count = (recorded: boolean): void => {
    if (!recorded) alreadyPresent += 1;
  };

  // Attach the channel, unless another incident already owns it (the live bot was there).
  const owner = await service.recordByChannel(channel.id);
  if (owner && owner.id !== incidentId) {
    warnings.push(
      `#${channel.name} already belongs to ${formatIncidentNumber(owner.number)}; the import is a separate incident and is not attached to the channel.`,
    );
  } else if (!owner) {
    const res = await service.attachChannel(incidentId, channel.id, channel.name, {
      actor: IMPORT_ACTOR,
      source: 'import',
      at: detectedAt,
      key: `import:${channel.id}:channel`,
    });
    count(res.recorded);
  }

  // The recorders use only the id and the status (open: checked above); no need to reload.
  const record = started.incident.record;
  const timeOf = reactionTimes(history);

  for (const m of messages) {
    const user = m.user as string; // human() guarantees an author
    const author = actorOf(user, m);
    const text = decodeSlackText(m.text, names);
    const threadTs = m.threadTs && m.threadTs !== m.ts ? m.threadTs : undefined;
    const files = fileRefs(m.files);
    for (const f of m.files) {
      if (f.mode === 'hidden_by_limit' || f.mode === 'tombstone') {
        warnings.push(
          `${where(m)}: a file is not in the export (${f.mode}); recorded by name only.`,
        );
      }
    }
    const key = `import:${channel.id}:${m.ts}`;
    const rec = await service.recordMessage(
      record,
      {
        channel: channel.id,
        ts: m.ts,
        user,
        userName: author.name,
        text,
        ...(threadTs ? { threadTs } : {}),
        ...(files.length ? { files } : {}),
      },
      { actor: author, source: 'import', at: m.at, key },
    );
    count(rec.recorded);

    if (m.edited) {
      const editor = m.edited.user ? actorOf(m.edited.user) : author;
      const res = await service.recordMessageChange(
        record,
        'chat.message_edited',
        { channel: channel.id, ts: m.ts, text },
        {
          actor: editor,
          source: 'import',
          at: m.edited.at < m.at ? m.at : m.edited.at,
          key: `${key}:edited:${m.edited.ts}`,
        },
      );
      count(res.recorded);
    }

    if (m.pinnedTo.includes(channel.id)) {
      const res = await service.recordMessageChange(
        record,
        'message.pinned',
        { channel: channel.id, ts: m.ts },
        { actor: IMPORT_ACTOR, source: 'import', at: m.at, key: `${key}:pinned` },
      );
      count(res.recorded);
    }

    const reactions = m.reactions
      .map((r, i) => ({ r, i, meaning: reactionMeaning(r.name, emoji) }))
      .filter((x): x is typeof x & { meaning: Meaning } => x.meaning !== undefined)
      .sort((a, b) => MEANING_ORDER[a.meaning] - MEANING_ORDER[b.meaning] || a.i - b.i);
    for (const { r, meaning } of reactions) {
      const name = normalizeEmoji(r.name);
      if (r.count > r.users.length) {
        warnings.push(
          `${where(m)}: :${name}: has ${r.count} reactions but the export lists only ${r.users.length} of the users; those were imported.`,
        );
      }
      for (const u of r.users) {
        const actor = actorOf(u);
        const reactionKey = `${key}:${name}:${u}`;
        if (await service.store.hasEventKey(reactionKey)) {
          alreadyPresent += 1;
          continue;
        }
        const res = await applyReaction(
          service,
          incidentId,
          {
            message: {
              channel: channel.id,
              ts: m.ts,
              text,
              user,
              userName: author.name,
              ...(threadTs ? { threadTs } : {}),
              at: m.at,
            },
            emoji: r.name,
            added: true,
            actor,
            at: timeOf(m, meaning),
            source: 'import',
            key: reactionKey,
          },
          emoji,
        );
        // No effect and no error: the capture was already in force (e.g. a second person
        // reacting with the same emoji), which is not a fact of its own.
        if (res.error) warnings.push(`${where(m)}: :${name}: by ${actor.name}: ${res.error}`);
      }
    }
  }

  if (unknownUsers.size > 0) {
    warnings.push(`Not in users.json, shown by id: ${[...unknownUsers].sort().join(', ')}.`);
  }

  const incident = await service.load(incidentId);
  return {
    incident,
    created: started.created,
    recorded: incident.events.length - (started.created ? 0 : before),
    alreadyPresent,
    skipped,
    warnings,
    channel: { id: channel.id, name: channel.name },
    detectionBasis,
  };
}

/** Subtypes of a bot's own post (an alert), as opposed to system events about bots. */
const BOT_POST_SUBTYPES: ReadonlySet<string | undefined> = new Set([
  undefined,
  'bot_message',
  'thread_broadcast',
  'file_share',
  'me_message',
]);

/**
 * The message detection is taken from: the first real alert — a post by a bot or integration
 * (`bot_message`, `bot_id`, or a users.json bot), never a system subtype such as `bot_add`,
 * `channel_join` or `pinned_item` — else the first human message. `messages` are in ts order;
 * `human` finds at least one (the caller checked).
 */
export function detectionOf(
  messages: readonly SlackMessage[],
  users: ReadonlyMap<string, SlackUser>,
  human: (m: SlackMessage) => boolean,
): SlackMessage {
  const alert = messages.find(
    (m) =>
      !m.hidden &&
      BOT_POST_SUBTYPES.has(m.subtype) &&
      (m.subtype === 'bot_message' ||
        m.botId !== undefined ||
        (m.user !== undefined && m.user !== 'USLACKBOT' && users.get(m.user)?.isBot === true)),
  );
  const person = messages.find(human);
  if (alert && (!person || alert.at <= person.at)) return alert;
  return person ?? (alert as SlackMessage);
}

/** Display name as the live bot shows it: display name, else real name, else the handle. */
export function userName(u: SlackUser): string {
  return u.displayName || u.realName || u.name;
}

/** Ids → names for decoding mentions: users, and channels (for `<#C…>` without a label). */
export function nameMap(exp: Pick<SlackExport, 'users' | 'channels'>): Map<string, string> {
  const names = new Map<string, string>();
  for (const c of exp.channels) names.set(c.id, c.name);
  for (const u of exp.users) names.set(u.id, userName(u));
  return names;
}

/**
 * When a reaction happened. Exports do not record it; what is known is that it came after the
 * message. So:
 * - :x: / :white_check_mark: (an outcome) are stamped at the latest message of the thread the
 *   hypothesis is in (the discussion that settled it), or at the message's own time when it has
 *   no replies. Stamping them at the message time would make every hypothesis "ruled out the
 *   moment it was raised".
 * - every other reaction at the message's own time: a :mag: hypothesis is raised at the message
 *   time anyway, a pin shows the message at its time, and an escalation or action item is what
 *   the message says.
 */
export function reactionTimes(
  history: ChannelHistory,
): (m: SlackMessage, meaning: Meaning) => DateTime {
  const lastInThread = new Map<string, SlackMessage>();
  for (const m of history.messages) {
    const thread = m.threadTs ?? m.ts;
    const prev = lastInThread.get(thread);
    if (!prev || compareSlackTs(prev.ts, m.ts) < 0) lastInThread.set(thread, m);
  }
  return (m, meaning) => {
    if (meaning !== 'ruleOut' && meaning !== 'confirm') return m.at;
    const last = lastInThread.get(m.threadTs ?? m.ts);
    return last && last.at > m.at ? last.at : m.at;
  };
}

function where(m: SlackMessage): string {
  return `${m.origin.file} message ${m.origin.index} (ts ${m.ts})`;
}
