/**
 * GitHub's Markdown renderer in the tests: `cmark-gfm` (Debian package `cmark-gfm`, installed by
 * .ci/run) with GitHub's extensions, its HTML read back with jsdom.
 *
 * `--unsafe` keeps raw HTML (GitHub renders it, then sanitizes; the `tagfilter` extension does
 * GitHub's part of that here), so `<details>` reaches the output as GitHub shows it. When
 * cmark-gfm is missing, `renderGfm` throws: the suites that use it fail loudly, never skip.
 */
import { spawnSync } from 'node:child_process';

/**
 * The little of the DOM the tests read. jsdom's own types reference the DOM lib, which would
 * change Node's `fetch` types for the whole program, so jsdom is loaded untyped.
 */
export interface DomNode {
  textContent: string | null;
  nextElementSibling: DomNode | null;
  querySelector(selectors: string): DomNode | null;
  querySelectorAll(selectors: string): ArrayLike<DomNode> & Iterable<DomNode>;
  cloneNode(deep: boolean): DomNode;
  remove(): void;
}
export interface DomDocument extends DomNode {
  body: DomNode;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- untyped on purpose (above)
const { JSDOM } = require('jsdom') as {
  JSDOM: new (html: string) => { window: { document: DomDocument } };
};

export const CMARK_ARGS = [
  '--extension',
  'table',
  '--extension',
  'strikethrough',
  '--extension',
  'autolink',
  '--extension',
  'tagfilter',
  '--unsafe',
];

/** The HTML cmark-gfm makes of `markdown`. */
export function gfmHtml(markdown: string): string {
  const r = spawnSync('cmark-gfm', CMARK_ARGS, { input: markdown, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `cmark-gfm could not run (${r.error?.message ?? r.stderr}); install it with \`apt-get install -y cmark-gfm\` (.ci/run does)`,
    );
  }
  return r.stdout;
}

/** The rendered document (a jsdom Document; its body holds the draft). */
export function renderGfm(markdown: string): DomDocument {
  return new JSDOM(gfmHtml(markdown)).window.document;
}

/** Text of an element without what is inside code (`<pre>`, `<code>`). */
export function textOutsideCode(el: DomNode): string {
  const clone = el.cloneNode(true);
  for (const c of [...clone.querySelectorAll('pre, code')]) c.remove();
  return clone.textContent ?? '';
}
