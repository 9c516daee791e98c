/**
 * The insights as JSON and CSV: the same figures as the page. Durations are milliseconds, times
 * ISO-8601 UTC. The CSV is "tidy" (one figure per row: section, subject, measure, value), so a
 * spreadsheet can pivot it any way without knowing our layout.
 */
import type { DateTime } from 'luxon';
import { TILE_METRICS, type Distribution, type Insights } from '../core/insights';
import { formatIncidentNumber } from '../core/model';

export function insightsJson(ins: Insights): unknown {
  // luxon DateTimes serialise as ISO strings (toJSON); all are UTC here.
  return JSON.parse(JSON.stringify(ins)) as unknown;
}

type Row = [string, string, string, string | number | undefined];

function csvCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  // Quote when needed; a leading = + - @ is prefixed so spreadsheets never run it as a formula.
  const safe = /^[=+\-@\t\r]/.test(s) && typeof v === 'string' ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const iso = (t: DateTime): string => t.toUTC().toISO() ?? '';

function dist(
  rows: Row[],
  section: string,
  subject: string,
  prefix: string,
  d: Distribution,
): void {
  rows.push([section, subject, `${prefix}n`, d.n]);
  rows.push([section, subject, `${prefix}median_ms`, d.median]);
  rows.push([section, subject, `${prefix}p90_ms`, d.p90]);
}

export function insightsCsv(ins: Insights): string {
  const rows: Row[] = [];
  rows.push(['period', 'current', 'from', iso(ins.current.period.from)]);
  rows.push(['period', 'current', 'to', iso(ins.current.period.to)]);
  rows.push(['period', 'previous', 'from', iso(ins.previous.period.from)]);
  rows.push(['period', 'previous', 'to', iso(ins.previous.period.to)]);
  rows.push(['period', 'kinds', 'included', ins.kinds.join(' ')]);
  rows.push(['period', 'kinds', 'excluded_incidents', ins.excluded]);
  for (const t of ins.tiles) {
    rows.push(['tile', t.key, 'current', t.current]);
    rows.push(['tile', t.key, 'previous', t.previous]);
    rows.push(['tile', t.key, 'change', t.change]);
    rows.push(['tile', t.key, 'ratio', t.ratio]);
  }
  for (const m of ins.months) {
    rows.push(['month', m.month, 'incidents', m.incidents]);
    for (const [sev, n] of Object.entries(m.bySeverity)) rows.push(['month', m.month, sev, n]);
    for (const k of TILE_METRICS) dist(rows, 'month', m.month, `${k}.`, m.metrics[k]);
  }
  const d = ins.diagnosis;
  rows.push(['diagnosis', 'all', 'raised', d.totals.raised]);
  rows.push(['diagnosis', 'all', 'ruled_out', d.totals.ruledOut]);
  rows.push(['diagnosis', 'all', 'confirmed', d.totals.confirmed]);
  rows.push(['diagnosis', 'all', 'misleading_share.median', d.misleadingShare.median]);
  rows.push(['diagnosis', 'all', 'misleading_share.p90', d.misleadingShare.p90]);
  dist(
    rows,
    'diagnosis',
    'all',
    'time_to_first_correct_hypothesis.',
    d.timeToFirstCorrectHypothesis,
  );
  const f = ins.followThrough;
  rows.push(['follow_through', 'all', 'created', f.created]);
  rows.push(['follow_through', 'all', 'done', f.done]);
  rows.push(['follow_through', 'all', 'open', f.open]);
  rows.push(['follow_through', 'all', 'overdue', f.overdue]);
  for (const i of ins.incidents) {
    const subject = formatIncidentNumber(i.number);
    rows.push(['incident', subject, 'title', i.title]);
    rows.push(['incident', subject, 'severity', i.severity]);
    rows.push(['incident', subject, 'kind', i.kind]);
    rows.push(['incident', subject, 'began', i.began ? iso(i.began) : undefined]);
    for (const k of TILE_METRICS) rows.push(['incident', subject, `${k}_ms`, i.ms[k]]);
    rows.push(['incident', subject, 'hypotheses_raised', i.hypotheses.raised]);
    rows.push(['incident', subject, 'misleading_share', i.misleadingShare]);
  }
  return `${['section,subject,measure,value', ...rows.map((r) => r.map(csvCell).join(','))].join('\r\n')}\r\n`;
}
