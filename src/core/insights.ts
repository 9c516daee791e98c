/**
 * Insights: figures across incidents, as pure functions of folded incidents (no I/O, no clock of
 * their own: `now` is always passed in). Per-incident durations come from metrics.ts and the
 * diagnosis figures from analytics.ts, so the page, the JSON/CSV exports and the postmortem draft
 * agree on every number.
 *
 * Conventions (and why):
 * - An incident belongs to the period (and the month) in which it BEGAN: impact start when known,
 *   otherwise detection, otherwise opening (`incidentStart`), so a late-recorded incident lands
 *   where it happened. Periods are half-open instants [from, to).
 * - Median and p90 use linear interpolation between closest ranks (the "inclusive" method of
 *   numpy's default and spreadsheets' PERCENTILE.INC): median of 1,2,3,4 is 2.5, p90 of 1…10 is 9.1.
 *   An incident without the facts a metric needs is left out of that metric (the count `n` says
 *   how many had it), never counted as zero.
 * - Incidents of kind `drill` or `test` are excluded unless asked for (as the commercial tools do).
 */
import { DateTime } from 'luxon';
import { computeAnalytics } from './analytics';
import type { IncidentState } from './fold';
import { computeMetrics, incidentStart, type Metric } from './metrics';
import { SEVERITIES, type Severity, type StoredEvent } from './model';

export const INCIDENT_KINDS = ['real', 'drill', 'test'] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export function isIncidentKind(s: string): s is IncidentKind {
  return (INCIDENT_KINDS as readonly string[]).includes(s);
}

/** The incident's kind: the latest `incident.kind_set` in record order, `real` when none. */
export function incidentKind(events: readonly StoredEvent[]): IncidentKind {
  let kind: IncidentKind = 'real';
  let seq = -Infinity;
  for (const e of events) {
    if (e.type === 'incident.kind_set' && e.seq > seq) {
      kind = e.kind;
      seq = e.seq;
    }
  }
  return kind;
}

/** What the insights read of an incident. */
export interface FoldedIncident {
  id: string;
  number: number;
  kind: IncidentKind;
  state: IncidentState;
}

export const TILE_METRICS = [
  'time_to_detect',
  'time_to_escalate',
  'time_to_identify',
  'time_to_resolve',
] as const;
export type TileMetric = (typeof TILE_METRICS)[number];

export const TILE_METRIC_NAMES: Record<TileMetric, string> = {
  time_to_detect: 'Time to detect',
  time_to_escalate: 'Time to escalate',
  time_to_identify: 'Time to identify',
  time_to_resolve: 'Time to resolve',
};

// ---- statistics ----------------------------------------------------------------------------------

/** The q-quantile (0…1) of `values` by linear interpolation between closest ranks. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0 || !(q >= 0 && q <= 1)) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface Distribution {
  /** How many incidents had the facts for this figure. */
  n: number;
  median?: number;
  p90?: number;
}

export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { n: 0 };
  return { n: values.length, median: quantile(values, 0.5), p90: quantile(values, 0.9) };
}

export interface Delta {
  current?: number;
  previous?: number;
  /** current − previous, when both are known. */
  change?: number;
  /** (current − previous) ÷ previous, when both are known and previous is not 0. */
  ratio?: number;
}

export function delta(current: number | undefined, previous: number | undefined): Delta {
  const d: Delta = {};
  if (current !== undefined) d.current = current;
  if (previous !== undefined) d.previous = previous;
  if (current !== undefined && previous !== undefined) {
    d.change = current - previous;
    if (previous !== 0) d.ratio = (current - previous) / previous;
  }
  return d;
}

// ---- selection -----------------------------------------------------------------------------------

export interface Period {
  /** Inclusive. */
  from: DateTime;
  /** Exclusive. */
  to: DateTime;
}

/** The period of `days` days ending at `now`, and the one of the same length before it. */
export function periodsEndingAt(
  now: DateTime,
  days: number,
): { current: Period; previous: Period } {
  const to = now.toUTC();
  const from = to.minus({ days });
  return { current: { from, to }, previous: { from: from.minus({ days }), to: from } };
}

export function beganAt(i: FoldedIncident): DateTime | undefined {
  return incidentStart(i.state);
}

function inPeriod(i: FoldedIncident, p: Period): boolean {
  const at = beganAt(i);
  return !!at && at >= p.from && at < p.to;
}

/** Incidents whose kind is among `kinds` (default: only `real`). */
export function selectKinds(
  incidents: readonly FoldedIncident[],
  kinds: readonly IncidentKind[] = ['real'],
): FoldedIncident[] {
  return incidents.filter((i) => kinds.includes(i.kind));
}

// ---- per-incident figures ------------------------------------------------------------------------

export interface IncidentFigures {
  id: string;
  number: number;
  title: string;
  severity: Severity;
  status: IncidentState['status'];
  kind: IncidentKind;
  began?: DateTime;
  /** Milliseconds per tile metric (absent when a fact is missing). */
  ms: Partial<Record<TileMetric, number>>;
  hypotheses: { raised: number; ruledOut: number; confirmed: number; open: number };
  /** Share of the incident on misleading paths (0…, may exceed 1 when paths overlap). */
  misleadingShare?: number;
  timeOnMisleadingPathsMs: number;
  timeToFirstCorrectHypothesisMs?: number;
}

export function incidentFigures(i: FoldedIncident): IncidentFigures {
  const metrics = computeMetrics(i.state);
  const ms: Partial<Record<TileMetric, number>> = {};
  for (const key of TILE_METRICS) {
    const m = metrics.find((x: Metric) => x.key === key);
    if (m?.ms !== undefined) ms[key] = m.ms;
  }
  const a = computeAnalytics(i.state);
  const began = beganAt(i);
  return {
    id: i.id,
    number: i.number,
    title: i.state.title,
    severity: i.state.severity,
    status: i.state.status,
    kind: i.kind,
    ...(began ? { began } : {}),
    ms,
    hypotheses: { ...a.hypotheses },
    ...(a.misleadingShare.ratio !== undefined ? { misleadingShare: a.misleadingShare.ratio } : {}),
    timeOnMisleadingPathsMs: a.timeOnMisleadingPaths.ms ?? 0,
    ...(a.timeToFirstCorrectHypothesis.ms !== undefined
      ? { timeToFirstCorrectHypothesisMs: a.timeToFirstCorrectHypothesis.ms }
      : {}),
  };
}

// ---- tiles ---------------------------------------------------------------------------------------

export interface PeriodFigures {
  period: Period;
  incidents: number;
  metrics: Record<TileMetric, Distribution>;
}

export function periodFigures(figs: readonly IncidentFigures[], period: Period): PeriodFigures {
  const metrics = {} as Record<TileMetric, Distribution>;
  for (const key of TILE_METRICS) {
    metrics[key] = distribution(
      figs.map((f) => f.ms[key]).filter((v): v is number => v !== undefined),
    );
  }
  return { period, incidents: figs.length, metrics };
}

export interface Tile extends Delta {
  key: 'incidents' | `${TileMetric}.median` | `${TileMetric}.p90`;
  name: string;
  unit: 'count' | 'ms';
}

export function tiles(current: PeriodFigures, previous: PeriodFigures): Tile[] {
  const out: Tile[] = [
    {
      key: 'incidents',
      name: 'Incidents',
      unit: 'count',
      ...delta(current.incidents, previous.incidents),
    },
  ];
  for (const key of TILE_METRICS) {
    for (const stat of ['median', 'p90'] as const) {
      out.push({
        key: `${key}.${stat}`,
        name: `${TILE_METRIC_NAMES[key]} (${stat})`,
        unit: 'ms',
        ...delta(current.metrics[key][stat], previous.metrics[key][stat]),
      });
    }
  }
  return out;
}

// ---- monthly trends ------------------------------------------------------------------------------

export interface MonthFigures {
  /** YYYY-MM in the display zone. */
  month: string;
  incidents: number;
  bySeverity: Record<Severity, number>;
  metrics: Record<TileMetric, Distribution>;
}

/**
 * The `months` calendar months ending with the one containing `now` (months in `zone`: a month is
 * a span of instants; the zone only decides where it starts), oldest first, empty months included.
 */
export function monthlyTrends(
  figs: readonly IncidentFigures[],
  now: DateTime,
  months: number,
  zone = 'UTC',
): MonthFigures[] {
  const last = now.setZone(zone).startOf('month');
  const out: MonthFigures[] = [];
  for (let k = months - 1; k >= 0; k -= 1) {
    const start = last.minus({ months: k });
    const end = start.plus({ months: 1 });
    const inMonth = figs.filter((f) => f.began && f.began >= start && f.began < end);
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<
      Severity,
      number
    >;
    for (const f of inMonth) bySeverity[f.severity] += 1;
    out.push({
      month: start.toFormat('yyyy-MM'),
      incidents: inMonth.length,
      bySeverity,
      metrics: periodFigures(inMonth, { from: start.toUTC(), to: end.toUTC() }).metrics,
    });
  }
  return out;
}

// ---- diagnosis -----------------------------------------------------------------------------------

export interface DiagnosisPanel {
  /** One row per incident of the period that raised at least one hypothesis, oldest first. */
  rows: {
    id: string;
    number: number;
    title: string;
    raised: number;
    ruledOut: number;
    confirmed: number;
    misleadingShare?: number;
    timeToFirstCorrectHypothesisMs?: number;
  }[];
  totals: { raised: number; ruledOut: number; confirmed: number };
  /** Over incidents with a known share. */
  misleadingShare: Distribution;
  /** Over incidents with a confirmed hypothesis and a detection time. */
  timeToFirstCorrectHypothesis: Distribution;
}

export function diagnosisPanel(figs: readonly IncidentFigures[]): DiagnosisPanel {
  const rows = figs
    .filter((f) => f.hypotheses.raised > 0)
    .map((f) => ({
      id: f.id,
      number: f.number,
      title: f.title,
      raised: f.hypotheses.raised,
      ruledOut: f.hypotheses.ruledOut,
      confirmed: f.hypotheses.confirmed,
      ...(f.misleadingShare !== undefined ? { misleadingShare: f.misleadingShare } : {}),
      ...(f.timeToFirstCorrectHypothesisMs !== undefined
        ? { timeToFirstCorrectHypothesisMs: f.timeToFirstCorrectHypothesisMs }
        : {}),
    }));
  return {
    rows,
    totals: {
      raised: sum(figs.map((f) => f.hypotheses.raised)),
      ruledOut: sum(figs.map((f) => f.hypotheses.ruledOut)),
      confirmed: sum(figs.map((f) => f.hypotheses.confirmed)),
    },
    misleadingShare: distribution(
      figs.map((f) => f.misleadingShare).filter((v): v is number => v !== undefined),
    ),
    timeToFirstCorrectHypothesis: distribution(
      figs.map((f) => f.timeToFirstCorrectHypothesisMs).filter((v): v is number => v !== undefined),
    ),
  };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

// ---- follow-through ------------------------------------------------------------------------------

export interface OverdueAction {
  incidentId: string;
  number: number;
  action: string;
  text: string;
  owner?: string;
  due: string;
  /** Whole days past the end of the due date (in the incident's zone). */
  daysOverdue: number;
}

export interface FollowThrough {
  created: number;
  done: number;
  open: number;
  overdue: number;
  /** Overdue items, the longest overdue first. */
  oldestOverdue: OverdueAction[];
}

/**
 * Action items of the given incidents. An item is overdue when it is not done and `now` is past
 * the end of its due date, read in the incident's zone (the zone its people typed it in).
 */
export function followThrough(
  incidents: readonly FoldedIncident[],
  now: DateTime,
  limit = 10,
): FollowThrough {
  let created = 0;
  let done = 0;
  const overdue: OverdueAction[] = [];
  for (const i of incidents) {
    for (const a of i.state.actions) {
      created += 1;
      if (a.done) {
        done += 1;
        continue;
      }
      if (!a.due) continue;
      const endOfDue = DateTime.fromISO(a.due, { zone: i.state.zone }).endOf('day');
      if (!endOfDue.isValid || now <= endOfDue) continue;
      overdue.push({
        incidentId: i.id,
        number: i.number,
        action: a.id,
        text: a.text,
        ...(a.owner ? { owner: a.owner.name } : {}),
        due: a.due,
        daysOverdue: Math.floor(now.diff(endOfDue, 'days').days),
      });
    }
  }
  overdue.sort((x, y) => y.daysOverdue - x.daysOverdue || x.number - y.number);
  return {
    created,
    done,
    open: created - done,
    overdue: overdue.length,
    oldestOverdue: overdue.slice(0, limit),
  };
}

// ---- everything --------------------------------------------------------------------------------

export interface InsightsOptions {
  now: DateTime;
  /** Length of the period (default 90 days). */
  days?: number;
  /** Months of trends (default 12). */
  months?: number;
  /** Kinds included (default only `real`). */
  kinds?: readonly IncidentKind[];
  /** Zone for month boundaries (default UTC). */
  zone?: string;
}

export interface Insights {
  generatedAt: DateTime;
  kinds: IncidentKind[];
  /** Incidents left out because of their kind. */
  excluded: number;
  current: PeriodFigures;
  previous: PeriodFigures;
  tiles: Tile[];
  months: MonthFigures[];
  diagnosis: DiagnosisPanel;
  followThrough: FollowThrough;
  /** The period's incidents, newest first. */
  incidents: IncidentFigures[];
}

export function computeInsights(all: readonly FoldedIncident[], opts: InsightsOptions): Insights {
  const now = opts.now.toUTC();
  const kinds = [...(opts.kinds ?? ['real'])];
  const included = selectKinds(all, kinds);
  const { current, previous } = periodsEndingAt(now, opts.days ?? 90);
  const cur = included.filter((i) => inPeriod(i, current));
  const prev = included.filter((i) => inPeriod(i, previous));
  const curFigs = cur.map(incidentFigures);
  const currentFigures = periodFigures(curFigs, current);
  const previousFigures = periodFigures(prev.map(incidentFigures), previous);
  const newestFirst = [...curFigs].sort(
    (a, b) => (b.began?.toMillis() ?? 0) - (a.began?.toMillis() ?? 0) || b.number - a.number,
  );
  return {
    generatedAt: now,
    kinds,
    excluded: all.length - included.length,
    current: currentFigures,
    previous: previousFigures,
    tiles: tiles(currentFigures, previousFigures),
    months: monthlyTrends(included.map(incidentFigures), now, opts.months ?? 12, opts.zone),
    diagnosis: diagnosisPanel([...newestFirst].reverse()),
    followThrough: followThrough(cur, now),
    incidents: newestFirst,
  };
}
