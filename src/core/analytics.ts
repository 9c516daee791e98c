/**
 * Diagnosis analytics: how the investigation went, not just how long the outage lasted.
 * Pure functions of the folded state. Like metrics.ts, every figure carries the formula it is
 * computed with (printed next to it in the postmortem) and, when a fact it needs is missing, a
 * reason instead of a value.
 */
import type { DateTime } from 'luxon';
import type { IncidentState, TimelineItem } from './fold';
import { firstEscalationAt, incidentStart } from './metrics';

export type AnalyticsKey =
  | 'time_to_first_correct_hypothesis'
  | 'time_on_misleading_paths'
  | 'misleading_share'
  | 'time_to_first_escalation'
  | 'longest_gap';

export interface AnalyticsFigure {
  key: AnalyticsKey;
  name: string;
  formula: string;
  /** Milliseconds (for durations); undefined when a fact is missing or the figure is a ratio. */
  ms?: number;
  /** 0…1, only for `misleading_share`. */
  ratio?: number;
  /** What is missing, when the value is undefined. */
  missing?: string;
}

/** The longest quiet stretch of the timeline between detection and resolution. */
export interface TimelineGap extends AnalyticsFigure {
  key: 'longest_gap';
  /** Start of the gap: the entry after which nothing was recorded. */
  from?: DateTime;
  /** End of the gap: the next entry. */
  to?: DateTime;
  /** The timeline entry that opens the gap (undefined when it is detection itself). */
  after?: TimelineItem;
  /** The timeline entry that closes the gap (undefined when it is resolution itself). */
  before?: TimelineItem;
}

export interface HypothesisCounts {
  raised: number;
  ruledOut: number;
  confirmed: number;
  open: number;
}

export interface DiagnosisAnalytics {
  hypotheses: HypothesisCounts;
  timeToFirstCorrectHypothesis: AnalyticsFigure;
  timeOnMisleadingPaths: AnalyticsFigure;
  misleadingShare: AnalyticsFigure;
  timeToFirstEscalation: AnalyticsFigure;
  longestGap: TimelineGap;
}

const between = (a: DateTime | undefined, b: DateTime | undefined): number | undefined =>
  a && b ? Math.max(0, b.toMillis() - a.toMillis()) : undefined;

function figure(
  key: AnalyticsKey,
  name: string,
  formula: string,
  ms: number | undefined,
  missing: string,
): AnalyticsFigure {
  return ms === undefined ? { key, name, formula, missing } : { key, name, formula, ms };
}

/** The confirmed hypothesis raised first (the first correct hypothesis), if any. */
export function firstCorrectHypothesis(
  s: IncidentState,
): IncidentState['hypotheses'][number] | undefined {
  let best: IncidentState['hypotheses'][number] | undefined;
  for (const h of s.hypotheses) {
    if (h.outcome === 'confirmed' && (!best || h.raisedAt < best.raisedAt)) best = h;
  }
  return best;
}

export function computeAnalytics(s: IncidentState): DiagnosisAnalytics {
  const ruledOut = s.hypotheses.filter((h) => h.outcome === 'ruled_out');
  const confirmed = s.hypotheses.filter((h) => h.outcome === 'confirmed');
  const counts: HypothesisCounts = {
    raised: s.hypotheses.length,
    ruledOut: ruledOut.length,
    confirmed: confirmed.length,
    open: s.hypotheses.filter((h) => h.outcome === 'open').length,
  };

  const first = firstCorrectHypothesis(s);
  const timeToFirstCorrectHypothesis = figure(
    'time_to_first_correct_hypothesis',
    'Time to first correct hypothesis',
    'raised (earliest confirmed hypothesis) − detected',
    between(s.detectedAt, first?.raisedAt),
    !first ? 'no hypothesis confirmed yet' : 'no detection time',
  );

  const misleadingMs = ruledOut.reduce((sum, h) => sum + (h.timeSpentMs ?? 0), 0);
  const timeOnMisleadingPaths = figure(
    'time_on_misleading_paths',
    'Time on misleading paths',
    'Σ (ruled out − raised) over ruled-out hypotheses',
    misleadingMs,
    '',
  );

  const duration = between(incidentStart(s), s.resolvedAt);
  const misleadingShare: AnalyticsFigure = {
    key: 'misleading_share',
    name: 'Share of the incident on misleading paths',
    formula: 'time on misleading paths ÷ total duration (resolved − incident start)',
  };
  if (duration === undefined) {
    misleadingShare.missing = s.resolvedAt ? 'no start time' : 'not resolved yet';
  } else if (duration === 0) {
    misleadingShare.missing = 'the incident lasted no time';
  } else {
    // Hypotheses may overlap (several paths explored at once), so the share can exceed 100%.
    misleadingShare.ratio = misleadingMs / duration;
  }

  const esc = firstEscalationAt(s);
  const timeToFirstEscalation = figure(
    'time_to_first_escalation',
    'Time to first escalation',
    'first escalation − detected',
    between(s.detectedAt, esc),
    !esc ? 'no escalation recorded' : 'no detection time',
  );

  return {
    hypotheses: counts,
    timeToFirstCorrectHypothesis,
    timeOnMisleadingPaths,
    misleadingShare,
    timeToFirstEscalation,
    longestGap: longestGap(s),
  };
}

/**
 * The longest stretch between consecutive timeline entries from detection to resolution
 * (detection and resolution themselves bound the window). Entries outside the window are ignored.
 */
export function longestGap(s: IncidentState): TimelineGap {
  const base = {
    key: 'longest_gap' as const,
    name: 'Longest gap in the timeline',
    formula: 'max (next entry − entry) over timeline entries between detection and resolution',
  };
  if (!s.detectedAt) return { ...base, missing: 'no detection time' };
  if (!s.resolvedAt) return { ...base, missing: 'not resolved yet' };
  const start = s.detectedAt.toMillis();
  const end = s.resolvedAt.toMillis();
  if (end <= start) return { ...base, missing: 'resolved no later than detected' };

  // Points: detection, every timeline entry inside the window, resolution.
  let prevMs = start;
  let prevItem: TimelineItem | undefined;
  let best: {
    ms: number;
    fromMs: number;
    toMs: number;
    after?: TimelineItem;
    before?: TimelineItem;
  } = { ms: -1, fromMs: start, toMs: start };
  const consider = (atMs: number, item: TimelineItem | undefined): void => {
    const gap = atMs - prevMs;
    if (gap > best.ms)
      best = { ms: gap, fromMs: prevMs, toMs: atMs, after: prevItem, before: item };
    prevMs = atMs;
    prevItem = item;
  };
  for (const item of s.timeline) {
    const at = item.at.toMillis();
    if (at < start || at > end) continue;
    if (item.kind === 'detected' || item.kind === 'resolved') continue;
    consider(at, item);
  }
  consider(end, undefined);
  return {
    ...base,
    ms: best.ms,
    from: s.detectedAt.plus(best.fromMs - start),
    to: s.detectedAt.plus(best.toMs - start),
    after: best.after,
    before: best.before,
  };
}
