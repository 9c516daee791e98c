/**
 * Slack's Block Kit limits, and the helpers every surface uses to stay within them.
 *
 * Slack refuses a whole message or view (`invalid_blocks`, `msg_blocks_too_long`) when one text
 * is a character too long, so each surface builds its blocks with these helpers:
 *
 * - mrkdwn text is escaped first (`&` → `&amp;` and so on: escaping can make text five times
 *   longer) and clipped afterwards, so the length Slack counts is the one that was checked. A cut
 *   never falls inside an entity (`&amp;`), a `<…>` link or mention, a surrogate pair or a
 *   grapheme (an emoji with its modifiers); the text ends with "…".
 * - plain_text (headers, button labels, option text, modal titles) is not escaped and is clipped
 *   the same way.
 * - a list that does not fit is cut with a last line "… and N more".
 *
 * Lengths are counted in UTF-16 code units (JavaScript's `length`), never fewer than the
 * characters Slack counts, so a text within the limit here is within Slack's limit.
 */
import { escapeSlackText } from './text';

/**
 * Documented limits (docs.slack.dev, Block Kit reference: blocks, block elements, composition
 * objects, surfaces), plus one observed limit, marked so.
 */
export const LIMITS = {
  /** Blocks in one message. */
  messageBlocks: 50,
  /** Blocks in a modal or App Home view. */
  viewBlocks: 100,
  /** A section's text. */
  sectionText: 3000,
  /** A section's fields: how many, and each one's text. */
  sectionFields: 10,
  fieldText: 2000,
  /** A header's plain_text. */
  headerText: 150,
  /** A context block's elements (each text object: sectionText). */
  contextElements: 10,
  /** An actions block's elements. */
  actionsElements: 25,
  /** A button's label (plain_text), value and url. */
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  /** block_id, action_id, callback_id. */
  id: 255,
  /** An option object's text and value; options in one select menu. */
  optionText: 75,
  optionValue: 150,
  selectOptions: 100,
  /** An input block's label and hint; an element's placeholder. */
  inputLabel: 2000,
  inputHint: 2000,
  placeholder: 150,
  /** A plain_text_input's max_length. */
  textInputMax: 3000,
  /** A modal's title, submit and close labels; its private_metadata. */
  modalTitle: 24,
  modalButton: 24,
  privateMetadata: 3000,
  /**
   * A message's top-level `text`: Slack truncates beyond 40,000 characters; the bot keeps every
   * message it builds within 4,000, Slack's recommendation for a readable message.
   */
  messageText: 4000,
  /**
   * Observed, not documented: `msg_blocks_too_long` for messages whose blocks hold more than
   * about 13,000 characters in total (slackapi/bolt-js#2509). The bot keeps the sum of a
   * message's block texts within this.
   */
  messageBlocksChars: 12000,
} as const;

/** What ends a clipped text. */
export const ELLIPSIS = '…';

/** The last line of a list cut short. */
export const andMore = (n: number): string => `… and ${n} more`;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The largest grapheme boundary at or before `end` (never inside an emoji or a surrogate pair). */
function graphemeBoundary(s: string, end: number): number {
  if (end <= 0) return 0;
  if (end >= s.length) return s.length;
  // Graphemes are short; looking at a window around the cut is enough (and linear overall).
  const from = Math.max(0, end - 64);
  let best = from;
  for (const seg of segmenter.segment(s.slice(from, Math.min(s.length, end + 64)))) {
    const stop = from + seg.index + seg.segment.length;
    if (stop > end) break;
    best = stop;
  }
  if (best === from && from > 0) {
    // One grapheme longer than the window (a long combining run): fall back to code points.
    return s.charCodeAt(end - 1) >= 0xd800 && s.charCodeAt(end - 1) <= 0xdbff ? end - 1 : end;
  }
  return best;
}

const ENTITIES = ['&amp;', '&lt;', '&gt;'];

/** Moves a cut at `end` back so that it is not inside an entity or a `<…>` markup span. */
function mrkdwnBoundary(s: string, end: number): number {
  let cut = end;
  // An entity that starts before the cut and ends after it.
  for (let p = Math.max(0, cut - 4); p < cut; p++) {
    if (s[p] === '&' && ENTITIES.some((e) => s.startsWith(e, p) && p + e.length > cut)) {
      cut = p;
      break;
    }
  }
  // Escaped user text has no raw `<` or `>`: one here is the bot's own link or mention.
  const open = s.lastIndexOf('<', cut - 1);
  if (open >= 0 && s.lastIndexOf('>', cut - 1) < open) cut = open;
  return cut;
}

function clipAt(s: string, max: number, boundary: (s: string, end: number) => number): string {
  if (s.length <= max) return s;
  if (max <= ELLIPSIS.length) return ELLIPSIS.slice(0, Math.max(0, max));
  let end = max - ELLIPSIS.length;
  for (;;) {
    const next = boundary(s, graphemeBoundary(s, end));
    if (next === end) break;
    end = next;
  }
  return `${s.slice(0, end).trimEnd()}${ELLIPSIS}`;
}

/**
 * Clips mrkdwn that is already escaped (or is the bot's own markup) to `max` characters, ending
 * with "…" when cut.
 */
export function clipMrkdwn(escaped: string, max: number): string {
  return clipAt(escaped, max, mrkdwnBoundary);
}

/** Escapes user text for mrkdwn, then clips the escaped text to `max` characters. */
export function escClip(userText: string, max: number): string {
  return clipMrkdwn(escapeSlackText(userText), max);
}

/** Clips plain_text (not escaped) to `max` characters. */
export function clipPlain(text: string, max: number): string {
  return clipAt(text, max, (_s, end) => end);
}

/** One line: whitespace runs (newlines included) become one space. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * As many lines as fit in `max` characters, joined with `\n`; when some are left out, a last
 * line `more(n)` (default "… and N more") says how many. `total` is how many items the list
 * stands for when `lines` holds only the first ones (the rest count as left out). Each line is
 * first clipped to `lineMax` (default `max`) so that one long line cannot crowd out the rest.
 */
export function fitLines(
  lines: readonly string[],
  max: number,
  opts: { lineMax?: number; total?: number; more?: (n: number) => string } = {},
): string {
  const more = opts.more ?? andMore;
  const total = Math.max(opts.total ?? lines.length, lines.length);
  const all = lines.map((l) => clipMrkdwn(l, Math.min(opts.lineMax ?? max, max)));
  const joined = all.reduce((n, l) => n + l.length + 1, -1);
  if (total === all.length && joined <= max) return all.join('\n');
  const room = max - more(total).length - 1;
  const kept: string[] = [];
  let used = -1;
  for (const l of all) {
    if (used + 1 + l.length > room) break;
    kept.push(l);
    used += 1 + l.length;
  }
  if (kept.length === 0 && all.length > 0 && room > ELLIPSIS.length) {
    kept.push(clipMrkdwn(all[0], room));
  }
  return [...kept, more(total - kept.length)].join('\n');
}

/** A mrkdwn text object, clipped to `max` (default: a section's limit). */
export function mrkdwn(escaped: string, max: number = LIMITS.sectionText) {
  return { type: 'mrkdwn' as const, text: clipMrkdwn(escaped, max) };
}

/** A plain_text object, clipped to `max` (`emoji`: Slack shows :shortcodes: as emoji). */
export function plain(text: string, max: number, emoji?: boolean) {
  return {
    type: 'plain_text' as const,
    text: clipPlain(text, max),
    ...(emoji === undefined ? {} : { emoji }),
  };
}

/** A section block with mrkdwn text within the section limit. */
export function section(escaped: string, blockId?: string) {
  return {
    type: 'section' as const,
    ...(blockId ? { block_id: clipPlain(blockId, LIMITS.id) } : {}),
    text: mrkdwn(escaped, LIMITS.sectionText),
  };
}

/** A header block (plain_text within 150 characters). */
export function header(text: string, blockId?: string) {
  return {
    type: 'header' as const,
    ...(blockId ? { block_id: clipPlain(blockId, LIMITS.id) } : {}),
    text: plain(oneLine(text), LIMITS.headerText, true),
  };
}

/** A section of fields: at most 10, each within 2,000 characters. */
export function fields(escapedTexts: readonly string[]) {
  return {
    type: 'section' as const,
    fields: escapedTexts.slice(0, LIMITS.sectionFields).map((t) => mrkdwn(t, LIMITS.fieldText)),
  };
}

/** A context block: at most 10 mrkdwn elements. */
export function context(escapedTexts: readonly string[]) {
  return {
    type: 'context' as const,
    elements: escapedTexts
      .slice(0, LIMITS.contextElements)
      .map((t) => mrkdwn(t, LIMITS.sectionText)),
  };
}

/**
 * A button. The label is clipped to 75 characters; the value is data the bot reads back, so it
 * is never clipped: a value over 2,000 characters is a bug and throws.
 */
export function button(b: {
  actionId: string;
  text: string;
  value: string;
  style?: 'primary' | 'danger';
}) {
  if (b.value.length > LIMITS.buttonValue) {
    throw new RangeError(`button value is ${b.value.length} characters (limit 2000)`);
  }
  return {
    type: 'button' as const,
    action_id: b.actionId,
    text: plain(b.text, LIMITS.buttonText),
    value: b.value,
    ...(b.style ? { style: b.style } : {}),
  };
}

/** An option object for a select menu (text within 75, value within 150). */
export function option(text: string, value: string) {
  if (value.length > LIMITS.optionValue) {
    throw new RangeError(`option value is ${value.length} characters (limit 150)`);
  }
  return { text: plain(text, LIMITS.optionText), value };
}

/** A message's top-level text (the notification and fallback), within `LIMITS.messageText`. */
export function messageText(escaped: string): string {
  return clipMrkdwn(escaped, LIMITS.messageText);
}

/** The characters of every text in a list of blocks (for LIMITS.messageBlocksChars). */
export function blockTextChars(blocks: readonly unknown[]): number {
  let n = 0;
  const walk = (v: unknown, key?: string): void => {
    if (typeof v === 'string') {
      if (key === 'text') n += v.length;
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, k);
    }
  };
  walk(blocks);
  return n;
}
