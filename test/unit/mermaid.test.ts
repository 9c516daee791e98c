import { DateTime } from 'luxon';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ganttDiagram, mermaidLabel } from '../../src/render/mermaid';
import { IncidentBuilder, queueBacklogIncident } from '../helpers/incidentBuilder';

const NOW = DateTime.fromISO('2025-03-11T16:05:00Z', { zone: 'utc' });
const SAFE_LABEL = /^[\p{L}\p{M}\p{N} .,+/!?&@\u2236…-]+$/u;
const DATE = '\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}';
const TASK = new RegExp(
  `^ {4}(.+?) :(?:milestone, m\\d+, ${DATE}, 0m|(?:crit, |active, )?h\\d+, ${DATE}, [1-9]\\d*m)$`,
  'u',
);

/** Checks every line against the subset of gantt syntax we emit. */
function expectValidGantt(src: string): void {
  const lines = src.split('\n');
  expect(lines[0]).toBe('gantt');
  expect(lines[1]).toMatch(/^ {4}title [^:;#%\n]+$/);
  expect(lines[2]).toBe('    dateFormat YYYY-MM-DD HH:mm');
  expect(lines[3]).toMatch(/^ {4}axisFormat (?:%H:%M|%m-%d %H:%M)$/);
  for (const line of lines.slice(4)) {
    if (/^ {4}section (?:Response|Hypotheses)$/.test(line)) continue;
    if (/^ {4}%% \d+ more (?:hypotheses|escalations) not drawn$/.test(line)) continue;
    const m = TASK.exec(line);
    expect(m).not.toBeNull();
    const label = m?.[1] ?? '';
    expect(label).toMatch(SAFE_LABEL);
    expect(label).not.toMatch(/--|\.\./);
    expect(label).toMatch(/^(?:Detected|Resolved|Escalated to|H\d+ (?:open|ruled out|confirmed))/);
  }
}

interface ParsedTask {
  id: string;
  start: number;
  end: number;
  milestone: boolean;
}
interface Parsed {
  ok: boolean;
  error?: string;
  type?: string;
  tasks?: ParsedTask[];
}

/**
 * Parses sources with Mermaid's own parser (mermaid@11 under jsdom, ESM-only, so in a child
 * `node` process), in UTC so Mermaid's wall times read back as "instant + fixed offset".
 */
function parseWithMermaid(sources: string[]): Parsed[] {
  const r = spawnSync(
    process.execPath,
    [path.join(__dirname, '..', 'helpers', 'mermaidCheck.mjs')],
    { input: JSON.stringify(sources), env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`mermaid checker failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Parsed[];
}

/** Every bar has a positive length, and bars start in the order of their hypotheses' instants. */
function expectSaneBars(parsed: Parsed, raised: DateTime[], offsetMinutes: number): void {
  expect(parsed).toMatchObject({ ok: true, type: 'gantt' });
  const bars = (parsed.tasks ?? []).filter((t) => !t.milestone);
  expect(bars).toHaveLength(raised.length);
  bars.forEach((b, i) => {
    expect(b.end).toBeGreaterThan(b.start);
    // Mermaid's start is the wall time we wrote: the instant at the one fixed offset.
    expect(b.start).toBe(raised[i].toMillis() + offsetMinutes * 60_000);
  });
}

describe('ganttDiagram', () => {
  it('draws the response of a full incident', () => {
    const src = ganttDiagram(queueBacklogIncident().incident().state, {
      now: NOW,
      title: 'INC-7 Order queue backlog on orders-eu',
    });
    expect(src).toBe(
      [
        'gantt',
        '    title INC-7 Order queue backlog on orders-eu',
        '    dateFormat YYYY-MM-DD HH:mm',
        '    axisFormat %H:%M',
        '    section Response',
        '    Detected :milestone, m1, 2025-03-11 14:00, 0m',
        '    Escalated to Priya Shah Kafka platform on-call :milestone, m2, 2025-03-11 14:31, 0m',
        '    Escalated to payments-platform team :milestone, m3, 2025-03-11 14:44, 0m',
        '    Resolved :milestone, m4, 2025-03-11 15:36, 0m',
        '    section Hypotheses',
        '    H1 ruled out - Broker node eu-2 is throttling p… :crit, h1, 2025-03-11 14:09, 15m',
        '    H2 ruled out - Traffic spike from the spring pr… :crit, h2, 2025-03-11 14:18, 20m',
        '    H3 confirmed - The 13∶40 config push lowered ma… :active, h3, 2025-03-11 14:41, 11m',
        '    H4 open - The config validator accepted the val… :h4, 2025-03-11 14:55, 41m',
      ].join('\n'),
    );
    expectValidGantt(src ?? '');
  });

  it('returns undefined when there is nothing to draw', () => {
    expect(
      ganttDiagram(new IncidentBuilder().opened('10:00', 'x').incident().state, { now: NOW }),
    ).toBeUndefined();
  });

  it('runs open hypotheses to now while unresolved, and gives instant ones a minute', () => {
    const s = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .hypothesis('10:10', 'still open')
      .hypothesis('10:20', 'instant')
      .ruleOut('H2', '10:20:30', 'no')
      .incident().state;
    const src = ganttDiagram(s, { now: DateTime.fromISO('2025-03-11T11:30:00Z') }) ?? '';
    expect(src).toContain('    H1 open - still open :h1, 2025-03-11 10:10, 80m');
    expect(src).toContain('    H2 ruled out - instant :crit, h2, 2025-03-11 10:20, 1m');
    expect(src).not.toContain('Resolved');
    expectValidGantt(src);
  });

  it('writes wall times in the incident zone, and dates on the axis across days', () => {
    const s = new IncidentBuilder({ zone: 'America/Los_Angeles', date: '2025-06-10' })
      .opened('23:00', 'x')
      .detected('23:00')
      .resolve('+1d 01:30')
      .incident().state;
    const src = ganttDiagram(s, { now: NOW }) ?? '';
    expect(src).toContain('    Detected :milestone, m1, 2025-06-10 23:00, 0m');
    expect(src).toContain('    Resolved :milestone, m2, 2025-06-11 01:30, 0m');
    expect(src).toContain('    axisFormat %m-%d %H:%M');
    expectValidGantt(src);
  });

  it('caps the number of bars and milestones', () => {
    const b = new IncidentBuilder().opened('08:00', 'x').detected('08:00');
    for (let i = 0; i < 45; i += 1) b.hypothesis(`08:${String(i).padStart(2, '0')}`, `h${i}`);
    for (let i = 0; i < 23; i += 1) b.escalate(`09:${String(i).padStart(2, '0')}`, `team ${i}`);
    const src = ganttDiagram(b.incident().state, { now: NOW }) ?? '';
    expect(src.split('\n').filter((l) => / :(?:crit, |active, )?h\d+, /.test(l))).toHaveLength(40);
    expect(src.split('\n').filter((l) => l.includes('Escalated to'))).toHaveLength(20);
    expect(src).toContain('    %% 5 more hypotheses not drawn');
    expect(src).toContain('    %% 3 more escalations not drawn');
    expectValidGantt(src);
  });

  describe('hostile text', () => {
    const HOSTILE = [
      'a: b; c # d',
      'say "hi" and \'bye\'',
      'emoji 🔥🚀 done ✅',
      '%% comment\n---\ntitle: hijack',
      'section Evil\nclick h1 call alert()',
      '[link](x) {curly} <script>alert(1)</script> `code`',
      'ends with colon:',
      '#35; entity &amp; 100%',
      'x'.repeat(500),
      '\u0000\u0007 control \t tab',
      ';;;',
      '...---...',
    ];

    it.each(HOSTILE)('keeps the diagram valid with %j', (text) => {
      const s = new IncidentBuilder()
        .opened('10:00', text)
        .detected('10:00')
        .escalate('10:01', text)
        .hypothesis('10:02', text)
        .ruleOut('H1', '10:05', text)
        .hypothesis('10:06', text)
        .resolve('10:30', text)
        .incident().state;
      const src = ganttDiagram(s, { now: NOW, title: text }) ?? '';
      expectValidGantt(src);
      expect(src.split('\n')).toHaveLength(11);
      expect(src).not.toMatch(/%%|---|[;#"'`<>[\]{}]/);
    });
  });
});

describe('mermaidLabel', () => {
  it('keeps letters of any script, digits and harmless punctuation', () => {
    expect(mermaidLabel('Ünïcode 日本語 data-set v1.2, ok?')).toBe(
      'Ünïcode 日本語 data-set v1.2, ok?',
    );
  });

  it('replaces syntax characters with spaces and collapses them', () => {
    expect(mermaidLabel('a: b; c # d "e" (f) [g] {h} <i> `j` %k')).toBe('a b c d e f g h i j k');
    expect(mermaidLabel('line one\nline two\r\nthree')).toBe('line one line two three');
  });

  it('keeps clock times readable', () => {
    expect(mermaidLabel('push at 13:40 UTC: bad')).toBe('push at 13∶40 UTC bad');
  });

  it('drops emoji, and shortens runs of - and .', () => {
    expect(mermaidLabel('🔥 fire --- and ... dots')).toBe('fire - and . dots');
  });

  it('caps the length with an ellipsis, counting characters, not code units', () => {
    expect(mermaidLabel('x'.repeat(100), 10)).toBe(`${'x'.repeat(9)}…`);
    expect([...mermaidLabel('日'.repeat(100), 10)]).toHaveLength(10);
    expect(mermaidLabel('exactly ten', 11)).toBe('exactly ten');
  });

  it('can come out empty', () => {
    expect(mermaidLabel(':;#%')).toBe('');
  });

  describe("on instants, checked with Mermaid's own parser", () => {
    it('never draws a bar backwards or with no width across the 2025-11-02 fall-back in Los Angeles', () => {
      // 01:40 PDT (08:40Z) … 01:20 PST (09:20Z): in wall time the second is "earlier".
      const b = new IncidentBuilder({ zone: 'UTC', date: '2025-11-02' })
        .opened('08:35', 'ledger')
        .detected('08:35')
        .hypothesis('08:40', 'scheduler fires twice')
        .confirm('H1', '09:20', 'seen in logs')
        .hypothesis('09:05', 'replica lag')
        .ruleOut('H2', '09:06', 'no lag')
        .resolve('09:50', 'deduplicated');
      const state = { ...b.incident().state, zone: 'America/Los_Angeles' };
      const src = ganttDiagram(state, { now: NOW }) ?? '';
      expectValidGantt(src);
      // One fixed offset (PDT, UTC-7) throughout, said in the title.
      expect(src).toContain('times in PDT UTC-7 throughout');
      expect(src).toContain(
        '    H1 confirmed - scheduler fires twice :active, h1, 2025-11-02 01:40, 40m',
      );
      expect(src).toContain('    Resolved :milestone, m2, 2025-11-02 02:50, 0m');
      const [parsed] = parseWithMermaid([src]);
      expectSaneBars(
        parsed,
        state.hypotheses.map((h) => h.raisedAt),
        -7 * 60,
      );
      const resolved = parsed.tasks?.find((t) => t.id === 'm2');
      expect(resolved?.start).toBe((state.resolvedAt?.toMillis() ?? 0) - 7 * 3_600_000);
    });

    it('keeps short bars visible on an incident of several weeks', () => {
      const b = new IncidentBuilder({ date: '2025-03-01' })
        .opened('09:00', 'slow leak')
        .detected('09:00')
        .hypothesis('09:05', 'quick check')
        .ruleOut('H1', '09:06', 'no')
        .hypothesis('+20d 10:00', 'memory leak in the cache client')
        .confirm('H2', '+20d 10:01', 'heap dump');
      const s = b.resolve('+21d 12:00', 'patched').incident().state;
      const src = ganttDiagram(s, { now: NOW }) ?? '';
      expectValidGantt(src);
      expect(src).toContain('    axisFormat %m-%d %H:%M');
      // The span is ~30,500 minutes; a one-minute check gets 1% of it.
      const minutes = [...src.matchAll(/, (\d+)m$/gm)].map((m) => Number(m[1]));
      expect(minutes.filter((n) => n > 0).every((n) => n >= 305)).toBe(true);
      const [parsed] = parseWithMermaid([src]);
      expectSaneBars(
        parsed,
        s.hypotheses.map((h) => h.raisedAt),
        0,
      );
    });

    it('parses every diagram the hostile labels produce, and rejects a broken one', () => {
      const sources = ['a: b; c # d', '%% x\n---\ntitle: y', '<script>alert(1)</script>'].map(
        (text) =>
          ganttDiagram(
            new IncidentBuilder()
              .opened('10:00', text)
              .detected('10:00')
              .hypothesis('10:02', text)
              .resolve('10:30', text)
              .incident().state,
            { now: NOW, title: text },
          ) ?? '',
      );
      const parsed = parseWithMermaid([...sources, 'gantt\n    bad ::: line']);
      expect(parsed.slice(0, 3).map((p) => p.ok)).toEqual([true, true, true]);
      expect(parsed[3].ok).toBe(false);
    });
  });
});
