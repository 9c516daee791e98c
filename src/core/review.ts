/**
 * The close-time review: what a postmortem draft of this incident would be missing. Pure: state
 * in, findings out. Nothing here blocks closing; the findings are shown so the team can fill the
 * gaps (or close anyway).
 */
import type { DateTime } from 'luxon';
import type { IncidentState } from './fold';
import { humanDuration } from './duration';
import { SEVERITIES, type Severity } from './model';
import { formatClock, formatDateTime, isValidZone } from './time';

export type FindingCode =
  | 'no_detection'
  | 'no_impact'
  | 'no_root_cause'
  | 'open_hypotheses'
  | 'no_escalation'
  | 'timeline_gap'
  | 'no_actions'
  | 'actions_incomplete';

export interface Finding {
  code: FindingCode;
  message: string;
}

export interface ReviewOptions {
  /** A quiet stretch longer than this between detection and resolution is a finding (default 30). */
  gapMinutes?: number;
}

export const DEFAULT_GAP_MINUTES = 30;

/**
 * How many items a finding names before "… and N more": every message stays short enough for one
 * Slack section (3,000 characters) whatever the incident's size.
 */
export const LISTED = { hypotheses: 20, gaps: 10, actions: 10 } as const;

/** The first `max` items joined with `sep`, then "… and N more" for the rest. */
function listed(items: readonly string[], max: number, sep: string): string {
  const shown = items.slice(0, max);
  if (items.length > max) shown.push(`… and ${items.length - max} more`);
  return shown.join(sep);
}

/** Findings, in a fixed order (detection, impact, root cause, hypotheses, escalation, gaps, actions). */
export function reviewDraft(state: IncidentState, opts: ReviewOptions = {}): Finding[] {
  const gapMinutes = opts.gapMinutes ?? DEFAULT_GAP_MINUTES;
  const zone = state.zone && isValidZone(state.zone) ? state.zone : 'UTC';
  const out: Finding[] = [];

  if (!state.detectedAt) {
    out.push({
      code: 'no_detection',
      message: 'No detection time: time to detect, identify and resolve cannot be computed.',
    });
  }

  if (!state.impact?.trim()) {
    out.push({
      code: 'no_impact',
      message:
        'No impact recorded: say who or what was affected (`/incident impact [time] <text>`; the time is when impact began).',
    });
  }

  const confirmed = state.hypotheses.some((h) => h.outcome === 'confirmed');
  if (!confirmed && !state.rootCause) {
    out.push({
      code: 'no_root_cause',
      message:
        'No root cause: no hypothesis is confirmed and none was stated (`/incident confirm <H#>` or `/incident root-cause <text>`).',
    });
  }

  const open = state.hypotheses.filter((h) => h.outcome === 'open').map((h) => h.id);
  if (open.length) {
    out.push({
      code: 'open_hypotheses',
      message: `${plural(open.length, 'Hypothesis', 'Hypotheses')} still open: ${listed(open, LISTED.hypotheses, ', ')} — confirm or rule ${open.length === 1 ? 'it' : 'them'} out.`,
    });
  }

  const worst = worstSeverity(state);
  if ((worst === 'sev1' || worst === 'sev2') && state.escalations.length === 0) {
    out.push({
      code: 'no_escalation',
      message: `A ${worst.toUpperCase()} without any escalation recorded (\`/incident escalate [time] <to whom and why>\`).`,
    });
  }

  const gaps = timelineGaps(state, gapMinutes);
  if (gaps.length) {
    const spansDays = gaps.some((g) => !g.from.setZone(zone).hasSame(g.to.setZone(zone), 'day'));
    const fmt = (t: DateTime) => (spansDays ? formatDateTime(t, zone) : formatClock(t, zone));
    const where = listed(
      gaps.map((g) => `between ${fmt(g.from)} and ${fmt(g.to)} (${humanDuration(g.ms)})`),
      LISTED.gaps,
      '; ',
    );
    out.push({
      code: 'timeline_gap',
      message: `The timeline has ${gaps.length === 1 ? 'a gap' : `${gaps.length} gaps`} longer than ${gapMinutes} minutes ${where}: what happened then?`,
    });
  }

  if (state.actions.length === 0) {
    out.push({
      code: 'no_actions',
      message:
        'No action items: add at least one corrective or preventive item (`/incident action [<@owner>] [due YYYY-MM-DD] <text>`).',
    });
  } else {
    const incomplete = state.actions.filter((a) => !a.done && (!a.owner || !a.due));
    if (incomplete.length) {
      const list = listed(
        incomplete.map((a) => {
          const missing = [!a.owner ? 'owner' : '', !a.due ? 'due date' : '']
            .filter(Boolean)
            .join(' and ');
          return `${a.id} (no ${missing})`;
        }),
        LISTED.actions,
        ', ',
      );
      out.push({
        code: 'actions_incomplete',
        message: `Action items without an owner or a due date: ${list}.`,
      });
    }
  }

  return out;
}

/** The most severe level the incident ever had (a downgraded SEV1 still expected escalation). */
function worstSeverity(state: IncidentState): Severity {
  const levels = [state.severity, ...state.severityHistory.map((s) => s.severity)];
  return levels.reduce(
    (w, s) => (SEVERITIES.indexOf(s) < SEVERITIES.indexOf(w) ? s : w),
    state.severity,
  );
}

interface Gap {
  from: DateTime;
  to: DateTime;
  ms: number;
}

/**
 * Quiet stretches in the timeline between detection and resolution (or the latest entry while
 * unresolved). Every timeline item counts as activity.
 */
export function timelineGaps(state: IncidentState, gapMinutes: number): Gap[] {
  const start = state.detectedAt;
  if (!start) return [];
  const limitMs = gapMinutes * 60_000;
  const points = state.timeline
    .map((i) => i.at)
    .filter((t) => t >= start && (!state.resolvedAt || t <= state.resolvedAt));
  points.push(start);
  if (state.resolvedAt && state.resolvedAt >= start) points.push(state.resolvedAt);
  points.sort((a, b) => a.toMillis() - b.toMillis());
  const gaps: Gap[] = [];
  for (let i = 1; i < points.length; i++) {
    const ms = points[i].toMillis() - points[i - 1].toMillis();
    if (ms > limitMs) gaps.push({ from: points[i - 1], to: points[i], ms });
  }
  return gaps;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}
