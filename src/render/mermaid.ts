/**
 * A Mermaid `gantt` diagram of the response, for the postmortem draft (GitHub renders Mermaid in
 * ```` ```mermaid ```` blocks): detection, escalations and resolution as milestones, and each
 * hypothesis as a bar from raised to ruled out / confirmed (open ones run to resolution, or to
 * now while unresolved). Bars are a start and a length in minutes computed on instants, never
 * shorter than a minute or than 1% of the chart (so they stay visible on a long incident).
 *
 * Labels come from user text, so they are reduced to a safe alphabet: Mermaid's gantt grammar
 * splits on `:` `;` `#` and newlines, treats `%%` as a comment and `---` as front matter, and
 * renders HTML. Only letters, digits, spaces and a few harmless punctuation marks survive, every
 * label starts with a fixed word of ours (so it can never be read as a keyword), and labels are
 * capped in length.
 */
import type { DateTime } from 'luxon';
import type { IncidentState } from '../core/fold';

export interface GanttOptions {
  /** End of bars for hypotheses still open when the incident is unresolved. */
  now: DateTime;
  /** Diagram title (user text is sanitized). */
  title?: string;
  /** Longest label, in characters, before it is cut with "…" (default 48). */
  maxLabel?: number;
  /** Most hypothesis bars drawn; the rest are summarized in a comment (default 40). */
  maxHypotheses?: number;
  /** Most escalation milestones drawn (default 20). */
  maxEscalations?: number;
}

const MINUTE_MS = 60_000;

/**
 * Reduces any text to what a Mermaid gantt label can hold: letters and digits of any script,
 * spaces, and `. , - + / ! ? & @`; everything else (including `:` `;` `#` `%` quotes,
 * brackets, `<` `>`, newlines and emoji) becomes a space, except that a colon between digits
 * (a time, 13:40) becomes the look-alike `∶` (U+2236 RATIO). Runs of `-` and `.` are shortened so
 * `---` and `...` never appear; the result is trimmed and cut to `max` characters.
 */
export function mermaidLabel(text: string, max = 48): string {
  const cleaned = text
    .normalize('NFC')
    .replace(/(\d):(?=\d)/g, '$1\u2236') // 13:40 keeps its look: RATIO (∶) is not Mermaid syntax
    .replace(/[^\p{L}\p{M}\p{N} .,+/!?&@\u2236-]/gu, ' ')
    .replace(/-{2,}/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...cleaned];
  if (chars.length <= max) return cleaned;
  return `${chars
    .slice(0, Math.max(1, max - 1))
    .join('')
    .trimEnd()}…`;
}

/**
 * Times in the diagram. Mermaid reads `YYYY-MM-DD HH:mm` as wall-clock time, and wall-clock time
 * in a zone with DST repeats an hour at the fall-back (01:30 PDT and 01:30 PST) and skips one in
 * spring, so a chart written in changing wall time draws bars backwards. The diagram is therefore
 * computed on instants and written with ONE fixed UTC offset, the zone's offset at the first
 * moment drawn: every instant maps to a distinct, increasing wall time, and the title says which
 * offset it is when the zone changes offset during the incident.
 */
interface Clock {
  offsetMinutes: number;
  /** "PDT (UTC-7)" style label, set when the zone's offset changes during the incident. */
  note?: string;
}

function clockFor(zone: string, first: DateTime, last: DateTime): Clock {
  const z = (t: DateTime): DateTime => (t.setZone(zone).isValid ? t.setZone(zone) : t.toUTC());
  const a = z(first);
  const b = z(last);
  if (a.offset === b.offset) return { offsetMinutes: a.offset };
  const h = a.offset / 60;
  const sign = h < 0 ? '-' : '+';
  const abs = Math.abs(h);
  const hours = Number.isInteger(abs) ? String(abs) : `${Math.floor(abs)}.${(abs % 1) * 60}`;
  return {
    offsetMinutes: a.offset,
    note: `times in ${a.offsetNameShort ?? ''} UTC${sign}${hours} throughout`.replace(/ +/g, ' '),
  };
}

/** An instant as `YYYY-MM-DD HH:mm` at the fixed offset. */
function wall(t: DateTime, clock: Clock): string {
  const l = t.toUTC().plus({ minutes: clock.offsetMinutes });
  return `${l.year}-${pad2(l.month)}-${pad2(l.day)} ${pad2(l.hour)}:${pad2(l.minute)}`;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * A bar's length in whole minutes, computed on instants: at least one minute, and at least
 * `minMinutes` (a share of the chart's span) so a short bar stays visible on a long incident.
 */
function barMinutes(start: DateTime, end: DateTime, minMinutes: number): number {
  const minutes = Math.round((end.toMillis() - start.toMillis()) / MINUTE_MS);
  return Math.max(1, minMinutes, minutes);
}

/** Share of the chart's span a bar always gets, so it can be seen (1/100). */
export const MIN_BAR_SHARE = 0.01;

/**
 * The Mermaid source (without the ```` ``` ```` fence), or undefined when there is nothing to
 * draw (no detection, escalation, resolution or hypothesis).
 */
export function ganttDiagram(s: IncidentState, opts: GanttOptions): string | undefined {
  const max = opts.maxLabel ?? 48;
  const maxH = opts.maxHypotheses ?? 40;
  const maxE = opts.maxEscalations ?? 20;
  const zone = s.zone;
  if (!s.detectedAt && !s.resolvedAt && s.hypotheses.length === 0 && s.escalations.length === 0) {
    return undefined;
  }

  const times: DateTime[] = [];
  for (const t of [s.detectedAt, s.resolvedAt]) if (t) times.push(t);
  for (const e of s.escalations) times.push(e.at);
  for (const h of s.hypotheses) times.push(h.raisedAt);
  const first = times.reduce((a, b) => (b < a ? b : a));
  const last = [...times, ...s.hypotheses.flatMap((h) => (h.outcomeAt ? [h.outcomeAt] : []))]
    .concat(s.resolvedAt ? [] : [opts.now])
    .reduce((a, b) => (b > a ? b : a));
  const clock = clockFor(zone, first, last);
  const spanMinutes = Math.max(0, (last.toMillis() - first.toMillis()) / MINUTE_MS);
  const minMinutes = Math.ceil(spanMinutes * MIN_BAR_SHARE);
  const multiDay = wall(first, clock).slice(0, 10) !== wall(last, clock).slice(0, 10);

  const rawTitle = `${opts.title ?? 'Incident response'}${clock.note ? ` - ${clock.note}` : ''}`;
  const title =
    mermaidLabel(rawTitle, 80 + (clock.note ? clock.note.length + 3 : 0)) || 'Incident response';
  const out: string[] = [
    'gantt',
    `    title ${title}`,
    '    dateFormat YYYY-MM-DD HH:mm',
    `    axisFormat ${multiDay ? '%m-%d %H:%M' : '%H:%M'}`,
  ];

  const milestones: string[] = [];
  let m = 0;
  const milestone = (label: string, at: DateTime): void => {
    m += 1;
    milestones.push(`    ${label} :milestone, m${m}, ${wall(at, clock)}, 0m`);
  };
  if (s.detectedAt) milestone('Detected', s.detectedAt);
  const escalations = [...s.escalations].sort((a, b) => a.at.toMillis() - b.at.toMillis());
  for (const e of escalations.slice(0, maxE)) {
    milestone(mermaidLabel(`Escalated to ${e.to}`, max), e.at);
  }
  if (s.resolvedAt) milestone('Resolved', s.resolvedAt);
  if (milestones.length) out.push('    section Response', ...milestones);
  if (escalations.length > maxE) {
    out.push(`    %% ${escalations.length - maxE} more escalations not drawn`);
  }

  if (s.hypotheses.length) {
    out.push('    section Hypotheses');
    const openEnd = s.resolvedAt ?? opts.now;
    for (const h of s.hypotheses.slice(0, maxH)) {
      const n = h.id.replace(/\D/g, '') || '0';
      const end = h.outcomeAt ?? openEnd;
      const [tag, verb] =
        h.outcome === 'confirmed'
          ? ['active, ', 'confirmed']
          : h.outcome === 'ruled_out'
            ? ['crit, ', 'ruled out']
            : ['', 'open'];
      const label = mermaidLabel(`H${n} ${verb} - ${h.text}`, max);
      out.push(
        `    ${label} :${tag}h${n}, ${wall(h.raisedAt, clock)}, ${barMinutes(h.raisedAt, end, minMinutes)}m`,
      );
    }
    if (s.hypotheses.length > maxH) {
      out.push(`    %% ${s.hypotheses.length - maxH} more hypotheses not drawn`);
    }
  }
  return out.join('\n');
}
