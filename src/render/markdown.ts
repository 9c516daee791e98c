/**
 * Markdown escaping for user text in postmortem drafts (GitHub-flavoured Markdown).
 *
 * User text is rendered verbatim — what was typed is what the reader sees — but it can never
 * change the document's structure: no headings, lists, quotes, code blocks, tables, links, HTML
 * or emphasis can start or end inside it. Every escape is a CommonMark backslash escape (any
 * ASCII punctuation may be escaped), so the rendered text shows the original characters.
 *
 * User text is only ever *data* handed to Handlebars, never part of a template string, so
 * `{{x}}` in user text is printed literally and never evaluated.
 */

/**
 * Characters that always take a backslash: they can open or close inline syntax anywhere. `>`
 * is not among them: with `<` escaped it cannot close HTML, and it only quotes at a line start.
 */
const INLINE_SPECIALS = /[\\`*[\]<|~]/g;

/** `_` opens/closes emphasis only at a word boundary; intraword `db_pool_size` is left readable. */
const LOOSE_UNDERSCORE = /(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu;

/** An HTML entity or character reference, which Markdown would decode (`&lt;` → `<`). */
const ENTITY = /&(#?[A-Za-z0-9]+;)/g;

/** Markers that start a block when they open a line. */
const LINE_START: [RegExp, string][] = [
  [/^(\s*)(#{1,6})(?=\s|$)/, '$1\\$2'], // ATX heading
  [/^(\s*)([-+])(?=\s|$)/, '$1\\$2'], // bullet list item (`*` is always escaped)
  [/^(\s*)(=+|-+)\s*$/, '$1\\$2'], // setext heading underline / thematic break
  [/^(\s*)(\d{1,9})([.)])(?=\s|$)/, '$1$2\\$3'], // ordered list item
];

/** Every LINE_START marker begins with one of these after optional white space. */
const MAY_START_BLOCK = /^\s*[#\-+=\d]/;

function escapeLineStart(line: string): string {
  if (!MAY_START_BLOCK.test(line)) return line;
  for (const [re, to] of LINE_START) if (re.test(line)) return line.replace(re, to);
  return line;
}

/**
 * Escapes inline syntax in text outside code spans. (The later steps only run on text holding
 * the character they escape: this runs once per message of a long channel log.)
 */
function escapeText(s: string): string {
  let out = s.replace(INLINE_SPECIALS, '\\$&');
  if (out.includes('>')) out = out.replace(/^(\s*)>/, '$1\\>');
  if (out.includes('_')) out = out.replace(LOOSE_UNDERSCORE, '\\_');
  if (out.includes('&')) out = out.replace(ENTITY, '&amp;$1');
  return out;
}

/**
 * Escapes inline syntax on one line (no line-start handling). A simple code span the user wrote
 * (`` `max.poll.records` ``: one backtick, closed by one backtick on the same line, as Slack
 * writes code) is kept as code, since it cannot reach outside the text; every other backtick is
 * escaped, so it can never pair with one outside the user's text or open a fence. In table
 * cells, `|` is escaped inside code spans too (GFM splits cells on it even there).
 */
function escapeSpans(s: string, inTable = false): string {
  const out: string[] = [];
  let pos = 0;
  for (const m of s.matchAll(/(?<!`)`([^`]+)`(?!`)/g)) {
    const at = m.index ?? 0;
    out.push(escapeText(s.slice(pos, at)));
    out.push(`\`${inTable ? m[1].replace(/\|/g, '\\|') : m[1]}\``);
    pos = at + m[0].length;
  }
  out.push(escapeText(s.slice(pos)));
  return out.join('');
}

const NEWLINES = /\r\n|\r|\n|\u2028|\u2029/;

function lines(s: string): string[] {
  return s.split(NEWLINES);
}

/** Tabs and other control characters become spaces (they would indent code blocks or vanish). */
function normalize(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\t\v\f\u0000-\u0008\u000e-\u001f\u007f]/g, ' ');
}

/** A piece of user text: prose, or the content of a Slack code block (```` ``` ````…```` ``` ````). */
interface Segment {
  code: boolean;
  text: string;
}

/** True when segments() finds a code block (its pattern, not global, so `test` keeps no state). */
const HAS_CODE_BLOCK = /```[\s\S]*?```/;

/**
 * Splits text into prose and code blocks, as Slack marks them: ```` ``` ```` opens and closes a
 * block anywhere on a line. An unclosed ```` ``` ```` is prose (escaped, shown as typed). A code
 * block's content loses the one newline after the opening and before the closing fence.
 */
export function segments(text: string): Segment[] {
  const out: Segment[] = [];
  let pos = 0;
  for (const m of text.matchAll(/```([\s\S]*?)```/g)) {
    const at = m.index ?? 0;
    if (at > pos) out.push({ code: false, text: text.slice(pos, at) });
    const body = m[1].replace(/^[ \t]*(?:\r\n|\r|\n)/, '').replace(/(?:\r\n|\r|\n)[ \t]*$/, '');
    out.push({ code: true, text: body });
    pos = at + m[0].length;
  }
  if (pos < text.length) out.push({ code: false, text: text.slice(pos) });
  // The line break between prose and a fence belongs to the fence (no empty line around it).
  return out.map((seg, i) => {
    if (seg.code) return seg;
    let t = seg.text;
    if (out[i + 1]?.code) t = t.replace(/(?:\r\n|\r|\n)[ \t]*$/, '');
    if (out[i - 1]?.code) t = t.replace(/^[ \t]*(?:\r\n|\r|\n)/, '');
    return { code: false, text: t };
  });
}

/** Control characters other than tab and newline, which no renderer shows. */
// eslint-disable-next-line no-control-regex
const CODE_CONTROLS = /[\v\f\u0000-\u0008\u000e-\u001f\u007f]/g;

/** Lines of a fenced code block: a fence longer than any backtick run inside, content verbatim. */
function fenced(body: string): string[] {
  const content = lines(body.replace(CODE_CONTROLS, ' '));
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [fence, ...content, fence];
}

/**
 * One line of inline text, e.g. after a list marker or inside bold. Newlines become spaces,
 * runs of spaces collapse, and every Markdown special is escaped. A code block becomes an inline
 * code span (its lines joined), so it is still shown as code.
 */
export function mdInline(text: string): string {
  // Most messages are one plain line: nothing to split, trim, collapse or quote as code, so the
  // steps below would hand it to escapeText unchanged. Same result, without the copies.
  if (PLAIN_LINE.test(text) && !text.includes('  ')) return endInline(escapeText(text));
  const joined = segments(text.split(NUL).join(' '))
    .map((seg) => (seg.code ? `${NUL}${seg.text}${NUL}` : seg.text))
    .join(' ');
  const flat = lines(normalizeKeep0(joined))
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ')
    .replace(/ {2,}/g, ' ');
  // Code blocks were marked with NUL (the text's own NULs were removed): print them as spans.
  const out = flat
    .split(NUL)
    .map((part, i) => (i % 2 === 1 ? code(part.trim()) : escapeSpans(part)))
    .join('');
  return endInline(out);
}

/**
 * One line with no white space at either end, no line break or other control character and no
 * backtick (so no code block or span): what mdInline's general path would pass on unchanged.
 */
const PLAIN_LINE =
  // eslint-disable-next-line no-control-regex
  /^(?:[^\s`\u0000-\u001f\u007f]|[^\s`\u0000-\u001f\u007f][^`\u0000-\u001f\u007f\u2028\u2029]*[^\s`\u0000-\u001f\u007f])$/;

/**
 * The last step of mdInline: line-start markers, and a trailing ` #` run (it would be taken as
 * the closing sequence of a heading and vanish).
 */
function endInline(out: string): string {
  const line = escapeLineStart(out);
  return line.endsWith('#') ? line.replace(/(\s)(#+)$/, '$1\\$2') : line;
}

/** Marks code blocks inside mdInline. */
const NUL = String.fromCharCode(0);

/** normalize(), keeping NUL (used as a marker by mdInline; other NULs are removed first). */
function normalizeKeep0(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\t\v\f\u0001-\u0008\u000e-\u001f\u007f]/g, ' ');
}

/**
 * Text for a GFM table cell: like mdInline, and line breaks are kept as `<br>` (the only way a
 * cell can hold several lines). `|` is escaped so it never splits the cell. Code block lines
 * are code spans.
 */
export function mdCell(text: string): string {
  const parts: string[] = [];
  for (const seg of segments(text)) {
    for (const raw of lines(normalize(seg.text))) {
      const l = seg.code ? raw : raw.trim();
      if (l.trim() === '') continue;
      parts.push(seg.code ? code(l, true) : escapeSpans(l.replace(/ {2,}/g, ' '), true));
    }
  }
  return parts.length ? parts.join('<br>') : ' ';
}

/**
 * Block text (a paragraph, or the body of a list item). Prose lines are kept as hard line breaks
 * (trailing backslash); blank lines become paragraph breaks; leading indentation is dropped so no
 * line can turn into an indented code block. Code blocks become fenced code blocks, content
 * verbatim. `indent` spaces are put before every line but the first, so multi-line text stays
 * inside the list item it is written in.
 */
export function md(text: string, indent = 0): string {
  const pad = ' '.repeat(Math.max(0, Math.min(indent, 16)));
  const out: string[] = [];
  for (const seg of segments(text)) {
    if (seg.code) {
      out.push(...fenced(seg.text));
      continue;
    }
    const ls = lines(normalize(seg.text)).map((l) => l.trim().replace(/ {2,}/g, ' '));
    for (let i = 0; i < ls.length; i += 1) {
      const l = ls[i];
      if (l === '') {
        if (out.length && out[out.length - 1] !== '') out.push('');
        continue;
      }
      const next = ls[i + 1];
      const hardBreak = next !== undefined && next.trim() !== '';
      out.push(escapeLineStart(escapeSpans(l)) + (hardBreak ? '\\' : ''));
    }
  }
  while (out.length && out[out.length - 1] === '') out.pop();
  while (out.length && out[0] === '') out.shift();
  const body = out.map((l, i) => (i === 0 || l === '' ? l : pad + l)).join('\n');
  // A leading code block starts on a line of its own: after a label (`**Impact:** `) or a list
  // marker on the same line its fence would be plain text.
  return out.length && out[0].startsWith('```') ? `\n${pad}${body}` : body;
}

/**
 * Text after a list item's own words (`- **14:02** Boris: …`): one line stays inline (mdInline);
 * multi-line text or code goes on as block content of the item (md with `indent`), a leading code
 * block starting on the next line, so GitHub shows it as the entry's code block, not flattened.
 */
export function mdEntry(text: string, indent = 2): string {
  const multiLine =
    (text.includes('```') && HAS_CODE_BLOCK.test(text)) ||
    (NEWLINES.test(text) && NEWLINES.test(text.trim()));
  return multiLine ? md(text, indent) : mdInline(text);
}

/**
 * Inline code. The fence is one backtick longer than the longest run inside, so any text fits;
 * newlines become spaces. Set `inTable` to escape `|`, which splits GFM table cells even
 * inside code spans.
 */
export function code(text: string, inTable = false): string {
  let body = lines(normalize(text)).join(' ');
  if (inTable) body = body.replace(/\|/g, '\\|');
  if (body.trim() === '') return '` `';
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = body.startsWith('`') || body.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

/**
 * The standard prompt for a missing fact: `_TBD: impact — who was affected?_`. The prompt is
 * escaped like mdInline, except that `code spans` in it are kept (prompts name commands).
 */
export function tbd(what: string): string {
  const text = what
    .split(/(`[^`\n]+`)/)
    .map((part, i) => (i % 2 === 1 ? part : escapeText(part.replace(/\s+/g, ' '))))
    .join('')
    .trim();
  return `_TBD: ${text === '' ? 'fill this in' : text}_`;
}
