/**
 * The insights pages as HTML strings: server-rendered, no script, no external resource (the CSP
 * the routes send forbids both), readable from 400 px wide up. Every piece of user text goes
 * through `escapeHtml`; charts are SVG rendered by charts.ts.
 */
import type { DateTime } from 'luxon';
import { shortDuration } from '../core/duration';
import type { IncidentState } from '../core/fold';
import {
  TILE_METRICS,
  TILE_METRIC_NAMES,
  type IncidentKind,
  type Insights,
  type Tile,
} from '../core/insights';
import { formatIncidentNumber } from '../core/model';
import { responseChart, severityChart, trendChart } from './charts';
import { escapeHtml as h, markdownToHtml } from './markdown';

const CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;background:#f9fafb}
header{background:#111827;color:#fff;padding:12px 16px;display:flex;flex-wrap:wrap;gap:8px 16px;align-items:baseline}
header a{color:#93c5fd}header h1{font-size:18px;margin:0}
main{max-width:1100px;margin:0 auto;padding:12px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px;margin:12px 0;overflow:hidden}
h2{font-size:16px;margin:0 0 8px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:8px}
.tile{border:1px solid #e5e7eb;border-radius:6px;padding:8px}.tile .v{font-size:22px;font-weight:600}
.tile .n{color:#6b7280;font-size:12px}.up{color:#b91c1c}.down{color:#15803d}.flat{color:#6b7280}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:8px}
.charts svg,.chart svg{width:100%;height:auto;display:block}
.table{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:14px}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}
nav.opts a{margin-right:10px}pre{white-space:pre-wrap;word-break:break-word;background:#f3f4f6;padding:8px;border-radius:6px;font-size:13px}
.draft{overflow-wrap:anywhere}.muted{color:#6b7280}
button{font:inherit;padding:8px 16px;border-radius:6px;border:1px solid #1d4ed8;background:#2563eb;color:#fff}
@media (max-width:480px){body{font-size:14px}.tile .v{font-size:18px}.charts{grid-template-columns:1fr}}
`;

export function layout(title: string, body: string, nav = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${h(title)}</title><style>${CSS}</style></head><body><header><h1>${h(title)}</h1>${nav}</header><main>${body}</main></body></html>`;
}

export function messagePage(title: string, text: string, extra = ''): string {
  return layout(title, `<section><p>${h(text)}</p>${extra}</section>`);
}

/** The login page behind a one-time link: a button, so link previews cannot spend the token. */
export function loginPage(token: string): string {
  return layout(
    'incident-bot insights',
    `<section><p>This one-time link opens the insights of your workspace in this browser.</p><form method="post" action="/insights/login"><input type="hidden" name="token" value="${h(token)}"><button type="submit">Open insights</button></form></section>`,
  );
}

/** Longest table on the page; the exports hold every row. */
export const MAX_ROWS = 200;
const more = (n: number): string =>
  n > MAX_ROWS
    ? `<p class="muted">Showing the ${MAX_ROWS} latest of ${n}; the JSON and CSV exports have them all.</p>`
    : '';

const dur = (ms: number | undefined): string => (ms === undefined ? '—' : shortDuration(ms));
const pct = (r: number | undefined): string => (r === undefined ? '—' : `${Math.round(r * 100)}%`);

function tileHtml(t: Tile, previousLabel: string): string {
  const value = t.unit === 'count' ? String(t.current ?? 0) : dur(t.current);
  let change = `<span class="flat">no previous figure</span>`;
  if (t.change !== undefined) {
    // For every tile, more is worse (more incidents, longer times).
    const cls = t.change > 0 ? 'up' : t.change < 0 ? 'down' : 'flat';
    const arrow = t.change > 0 ? '▲' : t.change < 0 ? '▼' : '＝';
    const amount = t.unit === 'count' ? String(Math.abs(t.change)) : dur(Math.abs(t.change));
    const rel =
      t.ratio !== undefined ? ` (${t.ratio > 0 ? '+' : ''}${Math.round(t.ratio * 100)}%)` : '';
    change = `<span class="${cls}">${arrow} ${h(amount)}${h(rel)}</span>`;
  }
  return `<div class="tile" data-key="${h(t.key)}"><div class="n">${h(t.name)}</div><div class="v">${h(value)}</div><div class="n">${change} vs ${h(previousLabel)}</div></div>`;
}

export interface InsightsPageInput {
  insights: Insights;
  team: string;
  days: number;
  kinds: readonly IncidentKind[];
  zone: string;
  /** Query string of the current view (for the export links). */
  query: string;
}

export function insightsPage(p: InsightsPageInput): string {
  const ins = p.insights;
  const fmt = (t: DateTime | undefined): string =>
    t ? t.setZone(p.zone).toFormat('yyyy-MM-dd HH:mm') : '—';
  const allKinds = p.kinds.length > 1;
  const periodLink = (d: number): string =>
    `<a href="/insights?days=${d}${allKinds ? '&amp;kinds=all' : ''}"${d === p.days ? ' aria-current="page"' : ''}>${d} days</a>`;
  const nav = `<nav class="opts">${[30, 90, 365].map(periodLink).join('')}<a href="/insights?days=${p.days}${allKinds ? '' : '&amp;kinds=all'}">${allKinds ? 'real incidents only' : 'include drills and tests'}</a><a href="/insights.json?${h(p.query)}">JSON</a><a href="/insights.csv?${h(p.query)}">CSV</a></nav>`;

  const tiles = `<section id="tiles"><h2>Last ${p.days} days</h2><p class="muted">${ins.current.incidents} incident(s) from ${h(fmt(ins.current.period.from))} to ${h(fmt(ins.current.period.to))} (${h(p.zone)}); ${allKinds ? 'drills and tests included' : `${ins.excluded} drill/test incident(s) left out`}. Times are medians and 90th percentiles over the incidents that have the facts.</p><div class="tiles">${ins.tiles
    .map((t) => tileHtml(t, `previous ${p.days} days`))
    .join('')}</div></section>`;

  const charts = `<section id="trends"><h2>Trends by month</h2><div class="charts">${[
    ...TILE_METRICS.map(
      (m) =>
        `<div class="chart">${trendChart(ins.months, m, `${TILE_METRIC_NAMES[m]} (median, p90 band)`)}</div>`,
    ),
    `<div class="chart">${severityChart(ins.months)}</div>`,
  ].join('')}</div></section>`;

  const d = ins.diagnosis;
  const diagnosis = `<section id="diagnosis"><h2>Diagnosis</h2><p>Hypotheses raised ${d.totals.raised}, ruled out ${d.totals.ruledOut}, confirmed ${d.totals.confirmed}. Share of the incident on misleading paths: median ${pct(d.misleadingShare.median)}, p90 ${pct(d.misleadingShare.p90)}. Time to the first correct hypothesis: median ${h(dur(d.timeToFirstCorrectHypothesis.median))}, p90 ${h(dur(d.timeToFirstCorrectHypothesis.p90))} (n=${d.timeToFirstCorrectHypothesis.n}).</p>${
    d.rows.length
      ? `${more(d.rows.length)}<div class="table"><table><thead><tr><th>Incident</th><th>Raised</th><th>Ruled out</th><th>Confirmed</th><th>On misleading paths</th><th>First correct hypothesis</th></tr></thead><tbody>${d.rows
          .slice(-MAX_ROWS)
          .map(
            (r) =>
              `<tr><td><a href="/insights/incidents/${r.number}">${h(formatIncidentNumber(r.number))}</a> ${h(r.title)}</td><td>${r.raised}</td><td>${r.ruledOut}</td><td>${r.confirmed}</td><td>${pct(r.misleadingShare)}</td><td>${h(dur(r.timeToFirstCorrectHypothesisMs))}</td></tr>`,
          )
          .join('')}</tbody></table></div>`
      : '<p class="muted">No hypotheses were recorded in this period.</p>'
  }</section>`;

  const f = ins.followThrough;
  const follow = `<section id="follow-through"><h2>Follow-through</h2><p>Action items created ${f.created}, done ${f.done}, open ${f.open}, overdue ${f.overdue}.</p>${
    f.oldestOverdue.length
      ? `<div class="table"><table><thead><tr><th>Overdue</th><th>Item</th><th>Owner</th><th>Due</th></tr></thead><tbody>${f.oldestOverdue
          .map(
            (o) =>
              `<tr><td>${o.daysOverdue} d</td><td><a href="/insights/incidents/${o.number}">${h(formatIncidentNumber(o.number))}</a> ${h(o.action)} ${h(o.text)}</td><td>${h(o.owner ?? 'no owner')}</td><td>${h(o.due)}</td></tr>`,
          )
          .join('')}</tbody></table></div>`
      : ''
  }</section>`;

  const rows = ins.incidents
    .slice(0, MAX_ROWS)
    .map(
      (i) =>
        `<tr><td><a href="/insights/incidents/${i.number}">${h(formatIncidentNumber(i.number))}</a></td><td>${h(i.title)}</td><td>${h(i.severity)}</td><td>${h(i.status)}${i.kind !== 'real' ? ` (${h(i.kind)})` : ''}</td><td>${h(fmt(i.began))}</td><td>${h(dur(i.ms.time_to_resolve))}</td></tr>`,
    )
    .join('');
  const table = `<section id="incidents"><h2>Incidents</h2>${
    rows
      ? `<div class="table"><table><thead><tr><th>#</th><th>Title</th><th>Severity</th><th>Status</th><th>Began</th><th>Time to resolve</th></tr></thead><tbody>${rows}</tbody></table></div>${more(ins.incidents.length)}`
      : '<p class="muted">No incidents in this period.</p>'
  }</section>`;

  return layout('Incident insights', tiles + charts + diagnosis + follow + table, nav);
}

export interface IncidentPageInput {
  number: number;
  state: IncidentState;
  markdown: string;
  mermaid?: string;
  now: DateTime;
}

export function incidentPage(p: IncidentPageInput): string {
  const s = p.state;
  const label = formatIncidentNumber(p.number);
  const at = (t: DateTime): string => t.setZone(s.zone).toFormat('yyyy-MM-dd HH:mm');
  const timeline = s.timeline
    .map(
      (t) =>
        `<tr><td>${h(at(t.at))}</td><td>${h(t.label ?? t.kind)}</td><td>${h(t.text)}</td><td>${h(t.actor.name)}</td></tr>`,
    )
    .join('');
  const chart = responseChart(s, p.now.toMillis());
  const nav = `<nav class="opts"><a href="/insights">All insights</a><a href="/insights/incidents/${p.number}/postmortem.md" download>Download .md</a><a href="/insights/incidents/${p.number}/incident.json" download>Download .json</a></nav>`;
  const body = [
    `<section><h2>${h(s.title)}</h2><p>${h(s.severity)} · ${h(s.status)} · times in ${h(s.zone)}</p></section>`,
    `<section id="timeline"><h2>Timeline</h2>${timeline ? `<div class="table"><table><thead><tr><th>When</th><th>What</th><th>Entry</th><th>Who</th></tr></thead><tbody>${timeline}</tbody></table></div>` : '<p class="muted">Nothing recorded yet.</p>'}</section>`,
    `<section id="diagram"><h2>Response diagram</h2>${chart ? `<div class="chart">${chart}</div>` : '<p class="muted">No detection time yet.</p>'}${
      p.mermaid
        ? `<details><summary>Mermaid source (as in the draft)</summary><pre>${h(p.mermaid)}</pre></details>`
        : ''
    }</section>`,
    `<section id="draft" class="draft"><h2>Postmortem draft</h2>${markdownToHtml(p.markdown)}</section>`,
  ].join('');
  return layout(`${label}: ${s.title}`, body, nav);
}
