/**
 * Charts as SVG strings, rendered on the server with Apache ECharts' SSR renderer: no browser, no
 * DOM, no client script, and it loads from CommonJS. Each chart instance is disposed right after
 * rendering (an undisposed instance keeps timers alive). Animation is off so the SVG is the final
 * picture. The SVG scales with the page (CSS `width:100%`; it keeps its viewBox).
 *
 * User text never reaches the SVG unescaped: ECharts escapes text content it writes.
 */
import * as echarts from 'echarts';
import type { IncidentState } from '../core/fold';
import type { MonthFigures, TileMetric } from '../core/insights';
import { SEVERITIES } from '../core/model';

const MINUTE = 60_000;
const COLORS = { median: '#2563eb', band: 'rgba(37,99,235,0.18)', grid: '#e5e7eb' };
const SEVERITY_COLORS = ['#b91c1c', '#ea580c', '#ca8a04', '#65a30d'];

export function renderSvg(width: number, height: number, option: echarts.EChartsOption): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

const minutes = (ms: number | undefined): number | null =>
  ms === undefined ? null : Math.round((ms / MINUTE) * 10) / 10;

/** Median per month as a line, with the band from median to p90 shaded. */
export function trendChart(months: readonly MonthFigures[], metric: TileMetric, title: string) {
  const median = months.map((m) => minutes(m.metrics[metric].median));
  const p90 = months.map((m) => minutes(m.metrics[metric].p90));
  const bandHeight = months.map((_, k) => {
    const lo = median[k];
    const hi = p90[k];
    return lo === null || hi === null ? null : Math.round((hi - lo) * 10) / 10;
  });
  return renderSvg(560, 240, {
    title: { text: title, textStyle: { fontSize: 13, fontWeight: 'normal' } },
    grid: { left: 48, right: 16, top: 40, bottom: 28 },
    legend: { right: 0, top: 0, data: ['median', 'p90'], textStyle: { fontSize: 11 } },
    xAxis: { type: 'category', data: months.map((m) => m.month), boundaryGap: false },
    yAxis: { type: 'value', name: 'min', splitLine: { lineStyle: { color: COLORS.grid } } },
    series: [
      {
        name: 'base',
        type: 'line',
        data: median,
        stack: 'band',
        symbol: 'none',
        lineStyle: { opacity: 0 },
      },
      {
        name: 'p90',
        type: 'line',
        data: bandHeight,
        stack: 'band',
        symbol: 'none',
        lineStyle: { opacity: 0 },
        areaStyle: { color: COLORS.band },
        itemStyle: { color: COLORS.band },
      },
      {
        name: 'median',
        type: 'line',
        data: median,
        connectNulls: false,
        itemStyle: { color: COLORS.median },
        lineStyle: { color: COLORS.median, width: 2 },
      },
    ],
  });
}

/** Incidents per month, stacked by severity. */
export function severityChart(months: readonly MonthFigures[]): string {
  return renderSvg(560, 240, {
    title: {
      text: 'Incidents per month by severity',
      textStyle: { fontSize: 13, fontWeight: 'normal' },
    },
    grid: { left: 40, right: 16, top: 40, bottom: 28 },
    legend: { right: 0, top: 0, textStyle: { fontSize: 11 } },
    xAxis: { type: 'category', data: months.map((m) => m.month) },
    yAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { color: COLORS.grid } } },
    series: SEVERITIES.map((s, k) => ({
      name: s,
      type: 'bar' as const,
      stack: 'sev',
      data: months.map((m) => m.bySeverity[s]),
      itemStyle: { color: SEVERITY_COLORS[k] },
    })),
  });
}

/**
 * The response as a Gantt-like chart (the same facts as the Mermaid diagram of the draft): each
 * hypothesis a bar from raised to its outcome (open ones to resolution or `endMs`), milestones
 * (escalations, resolution) as vertical lines; the axis is minutes since detection.
 */
export function responseChart(s: IncidentState, endMs: number): string | undefined {
  const start = (s.detectedAt ?? s.openedAt)?.toMillis();
  if (start === undefined) return undefined;
  const hyps = s.hypotheses.slice(0, 40);
  const end = s.resolvedAt?.toMillis() ?? endMs;
  const rel = (ms: number): number => Math.round(((ms - start) / MINUTE) * 10) / 10;
  const color = { confirmed: '#16a34a', ruled_out: '#dc2626', open: '#9ca3af' };
  const labels = hyps.map(
    (h) => `${h.id} ${h.text.length > 28 ? `${h.text.slice(0, 27)}…` : h.text}`,
  );
  const offsets = hyps.map((h) => Math.max(0, rel(h.raisedAt.toMillis())));
  const lengths = hyps.map((h, k) =>
    Math.max(0.5, rel((h.outcomeAt ?? s.resolvedAt)?.toMillis() ?? end) - offsets[k]),
  );
  const marks: { name: string; xAxis: number }[] = [];
  s.escalations
    .slice(0, 20)
    .forEach((e, k) => marks.push({ name: `Esc ${k + 1}`, xAxis: rel(e.at.toMillis()) }));
  if (s.resolvedAt) marks.push({ name: 'Resolved', xAxis: rel(s.resolvedAt.toMillis()) });
  const height = Math.max(160, 70 + hyps.length * 28);
  return renderSvg(640, height, {
    grid: { left: 200, right: 24, top: 24, bottom: 36 },
    xAxis: {
      type: 'value',
      name: 'min since detection',
      nameLocation: 'middle',
      nameGap: 24,
      min: 0,
    },
    yAxis: { type: 'category', data: labels.length ? labels : ['(no hypotheses)'], inverse: true },
    series: [
      { type: 'bar', stack: 'g', data: offsets, itemStyle: { color: 'transparent' }, silent: true },
      {
        type: 'bar',
        stack: 'g',
        data: hyps.map((h, k) => ({ value: lengths[k], itemStyle: { color: color[h.outcome] } })),
        markLine: {
          symbol: 'none',
          label: { formatter: '{b}', fontSize: 10 },
          lineStyle: { color: '#111827', type: 'dashed' },
          data: marks,
        },
      },
    ],
  });
}
