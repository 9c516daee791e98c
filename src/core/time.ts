/**
 * The one parser for every time a user types.
 *
 * Accepted (case-insensitive):
 *   14:20, 9:05, 14:20:30, 2:20pm, 2:20 PM, 2pm, 2 p.m.
 *   2025-02-28 14:20, 2025-02-28T14:20, 2025-02-28 2:20pm
 *   2025-02-28T14:20:00-08:00, 2025-02-28T22:20Z (ISO 8601; the offset in the string wins)
 * each optionally followed by a zone token: UTC, Z, GMT, UTC+2 / GMT-5:30, an IANA zone
 * (Area/Location, e.g. America/Los_Angeles) or an abbreviation from ABBREVIATIONS (read at exactly
 * that offset, whatever the season).
 *
 * Abbreviations with several meanings in use today (AMBIGUOUS_ABBREVIATIONS: CST, IST, BST) are
 * read in the meaning whose zones include the typing user's zone (`userZone`: Asia/Shanghai makes
 * CST China Standard Time); when the user's zone is none of them (or unknown), the time is refused
 * with a message naming the choices ("CST is ambiguous: use America/Chicago or Asia/Shanghai").
 *
 * A time without a date is its most recent past occurrence (allowing `skewMs` of clock skew) in
 * the zone that applies. A dated time in the future (beyond the skew) is refused, as is a wall
 * time that does not exist (spring-forward gap). An ambiguous wall time (fall-back) is the most
 * recent past instant of the two. Everything returned is in UTC.
 */
import { DateTime, FixedOffsetZone, IANAZone } from 'luxon';

export interface TimeOptions {
  /** Injected clock (tests pass a fixed one). */
  now: DateTime;
  /** IANA zone (or 'UTC') for times without a zone. */
  defaultZone: string;
  /** Allowed clock skew; default 60_000. */
  skewMs?: number;
  /**
   * The typing user's own zone (Slack's `tz`), which decides an ambiguous abbreviation; without
   * it an ambiguous abbreviation is refused.
   */
  userZone?: string;
}

/** `ambiguous`: an abbreviation with several meanings that the user's zone does not decide. */
export type TimeError = { kind: 'future' | 'invalid' | 'ambiguous'; message: string };

export type TimeParse =
  | {
      ok: true;
      /** UTC. */
      time: DateTime;
      /** IANA or fixed-offset zone the wall time was read in. */
      zone: string;
      /** IANA zone for an abbreviation/IANA token the user typed, undefined if none. */
      representativeZone?: string;
      /** The consumed input. */
      text: string;
    }
  | { ok: false; error: TimeError };

const DEFAULT_SKEW_MS = 60_000;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

interface Abbreviation {
  /** Offset from UTC in minutes. */
  offset: number;
  /** Representative IANA zone. */
  representative: string;
}

/** Common zone abbreviations: a time written with one is read at exactly this offset. */
export const ABBREVIATIONS: Readonly<Record<string, Abbreviation>> = {
  PST: { offset: -480, representative: 'America/Los_Angeles' },
  PDT: { offset: -420, representative: 'America/Los_Angeles' },
  MST: { offset: -420, representative: 'America/Denver' },
  MDT: { offset: -360, representative: 'America/Denver' },
  CST: { offset: -360, representative: 'America/Chicago' },
  CDT: { offset: -300, representative: 'America/Chicago' },
  EST: { offset: -300, representative: 'America/New_York' },
  EDT: { offset: -240, representative: 'America/New_York' },
  AKST: { offset: -540, representative: 'America/Anchorage' },
  AKDT: { offset: -480, representative: 'America/Anchorage' },
  HST: { offset: -600, representative: 'Pacific/Honolulu' },
  GMT: { offset: 0, representative: 'UTC' },
  UTC: { offset: 0, representative: 'UTC' },
  WET: { offset: 0, representative: 'Europe/Lisbon' },
  WEST: { offset: 60, representative: 'Europe/Lisbon' },
  BST: { offset: 60, representative: 'Europe/London' },
  IST: { offset: 330, representative: 'Asia/Kolkata' },
  CET: { offset: 60, representative: 'Europe/Paris' },
  CEST: { offset: 120, representative: 'Europe/Paris' },
  EET: { offset: 120, representative: 'Europe/Athens' },
  EEST: { offset: 180, representative: 'Europe/Athens' },
  MSK: { offset: 180, representative: 'Europe/Moscow' },
  SGT: { offset: 480, representative: 'Asia/Singapore' },
  HKT: { offset: 480, representative: 'Asia/Hong_Kong' },
  JST: { offset: 540, representative: 'Asia/Tokyo' },
  KST: { offset: 540, representative: 'Asia/Seoul' },
  AEST: { offset: 600, representative: 'Australia/Sydney' },
  AEDT: { offset: 660, representative: 'Australia/Sydney' },
  ACST: { offset: 570, representative: 'Australia/Adelaide' },
  ACDT: { offset: 630, representative: 'Australia/Adelaide' },
  AWST: { offset: 480, representative: 'Australia/Perth' },
  NZST: { offset: 720, representative: 'Pacific/Auckland' },
  NZDT: { offset: 780, representative: 'Pacific/Auckland' },
};

/** One meaning of an ambiguous abbreviation. */
export interface AbbreviationMeaning extends Abbreviation {
  /** What it stands for here ("China Standard Time"). */
  name: string;
  /**
   * IANA zones whose clocks are called this (aliases compare equal): a user in one of them
   * means this reading. The representative is always one of them.
   */
  zones: readonly string[];
}

/**
 * Abbreviations written for more than one zone by many people today. They are never read one
 * way silently: the user's zone picks the meaning, or the time is refused naming the choices.
 * The first meaning is the one ABBREVIATIONS lists (and formatClock prints).
 */
export const AMBIGUOUS_ABBREVIATIONS: Readonly<Record<string, readonly AbbreviationMeaning[]>> = {
  CST: [
    {
      name: 'US Central Standard Time',
      offset: -360,
      representative: 'America/Chicago',
      zones: [
        'America/Chicago',
        'America/Winnipeg',
        'America/Regina',
        'America/Swift_Current',
        'America/Rankin_Inlet',
        'America/Resolute',
        'America/Menominee',
        'America/Indiana/Knox',
        'America/Indiana/Tell_City',
        'America/North_Dakota/Beulah',
        'America/North_Dakota/Center',
        'America/North_Dakota/New_Salem',
        'America/Mexico_City',
        'America/Monterrey',
        'America/Merida',
        'America/Matamoros',
        'America/Bahia_Banderas',
        'America/Chihuahua',
        'America/Ojinaga',
        'America/Belize',
        'America/Costa_Rica',
        'America/El_Salvador',
        'America/Guatemala',
        'America/Tegucigalpa',
        'America/Managua',
        'US/Central',
        'CST6CDT',
      ],
    },
    {
      name: 'China Standard Time',
      offset: 480,
      representative: 'Asia/Shanghai',
      zones: [
        'Asia/Shanghai',
        'Asia/Chongqing',
        'Asia/Harbin',
        'Asia/Urumqi',
        'Asia/Taipei',
        'Asia/Macau',
        'PRC',
        'ROC',
      ],
    },
  ],
  IST: [
    {
      name: 'India Standard Time',
      offset: 330,
      representative: 'Asia/Kolkata',
      zones: ['Asia/Kolkata'],
    },
    {
      name: 'Israel Standard Time',
      offset: 120,
      representative: 'Asia/Jerusalem',
      zones: ['Asia/Jerusalem', 'Israel'],
    },
    {
      name: 'Irish Standard Time',
      offset: 60,
      representative: 'Europe/Dublin',
      zones: ['Europe/Dublin', 'Eire'],
    },
  ],
  BST: [
    {
      name: 'British Summer Time',
      offset: 60,
      representative: 'Europe/London',
      zones: [
        'Europe/London',
        'Europe/Belfast',
        'Europe/Guernsey',
        'Europe/Isle_of_Man',
        'Europe/Jersey',
        'GB',
      ],
    },
    {
      name: 'Bangladesh Standard Time',
      offset: 360,
      representative: 'Asia/Dhaka',
      zones: ['Asia/Dhaka'],
    },
  ],
};

/**
 * The meaning of an ambiguous abbreviation for a user in `userZone`: the one whose zones include
 * it; undefined when none (or the zone is unknown).
 */
export function meaningForZone(
  abbreviation: string,
  userZone: string | undefined,
): AbbreviationMeaning | undefined {
  const meanings = AMBIGUOUS_ABBREVIATIONS[abbreviation.toUpperCase()];
  if (!meanings || !userZone || !IANAZone.isValidZone(userZone)) return undefined;
  const id = canonicalId(userZone);
  return meanings.find((m) => m.zones.some((z) => canonicalId(z) === id));
}

/** "CST is ambiguous: use America/Chicago or Asia/Shanghai (…)" — the refusal, naming the choices. */
export function ambiguityMessage(
  abbreviation: string,
  userZone: string | undefined,
  example?: string,
): string {
  const upper = abbreviation.toUpperCase();
  const meanings = AMBIGUOUS_ABBREVIATIONS[upper] ?? [];
  const zones = orList(meanings.map((m) => m.representative));
  const names = orList(meanings.map((m) => m.name));
  const why = userZone
    ? `your Slack time zone (${userZone}) is not one of those zones, so I can't tell which you meant`
    : `I don't know your Slack time zone, so I can't tell which you meant`;
  const eg = example ? `, e.g. “${example} ${meanings[0]?.representative ?? 'UTC'}”` : '';
  return `${upper} is ambiguous: use ${zones} (${names})${eg}. ${capitalize(why)}.`;
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Abbreviations that are also ordinary English words: in free text (takeLeadingTime) they are
 * consumed as a zone only when written in capitals ("14:20 west region failed" keeps "west").
 */
const WORD_LIKE_ABBREVIATIONS = new Set(['WET', 'WEST']);

export function isValidZone(zone: string): boolean {
  if (zone.trim() === '') return false;
  if (/^utc$/i.test(zone)) return true;
  if (FixedOffsetZone.parseSpecifier(zone)) return true;
  return IANAZone.isValidZone(zone);
}

/** Fixed-offset luxon zone name for an offset in minutes: 'UTC', 'UTC-8', 'UTC+5:30'. */
function fixedZoneName(offsetMinutes: number): string {
  return FixedOffsetZone.instance(offsetMinutes).name;
}

let ianaNamesLower: Map<string, string> | undefined;

/** Proper casing for an IANA name the user typed in lower case ("america/los_angeles"). */
function canonicalIanaCase(token: string): string {
  if (/[A-Z]/.test(token)) return token;
  if (!ianaNamesLower) {
    ianaNamesLower = new Map();
    for (const name of Intl.supportedValuesOf('timeZone')) {
      ianaNamesLower.set(name.toLowerCase(), name);
    }
  }
  const known = ianaNamesLower.get(token);
  if (known) return known;
  // Aliases Intl does not list (e.g. Asia/Kolkata, listed as Asia/Calcutta): title-case the parts.
  return token.replace(/(^|[/_-])([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

export interface ResolvedZone {
  /** Luxon zone name usable in setZone: 'UTC-8' (fixed) or an IANA name. */
  zone: string;
  /** IANA zone. */
  representative: string;
}

/**
 * Resolves a zone token (IANA, UTC, Z, GMT, UTC±H[:MM], abbreviation) to { zone (luxon zone name
 * usable in setZone, e.g. 'UTC-8' fixed or IANA), representative (IANA) }; undefined if unknown.
 * IANA zones must be written Area/Location (one-word legacy names such as "Japan" or "Egypt" are
 * not accepted, so ordinary words are never mistaken for zones). An ambiguous abbreviation
 * (AMBIGUOUS_ABBREVIATIONS) resolves to the meaning of `userZone`, else to `{ ambiguous }`.
 */
export function resolveZone(
  token: string,
  userZone?: string,
): ResolvedZone | { ambiguous: string } | undefined {
  const t = token.trim();
  if (t === '') return undefined;
  const upper = t.toUpperCase();
  if (upper === 'Z') return { zone: 'UTC', representative: 'UTC' };
  if (AMBIGUOUS_ABBREVIATIONS[upper]) {
    const meaning = meaningForZone(upper, userZone);
    return meaning
      ? { zone: fixedZoneName(meaning.offset), representative: meaning.representative }
      : { ambiguous: upper };
  }
  const abbr = ABBREVIATIONS[upper];
  if (abbr) return { zone: fixedZoneName(abbr.offset), representative: abbr.representative };
  const fixed = /^(?:UTC|GMT)([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(t);
  if (fixed) {
    const hours = Number(fixed[2]);
    const minutes = fixed[3] === undefined ? 0 : Number(fixed[3]);
    if (hours > 14 || minutes > 59) return undefined;
    const offset = (fixed[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
    const zone = fixedZoneName(offset);
    // Etc/GMT zones have inverted signs and whole hours only.
    const representative =
      offset === 0 ? 'UTC' : minutes === 0 ? `Etc/GMT${offset > 0 ? '-' : '+'}${hours}` : zone;
    return { zone, representative };
  }
  if (t.includes('/') && IANAZone.isValidZone(t)) {
    const name = canonicalIanaCase(t);
    return { zone: name, representative: name };
  }
  return undefined;
}

const canonicalIds = new Map<string, string>();

/** Intl's canonical id for an IANA zone, so aliases compare equal (Asia/Kolkata = Asia/Calcutta). */
function canonicalId(zone: string): string {
  let id = canonicalIds.get(zone);
  if (id === undefined) {
    try {
      id = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    } catch {
      id = zone;
    }
    canonicalIds.set(zone, id);
  }
  return id;
}

/** Zone abbreviation at an instant, as formatClock uses it ("UTC", "PDT", "IST"). */
export function zoneAbbreviation(t: DateTime, zone: string): string {
  const local = t.setZone(zone).setLocale('en-US');
  if (!local.isValid) return zone;
  const short = local.offsetNameShort ?? zone;
  if (local.offset === 0 && /^(?:Etc\/)?(?:UTC|UCT|Universal|Zulu)$/i.test(zone)) return 'UTC';
  if (/^(?:GMT|UTC)[+-]/.test(short)) {
    const id = canonicalId(local.zoneName ?? zone);
    for (const [abbr, entry] of Object.entries(ABBREVIATIONS)) {
      if (entry.offset === local.offset && canonicalId(entry.representative) === id) return abbr;
    }
  }
  return short;
}

/** "14:20 UTC", "14:30 PDT", "09:05 IST" — HH:mm plus the zone's abbreviation at that instant. */
export function formatClock(t: DateTime, zone: string): string {
  return `${t.setZone(zone).toFormat('HH:mm')} ${zoneAbbreviation(t, zone)}`;
}

/** "2025-02-28 14:20 UTC" */
export function formatDateTime(t: DateTime, zone: string): string {
  return `${t.setZone(zone).toFormat('yyyy-MM-dd HH:mm')} ${zoneAbbreviation(t, zone)}`;
}

// ---------------------------------------------------------------------------------------------
// Lexing

/** What may follow a time or zone token: end, whitespace, or punctuation that ends a phrase. */
const BOUNDARY = String.raw`(?=$|\s|[,;:.!?)\]](?:\s|$))`;
/** H:MM[:SS][ am|pm] or H am|pm. */
const CLOCK = String.raw`(?:(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:\s*([ap])\.?m\.?(?![a-z]))?|(\d{1,2})\s*([ap])\.?m\.?(?![a-z]))`;
const DATE = String.raw`(\d{4})-(\d{1,2})-(\d{1,2})`;
const ISO_WITH_OFFSET = new RegExp(
  String.raw`^${DATE}T(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)` +
    BOUNDARY,
  'i',
);
const DATED = new RegExp(String.raw`^${DATE}(?:T|\s+)${CLOCK}`, 'i');
const UNDATED = new RegExp(String.raw`^${CLOCK}`, 'i');
const BOUNDARY_RE = new RegExp('^' + BOUNDARY);
const ZONE_TOKEN =
  /^\s*((?:UTC|GMT)[+-]\d{1,2}(?::?\d{2})?|[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*)/i;
/** Separator punctuation between a leading time and the text after it ("14:20: deploy", "14:20 - x"). */
const LEADING_SEPARATOR = /^\s*(?:(?:[,;:.]|[-–—]+)(?=\s|$))?\s*/;

interface WallTime {
  date?: { year: number; month: number; day: number };
  hour: number;
  minute: number;
  second: number;
}

/** A zone the user typed; `ambiguous` (e.g. 'CST') when the user's zone did not decide it. */
type ZoneToken = { text: string } & (ResolvedZone | { ambiguous: string });

interface Lexed {
  wall: WallTime;
  /** Fixed offset in minutes from an ISO string (wins over any zone). */
  isoOffset?: number;
  /** 'Z' suffix in an ISO string. */
  isoZulu?: boolean;
  zoneToken?: ZoneToken;
  /** Consumed length of the (left-trimmed) input. */
  length: number;
}

type LexResult = { lexed: Lexed } | { error: TimeError } | undefined;

function invalid(message: string): { error: TimeError } {
  return { error: { kind: 'invalid', message } };
}

function clockFrom(
  m: RegExpExecArray,
  i: number,
  text: string,
): { wall: Omit<WallTime, 'date'> } | { error: TimeError } {
  // Groups from CLOCK: i: H, i+1: MM, i+2: SS, i+3: a/p, i+4: H (hour-only), i+5: a/p
  let hour: number;
  let minute = 0;
  let second = 0;
  let meridiem: string | undefined;
  if (m[i] !== undefined) {
    hour = Number(m[i]);
    minute = Number(m[i + 1]);
    second = m[i + 2] === undefined ? 0 : Number(m[i + 2]);
    meridiem = m[i + 3];
  } else {
    hour = Number(m[i + 4]);
    meridiem = m[i + 5];
  }
  if (meridiem !== undefined) {
    if (hour < 1 || hour > 12) {
      return invalid(
        `“${text}” is not a valid time: with am/pm the hour must be 1–12 (use 24-hour time like 14:20, or 2:20pm).`,
      );
    }
    const pm = meridiem.toLowerCase() === 'p';
    hour = (hour % 12) + (pm ? 12 : 0);
  } else if (hour > 23) {
    return invalid(`“${text}” is not a valid time: the hour must be 0–23.`);
  }
  if (minute > 59) return invalid(`“${text}” is not a valid time: minutes must be 00–59.`);
  if (second > 59) return invalid(`“${text}” is not a valid time: seconds must be 00–59.`);
  return { wall: { hour, minute, second } };
}

function dateFrom(
  m: RegExpExecArray,
  text: string,
): { date: { year: number; month: number; day: number } } | { error: TimeError } {
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const check = DateTime.fromObject({ year, month, day }, { zone: 'UTC' });
  if (!check.isValid) {
    return invalid(`“${text}” is not a valid date: ${year}-${m[2]}-${m[3]} does not exist.`);
  }
  return { date: { year, month, day } };
}

/** Reads an optional zone token at `s`; only known zones are consumed. */
function lexZone(
  s: string,
  wordsStrict: boolean,
  userZone: string | undefined,
): { token: ZoneToken; length: number } | undefined {
  const m = ZONE_TOKEN.exec(s);
  if (!m) return undefined;
  const token = m[1];
  if (!BOUNDARY_RE.test(s.slice(m[0].length))) return undefined;
  if (
    wordsStrict &&
    WORD_LIKE_ABBREVIATIONS.has(token.toUpperCase()) &&
    token !== token.toUpperCase()
  ) {
    return undefined;
  }
  const resolved = resolveZone(token, userZone);
  if (!resolved) return undefined;
  return { token: { ...resolved, text: token }, length: m[0].length };
}

function lex(s: string, wordsStrict: boolean, userZone: string | undefined): LexResult {
  let m = ISO_WITH_OFFSET.exec(s);
  if (m) {
    const text = m[0];
    const d = dateFrom(m, text);
    if ('error' in d) return d;
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = m[6] === undefined ? 0 : Number(m[6]);
    if (hour > 23) return invalid(`“${text}” is not a valid time: the hour must be 0–23.`);
    if (minute > 59) return invalid(`“${text}” is not a valid time: minutes must be 00–59.`);
    if (second > 59) return invalid(`“${text}” is not a valid time: seconds must be 00–59.`);
    const off = m[7];
    let isoOffset = 0;
    const isoZulu = off.toUpperCase() === 'Z';
    if (!isoZulu) {
      const om = /^([+-])(\d{2}):?(\d{2})?$/.exec(off);
      const oh = Number(om?.[2] ?? 0);
      const omin = Number(om?.[3] ?? 0);
      if (oh > 14 || omin > 59) return invalid(`“${text}” has an invalid UTC offset “${off}”.`);
      isoOffset = (om?.[1] === '-' ? -1 : 1) * (oh * 60 + omin);
    }
    const lexed: Lexed = {
      wall: { date: d.date, hour, minute, second },
      isoOffset,
      isoZulu,
      length: text.length,
    };
    const z = lexZone(s.slice(text.length), wordsStrict, userZone);
    if (z) {
      lexed.zoneToken = z.token;
      lexed.length += z.length;
    }
    return { lexed };
  }

  let date: WallTime['date'];
  let clockIndex: number;
  m = DATED.exec(s);
  if (m) {
    clockIndex = 4;
  } else {
    m = UNDATED.exec(s);
    if (!m) return undefined;
    clockIndex = 1;
  }
  const consumed = m[0];
  const after = s.slice(consumed.length);
  const z = lexZone(after, wordsStrict, userZone);
  if (!z && !BOUNDARY_RE.test(after)) return undefined; // "14:20we", "3pmx": not a time
  const text = z ? s.slice(0, consumed.length + z.length).trim() : consumed;
  if (clockIndex === 4) {
    const d = dateFrom(m, text);
    if ('error' in d) return d;
    date = d.date;
  }
  const c = clockFrom(m, clockIndex, text);
  if ('error' in c) return c;
  const lexed: Lexed = { wall: { ...c.wall, date }, length: consumed.length };
  if (z) {
    lexed.zoneToken = z.token;
    lexed.length += z.length;
  }
  return { lexed };
}

// ---------------------------------------------------------------------------------------------
// Resolving wall times to instants

function wallMillis(
  date: { year: number; month: number; day: number },
  w: Pick<WallTime, 'hour' | 'minute' | 'second'>,
): number {
  return Date.UTC(date.year, date.month - 1, date.day, w.hour, w.minute, w.second);
}

/** Offset (minutes) of `zone` at epoch millis `ts`. */
function offsetAt(zone: string, ts: number): number {
  return DateTime.fromMillis(ts, { zone }).offset;
}

/**
 * Every instant at which the wall time reads `local` (millis as if UTC) in `zone`: none in a
 * spring-forward gap, two on a fall-back night, else one. Sorted ascending.
 */
function instantsFor(zone: string, local: number): number[] {
  const offsets = new Set([offsetAt(zone, local - DAY_MS), offsetAt(zone, local + DAY_MS)]);
  offsets.add(offsetAt(zone, local - offsetAt(zone, local) * MINUTE_MS));
  const out = new Set<number>();
  for (const o of offsets) {
    const ts = local - o * MINUTE_MS;
    if (offsetAt(zone, ts) === o) out.add(ts);
  }
  return [...out].sort((a, b) => a - b);
}

function addDays(date: { year: number; month: number; day: number }, n: number) {
  const d = DateTime.fromObject(date, { zone: 'UTC' }).plus({ days: n });
  return { year: d.year, month: d.month, day: d.day };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function wallText(w: WallTime): string {
  const s = w.second ? `:${pad2(w.second)}` : '';
  return `${pad2(w.hour)}:${pad2(w.minute)}${s}`;
}

function dateText(d: { year: number; month: number; day: number }): string {
  return `${d.year}-${pad2(d.month)}-${pad2(d.day)}`;
}

function gapError(w: WallTime, date: { year: number; month: number; day: number }, zone: string) {
  return invalid(
    `${wallText(w)} does not exist in ${zone} on ${dateText(date)}: the clocks skipped forward ` +
      `for daylight saving time. Give a time before or after the gap, or add a zone like UTC.`,
  );
}

interface Resolved {
  time: DateTime;
  zone: string;
  representativeZone?: string;
}

function resolve(
  lexed: Lexed,
  opts: TimeOptions,
  typed: string,
): { resolved: Resolved } | { error: TimeError } {
  const now = opts.now.toMillis();
  const latest = now + (opts.skewMs ?? DEFAULT_SKEW_MS);
  const w = lexed.wall;

  let token: (ZoneToken & ResolvedZone) | undefined;
  if (lexed.zoneToken && 'ambiguous' in lexed.zoneToken) {
    const abbr = lexed.zoneToken.ambiguous;
    // With an ISO offset, the meaning at that offset (if exactly one) is what was meant.
    const atOffset =
      lexed.isoOffset === undefined
        ? []
        : (AMBIGUOUS_ABBREVIATIONS[abbr] ?? []).filter((m) => m.offset === lexed.isoOffset);
    if (atOffset.length !== 1) {
      const example = typed.slice(0, typed.length - lexed.zoneToken.text.length).trim();
      return {
        error: { kind: 'ambiguous', message: ambiguityMessage(abbr, opts.userZone, example) },
      };
    }
    token = {
      text: lexed.zoneToken.text,
      zone: fixedZoneName(atOffset[0].offset),
      representative: atOffset[0].representative,
    };
  } else if (lexed.zoneToken) {
    token = lexed.zoneToken;
  }

  let zone: string;
  let label: string | undefined; // what to call the zone in messages, when the user typed one
  let representativeZone: string | undefined;
  if (lexed.isoOffset !== undefined) {
    zone = fixedZoneName(lexed.isoOffset);
    if (lexed.isoZulu) representativeZone = 'UTC';
    if (token) representativeZone = token.representative;
  } else if (token) {
    zone = token.zone;
    representativeZone = token.representative;
    const upper = token.text.toUpperCase();
    if (upper === 'Z') label = 'UTC';
    else if (ABBREVIATIONS[upper] || AMBIGUOUS_ABBREVIATIONS[upper]) label = upper;
  } else {
    zone = opts.defaultZone;
    if (!isValidZone(zone)) {
      return invalid(
        `The time zone “${zone}” is not a valid zone; add a zone like UTC to the time.`,
      );
    }
  }

  const show = (t: number) => {
    const dt = DateTime.fromMillis(t, { zone: 'UTC' });
    const abbr = label ?? zoneAbbreviation(dt, zone);
    return {
      dateTime: `${dt.setZone(zone).toFormat('yyyy-MM-dd HH:mm')} ${abbr}`,
      clock: `${dt.setZone(zone).toFormat('HH:mm')} ${abbr}`,
    };
  };
  const done = (t: number) => ({
    resolved: { time: DateTime.fromMillis(t, { zone: 'UTC' }), zone, representativeZone },
  });

  if (w.date) {
    const candidates = instantsFor(zone, wallMillis(w.date, w));
    if (candidates.length === 0) return gapError(w, w.date, zone);
    const past = candidates.filter((t) => t <= latest);
    if (past.length > 0) return done(past[past.length - 1]);
    return {
      error: {
        kind: 'future',
        message: `${show(candidates[0]).dateTime} is in the future (it is now ${show(now).clock}).`,
      },
    };
  }

  // No date: the most recent past occurrence, looking from tomorrow (for skew) backwards.
  const today = DateTime.fromMillis(now, { zone });
  const todayDate = { year: today.year, month: today.month, day: today.day };
  for (let n = 1; n >= -3; n--) {
    const date = addDays(todayDate, n);
    const local = wallMillis(date, w);
    const candidates = instantsFor(zone, local);
    if (candidates.length === 0) {
      // In the gap: refuse if this day's wall time has already been reached.
      const nominal = local - offsetAt(zone, local - DAY_MS) * MINUTE_MS;
      if (nominal <= latest) return gapError(w, date, zone);
      continue;
    }
    const past = candidates.filter((t) => t <= latest);
    if (past.length > 0) return done(past[past.length - 1]);
  }
  // Unreachable for real zones (a wall time occurs at least once a day).
  return invalid(`Could not place ${wallText(w)} in ${zone}.`);
}

// ---------------------------------------------------------------------------------------------
// Public parsing API

/**
 * Takes an optional time from the START of free text: "14:20 PDT we suspected the payment API"
 * -> time + rest "we suspected the payment API". Returns { rest: text } with no time when the
 * text does not start with something time-like. Never swallows words: a zone token is consumed
 * only when it is a known abbreviation/IANA zone/UTC/Z/GMT. Something time-like but invalid or
 * in the future yields `error` (and rest = the whole text).
 */
export function takeLeadingTime(
  text: string,
  opts: TimeOptions,
): {
  time?: DateTime;
  zone?: string;
  representativeZone?: string;
  timeText?: string;
  rest: string;
  error?: TimeError;
} {
  return take(text, opts, true);
}

function take(
  text: string,
  opts: TimeOptions,
  wordsStrict: boolean,
): ReturnType<typeof takeLeadingTime> {
  const s = text.trimStart();
  const lx = lex(s, wordsStrict, opts.userZone);
  if (!lx) return { rest: text };
  if ('error' in lx) return { rest: text, error: lx.error };
  const r = resolve(lx.lexed, opts, s.slice(0, lx.lexed.length).trim());
  if ('error' in r) return { rest: text, error: r.error };
  const timeText = s.slice(0, lx.lexed.length).trim();
  const rest = s.slice(lx.lexed.length).replace(LEADING_SEPARATOR, '').trimEnd();
  return {
    time: r.resolved.time,
    zone: r.resolved.zone,
    representativeZone: r.resolved.representativeZone,
    timeText,
    rest,
  };
}

const EXAMPLES = 'Try 14:20, 2:20pm, 2025-02-28 14:20, or add a zone: 14:20 UTC, 2:20pm PDT.';

/** The whole input must be one time expression. */
export function parseTime(input: string, opts: TimeOptions): TimeParse {
  const trimmed = input.trim();
  if (trimmed === '') {
    return { ok: false, error: { kind: 'invalid', message: `No time given. ${EXAMPLES}` } };
  }
  const r = take(trimmed, opts, false);
  if (r.error) return { ok: false, error: r.error };
  if (!r.time || r.zone === undefined || r.timeText === undefined) {
    return {
      ok: false,
      error: { kind: 'invalid', message: `I couldn't read “${trimmed}” as a time. ${EXAMPLES}` },
    };
  }
  if (r.rest !== '') {
    // A lone word after a time without a zone is most likely a zone we don't know.
    const zoneless = r.representativeZone === undefined && r.zone === opts.defaultZone;
    const message =
      zoneless && /^\S+$/.test(r.rest)
        ? `I don't know the time zone “${r.rest}” in “${trimmed}”. Use UTC, an abbreviation like PDT, or an IANA zone like America/Los_Angeles.`
        : `I couldn't read “${trimmed}” as a time (unexpected “${r.rest}”). ${EXAMPLES}`;
    return { ok: false, error: { kind: 'invalid', message } };
  }
  return {
    ok: true,
    time: r.time,
    zone: r.zone,
    representativeZone: r.representativeZone,
    text: r.timeText,
  };
}
