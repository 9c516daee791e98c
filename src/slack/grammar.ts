/**
 * The shared grammar of `/incident` subcommands.
 *
 * Before the free text a command may take optional leading tokens, in any order:
 *   - a severity `sev1`..`sev4` (any case), where the command allows one;
 *   - a time in the core's syntax (`14:20`, `2:20pm`, `2025-02-28 14:20`, `14:20 PDT`, ISO 8601).
 * A time without a zone is read in the typing user's Slack zone, else the incident's zone, else
 * the configured default zone. An ambiguous abbreviation (CST, IST, BST) takes the meaning of the
 * user's Slack zone, or is refused naming the choices. A time in the future, an unreadable time
 * or an undecided abbreviation is a UsageError (nothing is recorded).
 *
 * Also here: hypothesis ids (`H1`), owner mentions (`<@U…|name>`), `due YYYY-MM-DD`, the text
 * length limit, and how a time is echoed back (in the incident's zone).
 */
import { DateTime } from 'luxon';
import type { Ctx } from '../app/service';
import { isSeverity, type Actor, type Severity } from '../core/model';
import { formatClock, formatDateTime, isValidZone, takeLeadingTime } from '../core/time';
import { UsageError, type CommandContext } from './ports';
import { decodeSlackText, extractMentions } from './text';

/** Slack's limit for one piece of text (a block's text); longer text is refused, not cut. */
export const SLACK_TEXT_LIMIT = 3000;

export interface Leading {
  severity?: Severity;
  /** UTC. */
  time?: DateTime;
  /** The zone the time was read in (luxon zone name). */
  zone?: string;
  /** IANA zone for a zone the user typed with the time (PDT → America/Los_Angeles). */
  representativeZone?: string;
  /** The time as typed. */
  timeText?: string;
  /** What follows the leading tokens (trimmed). */
  rest: string;
}

export interface LeadingOptions {
  /** Accept a leading severity token. */
  severity?: boolean;
  /** Accept a leading time (default true). */
  time?: boolean;
  /** The usage line shown with errors. */
  usage?: string;
}

const SEVERITY_TOKEN = /^sev([1-4])(?=$|\s|[,;:.](?:\s|$))[,;:.]?\s*/i;

/** What the grammar needs from a command's context. */
export type GrammarContext = Pick<CommandContext, 'now' | 'user' | 'incident' | 'settings'>;

/** The zone a bare time is read in: the user's Slack zone, the incident's, the default. */
export function inputZone(ctx: GrammarContext): string {
  for (const z of [ctx.user.tz, ctx.incident?.state.zone, ctx.settings.defaultZone]) {
    if (z && isValidZone(z)) return z;
  }
  return 'UTC';
}

/** The zone times are shown in: the incident's, else the default. */
export function incidentZone(ctx: Pick<CommandContext, 'incident' | 'settings'>): string {
  for (const z of [ctx.incident?.state.zone, ctx.settings.defaultZone]) {
    if (z && isValidZone(z)) return z;
  }
  return 'UTC';
}

/**
 * Takes the optional leading severity and time (in any order) from `text`. Throws a UsageError
 * for a time that is in the future or cannot be read, or for a repeated token.
 */
export function takeLeading(text: string, ctx: GrammarContext, opts: LeadingOptions = {}): Leading {
  const out: Leading = { rest: text.trim() };
  const allowTime = opts.time !== false;
  for (;;) {
    if (opts.severity) {
      const m = SEVERITY_TOKEN.exec(out.rest);
      if (m) {
        if (out.severity) throw new UsageError('Give the severity only once.', opts.usage);
        out.severity = `sev${m[1]}` as Severity;
        out.rest = out.rest.slice(m[0].length).trim();
        continue;
      }
    }
    if (allowTime && !out.time) {
      const r = takeLeadingTime(out.rest, {
        now: ctx.now,
        defaultZone: inputZone(ctx),
        ...(ctx.user.tz ? { userZone: ctx.user.tz } : {}),
      });
      if (r.error) {
        throw new UsageError(
          r.error.kind === 'future'
            ? futureMessage(r.error.message)
            : r.error.kind === 'ambiguous'
              ? `${r.error.message} Nothing was recorded.`
              : `I couldn't read that time: ${r.error.message}`,
          opts.usage,
        );
      }
      if (r.time) {
        out.time = r.time.toUTC();
        out.zone = r.zone;
        out.representativeZone = r.representativeZone;
        out.timeText = r.timeText;
        out.rest = r.rest.trim();
        continue;
      }
    }
    return out;
  }
}

function futureMessage(message: string): string {
  const base = /in the future/i.test(message) ? message : `That time is in the future: ${message}`;
  return `${base} The record only takes things that have happened; leave the time out to use now.`;
}

/**
 * Echoes a time as understood, in `zone`: "14:20 PDT" when it is today there, else
 * "2025-02-27 14:20 PST".
 */
export function echoTime(t: DateTime, zone: string, now: DateTime): string {
  const sameDay = t.setZone(zone).hasSame(now.setZone(zone), 'day');
  return sameDay ? formatClock(t, zone) : formatDateTime(t, zone);
}

/** Refuses text longer than Slack's limit, with a clear message (never truncates). */
export function checkLength(text: string, what: string, usage?: string): string {
  if (text.length > SLACK_TEXT_LIMIT) {
    throw new UsageError(
      `${capitalize(what)} is ${text.length} characters; Slack's limit is ${SLACK_TEXT_LIMIT}. Shorten it or split it into several entries.`,
      usage,
    );
  }
  return text;
}

/** Free text required: decoded (names, plain characters), non-empty, within the limit. */
export function requireText(
  raw: string,
  what: string,
  usage: string,
  names?: ReadonlyMap<string, string>,
): string {
  const text = decodeSlackText(raw, names).trim();
  if (!text) throw new UsageError(`Missing ${what}.`, usage);
  return checkLength(text, what, usage);
}

/** Optional free text: decoded and within the limit, or undefined when empty. */
export function optionalText(
  raw: string,
  what: string,
  usage: string,
  names?: ReadonlyMap<string, string>,
): string | undefined {
  const text = decodeSlackText(raw, names).trim();
  return text ? checkLength(text, what, usage) : undefined;
}

/** `H3`, `h3` → `H3`; undefined for anything else. */
export function parseHypothesisId(token: string): string | undefined {
  const m = /^h(\d{1,6})$/i.exec(token.trim());
  return m && Number(m[1]) > 0 ? `H${Number(m[1])}` : undefined;
}

/** `A2`, `a2` → `A2`; undefined for anything else. */
export function parseActionId(token: string): string | undefined {
  const m = /^a(\d{1,6})$/i.exec(token.trim());
  return m && Number(m[1]) > 0 ? `A${Number(m[1])}` : undefined;
}

/** Splits off the first whitespace-separated word. */
export function firstWord(text: string): { word: string; rest: string } {
  const t = text.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(t);
  return m ? { word: m[1], rest: m[2].trim() } : { word: '', rest: '' };
}

/** Takes a leading hypothesis id; throws a UsageError when there is none. */
export function takeHypothesisId(text: string, usage: string): { id: string; rest: string } {
  const { word, rest } = firstWord(text);
  const id = parseHypothesisId(word.replace(/[,:;]$/, ''));
  if (!id) {
    throw new UsageError(
      word
        ? `"${word}" is not a hypothesis id; give one like H1 (\`/incident timeline\` lists them).`
        : 'Which hypothesis? Give its id, like H1.',
      usage,
    );
  }
  return { id, rest };
}

export interface UserMention {
  id: string;
  /** The name Slack put in the mention, if any. */
  label?: string;
}

const USER_MENTION = /^<@([UW][A-Z0-9_]+)(?:\|([^>]*))?>[,;:]?\s*/i;

/** Takes a leading `<@U…>` / `<@U…|name>` mention. */
export function takeUserMention(text: string): { user?: UserMention; rest: string } {
  const t = text.trim();
  const m = USER_MENTION.exec(t);
  if (!m) return { rest: t };
  const label = m[2]?.trim().replace(/^@/, '');
  return { user: { id: m[1], ...(label ? { label } : {}) }, rest: t.slice(m[0].length).trim() };
}

/** Only a token starting with a digit is read as a date ("due to the outage …" stays text). */
const DUE = /^due[\s:]+(\d[^\s,;]*)[,;]?\s*/i;

/** Takes a leading `due YYYY-MM-DD`; throws a UsageError for a date that is not one. */
export function takeDue(text: string, usage?: string): { due?: string; rest: string } {
  const t = text.trim();
  const m = DUE.exec(t);
  if (!m) return { rest: t };
  const raw = m[1];
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(raw) && DateTime.fromISO(raw, { zone: 'utc' }).isValid;
  if (!ok) {
    throw new UsageError(`"${raw}" is not a due date; write it as YYYY-MM-DD.`, usage);
  }
  return { due: raw, rest: t.slice(m[0].length).trim() };
}

/** `sev2`, `SEV2` → `sev2`; undefined otherwise. */
export function parseSeverity(token: string): Severity | undefined {
  const s = token.trim().toLowerCase();
  return isSeverity(s) ? s : undefined;
}

/** The person typing, as recorded. */
export function actorOf(ctx: CommandContext): Actor {
  return { id: ctx.user.id, name: ctx.user.name };
}

/** The service's Ctx for this command; `at` is the given time (default: now). */
export function serviceCtx(ctx: CommandContext, at?: DateTime): Ctx {
  return {
    actor: actorOf(ctx),
    source: 'command',
    ...(at ? { at } : ctx.receivedAt ? { at: ctx.receivedAt } : {}),
    ...(ctx.key ? { key: ctx.key } : {}),
  };
}

/** A display name for a mentioned user: Slack's profile, else the mention's label, else the id. */
export async function userName(ctx: CommandContext, m: UserMention): Promise<string> {
  try {
    const u = await ctx.slack.user(m.id);
    if (u.name) return u.name;
  } catch {
    // users.info failed (missing scope, rate limit): the label or the id will do.
  }
  return m.label ?? m.id;
}

/**
 * Display names (users.info) of the users mentioned in raw text, so the record shows names, not
 * ids or handles. A failed look-up leaves the mention's label (or id).
 */
export async function mentionNames(
  ctx: Pick<CommandContext, 'slack'>,
  raw: string,
): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  await Promise.all(
    extractMentions(raw).users.map(async (id) => {
      try {
        const u = await ctx.slack.user(id);
        if (u.name) names.set(id, u.name);
      } catch {
        // users.info failed (scope, rate limit): the label or the id will do.
      }
    }),
  );
  return names;
}

/** Shortens text for a one-line channel echo (the record keeps it whole). */
export function short(text: string, max = 200): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1).trimEnd()}…` : one;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
