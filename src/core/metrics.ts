/**
 * Derived metrics. Each carries the formula it is computed with, printed next to it in the
 * postmortem, and a reason when a fact it needs is missing.
 */
import type { DateTime } from 'luxon';
import type { IncidentState } from './fold';

export interface Metric {
  key:
    | 'time_to_detect'
    | 'time_to_escalate'
    | 'time_to_identify'
    | 'time_to_resolve'
    | 'total_duration'
    | 'time_on_ruled_out'
    | 'time_to_page'
    | 'time_to_acknowledge';
  name: string;
  formula: string;
  /** Milliseconds; undefined when a fact is missing. */
  ms?: number;
  /** What is missing, when `ms` is undefined. */
  missing?: string;
}

/** When the incident began: the impact start when known, otherwise detection, otherwise opening. */
export function incidentStart(s: IncidentState): DateTime | undefined {
  return s.impactStartedAt ?? s.detectedAt ?? s.openedAt;
}

/** The earliest moment the root cause was known: a confirmed hypothesis or a stated root cause. */
export function rootCauseIdentifiedAt(s: IncidentState): DateTime | undefined {
  const times: DateTime[] = [];
  for (const h of s.hypotheses)
    if (h.outcome === 'confirmed' && h.outcomeAt) times.push(h.outcomeAt);
  if (s.rootCause) times.push(s.rootCause.at);
  return times.length ? times.reduce((a, b) => (a < b ? a : b)) : undefined;
}

export function firstEscalationAt(s: IncidentState): DateTime | undefined {
  return s.escalations.reduce<DateTime | undefined>(
    (m, e) => (!m || e.at < m ? e.at : m),
    undefined,
  );
}

const between = (a: DateTime | undefined, b: DateTime | undefined): number | undefined =>
  a && b ? Math.max(0, b.toMillis() - a.toMillis()) : undefined;

export function computeMetrics(s: IncidentState): Metric[] {
  const metric = (
    key: Metric['key'],
    name: string,
    formula: string,
    ms: number | undefined,
    missing: string,
  ): Metric => (ms === undefined ? { key, name, formula, missing } : { key, name, formula, ms });

  const ruledOut = s.hypotheses.filter((h) => h.outcome === 'ruled_out');
  const earliest = (ts: (DateTime | undefined)[]): DateTime | undefined =>
    ts.reduce<DateTime | undefined>((m, t) => (t && (!m || t < m) ? t : m), undefined);
  const firstSent = earliest(s.pages.filter((p) => !p.dryRun).map((p) => p.sentAt));
  const firstAck = earliest(s.pages.map((p) => p.acknowledgedAt));
  // Paging metrics only for incidents that paged someone, so other drafts are unchanged.
  const paging: Metric[] = s.pages.length
    ? [
        metric(
          'time_to_page',
          'Time to page',
          'first page accepted by a pager − detected',
          between(s.detectedAt, firstSent),
          firstSent ? 'no detection time' : 'no page was accepted by a pager',
        ),
        metric(
          'time_to_acknowledge',
          'Time to acknowledge',
          'first acknowledgement reported by the pager − first page accepted',
          between(firstSent, firstAck),
          firstSent
            ? 'no acknowledgement reported (only PagerDuty webhooks report it)'
            : 'no page was accepted by a pager',
        ),
      ]
    : [];
  return [
    metric(
      'time_to_detect',
      'Time to detect',
      'detected − impact start',
      between(s.impactStartedAt, s.detectedAt),
      s.detectedAt
        ? 'impact start unknown (`/incident impact <time> <text>` records it)'
        : 'no detection time',
    ),
    metric(
      'time_to_escalate',
      'Time to escalate',
      'first escalation − detected',
      between(s.detectedAt, firstEscalationAt(s)),
      s.escalations.length ? 'no detection time' : 'no escalation recorded',
    ),
    metric(
      'time_to_identify',
      'Time to identify root cause',
      'root cause identified (hypothesis confirmed or root cause set) − detected',
      between(s.detectedAt, rootCauseIdentifiedAt(s)),
      rootCauseIdentifiedAt(s) ? 'no detection time' : 'root cause not identified yet',
    ),
    metric(
      'time_to_resolve',
      'Time to resolve',
      'resolved − detected',
      between(s.detectedAt, s.resolvedAt),
      s.resolvedAt ? 'no detection time' : 'not resolved yet',
    ),
    metric(
      'total_duration',
      'Total duration',
      'resolved − incident start (impact start if known, else detected)',
      between(incidentStart(s), s.resolvedAt),
      s.resolvedAt ? 'no start time' : 'not resolved yet',
    ),
    metric(
      'time_on_ruled_out',
      'Time on ruled-out hypotheses',
      'Σ (ruled out − raised) over ruled-out hypotheses',
      ruledOut.reduce((sum, h) => sum + (h.timeSpentMs ?? 0), 0),
      '',
    ),
    ...paging,
  ];
}
