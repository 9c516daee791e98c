import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { IncidentService, type Ctx } from '../../src/app/service';
import { main, type CliIO } from '../../src/cli/main';
import { openSqliteStore } from '../../src/store/sqlite';

const at = (hhmm: string) => DateTime.fromISO(`2025-03-04T${hhmm}:00Z`, { zone: 'utc' });
const ctx = (hhmm: string): Ctx => ({
  actor: { id: 'U_ALICE', name: 'Alice' },
  source: 'command',
  at: at(hhmm),
});

function capture(dir: string): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: { INCIDENT_DATA_DIR: dir },
    out: () => out,
    err: () => err,
  };
}

describe('incident-bot CLI', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const store = openSqliteStore({ dataDir: dir });
    const service = new IncidentService({ store, render: () => '', clock: () => at('13:00') });
    const { incident } = await service.start(
      {
        team: 'T1',
        title: 'Checkout | errors',
        severity: 'sev2',
        zone: 'UTC',
        detectedAt: at('10:00'),
      },
      ctx('10:00'),
    );
    const id = incident.record.id;
    await service.attachChannel(id, 'C42', 'inc-2025-03-04-checkout-errors', ctx('10:01'));
    await service.log(id, 'we suspected the payment API', ctx('10:20'));
    await service.raiseHypothesis(id, 'payment API outage', ctx('10:21'));
    await service.ruleOut(id, 'H1', 'status page green', ctx('10:50'));
    await service.recordMessage(
      incident.record,
      {
        channel: 'C42',
        ts: '1741083000.000100',
        user: 'U_BOB',
        userName: 'Bob',
        text: 'pool at 100%',
      },
      { actor: { id: 'U_BOB', name: 'Bob' }, source: 'message', at: at('10:10') },
    );
    await service.resolve(id, 'pool size restored', ctx('12:15'));
    await service.start(
      { team: 'T1', title: 'Second', severity: 'sev4', zone: 'UTC', detectedAt: at('11:00') },
      ctx('11:00'),
    );
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('list shows every incident, newest first; --status filters', async () => {
    const io = capture(dir);
    expect(await main(['list'], io)).toBe(0);
    const lines = io.out().trim().split('\n');
    expect(lines[0]).toMatch(/^INCIDENT/);
    expect(lines[1]).toMatch(/^INC-2 +SEV4 +investigating/);
    expect(lines[2]).toMatch(/^INC-1 +SEV2 +resolved .*Checkout \| errors$/);
    const open = capture(dir);
    expect(await main(['list', '--status', 'open'], open)).toBe(0);
    expect(open.out()).toContain('INC-2');
    expect(open.out()).not.toContain('INC-1 ');
    const closed = capture(dir);
    expect(await main(['list', '--status', 'closed'], closed)).toBe(0);
    expect(closed.out()).toBe('No closed incidents.\n');
  });

  test('export --format json is the full incident with ISO UTC times', async () => {
    const io = capture(dir);
    expect(await main(['export', 'INC-1', '--format', 'json'], io)).toBe(0);
    const doc = JSON.parse(io.out()) as {
      incident: Record<string, unknown>;
      events: Record<string, unknown>[];
    };
    expect(doc.incident).toMatchObject({
      number: 1,
      title: 'Checkout | errors',
      severity: 'sev2',
      status: 'resolved',
      zone: 'UTC',
      channel: 'C42',
      detectedAt: '2025-03-04T10:00:00.000Z',
      resolvedAt: '2025-03-04T12:15:00.000Z',
    });
    const msg = doc.events.find((e) => e.type === 'chat.message');
    expect(msg).toMatchObject({
      ts: '1741083000.000100',
      user: 'U_BOB',
      text: 'pool at 100%',
      occurredAt: '2025-03-04T10:10:00.000Z',
      source: 'message',
      actor: { id: 'U_BOB', name: 'Bob' },
      key: 'msg:C42:1741083000.000100',
    });
    for (const e of doc.events) {
      expect(e.occurredAt).toMatch(/Z$/);
      expect(e.recordedAt).toMatch(/Z$/);
      expect(typeof e.seq).toBe('number');
    }
  });

  test('export md renders the draft; --out writes a file', async () => {
    const io = capture(dir);
    expect(await main(['export', 'inc-1'], io)).toBe(0);
    expect(io.out()).toContain('INC-1');
    expect(io.out()).toContain('Misleading path');
    const file = join(dir, 'pm.md');
    const io2 = capture(dir);
    expect(await main(['export', 'INC-1', '--template', 'concise', '--out', file], io2)).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('INC-1');
    expect(io2.err()).toContain(`Wrote INC-1 (md) to ${file}`);
  });

  test('an unknown incident or a bad argument: clear message, non-zero exit', async () => {
    const unknown = capture(dir);
    expect(await main(['export', 'INC-99'], unknown)).toBe(1);
    expect(unknown.err()).toContain('No incident INC-99');
    const bad = capture(dir);
    expect(await main(['export', 'seven'], bad)).toBe(1);
    expect(bad.err()).toContain('"seven" is not an incident number');
    const fmt = capture(dir);
    expect(await main(['export', 'INC-1', '--format', 'xml'], fmt)).not.toBe(0);
    expect(fmt.err()).toMatch(/Allowed choices are md, json/);
    const sub = capture(dir);
    expect(await main(['frobnicate'], sub)).not.toBe(0);
    expect(sub.err()).toMatch(/unknown command/);
    const tpl = capture(dir);
    expect(await main(['export', 'INC-1', '--template', 'nope'], tpl)).toBe(1);
    expect(tpl.err()).toMatch(/nope/);
  });
});
