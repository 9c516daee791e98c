/**
 * The shared IncidentStore contract, written once and run against every adapter (SQLite,
 * MongoDB). It uses only the IncidentStore interface.
 */
import { DateTime } from 'luxon';
import type { Actor, EventPayloads, EventType, NewEvent, StoredEvent } from '../../src/core/model';
import { eventToJSON } from '../../src/core/serialize';
import {
  ConflictError,
  IncidentClosedError,
  type InboxItem,
  type IncidentStore,
  type IncidentSummary,
  type NewEffect,
  type NewInboxItem,
  type StoredEffect,
} from '../../src/store/store';

export interface StoreHarness {
  /** Opens a NEW connection/instance to the same fresh backing store (call twice to get two connections). */
  open(): Promise<IncidentStore>;
  /**
   * Called after each test (drop data/close everything). Tests may already have closed some of
   * the stores they opened, so closing must tolerate that.
   */
  cleanup(): Promise<void>;
}

const T0 = DateTime.fromISO('2025-03-04T10:00:00.000Z', { zone: 'utc' });
const ALICE: Actor = { id: 'U_ALICE', name: 'Alice' };
const BOB: Actor = { id: 'U_BOB', name: 'Bob Ng' };

const SUMMARY: IncidentSummary = {
  title: 'Checkout errors',
  severity: 'sev2',
  status: 'investigating',
  zone: 'eu-west-1',
};

interface EventOpts {
  at?: DateTime;
  recordedAt?: DateTime;
  key?: string;
  actor?: Actor;
  source?: NewEvent['source'];
}

/** Builds an event of `type` with its type-specific fields. */
function ev<T extends EventType>(type: T, fields: EventPayloads[T], o: EventOpts = {}): NewEvent {
  const at = o.at ?? T0;
  const e: Record<string, unknown> = {
    type,
    occurredAt: at,
    recordedAt: o.recordedAt ?? at,
    actor: o.actor ?? ALICE,
    source: o.source ?? 'command',
    ...fields,
  };
  if (o.key !== undefined) e.key = o.key;
  return e as unknown as NewEvent;
}

function note(text: string, o: EventOpts = {}): NewEvent {
  return ev('timeline.entry', { text }, o);
}

function opening(o: EventOpts = {}): NewEvent[] {
  return [
    ev('incident.opened', { title: SUMMARY.title, severity: 'sev2', zone: SUMMARY.zone }, o),
    ev('incident.detected', {}, { ...o, at: (o.at ?? T0).minus({ minutes: 3 }), key: undefined }),
  ];
}

function texts(events: StoredEvent[]): string[] {
  return events.map((e) => (e.type === 'timeline.entry' ? e.text : `<${e.type}>`));
}

function json(events: readonly (NewEvent | StoredEvent)[]): unknown[] {
  return events.map((e) => eventToJSON(e));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function range(n: number, from = 1): number[] {
  return Array.from({ length: n }, (_, i) => i + from);
}

function inboxItem(key: string, partition = 'C1', body = '{}'): NewInboxItem {
  return {
    key,
    kind: key.startsWith('cmd') ? 'command' : 'event',
    partition,
    body,
    receivedAt: T0,
  };
}

function effect(
  key: string,
  kind: string,
  incidentId: string | undefined,
  payload: unknown,
): NewEffect {
  return incidentId === undefined ? { key, kind, payload } : { key, kind, incidentId, payload };
}

/** Claims with the real clock and a 5-minute lease (`lease` minutes otherwise). */
function claimInboxNow(
  s: IncidentStore,
  owner: string,
  limit: number,
  o: { lease?: number; ids?: string[] } = {},
): Promise<InboxItem[]> {
  const now = DateTime.utc();
  return s.claimInbox({
    owner,
    now,
    leaseUntil: now.plus({ minutes: o.lease ?? 5 }),
    limit,
    ...(o.ids ? { ids: o.ids } : {}),
  });
}

function claimEffectsNow(s: IncidentStore, owner: string, limit: number): Promise<StoredEffect[]> {
  const now = DateTime.utc();
  return s.claimEffects({ owner, now, leaseUntil: now.plus({ minutes: 5 }), limit });
}

/** Registers the shared contract tests inside a describe block named `${name} store contract`. */
export function describeStoreContract(
  name: string,
  makeHarness: () => Promise<StoreHarness>,
): void {
  describe(`${name} store contract`, () => {
    let harness: StoreHarness;
    let store: IncidentStore;

    beforeEach(async () => {
      harness = await makeHarness();
      store = await harness.open();
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    async function create(team = 'T1', extra: { key?: string; channel?: string } = {}) {
      return store.createIncident({
        team,
        summary: { ...SUMMARY, ...(extra.channel ? { channel: extra.channel } : {}) },
        events: opening(),
        ...(extra.key ? { key: extra.key } : {}),
      });
    }

    describe('incidents', () => {
      it('numbers incidents 1, 2, … per team, teams independently', async () => {
        const a1 = await create('T1');
        const a2 = await create('T1');
        const b1 = await create('T2');
        const a3 = await create('T1');
        expect([a1, a2, b1, a3].map((r) => [r.incident.team, r.incident.number])).toEqual([
          ['T1', 1],
          ['T1', 2],
          ['T2', 1],
          ['T1', 3],
        ]);
        expect([a1, a2, b1, a3].every((r) => r.created)).toBe(true);
        const ids = new Set([a1, a2, b1, a3].map((r) => r.incident.id));
        expect(ids.size).toBe(4);
      });

      it('returns the created record with summary, times in UTC and the opening events', async () => {
        const before = Date.now();
        const r = await create('T1', { channel: 'C_INC1' });
        const after = Date.now();
        const inc = r.incident;
        expect(inc).toMatchObject({ team: 'T1', number: 1, ...SUMMARY, channel: 'C_INC1' });
        expect(typeof inc.id).toBe('string');
        expect(inc.id.length).toBeGreaterThan(0);
        expect(inc.createdAt.zoneName).toBe('UTC');
        expect(inc.createdAt.toMillis()).toBeGreaterThanOrEqual(before);
        expect(inc.createdAt.toMillis()).toBeLessThanOrEqual(after);
        expect(r.events.map((e) => [e.type, e.seq])).toEqual([
          ['incident.opened', 1],
          ['incident.detected', 2],
        ]);
        const got = await store.getIncident(inc.id);
        expect(got).toMatchObject({
          id: inc.id,
          team: 'T1',
          number: 1,
          ...SUMMARY,
          channel: 'C_INC1',
        });
        expect(got?.createdAt.toMillis()).toBe(inc.createdAt.toMillis());
        // Loaded in timeline order: detected (3 min earlier) first, then opened.
        expect((await store.loadEvents(inc.id)).map((e) => [e.type, e.seq])).toEqual([
          ['incident.detected', 2],
          ['incident.opened', 1],
        ]);
      });

      it('allocates numbers 1..20 exactly once under 20 concurrent creates on two connections', async () => {
        const other = await harness.open();
        const results = await Promise.all(
          range(20).map((i) =>
            (i % 2 === 0 ? store : other).createIncident({
              team: 'T1',
              summary: { ...SUMMARY, title: `incident ${i}` },
              events: [note(`open ${i}`)],
            }),
          ),
        );
        const numbers = results.map((r) => r.incident.number).sort((x, y) => x - y);
        expect(numbers).toEqual(range(20));
        expect(new Set(results.map((r) => r.incident.id)).size).toBe(20);
        expect((await other.listIncidents({ team: 'T1' })).length).toBe(20);
        // Each incident got exactly its own opening event.
        for (const r of results) {
          const events = await store.loadEvents(r.incident.id);
          expect(events.map((e) => e.seq)).toEqual([1]);
          expect(texts(events)).toEqual([`open ${r.incident.title.slice('incident '.length)}`]);
        }
      });

      it('is idempotent by incident key', async () => {
        const first = await create('T1', { key: 'import:abc' });
        const again = await store.createIncident({
          team: 'T1',
          summary: { ...SUMMARY, title: 'different title' },
          events: [note('should not be recorded')],
          key: 'import:abc',
        });
        expect(first.created).toBe(true);
        expect(again.created).toBe(false);
        expect(again.events).toEqual([]);
        expect(again.incident.id).toBe(first.incident.id);
        expect(again.incident.number).toBe(1);
        expect(again.incident.title).toBe(SUMMARY.title);
        expect(texts(await store.loadEvents(first.incident.id))).toEqual([
          '<incident.detected>',
          '<incident.opened>',
        ]);
        const next = await create('T1', { key: 'import:def' });
        expect(next.incident.number).toBe(2);
      });

      it('creates a keyed incident once when two connections race', async () => {
        const other = await harness.open();
        const results = await Promise.all(
          range(6).map((i) =>
            (i % 2 === 0 ? store : other).createIncident({
              team: 'T1',
              summary: SUMMARY,
              events: [note(`open ${i}`)],
              key: 'import:race',
            }),
          ),
        );
        expect(results.filter((r) => r.created).length).toBe(1);
        expect(new Set(results.map((r) => r.incident.id)).size).toBe(1);
        expect((await store.listIncidents()).length).toBe(1);
        expect((await store.loadEvents(results[0].incident.id)).length).toBe(1);
      });

      it('finds incidents by team and number', async () => {
        const a1 = await create('T1');
        const a2 = await create('T1');
        const b1 = await create('T2');
        expect((await store.findByNumber('T1', 2))?.id).toBe(a2.incident.id);
        expect((await store.findByNumber('T1', 1))?.id).toBe(a1.incident.id);
        expect((await store.findByNumber('T2', 1))?.id).toBe(b1.incident.id);
        expect(await store.findByNumber('T2', 2)).toBeUndefined();
        expect(await store.findByNumber('T3', 1)).toBeUndefined();
      });

      it('returns undefined / empty for unknown incidents', async () => {
        await create('T1');
        expect(await store.getIncident('no-such-incident')).toBeUndefined();
        expect(await store.findByChannel('C_NOPE')).toBeUndefined();
        expect(await store.loadEvents('no-such-incident')).toEqual([]);
        expect(await store.latestPostmortem('no-such-incident')).toBeUndefined();
      });

      it('lists incidents newest first, filtered by status and team', async () => {
        const a1 = await create('T1');
        await sleep(5);
        const b1 = await create('T2');
        await sleep(5);
        const a2 = await create('T1');
        await sleep(5);
        const a3 = await create('T1');
        await store.updateSummary(a2.incident.id, { status: 'resolved' });
        await store.append(b1.incident.id, [note('fixed')], { status: 'resolved' });
        await store.updateSummary(a3.incident.id, { status: 'monitoring' });

        const ids = (list: { id: string }[]) => list.map((i) => i.id);
        const [i1, i2, i3, j1] = [a1, a2, a3, b1].map((r) => r.incident.id);
        expect(ids(await store.listIncidents())).toEqual([i3, i2, j1, i1]);
        expect(ids(await store.listIncidents({}))).toEqual([i3, i2, j1, i1]);
        expect(ids(await store.listIncidents({ team: 'T1' }))).toEqual([i3, i2, i1]);
        expect(ids(await store.listIncidents({ status: ['resolved'] }))).toEqual([i2, j1]);
        expect(ids(await store.listIncidents({ status: ['investigating', 'monitoring'] }))).toEqual(
          [i3, i1],
        );
        expect(ids(await store.listIncidents({ team: 'T1', status: ['resolved'] }))).toEqual([i2]);
        expect(ids(await store.listIncidents({ team: 'T2', status: ['monitoring'] }))).toEqual([]);
        expect(ids(await store.listIncidents({ status: [] }))).toEqual([]);
        expect(ids(await store.listIncidents({ team: 'T9' }))).toEqual([]);
      });

      it('lists distinct teams', async () => {
        expect(await store.listTeams()).toEqual([]);
        await create('T2');
        await create('T1');
        await create('T2');
        expect([...(await store.listTeams())].sort()).toEqual(['T1', 'T2']);
      });
    });

    describe('summary', () => {
      it('applies a summary given with append and with updateSummary, partially', async () => {
        const { incident } = await create('T1');
        await store.append(incident.id, [note('channel made')], {
          channel: 'C_INC',
          status: 'identified',
        });
        let got = await store.getIncident(incident.id);
        expect(got).toMatchObject({ ...SUMMARY, status: 'identified', channel: 'C_INC' });
        expect(got?.updatedAt.toMillis()).toBeGreaterThanOrEqual(incident.createdAt.toMillis());
        expect((await store.findByChannel('C_INC'))?.id).toBe(incident.id);

        await store.updateSummary(incident.id, { severity: 'sev1', title: 'Checkout down' });
        got = await store.getIncident(incident.id);
        expect(got).toMatchObject({
          title: 'Checkout down',
          severity: 'sev1',
          status: 'identified',
          zone: SUMMARY.zone,
          channel: 'C_INC',
        });
        const [listed] = await store.listIncidents({ team: 'T1' });
        expect(listed).toMatchObject({ id: incident.id, title: 'Checkout down', severity: 'sev1' });
        expect((await store.findByChannel('C_INC'))?.title).toBe('Checkout down');
        expect((await store.findByNumber('T1', 1))?.severity).toBe('sev1');
      });

      it('finds an incident by the channel given at creation', async () => {
        const a = await create('T1', { channel: 'C_A' });
        await create('T1', { channel: 'C_B' });
        expect((await store.findByChannel('C_A'))?.id).toBe(a.incident.id);
        expect((await store.findByChannel('C_B'))?.number).toBe(2);
      });

      it('rejects a summary update of an unknown incident', async () => {
        await expect(
          store.updateSummary('no-such-incident', { status: 'resolved' }),
        ).rejects.toThrow();
      });
    });

    describe('events', () => {
      it('records a key once across calls and within a call; unkeyed events every time', async () => {
        const { incident } = await create('T1');
        const first = await store.append(incident.id, [note('a', { key: 'k1' })]);
        expect(first.appended.map((e) => [e.key, e.seq])).toEqual([['k1', 3]]);
        expect(first.duplicates).toEqual([]);

        const again = await store.append(incident.id, [note('a again', { key: 'k1' })]);
        expect(again.appended).toEqual([]);
        expect(again.duplicates.map((e) => e.key)).toEqual(['k1']);

        const mixed = await store.append(incident.id, [
          note('b', { key: 'k2' }),
          note('no key'),
          note('b twice', { key: 'k2' }),
          note('no key'),
          note('k1 once more', { key: 'k1' }),
        ]);
        expect(mixed.appended.map((e) => [texts([e])[0], e.seq])).toEqual([
          ['b', 4],
          ['no key', 5],
          ['no key', 6],
        ]);
        expect(mixed.duplicates.map((e) => (e.type === 'timeline.entry' ? e.text : ''))).toEqual([
          'b twice',
          'k1 once more',
        ]);

        const events = await store.loadEvents(incident.id);
        expect(texts(events).filter((t) => !t.startsWith('<'))).toEqual([
          'a',
          'b',
          'no key',
          'no key',
        ]);
        expect(await store.hasEventKey('k1')).toBe(true);
        expect(await store.hasEventKey('k2')).toBe(true);
        expect(await store.hasEventKey('k3')).toBe(false);
      });

      it('treats event keys as global across incidents', async () => {
        const a = await create('T1');
        const b = await create('T1');
        await store.append(a.incident.id, [note('on a', { key: 'slack:Ev1' })]);
        const onB = await store.append(b.incident.id, [note('on b', { key: 'slack:Ev1' })]);
        expect(onB.appended).toEqual([]);
        expect(onB.duplicates.length).toBe(1);
        expect(texts(await store.loadEvents(b.incident.id))).not.toContain('on b');
      });

      it('records a key once when two connections append it concurrently', async () => {
        const other = await harness.open();
        const { incident } = await create('T1');
        const calls = range(40, 0).map((i) =>
          (i % 2 === 0 ? store : other).append(incident.id, [
            note(`shared ${i % 10}`, { key: `shared-${i % 10}` }),
            note(`own ${i}`, { key: `own-${i}` }),
            note(`unkeyed ${i}`),
          ]),
        );
        const results = await Promise.all(calls);
        const appended = results.flatMap((r) => r.appended);
        const duplicates = results.flatMap((r) => r.duplicates);
        expect(appended.length).toBe(10 + 40 + 40);
        expect(duplicates.length).toBe(30);
        expect(duplicates.every((e) => e.key?.startsWith('shared-'))).toBe(true);
        const events = await other.loadEvents(incident.id);
        expect(events.length).toBe(2 + 90);
        const keys = events.flatMap((e) => (e.key ? [e.key] : []));
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys.filter((k) => k.startsWith('shared-')).length).toBe(10);
        expect(events.map((e) => e.seq).sort((x, y) => x - y)).toEqual(range(92));
      });

      it('orders by occurredAt, then record order; a backdated event sorts before earlier-recorded ones', async () => {
        const { incident } = await create('T1'); // opened at T0, detected at T0-3m
        const at = (m: number) => T0.plus({ minutes: m });
        await store.append(incident.id, [note('t+10 first', { at: at(10) })]);
        await store.append(incident.id, [note('t+20', { at: at(20) })]);
        await store.append(incident.id, [note('t+5 backdated', { at: at(5), recordedAt: at(21) })]);
        await store.append(incident.id, [
          note('t+10 second', { at: at(10) }),
          note('t+10 third', { at: at(10) }),
        ]);
        await store.append(incident.id, [note('t-10 way back', { at: at(-10) })]);
        const events = await store.loadEvents(incident.id);
        expect(texts(events)).toEqual([
          't-10 way back',
          '<incident.detected>',
          '<incident.opened>',
          't+5 backdated',
          't+10 first',
          't+10 second',
          't+10 third',
          't+20',
        ]);
        expect(events.map((e) => e.seq)).toEqual([8, 2, 1, 5, 3, 6, 7, 4]);
      });

      it('assigns seq uniquely and increasing in record order', async () => {
        const { incident } = await create('T1');
        const seqs: number[] = [];
        for (const i of range(5)) {
          const r = await store.append(incident.id, [note(`x${i}`), note(`y${i}`)]);
          seqs.push(...r.appended.map((e) => e.seq));
        }
        expect(seqs).toEqual(range(10, 3));
        const other = await create('T1');
        const r = await store.append(other.incident.id, [note('first on other')]);
        expect(r.appended[0].seq).toBe(3);
      });

      it('stores all 200 events of two connections appending concurrently, seqs 1..200', async () => {
        const other = await harness.open();
        const { incident } = await store.createIncident({
          team: 'T1',
          summary: SUMMARY,
          events: [],
        });
        expect(await store.loadEvents(incident.id)).toEqual([]);
        const results = await Promise.all(
          range(200).map((i) =>
            (i % 2 === 0 ? store : other).append(incident.id, [
              note(`n${i}`, { at: T0.plus({ seconds: i }) }),
            ]),
          ),
        );
        const returnedSeqs = results.map((r) => r.appended[0].seq).sort((x, y) => x - y);
        expect(returnedSeqs).toEqual(range(200));
        const events = await store.loadEvents(incident.id);
        expect(events.length).toBe(200);
        expect(new Set(texts(events))).toEqual(new Set(range(200).map((i) => `n${i}`)));
        expect(events.map((e) => e.seq).sort((x, y) => x - y)).toEqual(range(200));
      });

      it('round-trips every field of many event types exactly, times in UTC to the millisecond', async () => {
        const opened = DateTime.fromISO('2025-03-04T11:59:58.123+02:00', { setZone: true });
        const alert = DateTime.fromISO('2025-03-04T09:41:07.001Z', { zone: 'utc' });
        const t = (ms: number) => T0.plus({ milliseconds: ms });
        const ref = { channel: 'C_INC', ts: '1741082400.000100' };
        const events: NewEvent[] = [
          ev(
            'incident.opened',
            {
              title: 'Checkout errors',
              severity: 'sev2',
              zone: 'eu-west-1',
              description: 'p99 > 5s',
            },
            { at: opened, recordedAt: opened.plus({ milliseconds: 7 }), key: 'cmd:open:1' },
          ),
          ev(
            'incident.detected',
            {},
            { at: alert, source: 'system', actor: { id: 'system', name: 'incident-bot' } },
          ),
          ev(
            'incident.channel_set',
            { channel: 'C_INC', channelName: 'inc-1-checkout' },
            { at: t(1) },
          ),
          ev('incident.title_changed', { title: 'Checkout 5xx — “EU” ✓' }, { at: t(2) }),
          ev(
            'timeline.entry',
            { text: 'line 1\nline 2 <@U_BOB> *bold*' },
            { at: t(3), key: 'cmd:2' },
          ),
          ev(
            'chat.message',
            {
              channel: 'C_INC',
              ts: '1741082400.000200',
              user: 'U_BOB',
              userName: 'Bob Ng',
              text: 'graphs attached',
              threadTs: '1741082400.000100',
              files: [
                { name: 'p99.png', url: 'https://files.example/p99.png' },
                { name: 'notes.txt' },
              ],
            },
            { at: t(4), actor: BOB, source: 'message', key: 'C_INC:1741082400.000200' },
          ),
          ev(
            'chat.message_edited',
            { channel: 'C_INC', ts: '1741082400.000200', text: 'graphs!' },
            { at: t(5) },
          ),
          ev('chat.message_deleted', { channel: 'C_INC', ts: '1741082400.000200' }, { at: t(6) }),
          ev(
            'message.pinned',
            { channel: 'C_INC', ts: '1741082400.000200' },
            { at: t(7), source: 'reaction' },
          ),
          ev('hypothesis.raised', { text: 'bad deploy', ref }, { at: t(8), source: 'reaction' }),
          ev(
            'hypothesis.ruled_out',
            { hypothesis: 'H1', evidence: 'rollback did not help' },
            { at: t(9) },
          ),
          ev('hypothesis.confirmed', { hypothesis: 'H2' }, { at: t(10) }),
          ev(
            'capture.retracted',
            { ref, retracts: 'hypothesis.raised', hypothesis: 'H1' },
            { at: t(11) },
          ),
          ev('root_cause.set', { text: 'connection pool exhausted' }, { at: t(12) }),
          ev(
            'escalated',
            { to: '@db-oncall', reason: 'db', users: ['U1', 'U2'], groups: ['S1'], ref },
            { at: t(13) },
          ),
          ev('severity.changed', { severity: 'sev1', reason: 'all regions' }, { at: t(14) }),
          ev('status.changed', { status: 'identified' }, { at: t(15) }),
          ev('role.assigned', { role: 'commander', user: BOB }, { at: t(16) }),
          ev(
            'impact.set',
            { text: '30% of checkouts failed', startedAt: '2025-03-04T09:30:00.000Z' },
            { at: t(17) },
          ),
          ev(
            'action.added',
            { text: 'alert on pool', owner: BOB, due: '2025-03-20', ref },
            { at: t(18), key: 'act:1' },
          ),
          ev('action.completed', { action: 'A1' }, { at: t(19) }),
          ev('resolved', { how: 'raised pool size' }, { at: t(20) }),
          ev('resolved', {}, { at: t(20) }),
          ev(
            'postmortem.rendered',
            { template: 'default', format: 'md', fileId: 'F123' },
            { at: t(21) },
          ),
          ev('closed', {}, { at: t(22), source: 'import', actor: { id: 'cli', name: 'cli' } }),
        ];
        const { incident, events: openedEvents } = await store.createIncident({
          team: 'T1',
          summary: SUMMARY,
          events: events.slice(0, 2),
        });
        const { appended } = await store.append(incident.id, events.slice(2));
        const stored = [...openedEvents, ...appended];
        const expected = events.map((e, i) => ({ ...eventToJSON(e), seq: i + 1 }));
        // What append returned is what was stored.
        expect(json(stored)).toEqual(expected);

        const loaded = await store.loadEvents(incident.id);
        const bySeq = [...loaded].sort((a, b) => a.seq - b.seq);
        expect(json(bySeq)).toEqual(expected);
        for (const [i, e] of bySeq.entries()) {
          expect(e.occurredAt.zoneName).toBe('UTC');
          expect(e.recordedAt.zoneName).toBe('UTC');
          expect(e.occurredAt.toMillis()).toBe(events[i].occurredAt.toMillis());
          expect(e.recordedAt.toMillis()).toBe(events[i].recordedAt.toMillis());
          expect('key' in e).toBe(events[i].key !== undefined);
        }
        expect(bySeq[0].occurredAt.toISO()).toBe('2025-03-04T09:59:58.123Z');
        const msg = bySeq[5];
        expect(msg.type === 'chat.message' && msg.files).toEqual([
          { name: 'p99.png', url: 'https://files.example/p99.png' },
          { name: 'notes.txt' },
        ]);
        // Timeline order: the alert at 09:41 comes before the open at 09:59.
        expect(loaded.slice(0, 2).map((e) => e.type)).toEqual([
          'incident.detected',
          'incident.opened',
        ]);
      });

      it('rejects appending to an unknown incident and records nothing', async () => {
        await expect(
          store.append('no-such-incident', [note('lost', { key: 'lost-1' })]),
        ).rejects.toThrow();
        expect(await store.hasEventKey('lost-1')).toBe(false);
      });
    });

    describe('postmortems', () => {
      it('keeps rendered postmortems; the latest wins', async () => {
        const a = await create('T1');
        const b = await create('T1');
        expect(await store.latestPostmortem(a.incident.id)).toBeUndefined();
        const at1 = DateTime.fromISO('2025-03-05T08:00:00.250Z', { zone: 'utc' });
        await store.savePostmortem({
          incidentId: a.incident.id,
          template: 'default',
          format: 'md',
          content: '# Draft 1\n',
          renderedAt: at1,
        });
        await store.savePostmortem({
          incidentId: a.incident.id,
          template: 'sre',
          format: 'json',
          content: '{"draft":2}',
          renderedAt: at1.plus({ minutes: 5 }),
        });
        await store.savePostmortem({
          incidentId: b.incident.id,
          template: 'default',
          format: 'md',
          content: '# Other incident\n',
          renderedAt: at1.plus({ minutes: 9 }),
        });
        const latest = await store.latestPostmortem(a.incident.id);
        expect(latest).toMatchObject({
          incidentId: a.incident.id,
          template: 'sre',
          format: 'json',
          content: '{"draft":2}',
        });
        expect(latest?.renderedAt.toMillis()).toBe(at1.plus({ minutes: 5 }).toMillis());
        expect(latest?.renderedAt.zoneName).toBe('UTC');
        expect((await store.latestPostmortem(b.incident.id))?.content).toBe('# Other incident\n');
      });
    });

    describe('request path: conditional commit', () => {
      it('writes events, summary, effects and inbox completion together, keyed events once', async () => {
        const { incident, events } = await create();
        const last = events.length;
        const { item } = await store.enqueueInbox(inboxItem('cmd:1'));
        const res = await store.commit({
          incidentId: incident.id,
          expectedSeq: last,
          requireOpen: true,
          events: [note('one', { key: 'k-1' }), note('two')],
          summary: { status: 'identified' },
          effects: [effect('reply:cmd:1', 'slack.reply', incident.id, { text: 'ok' })],
          inboxDone: [item.id],
        });
        expect(res.appended.map((e) => e.seq)).toEqual([last + 1, last + 2]);
        expect(res.duplicates).toEqual([]);
        expect(res.effects).toEqual([
          expect.objectContaining({ key: 'reply:cmd:1', state: 'pending', attempts: 0 }),
        ]);
        expect((await store.getIncident(incident.id))?.status).toBe('identified');
        expect(await claimInboxNow(store, 'a', 10)).toEqual([]);

        // Same key again without a version condition: the keyed event is a duplicate.
        const again = await store.commit({
          incidentId: incident.id,
          requireOpen: true,
          events: [note('one', { key: 'k-1' }), note('three')],
        });
        expect(again.appended.map((e) => (e.type === 'timeline.entry' ? e.text : ''))).toEqual([
          'three',
        ]);
        expect(again.duplicates).toHaveLength(1);
        expect(texts(await store.loadEvents(incident.id)).filter((t) => t === 'one')).toHaveLength(
          1,
        );
      });

      it('refuses a commit decided on an older version, writing nothing', async () => {
        const { incident, events } = await create();
        const other = await harness.open();
        const { item } = await store.enqueueInbox(inboxItem('cmd:late'));
        await other.commit({
          incidentId: incident.id,
          expectedSeq: events.length,
          requireOpen: true,
          events: [note('first')],
        });
        await expect(
          store.commit({
            incidentId: incident.id,
            expectedSeq: events.length,
            requireOpen: true,
            events: [note('late')],
            summary: { title: 'changed' },
            effects: [effect('reply:late', 'slack.reply', incident.id, {})],
            inboxDone: [item.id],
          }),
        ).rejects.toBeInstanceOf(ConflictError);
        expect(texts(await store.loadEvents(incident.id))).not.toContain('late');
        expect((await store.getIncident(incident.id))?.title).toBe(SUMMARY.title);
        expect(await claimEffectsNow(store, 'a', 10)).toEqual([]);
        // The inbox item is still pending: the use-case is re-run on fresh state.
        expect((await claimInboxNow(store, 'a', 10)).map((i) => i.key)).toEqual(['cmd:late']);
      });

      it('refuses a commit into a closed incident unless allowed, writing nothing', async () => {
        const { incident } = await create();
        await store.commit({
          incidentId: incident.id,
          requireOpen: true,
          events: [ev('closed', {})],
          summary: { status: 'closed' },
        });
        const other = await harness.open();
        await expect(
          other.commit({
            incidentId: incident.id,
            requireOpen: true,
            events: [note('too late')],
            effects: [effect('x', 'slack.reply', incident.id, {})],
          }),
        ).rejects.toBeInstanceOf(IncidentClosedError);
        expect(texts(await store.loadEvents(incident.id))).not.toContain('too late');
        const allowed = await other.commit({
          incidentId: incident.id,
          requireOpen: false,
          events: [note('edited after close')],
        });
        expect(allowed.appended).toHaveLength(1);
      });

      it('gives 20 concurrent decisions from two connections 20 distinct versions (re-run on conflict)', async () => {
        const { incident } = await create();
        const other = await harness.open();
        // A "raise hypothesis" use-case: H<n> is decided from the loaded record, committed on
        // that version, re-run on a conflict.
        async function raise(s: IncidentStore, who: number): Promise<string> {
          for (let attempt = 0; attempt < 100; attempt++) {
            const log = await s.loadEvents(incident.id);
            const version = Math.max(...log.map((e) => e.seq));
            const n = log.filter((e) => e.type === 'hypothesis.raised').length + 1;
            try {
              await s.commit({
                incidentId: incident.id,
                expectedSeq: version,
                requireOpen: true,
                events: [ev('hypothesis.raised', { text: `H${n} idea ${who}` })],
              });
              return `H${n}`;
            } catch (err) {
              if (!(err instanceof ConflictError)) throw err;
            }
          }
          throw new Error('too many conflicts');
        }
        const ids = await Promise.all(range(20).map((i) => raise(i % 2 ? store : other, i)));
        expect(new Set(ids).size).toBe(20);
        // In record order the stored hypotheses are H1..H20: each caller was told the id that
        // the record gives its hypothesis.
        const stored = (await store.loadEvents(incident.id))
          .filter((e) => e.type === 'hypothesis.raised')
          .sort((x, y) => x.seq - y.seq);
        expect(stored.map((e) => (e.type === 'hypothesis.raised' ? e.text : ''))).toEqual(
          range(20).map((n) => `H${n} idea ${ids.indexOf(`H${n}`) + 1}`),
        );
      });
    });

    describe('request path: inbox', () => {
      it('records a key once (a Slack retry is a no-op) and keeps body and receivedAt', async () => {
        const first = await store.enqueueInbox(inboxItem('evt:Ev1', 'C1', '{"a":1}'));
        const retry = await store.enqueueInbox(inboxItem('evt:Ev1', 'C1', '{"a":2}'));
        expect(first.inserted).toBe(true);
        expect(retry.inserted).toBe(false);
        expect(retry.item.id).toBe(first.item.id);
        const claimed = await claimInboxNow(store, 'a', 10);
        expect(claimed).toHaveLength(1);
        expect(claimed[0]).toMatchObject({
          key: 'evt:Ev1',
          kind: 'event',
          partition: 'C1',
          body: '{"a":1}',
          state: 'pending',
          attempts: 1,
        });
        expect(claimed[0].receivedAt.toMillis()).toBe(T0.toMillis());
        expect(claimed[0].receivedAt.zoneName).toBe('UTC');
        await store.completeInbox([claimed[0].id]);
        const late = await store.enqueueInbox(inboxItem('evt:Ev1'));
        expect(late.inserted).toBe(false);
        expect(await claimInboxNow(store, 'a', 10, { lease: -1 })).toEqual([]);
      });

      it('leases claims: two connections claim disjoint items; an expired lease is claimable again', async () => {
        for (const i of range(10)) await store.enqueueInbox(inboxItem(`k${i}`));
        const other = await harness.open();
        const [a, b] = await Promise.all([
          claimInboxNow(store, 'a', 6),
          claimInboxNow(other, 'b', 6),
        ]);
        const keys = [...a, ...b].map((i) => i.key);
        expect(keys).toHaveLength(10);
        expect(new Set(keys).size).toBe(10);
        expect(await claimInboxNow(store, 'c', 10)).toEqual([]);
        // After the lease: the unfinished ones go to the next claimant (a restarted replica).
        await store.completeInbox(a.map((i) => i.id));
        const later = await store.claimInbox({
          owner: 'c',
          now: DateTime.utc().plus({ minutes: 10 }),
          leaseUntil: DateTime.utc().plus({ minutes: 11 }),
          limit: 20,
        });
        expect(later.map((i) => i.key).sort()).toEqual(b.map((i) => i.key).sort());
        expect(later.every((i) => i.attempts === 2)).toBe(true);
      });

      it('leases an item to the replica that enqueued it, when asked', async () => {
        const now = DateTime.utc();
        const leased = await store.enqueueInbox({
          ...inboxItem('mine'),
          lease: { owner: 'a', until: now.plus({ minutes: 1 }) },
        });
        expect(leased.item.attempts).toBe(1);
        expect(await claimInboxNow(store, 'b', 10)).toEqual([]);
        const later = await store.claimInbox({
          owner: 'b',
          now: now.plus({ minutes: 2 }),
          leaseUntil: now.plus({ minutes: 3 }),
          limit: 10,
        });
        expect(later.map((i) => [i.key, i.attempts])).toEqual([['mine', 2]]);
      });

      it('completes an item and adds the effects it owes in one write; a second completion adds nothing', async () => {
        const { incident } = await create();
        const x = await store.enqueueInbox(inboxItem('cmd:T1'));
        const owed = [
          effect('reply:cmd:T1', 'slack.reply', incident.id, { text: 'H1 raised' }),
          effect('ephemeral:cmd:T1', 'slack.ephemeral', undefined, { text: 'noted' }),
        ];
        const first = await store.completeInbox([x.item.id], owed);
        expect(first.done).toEqual([x.item.id]);
        expect(first.effects.map((e) => e.key).sort()).toEqual([
          'ephemeral:cmd:T1',
          'reply:cmd:T1',
        ]);
        // The same request completed again (re-run after a crash that had completed it).
        const again = await store.completeInbox([x.item.id], owed);
        expect(again).toEqual({ done: [], effects: [] });
        const claimed = await claimEffectsNow(store, 'a', 10);
        expect(claimed.map((e) => [e.key, e.kind, e.payload]).sort()).toEqual([
          ['ephemeral:cmd:T1', 'slack.ephemeral', { text: 'noted' }],
          ['reply:cmd:T1', 'slack.reply', { text: 'H1 raised' }],
        ]);
        expect(claimed.find((e) => e.key === 'reply:cmd:T1')?.incidentId).toBe(incident.id);
        for (const e of claimed) await store.completeEffect(e.id, 'a');
        // Even once the first delivery is done (its key no longer pending): nothing is added.
        expect(await store.completeInbox([x.item.id], owed)).toEqual({ done: [], effects: [] });
        expect(await claimEffectsNow(store, 'b', 10)).toEqual([]);
        expect(await claimInboxNow(store, 'a', 10, { lease: -1 })).toEqual([]);
      });

      it('adds the owed effects once when two connections complete the same item at once', async () => {
        const other = await harness.open();
        const items = await Promise.all(
          range(5).map((i) => store.enqueueInbox(inboxItem(`cmd:R${i}`))),
        );
        const results = await Promise.all(
          items.flatMap(({ item }) =>
            [store, other].map((s) =>
              s.completeInbox(
                [item.id],
                [effect(`reply:${item.key}`, 'slack.reply', undefined, item.key)],
              ),
            ),
          ),
        );
        // Each item was moved to done by exactly one of the two calls.
        expect(results.flatMap((r) => r.done).sort()).toEqual(items.map((i) => i.item.id).sort());
        expect(results.flatMap((r) => r.effects)).toHaveLength(5);
        // Delivered, then both claim again: nothing more (not a coalesced second row).
        const claimed = await claimEffectsNow(store, 'a', 20);
        expect(claimed.map((e) => e.payload).sort()).toEqual(items.map((i) => i.item.key).sort());
        for (const e of claimed) await store.completeEffect(e.id, 'a');
        expect(await claimEffectsNow(other, 'b', 20)).toEqual([]);
      });

      it('completes without effects, and completing nothing is a no-op', async () => {
        const x = await store.enqueueInbox(inboxItem('evt:plain'));
        expect(await store.completeInbox([x.item.id])).toEqual({
          done: [x.item.id],
          effects: [],
        });
        expect(await store.completeInbox([], [effect('k', 'x', undefined, 1)])).toEqual({
          done: [],
          effects: [],
        });
        expect(await claimEffectsNow(store, 'a', 10)).toEqual([]);
      });

      it('claims only the given ids when asked', async () => {
        const x = await store.enqueueInbox(inboxItem('x'));
        await store.enqueueInbox(inboxItem('y'));
        const got = await claimInboxNow(store, 'a', 10, { ids: [x.item.id] });
        expect(got.map((i) => i.key)).toEqual(['x']);
      });
    });

    describe('request path: outbox', () => {
      it('keeps an effect key unique while pending (coalescing), newest payload wins', async () => {
        const { incident } = await create();
        const first = await store.addEffects([effect('card:1', 'card.refresh', incident.id, 1)]);
        const second = await store.addEffects([effect('card:1', 'card.refresh', incident.id, 2)]);
        expect(first).toHaveLength(1);
        expect(second).toEqual([]);
        const claimed = await claimEffectsNow(store, 'a', 10);
        expect(claimed).toHaveLength(1);
        expect(claimed[0]).toMatchObject({ key: 'card:1', kind: 'card.refresh', payload: 2 });
        expect(claimed[0].incidentId).toBe(incident.id);
        await store.completeEffect(claimed[0].id, 'a');
        // Done: the key may be added again.
        expect(
          await store.addEffects([effect('card:1', 'card.refresh', incident.id, 3)]),
        ).toHaveLength(1);
      });

      it('delivers once more when the key is added while it is being delivered', async () => {
        const a = await store.addEffects([effect('card:2', 'card.refresh', undefined, 'old')]);
        expect(a).toHaveLength(1);
        const [claimed] = await claimEffectsNow(store, 'a', 10);
        await store.addEffects([effect('card:2', 'card.refresh', undefined, 'new')]);
        await store.completeEffect(claimed.id, 'a');
        const again = await claimEffectsNow(store, 'b', 10);
        expect(again.map((e) => e.payload)).toEqual(['new']);
        await store.completeEffect(again[0].id, 'b');
        expect(await claimEffectsNow(store, 'c', 10)).toEqual([]);
      });

      it('hands each effect to exactly one of two connections claiming concurrently', async () => {
        await store.addEffects(range(30).map((i) => effect(`e${i}`, 'x', undefined, i)));
        const other = await harness.open();
        const rounds = await Promise.all([
          ...range(4).map(() => claimEffectsNow(store, 'a', 5)),
          ...range(4).map(() => claimEffectsNow(other, 'b', 5)),
        ]);
        const claimed = rounds.flat().map((e) => e.key);
        expect(new Set(claimed).size).toBe(claimed.length);
        expect(claimed.length).toBe(30);
      });

      it('retries from retryAt, never delivers a dead one, ignores a completion by a lost lease', async () => {
        await store.addEffects([
          effect('r', 'x', undefined, 'r'),
          effect('d', 'x', undefined, 'd'),
        ]);
        const claimed = await claimEffectsNow(store, 'a', 10);
        const byKey = new Map(claimed.map((e) => [e.key, e]));
        const retryAt = DateTime.utc().plus({ minutes: 5 });
        await store.failEffect(byKey.get('r')!.id, 'a', { error: 'HTTP 429', retryAt });
        await store.failEffect(byKey.get('d')!.id, 'a', { error: 'channel_not_found', dead: true });
        expect(await claimEffectsNow(store, 'b', 10)).toEqual([]);
        if (store.nextEffectDue) {
          expect((await store.nextEffectDue())?.toMillis()).toBe(retryAt.toMillis());
        }
        const later = await store.claimEffects({
          owner: 'b',
          now: retryAt,
          leaseUntil: retryAt.plus({ minutes: 1 }),
          limit: 10,
        });
        expect(later.map((e) => [e.key, e.attempts, e.lastError])).toEqual([['r', 2, 'HTTP 429']]);
        // 'a' lost the lease long ago: its late completion changes nothing.
        await store.completeEffect(later[0].id, 'a');
        const stolen = await store.claimEffects({
          owner: 'c',
          now: retryAt.plus({ minutes: 2 }),
          leaseUntil: retryAt.plus({ minutes: 3 }),
          limit: 10,
        });
        expect(stolen.map((e) => e.key)).toEqual(['r']);
      });

      it('records a delivery outcome (events keyed once, follow-up effects) with the completion', async () => {
        const { incident } = await create();
        await store.addEffects([effect('page:1', 'page.trigger', incident.id, {})]);
        const [claimed] = await claimEffectsNow(store, 'a', 10);
        await store.completeEffect(claimed.id, 'a', {
          events: [note('paged', { key: 'paged:1' })],
          effects: [effect('reply:paged', 'slack.reply', incident.id, {})],
        });
        expect(texts(await store.loadEvents(incident.id))).toContain('paged');
        expect((await claimEffectsNow(store, 'b', 10)).map((e) => e.key)).toEqual(['reply:paged']);
      });

      it('spaces deliveries of one key by spacingMs', async () => {
        await store.addEffects([{ ...effect('card:s', 'x', undefined, 1), spacingMs: 60_000 }]);
        const [first] = await claimEffectsNow(store, 'a', 10);
        await store.completeEffect(first.id, 'a');
        const [next] = await store.addEffects([
          { ...effect('card:s', 'x', undefined, 2), spacingMs: 60_000 },
        ]);
        expect(next.notBefore!.toMillis()).toBeGreaterThanOrEqual(Date.now() + 50_000);
        expect(await claimEffectsNow(store, 'a', 10)).toEqual([]);
      });
    });

    describe('request path: restart takeover', () => {
      it("takes over items and effects leased by the instance's dead incarnation, not others'", async () => {
        const now = DateTime.utc();
        const long = { until: now.plus({ hours: 1 }) };
        await store.enqueueInbox({ ...inboxItem('old-a'), lease: { owner: 'inst-a/1', ...long } });
        await store.enqueueInbox({ ...inboxItem('new-a'), lease: { owner: 'inst-a/2', ...long } });
        await store.enqueueInbox({ ...inboxItem('b'), lease: { owner: 'inst-b/1', ...long } });
        // A prefix is matched literally: "inst-a/" does not take "inst-ab/…".
        await store.enqueueInbox({ ...inboxItem('ab'), lease: { owner: 'inst-ab/1', ...long } });
        const lease = { now, leaseUntil: now.plus({ minutes: 1 }), limit: 10 };
        expect(await store.claimInbox({ owner: 'inst-a/2', ...lease })).toEqual([]);
        const taken = await store.claimInbox({
          owner: 'inst-a/2',
          ...lease,
          takeOverPrefix: 'inst-a/',
        });
        expect(taken.map((i) => [i.key, i.attempts])).toEqual([['old-a', 2]]);
        // Now held by the new incarnation: a second takeover by it finds nothing more.
        expect(
          await store.claimInbox({ owner: 'inst-a/2', ...lease, takeOverPrefix: 'inst-a/' }),
        ).toEqual([]);

        await store.addEffects([effect('e1', 'x', undefined, 1), effect('e2', 'x', undefined, 2)]);
        const t = DateTime.utc();
        const held = await store.claimEffects({
          owner: 'inst-a/1',
          now: t,
          leaseUntil: t.plus({ hours: 1 }),
          limit: 1,
        });
        await store.claimEffects({
          owner: 'inst-b/1',
          now: t,
          leaseUntil: t.plus({ hours: 1 }),
          limit: 1,
        });
        expect(await claimEffectsNow(store, 'inst-a/2', 10)).toEqual([]);
        const effects = await store.claimEffects({
          owner: 'inst-a/2',
          now: t,
          leaseUntil: t.plus({ minutes: 1 }),
          limit: 10,
          takeOverPrefix: 'inst-a/',
        });
        expect(effects.map((e) => [e.key, e.attempts])).toEqual([[held[0].key, 2]]);
        // The dead incarnation's late completion is ignored; the new holder's counts.
        await store.completeEffect(effects[0].id, 'inst-a/1');
        await store.completeEffect(effects[0].id, 'inst-a/2');
        const later = DateTime.utc().plus({ hours: 2 });
        const left = await store.claimEffects({
          owner: 'z',
          now: later,
          leaseUntil: later.plus({ minutes: 1 }),
          limit: 10,
        });
        expect(left.map((e) => e.key)).toEqual([held[0].key === 'e1' ? 'e2' : 'e1']);
      });
    });

    describe('housekeeping: pruneDone', () => {
      it('deletes done inbox items and done / dead effects past their cut-offs, never pending ones or events', async () => {
        const { incident } = await create();
        const before = (await store.loadEvents(incident.id)).length;
        for (const k of ['i1', 'i2', 'i3']) await store.enqueueInbox(inboxItem(k));
        const items = await claimInboxNow(store, 'a', 10);
        const byKey = new Map(items.map((i) => [i.key, i]));
        await store.completeInbox([byKey.get('i1')!.id]);
        await store.commit({
          incidentId: incident.id,
          requireOpen: true,
          events: [note('kept forever', { key: 'n1' })],
          effects: [effect('e-done', 'x', incident.id, 1), effect('e-dead', 'x', incident.id, 2)],
          inboxDone: [byKey.get('i2')!.id],
        });
        await store.addEffects([effect('e-pending', 'x', undefined, 3)]);
        const claimed = await claimEffectsNow(store, 'a', 10);
        const eff = new Map(claimed.map((e) => [e.key, e]));
        await store.completeEffect(eff.get('e-done')!.id, 'a');
        await store.failEffect(eff.get('e-dead')!.id, 'a', {
          error: 'channel_not_found',
          dead: true,
        });
        const now = DateTime.utc();
        const past = now.minus({ hours: 1 });
        const future = now.plus({ hours: 1 });

        // Everything finished after the cut-offs: nothing goes.
        expect(
          await store.pruneDone({
            inboxBefore: past,
            effectsBefore: past,
            deadEffectsBefore: past,
          }),
        ).toEqual({ inbox: 0, effects: 0, deadEffects: 0 });
        // Done ones go; the dead one is kept longer (its own cut-off).
        expect(
          await store.pruneDone({
            inboxBefore: future,
            effectsBefore: future,
            deadEffectsBefore: past,
          }),
        ).toEqual({ inbox: 2, effects: 1, deadEffects: 0 });
        expect(
          await store.pruneDone({
            inboxBefore: future,
            effectsBefore: future,
            deadEffectsBefore: future,
          }),
        ).toEqual({ inbox: 0, effects: 0, deadEffects: 1 });

        // The record is untouched; the pending item and effect are still owed.
        expect((await store.loadEvents(incident.id)).length).toBe(before + 1);
        const later = now.plus({ hours: 2 });
        const owedInbox = await store.claimInbox({
          owner: 'b',
          now: later,
          leaseUntil: later.plus({ minutes: 1 }),
          limit: 10,
        });
        expect(owedInbox.map((i) => i.key)).toEqual(['i3']);
        const owed = await store.claimEffects({
          owner: 'b',
          now: later,
          leaseUntil: later.plus({ minutes: 1 }),
          limit: 10,
        });
        expect(owed.map((e) => e.key)).toEqual(['e-pending']);
        // A pruned inbox key is forgotten: that is why the retention must outlast Slack's retries.
        expect((await store.enqueueInbox(inboxItem('i1'))).inserted).toBe(true);
      });
    });

    describe('durability and health', () => {
      it('keeps everything across close and reopen', async () => {
        const { incident } = await create('T1', { key: 'import:1', channel: 'C_KEEP' });
        await store.append(incident.id, [note('kept', { key: 'keep-1' })], {
          status: 'monitoring',
        });
        await store.savePostmortem({
          incidentId: incident.id,
          template: 'default',
          format: 'md',
          content: '# kept\n',
          renderedAt: T0,
        });
        const before = json(await store.loadEvents(incident.id));
        await store.close();

        const reopened = await harness.open();
        expect(await reopened.getIncident(incident.id)).toMatchObject({
          number: 1,
          status: 'monitoring',
          channel: 'C_KEEP',
        });
        expect(json(await reopened.loadEvents(incident.id))).toEqual(before);
        expect(await reopened.hasEventKey('keep-1')).toBe(true);
        expect((await reopened.latestPostmortem(incident.id))?.content).toBe('# kept\n');
        const again = await reopened.createIncident({
          team: 'T1',
          summary: SUMMARY,
          events: [],
          key: 'import:1',
        });
        expect(again.created).toBe(false);
        const next = await reopened.createIncident({ team: 'T1', summary: SUMMARY, events: [] });
        expect(next.incident.number).toBe(2);
      });

      it('answers ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });
  });
}
