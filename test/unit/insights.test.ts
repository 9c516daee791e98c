import { DateTime } from 'luxon';
import {
  computeInsights,
  delta,
  distribution,
  followThrough,
  incidentKind,
  monthlyTrends,
  quantile,
  type FoldedIncident,
  incidentFigures,
} from '../../src/core/insights';
import { IncidentBuilder, people } from '../helpers/incidentBuilder';

const utc = (iso: string): DateTime => DateTime.fromISO(iso, { zone: 'utc' });

/**
 * One incident on `date`: detected at 10:00, impact from `impactAt`, escalated, identified and
 * resolved after the given minutes (undefined leaves the fact out).
 */
function incident(
  n: number,
  date: string,
  opts: {
    impactMin?: number;
    escalateMin?: number;
    identifyMin?: number;
    resolveMin?: number;
    severity?: 'sev1' | 'sev2' | 'sev3' | 'sev4';
    kind?: 'drill' | 'test' | 'real';
    misleadingMin?: number;
  } = {},
): FoldedIncident {
  const b = new IncidentBuilder({ number: n, date, zone: 'UTC' });
  const at = (min: number): DateTime => b.time('10:00').plus({ minutes: min });
  b.opened('10:00', `Incident ${n}`, opts.severity ?? 'sev3').detected('10:00');
  if (opts.impactMin !== undefined) {
    b.impact(at(1), 'users affected', { startedAt: at(-opts.impactMin) });
  }
  if (opts.escalateMin !== undefined) b.escalate(at(opts.escalateMin), 'payments on-call');
  if (opts.misleadingMin !== undefined) {
    b.hypothesis(at(0), 'a wrong idea').ruleOut('H1', at(opts.misleadingMin), 'not it');
  }
  if (opts.identifyMin !== undefined) {
    const id = opts.misleadingMin !== undefined ? 'H2' : 'H1';
    b.hypothesis(at(Math.max(0, opts.identifyMin - 1)), 'the right idea').confirm(
      id,
      at(opts.identifyMin),
    );
  }
  if (opts.resolveMin !== undefined) b.resolve(at(opts.resolveMin), 'fixed');
  if (opts.kind) b.add('incident.kind_set', at(0), { kind: opts.kind });
  const inc = b.incident();
  return {
    id: inc.record.id,
    number: n,
    kind: incidentKind(inc.events),
    state: inc.state,
  };
}

describe('quantile and distribution (linear interpolation between closest ranks)', () => {
  it.each([
    [[], 0.5, undefined],
    [[7], 0.5, 7],
    [[7], 0.9, 7],
    [[1, 2, 3, 4], 0.5, 2.5],
    [[4, 1, 3, 2], 0.5, 2.5],
    [[1, 2, 3, 4, 5], 0.5, 3],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9.1],
    [[10, 20], 0.9, 19],
    [[5, 5, 5], 0.9, 5],
    [[1, 2], 1.5, undefined],
  ])('quantile(%j, %d) = %p', (values, q, expected) => {
    expect(quantile(values, q)).toBe(expected);
  });

  it('counts only the values it is given and reports n', () => {
    expect(distribution([])).toEqual({ n: 0 });
    expect(distribution([3, 1, 2])).toEqual({ n: 3, median: 2, p90: 2.8 });
  });
});

describe('delta', () => {
  it.each([
    [10, 5, { current: 10, previous: 5, change: 5, ratio: 1 }],
    [5, 10, { current: 5, previous: 10, change: -5, ratio: -0.5 }],
    [3, 0, { current: 3, previous: 0, change: 3 }],
    [undefined, 4, { previous: 4 }],
    [4, undefined, { current: 4 }],
    [0, 0, { current: 0, previous: 0, change: 0 }],
  ])('delta(%p, %p)', (cur, prev, expected) => {
    expect(delta(cur, prev)).toEqual(expected);
  });
});

describe('incidentKind', () => {
  it('is real by default and the latest kind_set in record order wins', () => {
    expect(incident(1, '2025-03-01').kind).toBe('real');
    expect(incident(1, '2025-03-01', { kind: 'drill' }).kind).toBe('drill');
    const b = new IncidentBuilder({ date: '2025-03-01' })
      .opened('10:00', 'x')
      .add('incident.kind_set', '10:05', { kind: 'test' })
      // Backdated, but recorded later: record order decides what is true now.
      .add('incident.kind_set', '09:00', { kind: 'real' });
    expect(incidentKind(b.events())).toBe('real');
  });
});

describe('computeInsights', () => {
  const now = utc('2025-06-30T12:00:00Z');
  // Current period (30 days): 2025-05-31T12:00 … 2025-06-30T12:00. Previous: 2025-05-01T12:00 …
  const incidents = [
    incident(1, '2025-06-02', {
      impactMin: 10,
      escalateMin: 5,
      identifyMin: 30,
      resolveMin: 60,
      severity: 'sev1',
    }),
    incident(2, '2025-06-10', {
      impactMin: 20,
      escalateMin: 15,
      identifyMin: 50,
      resolveMin: 120,
      misleadingMin: 40,
    }),
    incident(3, '2025-06-20', { resolveMin: 30, severity: 'sev2' }),
    incident(4, '2025-06-25', { resolveMin: 999, kind: 'drill' }),
    incident(5, '2025-06-26', { resolveMin: 5, kind: 'test' }),
    // Previous period.
    incident(6, '2025-05-10', { impactMin: 5, resolveMin: 240 }),
    incident(7, '2025-05-20', { impactMin: 15, resolveMin: 120 }),
    // Older than both periods.
    incident(8, '2025-01-15', { resolveMin: 10 }),
  ];
  const ins = computeInsights(incidents, { now, days: 30, months: 6 });
  const tile = (key: string) => ins.tiles.find((t) => t.key === key);
  const MIN = 60_000;

  it('puts incidents in the period they began in, and leaves drills and tests out by default', () => {
    expect(ins.excluded).toBe(2);
    expect(ins.incidents.map((i) => i.number)).toEqual([3, 2, 1]);
    expect(ins.current.incidents).toBe(3);
    expect(ins.previous.incidents).toBe(2);
  });

  it('includes drills and tests when asked', () => {
    const all = computeInsights(incidents, { now, days: 30, kinds: ['real', 'drill', 'test'] });
    expect(all.excluded).toBe(0);
    expect(all.current.incidents).toBe(5);
    expect(all.incidents.map((i) => i.number)).toEqual([5, 4, 3, 2, 1]);
  });

  it.each([
    ['incidents', 3, 2, 1, 0.5],
    // Resolve: current 60, 120, 30 → median 60, p90 108; previous 240, 120 → median 180, p90 228.
    ['time_to_resolve.median', 60 * MIN, 180 * MIN, -120 * MIN, -2 / 3],
    ['time_to_resolve.p90', 108 * MIN, 228 * MIN, -120 * MIN, -120 / 228],
    // Detect: only incidents with an impact start: current 10, 20; previous 5, 15.
    ['time_to_detect.median', 15 * MIN, 10 * MIN, 5 * MIN, 0.5],
    ['time_to_detect.p90', 19 * MIN, 14 * MIN, 5 * MIN, 5 / 14],
    ['time_to_escalate.median', 10 * MIN, undefined, undefined, undefined],
    ['time_to_identify.median', 40 * MIN, undefined, undefined, undefined],
  ])('tile %s: current %p, previous %p, change %p', (key, current, previous, change, ratio) => {
    const t = tile(key);
    expect(t).toBeDefined();
    expect(t?.current).toBe(current);
    expect(t?.previous).toBe(previous);
    expect(t?.change).toBe(change);
    if (ratio === undefined) expect(t?.ratio).toBeUndefined();
    else expect(t?.ratio).toBeCloseTo(ratio, 10);
  });

  it('reports how many incidents each figure is over', () => {
    expect(ins.current.metrics.time_to_detect.n).toBe(2);
    expect(ins.current.metrics.time_to_resolve.n).toBe(3);
    expect(ins.current.metrics.time_to_escalate.n).toBe(2);
  });

  it('trends by month, oldest first, empty months included, severities counted', () => {
    expect(ins.months.map((m) => m.month)).toEqual([
      '2025-01',
      '2025-02',
      '2025-03',
      '2025-04',
      '2025-05',
      '2025-06',
    ]);
    expect(ins.months.map((m) => m.incidents)).toEqual([1, 0, 0, 0, 2, 3]);
    expect(ins.months[5].bySeverity).toEqual({ sev1: 1, sev2: 1, sev3: 1, sev4: 0 });
    expect(ins.months[4].metrics.time_to_resolve).toEqual({
      n: 2,
      median: 180 * MIN,
      p90: 228 * MIN,
    });
    expect(ins.months[1].metrics.time_to_resolve).toEqual({ n: 0 });
  });

  it('month boundaries follow the display zone', () => {
    // 2025-05-31 23:30 UTC is already June in Tokyo.
    const late = incident(9, '2025-05-31', {});
    const figs = [{ ...incidentFigures(late), began: utc('2025-05-31T23:30:00Z') }];
    expect(monthlyTrends(figs, now, 2, 'UTC').map((m) => m.incidents)).toEqual([1, 0]);
    expect(monthlyTrends(figs, now, 2, 'Asia/Tokyo').map((m) => m.incidents)).toEqual([0, 1]);
  });

  it('diagnosis panel: hypotheses per incident, misleading share, time to first correct one', () => {
    const d = ins.diagnosis;
    expect(d.rows.map((r) => [r.number, r.raised, r.ruledOut, r.confirmed])).toEqual([
      [1, 1, 0, 1],
      [2, 2, 1, 1],
    ]);
    expect(d.totals).toEqual({ raised: 3, ruledOut: 1, confirmed: 2 });
    // INC-2: 40 min on a ruled-out path over 140 min (impact start 20 min before detection).
    expect(d.rows[1].misleadingShare).toBeCloseTo(40 / 140, 10);
    expect(d.rows[0].misleadingShare).toBe(0);
    // First correct hypothesis raised one minute before it was confirmed.
    expect(d.rows.map((r) => r.timeToFirstCorrectHypothesisMs)).toEqual([29 * MIN, 49 * MIN]);
    expect(d.timeToFirstCorrectHypothesis).toEqual({ n: 2, median: 39 * MIN, p90: 47 * MIN });
    expect(d.misleadingShare.n).toBe(3);
  });
});

describe('followThrough', () => {
  const b = new IncidentBuilder({ number: 3, date: '2025-06-01', zone: 'America/New_York' })
    .opened('10:00', 'Checkout errors')
    .detected('10:00')
    .action('10:10', 'Add an alert', { owner: people.ravi, due: '2025-06-05' })
    .action('10:11', 'Write the runbook', { owner: people.lena, due: '2025-06-20' })
    .action('10:12', 'Rotate keys', { due: '2025-06-02' })
    .action('10:13', 'No due date')
    .completeAction('A3', '11:00');
  const inc = b.incident();
  const folded: FoldedIncident[] = [
    { id: inc.record.id, number: 3, kind: 'real', state: inc.state },
  ];

  it.each([
    // End of 2025-06-05 in New York is 2025-06-06T04:00Z.
    ['2025-06-06T03:59:00Z', 0, []],
    ['2025-06-06T04:01:00Z', 1, [['A1', 0, 'Ravi Menon']]],
    [
      '2025-06-23T12:00:00Z',
      2,
      [
        ['A1', 17, 'Ravi Menon'],
        ['A2', 2, 'Lena Park'],
      ],
    ],
  ])('at %s: %d overdue', (nowIso, overdue, items) => {
    const f = followThrough(folded, utc(nowIso));
    expect(f.created).toBe(4);
    expect(f.done).toBe(1);
    expect(f.open).toBe(3);
    expect(f.overdue).toBe(overdue);
    expect(f.oldestOverdue.map((o) => [o.action, o.daysOverdue, o.owner])).toEqual(items);
  });
});
