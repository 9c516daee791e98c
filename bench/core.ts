/**
 * Core benchmarks: durable appends per second into one incident (SQLite, synchronous FULL),
 * and the time to load, fold and render a 5,000-event incident.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { IncidentService } from '../src/app/service';
import { foldIncident } from '../src/core/fold';
import type { Actor, NewEvent } from '../src/core/model';
import { createRenderer } from '../src/render/postmortem';
import { buildView } from '../src/render/view';
import { openSqliteStore } from '../src/store/sqlite';

const actors: Actor[] = [
  { id: 'U1', name: 'Ana' },
  { id: 'U2', name: 'Ben' },
  { id: 'U3', name: 'Chidi' },
];

export interface CoreBenchResult {
  appendsPerSecond: number;
  appendCount: number;
  renderEvents: number;
  loadMsMedian: number;
  foldMsMedian: number;
  renderMsMedian: number;
  renderMsP95: number;
  /** The render's two halves: building the view model, and running the template on it. */
  viewMsMedian: number;
  templateMsMedian: number;
  draftBytes: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

/** A realistic mix for a long incident: mostly chat, with entries, hypotheses, pins. */
function syntheticEvents(n: number, start: DateTime, channel: string): NewEvent[] {
  const events: NewEvent[] = [];
  let hypotheses = 0;
  for (let i = 0; i < n; i++) {
    const occurredAt = start.plus({ seconds: i * 3 });
    const actor = actors[i % actors.length];
    const base = { occurredAt, recordedAt: occurredAt, actor, source: 'message' as const };
    const ts = `${Math.floor(occurredAt.toSeconds())}.${String(i).padStart(6, '0')}`;
    if (i % 50 === 10) {
      hypotheses += 1;
      events.push({ ...base, source: 'command', type: 'hypothesis.raised', text: `suspect #${i}` });
    } else if (i % 50 === 30 && hypotheses > 0) {
      events.push({
        ...base,
        source: 'command',
        type: 'hypothesis.ruled_out',
        hypothesis: `H${hypotheses}`,
        evidence: `graphs for #${i} are flat`,
      });
    } else if (i % 25 === 0) {
      events.push({ ...base, source: 'command', type: 'timeline.entry', text: `step ${i}` });
    } else if (i % 40 === 5) {
      events.push({ ...base, type: 'message.pinned', channel, ts: `p${i}` });
    } else {
      events.push({
        ...base,
        type: 'chat.message',
        channel,
        ts,
        user: actor.id,
        userName: actor.name,
        text: `message ${i}: looking at dashboards | p99 ${i % 700} ms`,
        key: `msg:${channel}:${ts}`,
      });
    }
  }
  return events;
}

export async function runCoreBench(
  opts: { appends?: number; renderEvents?: number } = {},
): Promise<CoreBenchResult> {
  const appendCount = opts.appends ?? 3000;
  const renderEvents = opts.renderEvents ?? 5000;
  const dir = mkdtempSync(join(tmpdir(), 'incident-bench-'));
  const store = openSqliteStore({ dataDir: dir });
  try {
    const start = DateTime.fromISO('2025-06-01T14:00:00Z', { zone: 'utc' });
    const service = new IncidentService({
      store,
      render: createRenderer(),
      clock: () => start.plus({ hours: 5 }),
    });
    const actor = actors[0];

    // 1. Durable single-event appends into one incident, one after another.
    const { incident } = await service.start(
      {
        team: 'TBENCH',
        title: 'Append benchmark',
        severity: 'sev2',
        zone: 'UTC',
        detectedAt: start,
      },
      { actor, source: 'command' },
    );
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < appendCount; i++) {
      const occurredAt = start.plus({ seconds: i });
      await store.append(incident.record.id, [
        {
          type: 'timeline.entry',
          text: `entry ${i}`,
          occurredAt,
          recordedAt: occurredAt,
          actor,
          source: 'command',
          key: `bench:${i}`,
        },
      ]);
    }
    const appendSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

    // 2. Load + fold + render a 5,000-event incident with the default template.
    const big = await service.start(
      {
        team: 'TBENCH',
        title: 'Render benchmark',
        severity: 'sev1',
        zone: 'America/Los_Angeles',
        detectedAt: start,
      },
      { actor, source: 'command' },
    );
    const events = syntheticEvents(
      renderEvents - big.incident.events.length - 1,
      start.plus({ minutes: 1 }),
      'CBENCH',
    );
    for (let i = 0; i < events.length; i += 500) {
      await store.append(big.incident.record.id, events.slice(i, i + 500));
    }
    await service.resolve(big.incident.record.id, 'rolled back', {
      actor,
      source: 'command',
      at: start.plus({ hours: 4, minutes: 15 }),
    });
    const loads: number[] = [];
    const folds: number[] = [];
    const renders: number[] = [];
    let draftBytes = 0;
    const render = createRenderer();
    for (let run = 0; run < 15; run++) {
      const a = performance.now();
      const loaded = await service.load(big.incident.record.id);
      const b = performance.now();
      foldIncident(loaded.events);
      const c = performance.now();
      const md = render(loaded, 'default');
      const d = performance.now();
      loads.push(b - a);
      folds.push(c - b);
      renders.push(d - c);
      draftBytes = md.length;
      if (loaded.events.length < renderEvents) {
        throw new Error(`expected ${renderEvents} events, loaded ${loaded.events.length}`);
      }
    }
    // The same render in its two halves, to see which one a change moves.
    const views: number[] = [];
    const templates: number[] = [];
    for (let run = 0; run < 15; run++) {
      const loaded = await service.load(big.incident.record.id);
      const a = performance.now();
      const view = buildView(loaded, { now: DateTime.utc(), template: 'default' });
      const b = performance.now();
      render.templates.renderView(view, 'default');
      const c = performance.now();
      views.push(b - a);
      templates.push(c - b);
    }
    return {
      appendsPerSecond: Math.round(appendCount / appendSeconds),
      appendCount,
      renderEvents,
      loadMsMedian: round(median(loads)),
      foldMsMedian: round(median(folds)),
      renderMsMedian: round(median(renders)),
      renderMsP95: round(p95(renders)),
      viewMsMedian: round(median(views)),
      templateMsMedian: round(median(templates)),
      draftBytes,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;
