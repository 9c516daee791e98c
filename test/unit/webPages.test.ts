import { DateTime } from 'luxon';
import { computeInsights, type FoldedIncident } from '../../src/core/insights';
import { insightsPage, MAX_ROWS } from '../../src/web/pages';
import { IncidentBuilder } from '../helpers/incidentBuilder';

const now = DateTime.fromISO('2025-06-30T12:00:00Z', { zone: 'utc' });

function incidents(n: number): FoldedIncident[] {
  const b = new IncidentBuilder({ date: '2025-06-10' })
    .opened('10:00', 'Queue <b>backlog</b>')
    .detected('10:00')
    .hypothesis('10:05', 'Consumer stuck')
    .confirm('H1', '10:20')
    .resolve('10:30');
  const state = b.incident().state;
  return Array.from({ length: n }, (_, k) => ({ id: `i${k}`, number: k + 1, kind: 'real', state }));
}

const page = (n: number): string =>
  insightsPage({
    insights: computeInsights(incidents(n), { now, days: 90 }),
    team: 'T1',
    days: 90,
    kinds: ['real'],
    zone: 'UTC',
    query: 'days=90',
  });

describe('insights page', () => {
  it('escapes user text and links each incident', () => {
    const html = page(2);
    expect(html).toContain('Queue &lt;b&gt;backlog&lt;/b&gt;');
    expect(html).not.toContain('<b>backlog');
    expect(html).toContain('<a href="/insights/incidents/2">INC-2</a>');
  });

  it.each([
    [MAX_ROWS, MAX_ROWS, false],
    [MAX_ROWS + 50, MAX_ROWS, true],
  ])('with %d incidents shows %d rows per table (note: %p)', (n, shown, note) => {
    const html = page(n);
    const section = (id: string): string =>
      html.slice(html.indexOf(`id="${id}"`)).split('</section>')[0];
    expect(section('incidents').match(/<tr><td><a /g)).toHaveLength(shown);
    expect(section('diagnosis').match(/<tr><td><a /g)).toHaveLength(shown);
    expect(html.includes(`Showing the ${MAX_ROWS} latest of ${n}`)).toBe(note);
  });
});
