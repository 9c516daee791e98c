/**
 * Every shipped template's draft, rendered by GitHub's renderer (cmark-gfm, test/helpers/gfm.ts),
 * for a full incident and a hostile one: the structure a reader sees is the structure intended.
 */
import { DateTime } from 'luxon';
import type { Incident } from '../../src/app/service';
import { createRenderer } from '../../src/render/postmortem';
import { buildView } from '../../src/render/view';
import { gfmHtml, renderGfm, textOutsideCode } from '../helpers/gfm';
import { IncidentBuilder, queueBacklogIncident } from '../helpers/incidentBuilder';

const NOW = DateTime.fromISO('2025-03-11T16:05:00Z', { zone: 'utc' });
const render = createRenderer({ now: () => NOW });
const TEMPLATES = ['default', 'concise', 'sre'] as const;

/** The section headings (h2) each template means to have, in order. */
const H2: Record<(typeof TEMPLATES)[number], string[]> = {
  default: [
    'Issue Summary',
    'Timeline',
    'Root Cause and Resolution',
    'Investigation',
    'Diagnosis analytics',
    'Escalations',
    'Corrective and Preventative Measures',
    'Metrics',
    'Lessons Learned',
    'Open Questions',
    'Participants',
    'Channel log',
  ],
  concise: [
    'Issue Summary',
    'Timeline',
    'Root Cause and Resolution',
    'Corrective and Preventative Measures',
    'Channel log',
  ],
  sre: ['Action Items', 'Lessons Learned', 'Timeline', 'Supporting information', 'Channel log'],
};

const CODE =
  'Traceback (most recent call last):\n  File "app.py", line 3\n    x = a | b  # not a heading';
const RTL = 'השרת נפל אחרי הפריסה — الخادم توقف';
const HTML = '<img src=x onerror=alert(1)> <script>alert(2)</script> </details>';

/** Code blocks, pipes, leading #, HTML, emoji, right-to-left text, in every field. */
function hostileIncident(): Incident {
  const ev = (s: string) => `${s} | pipe # hash 🔥`;
  return new IncidentBuilder({ number: 13 })
    .as({ id: 'U0EVE', name: 'Eve | <b>' })
    .opened('10:00', `# Checkout | ${RTL} 🚒`, 'sev1', { description: HTML })
    .detected('10:00')
    .role('10:01', 'commander', { id: 'U0EVE', name: 'Eve | <b>' })
    .message('10:02', `# heading?\n\`\`\`${CODE}\`\`\`\nafter the code <tel:+15551234|555-1234>`)
    .message('10:03', `${RTL}\n> quote\n- list\n1. ordered`)
    .message('10:03:30', '| a | b |\n| --- | --- |\n| 1 | 2 |')
    .log('10:04', `\`\`\`${CODE}\`\`\``)
    .hypothesis('10:05', `Maybe the pool | is exhausted?\n\`\`\`${CODE}\`\`\``)
    .ruleOut('H1', '10:08', ev('pool fine'))
    .hypothesis('10:09', `\`\`\`${CODE}\`\`\``)
    .confirm('H2', '10:20', ev('stack'))
    .escalate('10:10', `db | team ${RTL}`, { reason: HTML })
    .impact('10:11', `# all users\n\`\`\`${CODE}\`\`\``, { startedAt: '09:58' })
    .action('10:12', `fix | the ${RTL} \`\`\`${CODE}\`\`\``, {
      owner: { id: 'U0X', name: 'Mal | lory' },
    })
    .resolve('10:30', `\`\`\`${CODE}\`\`\`\nrolled back`)
    .incident();
}

const INCIDENTS: [string, () => Incident][] = [
  ['full', () => queueBacklogIncident().incident()],
  ['hostile', hostileIncident],
];

describe('drafts as GitHub renders them (cmark-gfm)', () => {
  it('cmark-gfm is installed (.ci/run installs it; this suite never skips)', () => {
    expect(gfmHtml('# x')).toContain('<h1>x</h1>');
  });

  describe.each(INCIDENTS)('%s incident', (_name, make) => {
    const incident = make();
    const view = buildView(incident, { now: NOW });

    it.each(TEMPLATES)('%s: headings, code, tables and <details> as intended', (template) => {
      const md = render(incident, template);
      const doc = renderGfm(md);
      const body = doc.body;

      // Headings where intended: one title, our sections, hypothesis headings short.
      const h1 = [...body.querySelectorAll('h1')];
      expect(h1).toHaveLength(1);
      expect(h1[0].textContent).toMatch(/^INC-\d+: /);
      expect([...body.querySelectorAll('h2')].map((h) => h.textContent)).toEqual(H2[template]);
      for (const h of body.querySelectorAll('h3, h4, h5, h6')) {
        expect((h.textContent ?? '').length).toBeLessThanOrEqual(100);
        expect(h.textContent).toMatch(
          /^(?:H\d+: .+|What went well|What went wrong|Where we got lucky|Root Cause|Resolution|TODO List)$/,
        );
      }

      // No literal fence or escaping backslash shown as text (outside code).
      const text = textOutsideCode(body);
      expect(text).not.toContain('```');
      expect(text).not.toContain('\\');
      // HTML from users is text, never markup; the only raw HTML is our <details>.
      expect(body.querySelector('img, script')).toBeNull();

      // Tables: every row has the header's column count, and nothing spilled out of a cell.
      for (const table of body.querySelectorAll('table')) {
        const cols = table.querySelectorAll('thead th').length;
        expect(cols).toBeGreaterThan(1);
        for (const row of table.querySelectorAll('tbody tr')) {
          expect(row.querySelectorAll('td')).toHaveLength(cols);
        }
      }
      // No duplicate rows: a figure is printed once per table.
      for (const table of body.querySelectorAll('table')) {
        const names = [...table.querySelectorAll('tbody tr')].map(
          (r) => r.querySelector('td')?.textContent ?? '',
        );
        expect(new Set(names).size).toBe(names.length);
      }
      const mdRows = md.split('\n').filter((l) => /^\| /.test(l) && !/^\| --- /.test(l));
      const htmlRows = [...body.querySelectorAll('tr')];
      expect(htmlRows).toHaveLength(mdRows.length);

      // The channel log: one <details> at the end, with its summary and every message.
      const details = [...body.querySelectorAll('details')];
      expect(details).toHaveLength(1);
      expect(details[0].querySelector('summary')?.textContent).toContain(
        `(${view.channelLog.count === 1 ? '1 message' : `${view.channelLog.count} messages`})`,
      );
      expect(details[0].querySelectorAll('li')).toHaveLength(view.channelLog.count);
      const afterDetails = details[0].nextElementSibling;
      expect(afterDetails).toBeNull();

      // Code blocks of messages are code blocks, content verbatim (Slack markup included).
      if (_name === 'hostile') {
        const pres = [...body.querySelectorAll('pre')].map((p) => p.textContent ?? '');
        expect(pres.some((p) => p.includes('x = a | b  # not a heading'))).toBe(true);
        expect(text).toContain(RTL);
        expect(text).toContain('🔥');
      }
    });
  });

  it('puts a message code block under its entry, not flattened', () => {
    const doc = renderGfm(render(hostileIncident(), 'default'));
    const entry = [...doc.querySelectorAll('li')].find((li) =>
      (li.textContent ?? '').includes('heading?'),
    );
    expect(entry?.querySelector('pre code')?.textContent).toBe(`${CODE}\n`);
    expect(entry?.textContent).toContain('after the code');
  });

  it('refers to a hypothesis on the timeline by id and short title, its full text once under its heading', () => {
    const doc = renderGfm(render(hostileIncident(), 'default'));
    const items = [...doc.querySelectorAll('li')].map((li) => li.textContent ?? '');
    const ruledOut = items.find((t) => t.includes('H1 ruled out'));
    expect(ruledOut).toContain('H1 ruled out (Maybe the pool | is exhausted?): pool fine');
    expect(ruledOut).not.toContain('Traceback');
    const h3 = [...doc.querySelectorAll('h3')].map((h) => h.textContent);
    expect(h3).toContain('H1: Maybe the pool | is exhausted?');
    expect(h3).toContain('H2: Traceback (most recent call last):');
  });
});
