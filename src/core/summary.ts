/**
 * Short forms of user text for the places a draft has room for one line: headings, timeline
 * references to a hypothesis, the one-line root cause. Pure functions over plain text (the text
 * as recorded: Slack markup already decoded, code in ``` fences and ` spans).
 */

/** Longest short title, in characters (the "…" included). */
export const TITLE_MAX = 80;

const FENCE = /```([\s\S]*?)(?:```|$)/g;

/**
 * The text with code blocks replaced by their content's first line (as a code span when it
 * fits one). Code spans are kept: they are inline and read well in a heading or a sentence.
 */
function plain(text: string): string {
  return text
    .replace(FENCE, (_m, body: string) => {
      const line = body
        .split(/\r\n|\r|\n/)
        .map((l) => l.trim())
        .find((l) => l !== '');
      return line ? `\n${line.includes('`') ? line.replace(/`/g, "'") : `\`${line}\``}\n` : '\n';
    })
    .replace(/```+/g, '');
}

/** Cuts to `max` characters at a word boundary when there is one, with "…". */
export function clipWords(text: string, max = TITLE_MAX): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const cut = chars.slice(0, max - 1).join('');
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}

/**
 * A short title: the first non-empty line (of prose, or of the first code block when the text
 * starts with one), without code markup, at most {@link TITLE_MAX} characters.
 */
export function shortTitle(text: string, max = TITLE_MAX): string {
  const line = plain(text)
    .split(/\r\n|\r|\n/)
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .find((l) => l !== '');
  return clipWords(line ?? '', max);
}

/** The sentences of the text's prose (code blocks skipped unless there is nothing else), flattened. */
export function sentences(text: string): string[] {
  const prose = text.replace(FENCE, '\n').trim() !== '' ? text.replace(FENCE, '\n') : text;
  const flat = plain(prose).replace(/\s+/g, ' ').trim();
  // A sentence ends at . ! or ? followed by a space ("max.poll.records" is one word).
  return flat
    .split(/(?<=[.!?])\s+/u)
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/**
 * The first sentence of the text's prose, on one line, without code blocks. Sentences end at
 * `.`, `!` or `?` followed by a space.
 */
export function firstSentence(text: string, max = 200): string {
  return clipWords(sentences(text)[0] ?? '', max);
}

/**
 * The sentence that states the claim of a hypothesis: the first guess or question in it
 * ("…step. Maybe the alias points at an empty index." → the second), else the first sentence.
 */
export function claimSentence(text: string, max = 200): string {
  const all = sentences(text);
  const claim = all.find((x) => HEDGE.test(x) || /\?$/.test(x)) ?? all[0] ?? '';
  return clipWords(claim, max);
}

/** Openers that make a sentence a guess rather than a statement; dropping them keeps it grammatical. */
const HEDGE =
  /^(?:maybe|perhaps|possibly|probably|i think|i suspect|i guess|i wonder if|what if|could it be that|is it possible that|might it be that|my guess is that|my guess is|so)[,\s]+/i;

/**
 * The team's statement for a guess: "Maybe the alias points at the old index?" → "The alias
 * points at the old index." (`changed`: the words differ from what was written, so the draft asks
 * to confirm them). A question that is not a hedged guess ("Is the cache stale?") cannot be
 * turned around reliably: `statement` is undefined and the caller quotes it instead.
 */
export function asStatement(sentence: string): { statement?: string; changed: boolean } {
  const s = sentence.replace(/\s+/g, ' ').trim();
  const question = /\?\s*$/.test(s);
  const h = HEDGE.exec(s);
  if (!question && !h) return { statement: s, changed: false };
  const body = (h ? s.slice(h[0].length) : s).replace(/[?\s]+$/, '').trim();
  // A question without a hedge ("Is the cache stale?") is still a question.
  if (body === '' || (question && !h)) return { changed: true };
  const text = body.charAt(0).toUpperCase() + body.slice(1);
  return { statement: /[.!]$/.test(text) ? text : `${text}.`, changed: true };
}
