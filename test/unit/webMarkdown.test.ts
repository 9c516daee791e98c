import { escapeHtml, markdownToHtml } from '../../src/web/markdown';

describe('markdownToHtml (the draft on the incident page)', () => {
  it.each([
    ['# Title', '<h1>Title</h1>'],
    ['## Timeline ##', '<h2>Timeline</h2>'],
    ['one\ntwo', '<p>one<br>two</p>'],
    ['- a\n- **b**', '<ul><li>a</li><li><strong>b</strong></li></ul>'],
    ['1. a\n2. b', '<ol><li>a</li><li>b</li></ol>'],
    ['`x < y`', '<p><code>x &lt; y</code></p>'],
    ['_H1_ ruled out', '<p><em>H1</em> ruled out</p>'],
    ['snake_case_name stays', '<p>snake_case_name stays</p>'],
    ['---', '<hr>'],
    ['> quoted', '<blockquote><p>quoted</p></blockquote>'],
    [
      '| A | B |\n| --- | :-: |\n| 1 | x \\| y |',
      '<div class="table"><table><thead><tr><th>A</th><th>B</th></tr></thead><tbody><tr><td>1</td><td>x | y</td></tr></tbody></table></div>',
    ],
    [
      '```mermaid\ngantt\n  a : b\n```',
      '<pre><code class="language-mermaid">gantt\n  a : b</code></pre>',
    ],
    ['escaped \\*stars\\*', '<p>escaped *stars*</p>'],
  ])('%j', (md, html) => {
    expect(markdownToHtml(md)).toBe(html);
  });

  it.each([
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '[click](javascript:alert(1))',
    '**<b onmouseover=x>**',
    '| <i>a</i> |\n| --- |\n| "><svg onload=x> |',
    '```"><script>\n<script>\n```',
    '# <iframe src=//evil>',
    '> <a href=x>',
  ])('never lets markup through: %j', (md) => {
    const html = markdownToHtml(md);
    expect(html).not.toMatch(/<(script|img|iframe|svg|a|b|i)[\s>]/i);
    // No tag of ours carries an attribute that could load or run anything.
    expect(html).not.toMatch(/<[a-z]+[^>]*\s(href|src|on\w+)=/i);
    if (md.includes('<')) expect(html).toContain('&lt;');
  });

  it('escapes all five HTML-special characters', () => {
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
  });
});
