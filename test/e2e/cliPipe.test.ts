/**
 * `incident-bot export` through a real pipe: the CLI runs as its own process (the same `run` as
 * bin/incident-bot.js) with stdout piped to a reader that takes one chunk at a time and waits
 * between chunks, so the process must wait for the pipe before it exits. The output must be
 * complete: byte for byte what the export renders, and valid JSON for --format json.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { IncidentService, type Ctx } from '../../src/app/service';
import { main, type CliIO } from '../../src/cli/main';
import type { NewEvent } from '../../src/core/model';
import { createRenderer } from '../../src/render/postmortem';
import { openSqliteStore } from '../../src/store/sqlite';

const ROOT = join(__dirname, '..', '..');
const ENTRY = join(ROOT, 'test', 'helpers', 'cliEntry.js');
const EVENTS = 5000;
const t0 = DateTime.fromISO('2025-06-02T08:00:00Z', { zone: 'utc' });

/** Runs the CLI in a child process; reads its stdout slowly (a pause after every chunk). */
function runThroughPipe(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: Buffer; err: string; chunks: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const parts: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 2);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, out: Buffer.concat(parts), err, chunks: parts.length });
    });
  });
}

/** The same command in this process, into a string: what the complete output is. */
async function inProcess(args: string[], dataDir: string): Promise<string> {
  let out = '';
  const io: CliIO = {
    stdout: { write: (s) => (out += String(s)) },
    stderr: { write: () => true },
    env: { INCIDENT_DATA_DIR: dataDir },
  };
  expect(await main(args, io)).toBe(0);
  return out;
}

describe('incident-bot export through a pipe (5,000 events)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-pipe-'));
    const store = openSqliteStore({ dataDir: dir });
    const service = new IncidentService({
      store,
      render: createRenderer({}),
      clock: () => t0.plus({ days: 2 }),
    });
    const ctx: Ctx = { actor: { id: 'U0PIPE', name: 'Pipe Tester' }, source: 'command', at: t0 };
    const { incident } = await service.start(
      { team: 'T1', title: 'Queue backlog & <retries>', severity: 'sev2', zone: 'Europe/Berlin' },
      ctx,
    );
    const actor = { id: 'U0PIPE', name: 'Pipe Tester' };
    const events: NewEvent[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const occurredAt = t0.plus({ seconds: 30 * (i + 1) });
      const common = { occurredAt, recordedAt: occurredAt, actor, key: `pipe-${i}` };
      // Multi-byte text (emoji, accents, CJK) so a cut inside a character would show.
      const text = `step ${i}: retried batch ${i % 97} of the consumer group — ✅ café 日本 🚀 & <queue> "ok" ${'padding '.repeat(i % 12)}`;
      events.push(
        i % 2 === 0
          ? { ...common, type: 'timeline.entry', source: 'command', text }
          : {
              ...common,
              type: 'chat.message',
              source: 'message',
              channel: 'C0PIPE',
              ts: `${occurredAt.toSeconds().toFixed(0)}.${String(i).padStart(6, '0')}`,
              user: 'U0PIPE',
              userName: 'Pipe Tester',
              text,
            },
      );
    }
    const res = await store.append(incident.record.id, events);
    expect(res.appended).toHaveLength(EVENTS);
    await store.close();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--format json arrives whole and parses, with every event', async () => {
    const expected = await inProcess(['export', 'INC-1', '--format', 'json'], dir);
    const r = await runThroughPipe(['export', 'INC-1', '--format', 'json'], {
      INCIDENT_DATA_DIR: dir,
    });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.chunks).toBeGreaterThan(1);
    expect(r.out.length).toBe(Buffer.byteLength(expected, 'utf8'));
    expect(r.out.length).toBeGreaterThan(1_000_000);
    const doc = JSON.parse(r.out.toString('utf8')) as { events: unknown[] };
    expect(doc.events.length).toBeGreaterThanOrEqual(EVENTS);
    expect(r.out.toString('utf8')).toBe(expected);
  });

  test('--format md arrives whole, byte for byte', async () => {
    const expected = await inProcess(['export', 'INC-1', '--format', 'md'], dir);
    const r = await runThroughPipe(['export', 'INC-1', '--format', 'md'], {
      INCIDENT_DATA_DIR: dir,
    });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.length).toBe(Buffer.byteLength(expected, 'utf8'));
    expect(r.out.length).toBeGreaterThan(400_000);
    // The draft says when it was drafted (the CLI's own clock): the minute may differ.
    const drafted = (s: string) =>
      s.replace(/ at \d{4}-\d\d-\d\d \d\d:\d\d [^.\n]*\./, ' at <now>.');
    expect(drafted(r.out.toString('utf8'))).toBe(drafted(expected));
    expect(r.out.toString('utf8')).toContain(`step ${EVENTS - 2}:`);
  });

  test('a reader that closes early ends the command with an error, not a crash', async () => {
    const child = spawn(process.execPath, [ENTRY, 'export', 'INC-1', '--format', 'json'], {
      cwd: ROOT,
      env: { ...process.env, INCIDENT_DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(err).toMatch(/EPIPE/);
    expect(err).not.toMatch(/at .*\.ts:\d+/); // a message, not a stack trace
  });
});
