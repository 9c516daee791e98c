/**
 * `npm run bench`: the project's speed and memory targets, measured in one run.
 * Prints a table and writes bench/results/latest.json (ignored by git).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCoreBench } from './core';
import { runSlackBench } from './slack';
import { runSocketBench } from './socket';

interface Row {
  metric: string;
  value: string;
  target: string;
  ok: boolean | null;
}

async function main(): Promise<void> {
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 5);

  const rows: Row[] = [];
  const core = await runCoreBench();
  rows.push(
    {
      metric: `durable appends/s into one incident (${core.appendCount} single-event appends, SQLite WAL, synchronous=FULL)`,
      value: String(core.appendsPerSecond),
      target: '>= 2000',
      ok: core.appendsPerSecond >= 2000,
    },
    {
      metric: `render ${core.renderEvents}-event incident, default template (median of 15)`,
      value: `${core.renderMsMedian} ms (p95 ${core.renderMsP95} ms)`,
      target: '< 100 ms',
      ok: core.renderMsMedian < 100,
    },
    {
      metric: `the same render in two halves: view model / template (median of 15)`,
      value: `${core.viewMsMedian} ms / ${core.templateMsMedian} ms`,
      target: '-',
      ok: null,
    },
    {
      metric: `load ${core.renderEvents} events from SQLite / fold them (median)`,
      value: `${core.loadMsMedian} ms / ${core.foldMsMedian} ms`,
      target: '-',
      ok: null,
    },
  );

  const slack = await runSlackBench();
  for (const [metric, value] of Object.entries(slack)) {
    rows.push({ metric, value: String(value), target: '', ok: null });
  }
  // Socket Mode ack latency, beside the HTTP figures above.
  for (const [metric, value] of Object.entries(await runSocketBench())) {
    rows.push({ metric, value: String(value), target: '', ok: null });
  }
  clearInterval(sampler);
  rows.push({
    metric: 'peak memory during the whole run (RSS / JS heap)',
    value: `${mb(peakRss)} MB / ${mb(peakHeap)} MB`,
    target: '-',
    ok: null,
  });

  const width = Math.max(...rows.map((r) => r.metric.length));
  for (const r of rows) {
    const mark = r.ok === null ? '' : r.ok ? '  PASS' : '  MISS';
    const target = r.target ? `  (target ${r.target})` : '';
    console.log(`${r.metric.padEnd(width)}  ${r.value}${target}${mark}`);
  }
  const dir = join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'latest.json'),
    JSON.stringify(
      { at: new Date().toISOString(), node: process.version, core, slack, peakRss, peakHeap },
      null,
      2,
    ),
  );
}

const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
