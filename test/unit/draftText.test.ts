/**
 * The short forms of user text a draft prints (core/summary.ts), Markdown for code blocks
 * (render/markdown.ts), Slack markup kept inside code (slack/text.ts) and the text of
 * blocks-only and attachment-only messages (import/blocks.ts).
 */
import { asStatement, claimSentence, firstSentence, shortTitle } from '../../src/core/summary';
import { attachmentsText, blocksText } from '../../src/import/blocks';
import { md, mdCell, mdEntry, mdInline, segments } from '../../src/render/markdown';
import { decodeSlackText } from '../../src/slack/text';

describe('shortTitle', () => {
  it.each([
    ['One line', 'One line'],
    ['First line\nsecond line', 'First line'],
    ['\n\n  padded first  \nrest', 'padded first'],
    [
      '```java.lang.NullPointerException\n\tat Foo.bar(Foo.java:1)```',
      '`java.lang.NullPointerException`',
    ],
    ['Keeps `code spans` inline', 'Keeps `code spans` inline'],
    ['a '.repeat(60).trim(), `${'a '.repeat(39).trim()}…`],
  ])('%j → %j', (text, title) => {
    expect(shortTitle(text)).toBe(title);
    expect([...shortTitle(text)].length).toBeLessThanOrEqual(80);
  });
});

describe('claimSentence and asStatement', () => {
  it.each([
    [
      'It ran at 22:41. Maybe the alias points at an empty index.',
      'Maybe the alias points at an empty index.',
    ],
    ['Disk full on db-2. We saw it in iostat.', 'Disk full on db-2.'],
    ['```stack\ntrace```\nCould the proxy drop it?', 'Could the proxy drop it?'],
    ['```only code here```', '`only code here`'],
  ])('claim of %j is %j', (text, claim) => {
    expect(claimSentence(text)).toBe(claim);
  });

  it('takes the first sentence', () => {
    expect(firstSentence('One. Two? Three!')).toBe('One.');
  });

  it.each([
    ['Maybe the alias points at the old index?', 'The alias points at the old index.', true],
    ['perhaps, the cache is stale', 'The cache is stale.', true],
    ['I think the backup saturated the disk.', 'The backup saturated the disk.', true],
    ['The disk was full.', 'The disk was full.', false],
    ['Is the cache stale?', undefined, true],
  ])('%j → %j (changed %s)', (sentence, statement, changed) => {
    expect(asStatement(sentence)).toEqual({ ...(statement ? { statement } : {}), changed });
  });
});

describe('Markdown for code blocks', () => {
  it('splits Slack text into prose and code blocks', () => {
    expect(segments('see:\n```a\n b```\nafter')).toEqual([
      { code: false, text: 'see:' },
      { code: true, text: 'a\n b' },
      { code: false, text: 'after' },
    ]);
    expect(segments('an unclosed ``` stays prose')).toEqual([
      { code: false, text: 'an unclosed ``` stays prose' },
    ]);
  });

  it('md fences code blocks verbatim under a list item, prose escaped', () => {
    expect(md('Plan:\n```x = a | b\n  <tel:+1|1> # no```\nthen *go*', 2)).toBe(
      'Plan:\n  ```\n  x = a | b\n    <tel:+1|1> # no\n  ```\n  then \\*go\\*',
    );
  });

  it('md starts a leading code block on its own line, with a fence longer than any run inside', () => {
    expect(md('```a ``` b```', 2)).toBe('\n  ```\n  a \n  ```\n  b\\`\\`\\`');
    expect(md('```x `` y```')).toBe('\n```\nx `` y\n```');
    expect(md('```x ```` y```'.replace('````', '``'))).toBe('\n```\nx `` y\n```');
  });

  it('mdInline shows a code block as a code span; mdCell as code spans per line', () => {
    expect(mdInline('Root: ```a | b\nc```')).toBe('Root: `a | b c`');
    expect(mdCell('fix ```a | b\nc```')).toBe('fix<br>`a \\| b`<br>`c`');
  });

  it('mdEntry keeps one line inline and continues the rest as block content', () => {
    expect(mdEntry('just one line # x')).toBe('just one line # x');
    expect(mdEntry('two\nlines', 2)).toBe('two\\\n  lines');
    expect(mdEntry('```code```', 4)).toBe('\n    ```\n    code\n    ```');
  });

  // mdInline takes a shorter path for one plain line (no white space at the ends, no double
  // space, control character, line break or backtick); these sit on either side of that border.
  it.each([
    ['a\u00a0', 'a', 'a'],
    ['\u00a0a', 'a', 'a'],
    ['a  b', 'a b', 'a b'],
    ['x\u2028y', 'x y', 'x\\\n  y'],
    ['tab\there', 'tab here', 'tab here'],
    ['## 5', '\\## 5', '\\## 5'],
    ['p99 | 12 ms #', 'p99 \\| 12 ms \\#', 'p99 \\| 12 ms \\#'],
    ['snake_case & _x_', 'snake_case & \\_x\\_', 'snake_case & \\_x\\_'],
    ['&amp; > 3', '&amp;amp; > 3', '&amp;amp; > 3'],
    ['2025) done', '2025\\) done', '2025\\) done'],
    ['#', '\\#', '\\#'],
  ])('mdInline / mdEntry of %j', (text, inline, entry) => {
    expect(mdInline(text)).toBe(inline);
    expect(mdEntry(text, 2)).toBe(entry);
  });
});

describe('Slack markup inside code is kept verbatim', () => {
  const names = new Map([['U1', 'Ann']]);
  it.each([
    ['call <tel:+15551234|555-1234>', 'call 555-1234 (tel:+15551234)'],
    ['`call <tel:+15551234|555-1234>`', '`call <tel:+15551234|555-1234>`'],
    ['```<@U1> &lt;b&gt;```', '```<@U1> <b>```'],
    ['<@U1> said `<@U1>`', '@Ann said `<@U1>`'],
  ])('%j → %j', (raw, text) => {
    expect(decodeSlackText(raw, names)).toBe(text);
  });
});

describe('text of blocks-only and attachment-only messages', () => {
  it('reads rich_text: sections, code, quotes, lists, mentions and links', () => {
    const blocks = [
      {
        type: 'rich_text',
        elements: [
          {
            type: 'rich_text_section',
            elements: [
              { type: 'text', text: 'ping ' },
              { type: 'user', user_id: 'U1' },
              { type: 'text', text: ' a<b', style: { bold: true } },
              { type: 'text', text: 'x.y', style: { code: true } },
              { type: 'link', url: 'https://e.invalid', text: 'doc' },
              { type: 'emoji', name: 'fire' },
            ],
          },
          { type: 'rich_text_preformatted', elements: [{ type: 'text', text: 'a < b' }] },
          { type: 'rich_text_quote', elements: [{ type: 'text', text: 'quoted' }] },
          {
            type: 'rich_text_list',
            style: 'ordered',
            elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text: 'one' }] }],
          },
          { type: 'something_new', text: 'kept' },
        ],
      },
      { type: 'divider' },
    ];
    const raw = blocksText(blocks);
    expect(decodeSlackText(raw, new Map([['U1', 'Ann']]))).toBe(
      'ping @Ann a<b`x.y`doc (https://e.invalid):fire:\n```a < b```\n> quoted\n1. one\nkept',
    );
    expect(blocksText([{ type: 'rich_text', elements: 'odd' }, 42, null])).toBe('');
  });

  it('reads attachments: pretext, title and text, else the fallback', () => {
    expect(
      attachmentsText([{ pretext: 'p', title: 't', text: 'x' }, { fallback: 'only fallback' }, {}]),
    ).toBe('p\nt\nx\nonly fallback');
  });
});
