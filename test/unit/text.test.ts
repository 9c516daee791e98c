import {
  decodeSlackText,
  escapeSlackText,
  extractMentions,
  unescapeEntities,
} from '../../src/slack/text';

describe('decodeSlackText', () => {
  const names = new Map([
    ['U123', 'Bob Ng'],
    ['S9', 'db-oncall'],
    ['C7', 'payments'],
  ]);

  it('unescapes &amp; &lt; &gt; once', () => {
    expect(decodeSlackText('p99 &lt; 200ms &amp;&amp; errors &gt; 5%')).toBe(
      'p99 < 200ms && errors > 5%',
    );
    // A literal "&lt;" typed by a user arrives as "&amp;lt;" and must stay "&lt;".
    expect(decodeSlackText('the string &amp;lt; in HTML')).toBe('the string &lt; in HTML');
  });

  it('shows user mentions as names: map first, then the label, then the id', () => {
    expect(decodeSlackText('paged <@U123|bob>', names)).toBe('paged @Bob Ng');
    expect(decodeSlackText('paged <@U123>', names)).toBe('paged @Bob Ng');
    expect(decodeSlackText('paged <@U555|carol>')).toBe('paged @carol');
    expect(decodeSlackText('paged <@U555>')).toBe('paged @U555');
    expect(decodeSlackText('paged <@W777>')).toBe('paged @W777');
  });

  it('shows user groups, @here/@channel/@everyone', () => {
    expect(decodeSlackText('to <!subteam^S1|@sre-team> now')).toBe('to @sre-team now');
    expect(decodeSlackText('to <!subteam^S9>', names)).toBe('to @db-oncall');
    expect(decodeSlackText('to <!subteam^S1>')).toBe('to @S1');
    expect(decodeSlackText('<!here> and <!channel> and <!everyone>')).toBe(
      '@here and @channel and @everyone',
    );
    expect(decodeSlackText('<!here|here> look')).toBe('@here look');
  });

  it('shows channels as #name', () => {
    expect(decodeSlackText('see <#C1|general>')).toBe('see #general');
    expect(decodeSlackText('see <#C7>', names)).toBe('see #payments');
    expect(decodeSlackText('see <#C8>')).toBe('see #C8');
  });

  it('shows links as "label (url)" or the bare url', () => {
    expect(decodeSlackText('dash <https://grafana.example/d/1|latency board>')).toBe(
      'dash latency board (https://grafana.example/d/1)',
    );
    expect(decodeSlackText('<https://x.example/a?b=1&amp;c=2>')).toBe(
      'https://x.example/a?b=1&c=2',
    );
    expect(decodeSlackText('<https://x.example/q?a=1&amp;b=2|q &amp; a>')).toBe(
      'q & a (https://x.example/q?a=1&b=2)',
    );
    expect(decodeSlackText('<mailto:ops@x.example|ops@x.example>')).toBe('ops@x.example');
    expect(decodeSlackText('<https://x.example|x.example>')).toBe('https://x.example');
  });

  it('uses the fallback of dates and leaves no markup', () => {
    const out = decodeSlackText('at <!date^1392734382^{date_short}|Feb 18, 2014> ok');
    expect(out).toBe('at Feb 18, 2014 ok');
    const mixed = decodeSlackText(
      '<@U123> &amp; <!subteam^S1|@sre> in <#C1|ops>: <https://a.example|A> &lt;3',
      names,
    );
    expect(mixed).toBe('@Bob Ng & @sre in #ops: A (https://a.example) <3');
    expect(mixed).not.toMatch(/<[@#!]/);
  });

  it('leaves text without markup alone', () => {
    expect(decodeSlackText('plain text, 14:20 – ok')).toBe('plain text, 14:20 – ok');
    expect(decodeSlackText('')).toBe('');
  });
});

describe('extractMentions', () => {
  it('returns unique user, group and channel ids in order', () => {
    expect(
      extractMentions(
        'ping <@U2|bob> and <@U1> and <@U2> with <!subteam^S1|@sre> <!subteam^S2> in <#C9|ops> <!here> <https://x.example>',
      ),
    ).toEqual({ users: ['U2', 'U1'], groups: ['S1', 'S2'], channels: ['C9'] });
  });

  it('finds nothing in plain text, escaped text or @words', () => {
    expect(extractMentions('@bob &lt;@U1&gt; plain')).toEqual({
      users: [],
      groups: [],
      channels: [],
    });
  });
});

describe('escapeSlackText / unescapeEntities', () => {
  it('round-trips', () => {
    const s = 'a < b && c > d <@U1>';
    expect(escapeSlackText(s)).toBe('a &lt; b &amp;&amp; c &gt; d &lt;@U1&gt;');
    expect(unescapeEntities(escapeSlackText(s))).toBe(s);
  });
});
