/**
 * Handlebars helpers for postmortem templates, registered on an isolated `Handlebars.create()`
 * instance (the global Handlebars is never touched).
 *
 * Templates are compiled with `noEscape: true`: Handlebars' HTML escaping would garble Markdown
 * (`&#x27;`), so user text goes through the Markdown-safe helpers below instead. Every helper
 * that prints a {@link Field} prints `_TBD: <tbd>_` when the field is unknown, and a missing
 * value (e.g. a misspelt field) also prints a visible `_TBD: …_`, never an empty string.
 *
 * The list of helpers, with examples, is in templates/README.md (HELPER_DOCS below is the source).
 */
import Handlebars from 'handlebars';
import { DateTime } from 'luxon';
import { humanDuration } from '../core/duration';
import { formatClock, formatDateTime, zoneAbbreviation } from '../core/time';
import { code, md, mdCell, mdEntry, mdInline, tbd } from './markdown';
import type { Field, PostmortemView } from './view';

export type HandlebarsEnv = typeof Handlebars;

/** Documentation of each helper for templates/README.md: [usage, what it does, example output]. */
export const HELPER_DOCS: readonly [string, string, string][] = [
  [
    '{{md x}} / {{md x indent=2}}',
    'Block text (user text or a Field), Markdown-escaped; lines kept as hard breaks; `indent` spaces before continuation lines (inside list items). Unknown field: `_TBD: …_`.',
    '`{{md summary.impact}}` → `Confirmations delayed; \\*18%\\* of EU orders`',
  ],
  [
    '{{mdInline x}}',
    'One line of inline text (newlines become spaces), Markdown-escaped. For list items, headings, bold.',
    '`{{mdInline incident.title}}` → `Queue backlog \\<b\\> # 2`',
  ],
  [
    '{{mdEntry x}} / {{mdEntry x indent=2}}',
    "Text after a list item's own words: one line stays inline (like mdInline); several lines or a code block continue as the item's block content (like md), code as a fenced block. `indent`: the item's content indent (2 for `- `).",
    '`- **{{when}}** {{mdEntry text indent=2}}`',
  ],
  [
    '{{mdCell x}}',
    'Text for a table cell: escaped like mdInline, `|` escaped, line breaks as `<br>`.',
    '`| {{mdCell formula}} |` → `| resolved − detected |`',
  ],
  [
    '{{code x}}',
    'Inline code span that fits any text (fence longer than any backtick run). `{{code x table=true}}` also escapes `|` for table cells.',
    '`{{code "SELECT 1"}}` → `` `SELECT 1` ``',
  ],
  [
    '{{tbd "what"}} / {{tbd field}}',
    'The prompt for a missing fact; given a Field, its `tbd`.',
    '`{{tbd "impact"}}` → `_TBD: impact_`',
  ],
  [
    '{{time t}}',
    'A TimeField (or ISO string) as `HH:MM ZONE`, with the date when the incident spans days.',
    '`{{time summary.detectedAt}}` → `14:02 UTC`',
  ],
  [
    '{{clock t}}',
    'A time as `HH:MM ZONE`, never with the date.',
    '`{{clock summary.end}}` → `16:47 UTC`',
  ],
  [
    '{{datetime t}}',
    'A time with its date: `YYYY-MM-DD HH:MM ZONE`.',
    '`{{datetime summary.start}}` → `2025-03-11 13:52 UTC`',
  ],
  ['{{date t}}', 'The local date `YYYY-MM-DD`.', '`{{date summary.start}}` → `2025-03-11`'],
  [
    '{{duration d}}',
    'A DurationField or a number of milliseconds, in words.',
    '`{{duration summary.duration}}` → `2 hours, 55 minutes`',
  ],
  [
    '{{zone}} / {{zone t}}',
    "The incident zone's abbreviation (at the start, or at time `t`).",
    '`{{zone}}` → `PDT`',
  ],
  [
    '{{plural n "word"}} / {{plural n "word" "words"}}',
    'The count and the word, pluralized (adds "s" unless the plural is given).',
    '`{{plural analytics.ruledOut "hypothesis" "hypotheses"}}` → `2 hypotheses`',
  ],
  [
    '(eq a b) (ne a b) (gt a b) (lt a b) (and a b …) (or a b …) (not a)',
    'Comparisons and logic for `{{#if}}` / `{{#unless}}`: `eq` is `===`, `ne` is `!==`, `gt`/`lt` compare numbers.',
    '`{{#if (eq kind "escalation")}}…{{/if}}`',
  ],
  [
    '{{join list ", "}} / {{join list ", " "field"}}',
    'Joins a list (of strings, Fields, or objects by one field), each item escaped with mdInline.',
    '`{{join roles ", "}}` → `commander, scribe`',
  ],
  [
    '{{default x "fallback"}}',
    'x when it is set (and, for a Field, known), else the fallback; output escaped with mdInline.',
    '`{{default incident.channel "no channel"}}`',
  ],
  [
    '{{has x}}',
    'True when x is set (not empty) and, for a Field, known. For `{{#if (has x)}}`.',
    '`{{#if (has summary.impact)}}…{{/if}}`',
  ],
  [
    '{{upper x}} / {{lower x}}',
    'Case conversion (no escaping; for our own values).',
    '`{{upper incident.status}}` → `RESOLVED`',
  ],
  ['{{percent ratio}}', 'A 0…1 ratio as a whole percentage.', '`{{percent 0.375}}` → `38%`'],
];

type HelperOptions = Handlebars.HelperOptions;

const isField = (v: unknown): v is Field =>
  typeof v === 'object' && v !== null && 'known' in v && 'tbd' in v;

/** The last argument Handlebars passes to every helper. */
const isOptions = (v: unknown): v is HelperOptions =>
  typeof v === 'object' && v !== null && 'hash' in v && 'data' in v;

function root(options: HelperOptions): Partial<PostmortemView> {
  const data = options.data as { root?: Partial<PostmortemView> } | undefined;
  return data?.root ?? {};
}

function rootZone(options: HelperOptions): string {
  return root(options).incident?.zone ?? 'UTC';
}

/** A printable string for a value, or a TBD prompt for something unknown. */
function resolveText(v: unknown, what: string): { text: string } | { tbd: string } {
  if (isField(v)) return v.known && v.text !== undefined ? { text: v.text } : { tbd: v.tbd };
  if (v === undefined || v === null || isOptions(v)) return { tbd: what };
  if (typeof v === 'string') return v.trim() === '' ? { tbd: what } : { text: v };
  if (typeof v === 'number' || typeof v === 'boolean') return { text: String(v) };
  if (Array.isArray(v)) return { text: v.map((x) => String(x)).join(', ') };
  return { tbd: what };
}

function printWith(escape: (s: string) => string, v: unknown, what: string): string {
  const r = resolveText(v, what);
  return 'text' in r ? escape(r.text) : tbd(r.tbd);
}

/** Accepts a TimeField, ISO string, DateTime or epoch ms. */
function toTime(v: unknown): DateTime | undefined {
  if (DateTime.isDateTime(v)) return v;
  if (typeof v === 'string') {
    const t = DateTime.fromISO(v, { zone: 'utc' });
    return t.isValid ? t : undefined;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return DateTime.fromMillis(v, { zone: 'utc' });
  if (isField(v) && v.known) {
    const iso = (v as { iso?: unknown }).iso;
    if (typeof iso === 'string') return toTime(iso);
  }
  return undefined;
}

const PREFORMATTED = { auto: 'text', clock: 'clock', datetime: 'dateTime', date: 'date' } as const;

function timeHelper(kind: 'auto' | 'clock' | 'datetime' | 'date') {
  return (v: unknown, options: HelperOptions): string => {
    if (isField(v) && !v.known) return tbd(v.tbd);
    if (isField(v)) {
      // A TimeField carries its strings, already formatted (formatting again is Intl-costly).
      const pre = (v as Partial<Record<'text' | 'clock' | 'dateTime' | 'date', unknown>>)[
        PREFORMATTED[kind]
      ];
      if (typeof pre === 'string') return pre;
    }
    const t = toTime(v);
    if (!t) return tbd('time');
    const zone = rootZone(options);
    const withDate = kind === 'datetime' || (kind === 'auto' && root(options).spansDays === true);
    if (kind === 'date') return formatDateTime(t, zone).slice(0, 10);
    return withDate ? formatDateTime(t, zone) : formatClock(t, zone);
  };
}

/** Registers every helper on `hb` (an isolated instance from `Handlebars.create()`). */
export function registerHelpers(hb: HandlebarsEnv): void {
  hb.registerHelper('md', (v: unknown, options: HelperOptions) => {
    const indent = Number(options?.hash?.indent ?? 0);
    return printWith((s) => md(s, Number.isFinite(indent) ? indent : 0), v, 'text');
  });
  hb.registerHelper('mdInline', (v: unknown) => printWith(mdInline, v, 'text'));
  hb.registerHelper('mdEntry', (v: unknown, options: HelperOptions) => {
    const indent = Number(options?.hash?.indent ?? 2);
    return printWith((s) => mdEntry(s, Number.isFinite(indent) ? indent : 2), v, 'text');
  });
  hb.registerHelper('mdCell', (v: unknown) => printWith(mdCell, v, 'text'));
  hb.registerHelper('code', (v: unknown, options: HelperOptions) => {
    const r = resolveText(v, 'text');
    return 'text' in r ? code(r.text, options?.hash?.table === true) : tbd(r.tbd);
  });
  hb.registerHelper('tbd', (v: unknown) => {
    if (isField(v)) return tbd(v.tbd);
    return tbd(typeof v === 'string' ? v : 'fill this in');
  });
  hb.registerHelper('time', timeHelper('auto'));
  hb.registerHelper('clock', timeHelper('clock'));
  hb.registerHelper('datetime', timeHelper('datetime'));
  hb.registerHelper('date', timeHelper('date'));
  hb.registerHelper('duration', (v: unknown) => {
    if (isField(v)) {
      const ms = (v as { ms?: unknown }).ms;
      if (!v.known) return tbd(v.tbd);
      if (v.text !== undefined) return mdInline(v.text);
      return typeof ms === 'number' ? humanDuration(ms) : tbd(v.tbd);
    }
    return typeof v === 'number' && Number.isFinite(v) ? humanDuration(v) : tbd('duration');
  });
  hb.registerHelper('zone', (...args: unknown[]) => {
    const options = args[args.length - 1] as HelperOptions;
    const zone = rootZone(options);
    const t = args.length > 1 ? toTime(args[0]) : undefined;
    if (t) return zoneAbbreviation(t, zone);
    return root(options).incident?.zoneAbbreviation ?? zoneAbbreviation(DateTime.utc(), zone);
  });
  hb.registerHelper('plural', (...args: unknown[]) => {
    const params = args.slice(0, -1);
    const n = Number(params[0] ?? 0);
    const word = String(params[1] ?? '');
    const many = typeof params[2] === 'string' ? params[2] : `${word}s`;
    return `${n} ${n === 1 ? word : many}`;
  });
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
  hb.registerHelper('gt', (a: unknown, b: unknown) => Number(a) > Number(b));
  hb.registerHelper('lt', (a: unknown, b: unknown) => Number(a) < Number(b));
  hb.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
  hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hb.registerHelper('not', (a: unknown) => !a);
  hb.registerHelper('has', (v: unknown) => {
    const r = resolveText(v, '');
    return 'text' in r;
  });
  hb.registerHelper('join', (...args: unknown[]) => {
    const params = args.slice(0, -1);
    const list = Array.isArray(params[0]) ? (params[0] as unknown[]) : [];
    const sep = typeof params[1] === 'string' ? params[1] : ', ';
    const field = typeof params[2] === 'string' ? params[2] : undefined;
    return list
      .map((item) =>
        field && typeof item === 'object' && item !== null
          ? (item as Record<string, unknown>)[field]
          : item,
      )
      .map((item) => resolveText(item, ''))
      .filter((r): r is { text: string } => 'text' in r)
      .map((r) => mdInline(r.text))
      .join(sep);
  });
  hb.registerHelper('default', (v: unknown, fallback: unknown) => {
    const r = resolveText(v, '');
    if ('text' in r) return mdInline(r.text);
    return typeof fallback === 'string' ? mdInline(fallback) : '';
  });
  hb.registerHelper('upper', (v: unknown) => (typeof v === 'string' ? v.toUpperCase() : ''));
  hb.registerHelper('lower', (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : ''));
  hb.registerHelper('percent', (v: unknown) => {
    if (isField(v)) {
      const ratio = (v as { ratio?: unknown }).ratio;
      if (!v.known || typeof ratio !== 'number') return tbd(v.tbd);
      return `${Math.round(ratio * 100)}%`;
    }
    return typeof v === 'number' && Number.isFinite(v) ? `${Math.round(v * 100)}%` : tbd('ratio');
  });
}

/** A fresh, isolated Handlebars instance with every helper registered. */
export function createHandlebars(): HandlebarsEnv {
  const hb = Handlebars.create();
  registerHelpers(hb);
  return hb;
}
