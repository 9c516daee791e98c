import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { IncidentError } from '../../src/app/errors';
import { IncidentService, MAX_TEXT, type Ctx } from '../../src/app/service';
import { openSqliteStore } from '../../src/store/sqlite';
import { StoreUnavailableError, type IncidentStore } from '../../src/store/store';

const alice = { id: 'U_ALICE', name: 'Alice' };
const NOW = DateTime.fromISO('2025-03-04T12:00:00Z', { zone: 'utc' });
const at = (hhmm: string) => DateTime.fromISO(`2025-03-04T${hhmm}:00Z`, { zone: 'utc' });
const ctx = (extra: Partial<Ctx> = {}): Ctx => ({ actor: alice, source: 'command', ...extra });

describe('IncidentService', () => {
  let dir: string;
  let store: IncidentStore;
  let service: IncidentService;
  const rendered: string[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'svc-'));
    store = openSqliteStore({ dataDir: dir });
    service = new IncidentService({
      store,
      render: (i, template) => {
        const text = `# INC-${i.record.number} ${i.state.title} (${template}) ${i.state.hypotheses.length} hypotheses`;
        rendered.push(text);
        return text;
      },
      clock: () => NOW,
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (title = 'Checkout errors') =>
    (
      await service.start(
        { team: 'T1', title, severity: 'sev2', zone: 'UTC', detectedAt: at('10:00') },
        ctx(),
      )
    ).incident;

  test('start allocates INC numbers per team and backdates detection', async () => {
    const a = await start();
    const b = await start('Second');
    expect([a.record.number, b.record.number]).toEqual([1, 2]);
    expect(a.state.detectedAt?.toISO()).toBe('2025-03-04T10:00:00.000Z');
    expect(a.state.openedAt?.toISO()).toBe('2025-03-04T12:00:00.000Z');
    expect(a.record.status).toBe('investigating');
  });

  test('hypotheses: raise returns the new id; unknown ids are refused without recording', async () => {
    const i = await start();
    const h1 = await service.raiseHypothesis(i.record.id, 'payment API', ctx({ at: at('10:20') }));
    const h2 = await service.raiseHypothesis(i.record.id, 'pool', ctx({ at: at('10:30') }));
    expect([h1.hypothesis?.id, h2.hypothesis?.id]).toEqual(['H1', 'H2']);
    const before = (await store.loadEvents(i.record.id)).length;
    await expect(service.ruleOut(i.record.id, 'H7', 'x', ctx())).rejects.toMatchObject({
      code: 'unknown_hypothesis',
      message: expect.stringContaining('known: H1, H2'),
    });
    expect(await store.loadEvents(i.record.id)).toHaveLength(before);
    const r = await service.ruleOut(
      i.record.id,
      'h1',
      'status page green',
      ctx({ at: at('10:50') }),
    );
    expect(r.hypothesis).toMatchObject({ id: 'H1', outcome: 'ruled_out' });
    const c = await service.confirm(i.record.id, 'H2', undefined, ctx({ at: at('11:00') }));
    expect(c.incident.state.rootCause?.hypothesis).toBe('H2');
  });

  test('a use-case given an already loaded incident does not read the log again', async () => {
    const i = await start();
    const loads = jest.spyOn(store, 'loadEvents');
    const res = await service.log(i, 'rolled back', ctx({ at: at('10:45') }));
    expect(loads).not.toHaveBeenCalled();
    expect(res.recorded).toBe(true);
    expect(res.incident.state.timeline.map((t) => t.text)).toContain('rolled back');
    // By id it is loaded, as before.
    await service.log(i.record.id, 'second', ctx());
    expect(loads).toHaveBeenCalledTimes(1);
    loads.mockRestore();
  });

  test('idempotency keys make a retried command a no-op', async () => {
    const i = await start();
    const first = await service.log(i.record.id, 'rolled back', ctx({ key: 'cmd:trigger-1' }));
    const again = await service.log(i.record.id, 'rolled back', ctx({ key: 'cmd:trigger-1' }));
    expect(first.recorded).toBe(true);
    expect(again.recorded).toBe(false);
    const entries = (await store.loadEvents(i.record.id)).filter(
      (e) => e.type === 'timeline.entry',
    );
    expect(entries).toHaveLength(1);
  });

  test('bad input is refused with friendly messages and records nothing', async () => {
    const i = await start();
    const count = async () => (await store.loadEvents(i.record.id)).length;
    const n = await count();
    await expect(service.log(i.record.id, '   ', ctx())).rejects.toThrow('Missing the entry.');
    await expect(service.log(i.record.id, 'x'.repeat(MAX_TEXT + 1), ctx())).rejects.toThrow(
      /limit is 3000/,
    );
    await expect(service.changeStatus(i.record.id, 'closed', ctx())).rejects.toThrow(/resolve/);
    await expect(service.assignRole(i.record.id, 'bad role!', alice, ctx())).rejects.toThrow(
      /role name/,
    );
    await expect(
      service.addAction(i.record.id, { text: 'x', due: '2025-02-30' }, ctx()),
    ).rejects.toThrow(/YYYY-MM-DD/);
    expect(await count()).toBe(n);
  });

  test('summary columns follow severity, status and channel', async () => {
    const i = await start();
    await service.attachChannel(i.record.id, 'C123', 'inc-2025-03-04-checkout', ctx());
    await service.changeSeverity(i.record.id, 'sev1', 'all regions', ctx());
    await service.changeStatus(i.record.id, 'identified', ctx());
    const byChannel = await service.findByChannel('C123');
    expect(byChannel?.record).toMatchObject({
      severity: 'sev1',
      status: 'identified',
      channel: 'C123',
    });
    const open = await service.list({ status: ['identified'] });
    expect(open.map((r) => r.number)).toEqual([1]);
  });

  test('close requires resolution, renders, stores, commits its effects, then refuses further changes', async () => {
    const i = await start();
    await expect(service.close(i.record.id, ctx())).rejects.toMatchObject({ code: 'not_resolved' });
    await service.resolve(i.record.id, 'pool size restored', ctx({ at: at('11:45') }));
    const rendered: string[] = [];
    const closed = await service.close(i.record.id, ctx(), {
      template: 'concise',
      effects: (md, incident) => {
        rendered.push(md);
        return [{ key: `upload:${incident.record.id}`, kind: 'x.upload', payload: null }];
      },
    });
    expect(rendered[0]).toContain('# INC-1 Checkout errors (concise)');
    expect(closed.markdown).toBe(rendered[0]);
    expect(closed.incident.state.status).toBe('closed');
    expect((await store.latestPostmortem(i.record.id))?.content).toBe(rendered[0]);
    const events = await store.loadEvents(i.record.id);
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['postmortem.rendered', 'closed']),
    );
    const now = DateTime.utc();
    const owed = await store.claimEffects({
      owner: 't',
      now,
      leaseUntil: now.plus({ minutes: 1 }),
      limit: 10,
    });
    expect(owed.map((e) => e.key)).toEqual([`upload:${i.record.id}`]);
    await expect(service.log(i.record.id, 'late', ctx())).rejects.toMatchObject({ code: 'closed' });
  });

  test('five concurrent closes from two connections: one close, one upload owed, the others told it is closed', async () => {
    const i = await start();
    await service.resolve(i.record.id, undefined, ctx());
    const other = openSqliteStore({ dataDir: dir });
    try {
      const second = new IncidentService({ store: other, render: () => 'draft', clock: () => NOW });
      const loaded = [await service.load(i.record.id), await second.load(i.record.id)];
      const results = await Promise.allSettled(
        [0, 1, 2, 3, 4].map((n) =>
          (n % 2 ? second : service).close(loaded[n % 2], ctx(), {
            effects: (_md, inc) => [
              { key: `upload:${inc.record.id}`, kind: 'x.upload', payload: n },
            ],
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'closed' });
      }
      const events = await store.loadEvents(i.record.id);
      expect(events.filter((e) => e.type === 'closed')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'postmortem.rendered')).toHaveLength(1);
      const now = DateTime.utc();
      const owed = await store.claimEffects({
        owner: 't',
        now,
        leaseUntil: now.plus({ minutes: 1 }),
        limit: 10,
      });
      expect(owed).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  test('twenty hypotheses raised at once from two connections get twenty distinct ids, each as stored', async () => {
    const i = await start();
    const other = openSqliteStore({ dataDir: dir });
    try {
      const second = new IncidentService({ store: other, render: () => '', clock: () => NOW });
      const loaded = await service.load(i.record.id);
      const told = await Promise.all(
        Array.from({ length: 20 }, (_, n) =>
          (n % 2 ? second : service)
            .raiseHypothesis(loaded, `idea ${n}`, ctx({ key: `hyp-${n}` }))
            .then((r) => ({ n, id: r.hypothesis?.id })),
        ),
      );
      expect(new Set(told.map((t) => t.id)).size).toBe(20);
      const state = (await service.load(i.record.id)).state;
      for (const t of told) {
        expect(state.hypotheses.find((h) => h.id === t.id)?.text).toBe(`idea ${t.n}`);
      }
    } finally {
      await other.close();
    }
  });

  test('nothing is recorded into an incident closed meanwhile (decided on a stale snapshot)', async () => {
    const i = await start();
    await service.resolve(i.record.id, undefined, ctx());
    const stale = await service.load(i.record.id);
    await service.close(i.record.id, ctx());
    const before = (await store.loadEvents(i.record.id)).length;
    await expect(service.log(stale, 'too late', ctx())).rejects.toMatchObject({ code: 'closed' });
    const msg = service.messageEvent(
      { text: 'chat after close', ts: '1741089600.000100', channel: 'C1' } as never,
      { actor: alice, source: 'message', key: 'msg:C1:1741089600.000100' },
    );
    expect(await service.appendMessages(i.record.id, [msg])).toBeUndefined();
    expect((await store.loadEvents(i.record.id)).length).toBe(before);
  });

  test('store outages become a "nothing was saved" error', async () => {
    const i = await start();
    const failing = Object.create(store) as IncidentStore;
    failing.commit = async () => {
      throw new StoreUnavailableError('database is locked');
    };
    const broken = new IncidentService({ store: failing, render: () => '', clock: () => NOW });
    const err = await broken.log(i.record.id, 'x', ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncidentError);
    expect((err as IncidentError).code).toBe('store_unavailable');
    expect((err as IncidentError).message).toMatch(/nothing was saved/);
  });

  test('messages are recorded once per channel+ts and never into a closed incident', async () => {
    const i = await start();
    const msg = { channel: 'C1', ts: '1741082400.000100', user: 'U_BOB', text: 'spike' };
    const c = ctx({ source: 'message', at: DateTime.fromSeconds(1741082400, { zone: 'utc' }) });
    expect((await service.recordMessage(i.record, msg, c)).recorded).toBe(true);
    expect((await service.recordMessage(i.record, msg, c)).recorded).toBe(false);
    const closedRecord = { ...i.record, status: 'closed' as const };
    expect((await service.recordMessage(closedRecord, { ...msg, ts: '2.2' }, c)).recorded).toBe(
      false,
    );
    const msgs = (await store.loadEvents(i.record.id)).filter((e) => e.type === 'chat.message');
    expect(msgs).toHaveLength(1);
  });
});
