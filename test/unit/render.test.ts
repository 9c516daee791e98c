import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DateTime } from 'luxon';
import type { Incident } from '../../src/app/service';
import { foldIncident } from '../../src/core/fold';
import { formatClock, formatDateTime } from '../../src/core/time';
import * as m from '../../src/render/markdown';
import { createRenderer, listTemplates, renderPostmortem } from '../../src/render/postmortem';
import { buildView } from '../../src/render/view';
import { IncidentBuilder, people, queueBacklogIncident } from '../helpers/incidentBuilder';

const NOW = DateTime.fromISO('2025-03-11T16:05:00Z', { zone: 'utc' });
const render = createRenderer({ now: () => NOW });
const GOLDEN_DIR = path.join(__dirname, '..', 'fixtures', 'golden');
const TEMPLATES = ['default', 'concise', 'sre'] as const;

/** Problems no draft may ever have, whatever the facts. */
function expectWellFormed(md: string): void {
  expect(md).not.toMatch(/undefined|\bnull\b|NaN|\[object Object\]/);
  // No empty sections: every heading is followed by content or by a deeper heading.
  const lines = md.split('\n');
  const level = (l: string | undefined): number => /^(#{1,6}) /.exec(l ?? '')?.[1].length ?? 0;
  lines.forEach((l, i) => {
    if (!level(l)) return;
    const next = lines.slice(i + 1).find((x) => x.trim() !== '');
    expect(next).toBeDefined();
    if (level(next)) expect(level(next)).toBeGreaterThan(level(l));
  });
  // Every table row has as many cells as its header.
  for (let i = 0; i < lines.length; i += 1) {
    if (!/^\| --- /.test(lines[i])) continue;
    const cols = cells(lines[i - 1]);
    for (let j = i + 1; j < lines.length && lines[j].startsWith('|'); j += 1) {
      expect(cells(lines[j])).toBe(cols);
    }
  }
  // Code fences are balanced.
  expect((md.match(/^```/gm) ?? []).length % 2).toBe(0);
}

/** Cells in a table row: unescaped pipes, minus the outer two. */
function cells(row: string): number {
  return (row.match(/(?<!\\)\|/g) ?? []).length - 1;
}

describe('golden drafts of a full incident', () => {
  const incident = queueBacklogIncident().incident();

  it.each(TEMPLATES)('%s matches its golden file', (template) => {
    const md = render(incident, template);
    const file = path.join(GOLDEN_DIR, `${template}.golden.md`);
    if (process.env.UPDATE_GOLDEN === '1') {
      fs.mkdirSync(GOLDEN_DIR, { recursive: true });
      fs.writeFileSync(file, md);
    }
    expect(md).toBe(fs.readFileSync(file, 'utf8'));
    expectWellFormed(md);
  });

  it('carries the facts the default draft promises', () => {
    const md = render(incident, 'default');
    expect(md).toMatch(/^# INC-7: Order queue backlog on orders-eu\n/);
    expect(md).toContain('**Status:** Draft');
    expect(md).toContain('**Severity:** SEV2 (raised from SEV3 at 14:15 UTC');
    expect(md).toContain('**Incident commander:** Dana Okafor');
    expect(md).toContain('- **Start:** 2025-03-11 13:41 UTC (impact start)');
    expect(md).toContain('- **End:** 2025-03-11 15:36 UTC');
    expect(md).toContain('- **Duration:** 1 hour, 55 minutes');
    expect(md).toContain('- **14:00 UTC** — **Detection:**');
    expect(md).toContain('- **14:24 UTC** — **Misleading path:** H1 ruled out');
    expect(md).toContain('- **14:31 UTC** — **Escalation:** Escalated to Priya Shah');
    expect(md).toContain('- **15:36 UTC** — **Resolution:** Service restored');
    // The backdated entry lands where it happened, and says when it was recorded.
    expect(md).toMatch(
      /- \*\*14:18 UTC\*\*.*\n- \*\*14:20 UTC\*\* — Consumer pods .* _\(recorded at 14:40 UTC\)_\n- \*\*14:24 UTC\*\*/,
    );
    expect(md).toContain(
      '- [ ] A1 Add a range check for max.poll.records to the config validator — owner @Lena Park, due 2025-03-21',
    );
    expect(md).toContain('owner _TBD: owner for A3_, due _TBD: due date for A3_');
    expect(md).toContain('- [x] A4 Post a customer update');
    expect(md).toContain('| Time to first correct hypothesis | 41 minutes |');
    expect(md).toContain('| Share of the incident on misleading paths | 30% |');
    expect(md).toContain('- H4: The config validator accepted the value');
    expect(md).toContain('- Dana Okafor — commander');
    expect(md).toContain('```mermaid\ngantt\n');
  });

  it('keeps the concise draft within 400-600 words', () => {
    const words = render(incident, 'concise').split(/\s+/).filter(Boolean).length;
    expect(words).toBeGreaterThanOrEqual(400);
    expect(words).toBeLessThanOrEqual(600);
  });
});

describe('zones and dates', () => {
  it('shows times in the incident zone with its abbreviation (PDT)', () => {
    const inc = new IncidentBuilder({ zone: 'America/Los_Angeles', date: '2025-06-10' })
      .opened('09:05', 'Search results empty', 'sev2')
      .detected('09:00')
      .hypothesis('09:10', 'Index alias points at an empty index')
      .confirm('H1', '09:30', 'Alias swapped by the nightly job')
      .resolve('10:15', 'Pointed the alias back')
      .incident();
    const md = render(inc, 'default');
    expect(md).toContain('Times are in America/Los_Angeles (PDT).');
    expect(md).toContain('- **09:00 PDT** — **Detection:**');
    expect(md).toContain('- **Start:** 2025-06-10 09:00 PDT (detection)');
    expect(md).toContain('- **End:** 2025-06-10 10:15 PDT');
    expect(md).not.toMatch(/\d\d:\d\d UTC/);
    expect(buildView(inc, { now: NOW }).summary.end.iso).toBe('2025-06-10T17:15:00.000Z');
  });

  it('shows dates when the incident spans days', () => {
    const inc = new IncidentBuilder({ date: '2025-03-11' })
      .opened('22:30', 'Nightly export stuck')
      .detected('22:30')
      .log('23:50', 'Export worker retrying the same batch')
      .log('+1d 01:10', 'Batch 4411 has a corrupt row')
      .resolve('+1d 02:05', 'Skipped the row and re-ran the export')
      .incident();
    const view = buildView(inc, { now: NOW });
    expect(view.spansDays).toBe(true);
    const md = render(inc, 'default');
    expect(md).toContain('each entry shows its date');
    expect(md).toContain('- **2025-03-11 23:50 UTC** — Export worker retrying');
    expect(md).toContain('- **2025-03-12 01:10 UTC** — Batch 4411');
    expect(md).toContain('- **Duration:** 3 hours, 35 minutes');
    expect(md).toContain('axisFormat %m-%d %H:%M');
  });

  it('formats every time exactly as core/time does, across zones and DST changes', () => {
    const zones = [
      'UTC',
      'America/Los_Angeles',
      'Asia/Kolkata',
      'Europe/London',
      'Australia/Adelaide',
    ];
    for (const zone of zones) {
      // 2025-03-08 → 2025-04-08 spans the US, EU and AU clock changes.
      const b = new IncidentBuilder({ zone, date: '2025-03-08' })
        .opened('00:00', 'x')
        .detected('00:00');
      const base = b.time('00:00');
      for (let i = 1; i <= 200; i += 1) b.log(base.plus({ minutes: i * 223 }), `e${i}`);
      const inc = b.incident();
      const view = buildView(inc, { now: NOW });
      expect(view.spansDays).toBe(true);
      view.timeline.forEach((e, i) => {
        const at = inc.state.timeline[i].at;
        expect(e.at.clock).toBe(formatClock(at, zone));
        expect(e.at.dateTime).toBe(formatDateTime(at, zone));
        expect(e.when).toBe(formatDateTime(at, zone));
        expect(e.at.iso).toBe(at.toUTC().toISO());
      });
    }
  });

  it('shows no dates in the timeline of a one-day incident', () => {
    const view = buildView(queueBacklogIncident().incident(), { now: NOW });
    expect(view.spansDays).toBe(false);
    expect(view.timeline.every((e) => /^\d\d:\d\d UTC$/.test(e.when))).toBe(true);
  });
});

describe('missing facts', () => {
  const emptyIncident = (): Incident => {
    const events = new IncidentBuilder().opened('10:00', 'Something is wrong').events();
    return {
      record: {
        id: 'x',
        team: 'T',
        number: 3,
        createdAt: NOW,
        updatedAt: NOW,
        title: 'Something is wrong',
        severity: 'sev3',
        status: 'investigating',
        zone: 'UTC',
      },
      events,
      state: foldIncident(events),
    };
  };

  it.each(TEMPLATES)('%s renders explicit _TBD:_ prompts, never blanks', (template) => {
    const md = render(emptyIncident(), template);
    expectWellFormed(md);
    expect(md).toContain('_TBD: impact — who was affected, how many, how badly?');
    expect(md).toContain('_TBD: root cause — what caused it?');
    expect(md).toMatch(/_TBD: [^_]*action items/);
    if (template !== 'concise') expect(md).toContain('_TBD: what went well?_');
  });

  it('prompts for every missing fact in the default draft', () => {
    const md = render(emptyIncident(), 'default');
    expect(md).toContain('**Incident commander:** _TBD: incident commander');
    expect(md).toContain('- **End:** _TBD: end — when was service restored?');
    expect(md).toContain('- **Duration:** _TBD: duration');
    expect(md).toContain('- **Resolution:** _TBD: resolution');
    expect(md).toContain('_TBD: investigation — no hypotheses were recorded');
    expect(md).toContain('No escalations were recorded.');
    expect(md).toContain('| Time to resolve | _TBD: not resolved yet_ |');
    expect(md).toContain('_TBD: open questions');
  });

  it('renders an incident with no events at all', () => {
    const inc: Incident = { ...emptyIncident(), events: [], state: foldIncident([]) };
    for (const t of TEMPLATES) {
      const md = render(inc, t);
      expectWellFormed(md);
      expect(md).toMatch(/^# INC-3: Something is wrong/); // falls back to the record's title
    }
    expect(render(inc, 'default')).toContain('_TBD: diagram');
  });
});

describe('hostile user text', () => {
  const HOSTILE =
    '| # ``` {{x}} <b>bold</b> {{incident.id}}\n# not a heading\n- not a list\n> not a quote';
  const hostileIncident = (): Incident =>
    new IncidentBuilder({ number: 9 })
      .as({ id: 'U0EVIL', name: 'Eve | *star* <i>' })
      .opened('10:00', `Title ${HOSTILE}`, 'sev2', { description: HOSTILE })
      .detected('10:00')
      .role('10:01', 'commander', { id: 'U0EVIL', name: 'Eve | *star* <i>' })
      .log('10:05', HOSTILE)
      .hypothesis('10:06', HOSTILE)
      .ruleOut('H1', '10:10', HOSTILE)
      .hypothesis('10:11', `${HOSTILE} second`)
      .escalate('10:12', HOSTILE, { reason: HOSTILE })
      .impact('10:13', HOSTILE, { startedAt: '09:55' })
      .action('10:14', HOSTILE, { owner: { id: 'U0X', name: 'Mal | lory' } })
      .rootCause('10:20', HOSTILE)
      .resolve('10:30', HOSTILE)
      .incident();

  it.each(TEMPLATES)('%s: structure intact, nothing evaluated, text verbatim', (template) => {
    const full = render(hostileIncident(), template);
    expectWellFormed(full);
    // A ``` pair in Slack text is a code block: shown verbatim in a fenced block, where nothing
    // is structure. Everything outside fenced blocks must be escaped text.
    const md = full.replace(/^( *)(`{3,})\n[\s\S]*?\n\1\2$/gm, '');
    // Only our own headings exist.
    const headings = md.split('\n').filter((l) => /^#{1,6} /.test(l));
    expect(headings[0]).toMatch(/^# INC-9: Title /);
    for (const h of headings) expect(h).not.toMatch(/^#{1,6} not a heading/);
    expect(md).not.toMatch(/^\s*(?:- not a list|> not a quote|<b>)/m);
    // No raw HTML, no unescaped fence, no template evaluation.
    expect(md).not.toMatch(/(?<!\\)<b>|(?<!\\)<i>/);
    expect(md).not.toMatch(/^```(?!mermaid)\S/m);
    expect(md).toContain('{{x}}');
    expect(md).toContain('{{incident.id}}');
    // The text is there, escaped: `\|`, `\#`, backslash-escaped backticks, `\<b\>`.
    expect(md).toContain('\\| # \\`\\`\\` {{x}} \\<b>bold\\</b>');
  });

  it('keeps table rows intact with pipes and newlines in cells', () => {
    const md = render(hostileIncident(), 'sre');
    const row = md.split('\n').find((l) => l.startsWith('| A1: '));
    expect(row).toBeDefined();
    expect(cells(row ?? '')).toBe(4);
    expect(row).toContain('<br># not a heading<br>- not a list<br>\\> not a quote |');
    expect(row).toContain('@Mal \\| lory');
  });

  it('keeps hostile text out of the Mermaid diagram syntax', () => {
    const md = render(hostileIncident(), 'default');
    const diagram = /```mermaid\n([\s\S]*?)\n```/.exec(md)?.[1] ?? '';
    expect(diagram).toContain('gantt');
    for (const line of diagram.split('\n').slice(1)) {
      expect(line).toMatch(/^ {4}\S/);
      if (/^ {4}(?:dateFormat|axisFormat) /.test(line)) continue;
      const label = line.split(' :')[0];
      expect(label).not.toMatch(/[:#;<>{}`|"%]/);
      expect(label.length).toBeLessThanOrEqual(4 + 80);
    }
  });
});

describe('template selection', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-templates-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const inc = () => queueBacklogIncident().incident();

  it('renders a team template given by path', () => {
    const file = path.join(dir, 'ours.md.hbs');
    fs.writeFileSync(file, '# {{incident.id}} — {{mdInline incident.title}}\n\n{{> actions}}\n');
    const md = render(inc(), file);
    expect(md).toMatch(/^# INC-7 — Order queue backlog on orders-eu\n\n- \[ \] A1 /);
  });

  it('a template directory overrides shipped templates and partials and adds its own', () => {
    fs.writeFileSync(path.join(dir, 'default.md.hbs'), 'Team default for {{incident.id}}\n');
    fs.writeFileSync(path.join(dir, 'payments.md.hbs'), '{{> header}}\n{{> footer}}\n');
    fs.mkdirSync(path.join(dir, 'partials'));
    fs.writeFileSync(
      path.join(dir, 'partials', 'header.hbs'),
      'TEAM HEADER {{incident.severity}}\n',
    );
    fs.writeFileSync(path.join(dir, 'partials', 'footer.hbs'), 'Reviewed by: {{tbd "reviewer"}}');
    const r = createRenderer({ templateDir: dir, now: () => NOW });
    expect(r(inc(), 'default')).toBe('Team default for INC-7\n');
    expect(r(inc(), 'payments')).toBe('TEAM HEADER SEV2\nReviewed by: _TBD: reviewer_\n');
    // The shipped concise template still renders, with the shipped partials it uses.
    expect(r(inc(), 'concise')).toContain('## Issue Summary');
    expect(r(inc(), 'sre')).toContain('## Action Items');
    expect(listTemplates(dir).map((t) => `${t.name}:${t.origin}`)).toEqual([
      'concise:builtin',
      'default:team',
      'payments:team',
      'sre:builtin',
    ]);
    // Edits are picked up without a new renderer.
    fs.writeFileSync(path.join(dir, 'default.md.hbs'), 'Edited default for {{incident.id}} ok\n');
    fs.utimesSync(path.join(dir, 'default.md.hbs'), new Date(), new Date(Date.now() + 5000));
    expect(r(inc(), 'default')).toBe('Edited default for INC-7 ok\n');
  });

  it('an overridden partial is used by the shipped templates', () => {
    fs.mkdirSync(path.join(dir, 'partials'));
    fs.writeFileSync(
      path.join(dir, 'partials', 'actions.hbs'),
      '{{#each actions}}* {{id}}\n{{/each}}',
    );
    const md = createRenderer({ templateDir: dir, now: () => NOW })(inc(), 'concise');
    expect(md).toContain('### TODO List\n\n* A1\n* A2\n* A3\n* A4\n');
  });

  it('names an unknown template and lists the available ones', () => {
    expect(() => render(inc(), 'fancy')).toThrow(
      'Unknown postmortem template "fancy". Available: concise, default, sre (or a path to a .hbs file).',
    );
    expect(() => render(inc(), './nope/missing.md.hbs')).toThrow(
      /Postmortem template file not found: .*missing\.md\.hbs/,
    );
  });

  it('accepts names in any case, and renderPostmortem shares compiled templates', () => {
    expect(render(inc(), 'SRE')).toBe(render(inc(), 'sre'));
    const a = renderPostmortem(inc(), 'concise', { now: () => NOW });
    expect(a).toBe(render(inc(), 'concise'));
  });
});

describe('large incidents', () => {
  it('renders a 5,000-event incident completely', () => {
    const b = new IncidentBuilder({ number: 42 })
      .opened('08:00', 'Large incident', 'sev1')
      .detected('08:00');
    const start = b.time('08:01');
    let logs = 0;
    let hyps = 0;
    for (let i = 0; b.events().length < 4_998; i += 1) {
      const at = start.plus({ seconds: i * 7 });
      const who = [people.dana, people.ravi, people.lena, people.tom][i % 4];
      if (i % 50 === 0) {
        b.hypothesis(at, `Hypothesis number ${hyps + 1}`, { by: who });
        hyps += 1;
        if (hyps % 2 === 0) b.ruleOut(`H${hyps}`, at.plus({ minutes: 3 }), `evidence ${hyps}`);
      } else if (i % 3 === 0) {
        b.log(at, `Log entry ${(logs += 1)} | with *markdown* <b>`, { by: who });
      } else {
        b.message(at, `chat message ${i}`, { by: who });
      }
    }
    while (b.events().length < 4_999)
      b.log(start.plus({ hours: 8 }), `Log entry ${(logs += 1)} | with *markdown* <b>`);
    b.resolve(start.plus({ hours: 9 }), 'Fixed');
    const inc = b.incident();
    expect(inc.events.length).toBe(5_000);
    const md = render(inc, 'default');
    expectWellFormed(md);
    const view = buildView(inc, { now: NOW });
    const logLines = md.split('\n').filter((l) => l.includes(' — Log entry '));
    expect(logLines).toHaveLength(logs);
    expect(md).toContain(`Log entry ${logs} \\| with \\*markdown\\* \\<b>`);
    expect(view.hypotheses).toHaveLength(hyps);
    expect(md).toContain(`### H${hyps}: Hypothesis number ${hyps}`);
    expect(md).toContain('- **Duration:** 9 hours, 1 minute');
    // The diagram stays readable: at most 40 hypothesis bars, the rest summarized.
    expect(md).toContain(`%% ${hyps - 40} more hypotheses not drawn`);
  });
});

describe('markdown escaping', () => {
  it('mdInline: one line, every inline special escaped, intraword underscores kept', () => {
    expect(m.mdInline('a | b *c* _d_ db_pool_size <b> [x](y) ~~s~~ \\ &lt;')).toBe(
      'a \\| b \\*c\\* \\_d\\_ db_pool_size \\<b> \\[x\\](y) \\~\\~s\\~\\~ \\\\ &amp;lt;',
    );
    expect(m.mdInline('# h\n> q\n- l')).toBe('\\# h > q - l');
    // `>` only quotes at a line start; mid-line it stays readable (38% -> 9%).
    expect(m.mdInline('> quoted')).toBe('\\> quoted');
    expect(m.mdInline('38% -> 9%')).toBe('38% -> 9%');
    expect(m.mdInline('1. first')).toBe('1\\. first');
    expect(m.mdInline('+ plus')).toBe('\\+ plus');
    expect(m.mdInline('  ---  ')).toBe('\\---');
    expect(m.mdInline('{{x}} {{{y}}}')).toBe('{{x}} {{{y}}}');
    expect(m.mdInline('outage in region ##')).toBe('outage in region \\##'); // not a closing ATX run
    expect(m.mdInline('C# build')).toBe('C# build');
  });

  it('keeps a simple `code` span, escapes every other backtick', () => {
    expect(m.mdInline('set `max.poll.records` to 500')).toBe('set `max.poll.records` to 500');
    expect(m.mdInline('``` fence')).toBe('\\`\\`\\` fence');
    expect(m.mdInline('one ` lone')).toBe('one \\` lone');
    expect(m.mdCell('`a|b`')).toBe('`a\\|b`');
  });

  it('mdCell: pipes escaped, lines joined with <br>, never empty', () => {
    expect(m.mdCell('a | b\n\nc')).toBe('a \\| b<br>c');
    expect(m.mdCell('')).toBe(' ');
  });

  it('md: hard line breaks, paragraphs, line starts escaped, continuation indent', () => {
    expect(m.md('first\n# second\n\n\n    - third', 2)).toBe(
      'first\\\n  \\# second\n\n  \\- third',
    );
    expect(m.md('\n\nonly\n\n')).toBe('only');
  });

  it('code: a fence longer than any backtick run inside', () => {
    expect(m.code('plain')).toBe('`plain`');
    expect(m.code('a ``` b')).toBe('````a ``` b````');
    expect(m.code('`edge`')).toBe('`` `edge` ``');
    expect(m.code('a|b', true)).toBe('`a\\|b`');
  });

  it('tbd: an emphasized prompt that keeps code spans', () => {
    expect(m.tbd('owner for A3')).toBe('_TBD: owner for A3_');
    expect(m.tbd('impact (`/incident impact <text>`) *now*')).toBe(
      '_TBD: impact (`/incident impact <text>`) \\*now\\*_',
    );
    expect(m.tbd('')).toBe('_TBD: fill this in_');
  });
});
