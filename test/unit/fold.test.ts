import { DateTime } from 'luxon';
import { foldIncident } from '../../src/core/fold';
import { computeMetrics } from '../../src/core/metrics';
import type { Actor, EventPayloads, EventType, StoredEvent } from '../../src/core/model';

const alice: Actor = { id: 'U_ALICE', name: 'Alice' };
const bob: Actor = { id: 'U_BOB', name: 'Bob' };
const DAY = '2025-03-04';

/** Builds stored events in record order; `at` is HH:MM UTC on DAY (or a full ISO string). */
function log() {
  const events: StoredEvent[] = [];
  let seq = 0;
  const add = <T extends EventType>(
    type: T,
    at: string,
    payload: EventPayloads[T],
    actor: Actor = alice,
  ): StoredEvent => {
    const occurredAt = at.includes('T')
      ? DateTime.fromISO(at, { zone: 'utc' })
      : DateTime.fromISO(`${DAY}T${at}:00Z`, { zone: 'utc' });
    seq += 1;
    const e = {
      ...payload,
      type,
      occurredAt,
      recordedAt: occurredAt.plus({ minutes: 1 }),
      actor,
      source: 'command',
      seq,
    } as unknown as StoredEvent;
    events.push(e);
    return e;
  };
  return { events, add };
}

function opened() {
  const l = log();
  l.add('incident.opened', '10:02', { title: 'Checkout errors', severity: 'sev2', zone: 'UTC' });
  l.add('incident.detected', '10:00', {});
  return l;
}

describe('foldIncident', () => {
  test('opening sets title, severity, zone, detection; status starts investigating', () => {
    const s = foldIncident(opened().events);
    expect(s.title).toBe('Checkout errors');
    expect(s.severity).toBe('sev2');
    expect(s.status).toBe('investigating');
    expect(s.detectedAt?.toISO()).toBe('2025-03-04T10:00:00.000Z');
    expect(s.participants).toEqual([alice]);
  });

  test('hypothesis ids follow record order, even when a later one is backdated', () => {
    const l = opened();
    l.add('hypothesis.raised', '10:30', { text: 'payment API down' });
    l.add('hypothesis.raised', '10:10', { text: 'bad deploy' }); // recorded later, happened earlier
    const s = foldIncident(l.events);
    expect(s.hypotheses.map((h) => [h.id, h.text])).toEqual([
      ['H1', 'payment API down'],
      ['H2', 'bad deploy'],
    ]);
    // The timeline is ordered by when things happened.
    const hyps = s.timeline.filter((t) => t.kind === 'hypothesis').map((t) => t.hypothesis);
    expect(hyps).toEqual(['H2', 'H1']);
  });

  test('ruled-out hypotheses are misleading paths; a confirmed one is the root cause', () => {
    const l = opened();
    l.add('hypothesis.raised', '10:20', { text: 'payment API outage' });
    l.add('hypothesis.raised', '10:40', { text: 'connection pool too small' }, bob);
    l.add('hypothesis.ruled_out', '10:50', { hypothesis: 'H1', evidence: 'status page green' });
    l.add('hypothesis.confirmed', '11:30', { hypothesis: 'h2', evidence: 'pool at 100%' }, bob);
    const s = foldIncident(l.events);
    const [h1, h2] = s.hypotheses;
    expect(h1).toMatchObject({ outcome: 'ruled_out', evidence: 'status page green' });
    expect(h1.timeSpentMs).toBe(30 * 60_000);
    expect(h2).toMatchObject({ outcome: 'confirmed', evidence: 'pool at 100%', outcomeBy: bob });
    expect(s.rootCause).toMatchObject({ text: 'connection pool too small', hypothesis: 'H2' });
    const labels = s.timeline.map((t) => [t.kind, t.label ?? '']);
    expect(labels).toContainEqual(['hypothesis', 'Misleading path']);
    expect(labels).toContainEqual(['ruled_out', 'Misleading path']);
    expect(labels).toContainEqual(['confirmed', 'Root cause']);
    expect(labels).toContainEqual(['detected', 'Detection']);
  });

  test('a backdated log entry lands where it happened', () => {
    const l = opened();
    l.add('timeline.entry', '10:45', { text: 'rolled back' });
    l.add('timeline.entry', '10:15', { text: 'we suspected the payment API' });
    const texts = foldIncident(l.events)
      .timeline.filter((t) => t.kind === 'entry')
      .map((t) => t.text);
    expect(texts).toEqual(['we suspected the payment API', 'rolled back']);
  });

  test('equal times keep record order', () => {
    const l = opened();
    l.add('timeline.entry', '10:15', { text: 'first' });
    l.add('timeline.entry', '10:15', { text: 'second' });
    const texts = foldIncident(l.events)
      .timeline.filter((t) => t.kind === 'entry')
      .map((t) => t.text);
    expect(texts).toEqual(['first', 'second']);
  });

  test('status follows record order; resolve ends the duration; a backfilled status does not reopen', () => {
    const l = opened();
    l.add('status.changed', '10:30', { status: 'identified' });
    l.add('resolved', '11:45', { how: 'pool size restored' });
    l.add('status.changed', '11:00', { status: 'monitoring' }); // backfilled history
    let s = foldIncident(l.events);
    expect(s.status).toBe('resolved');
    expect(s.resolution).toBe('pool size restored');
    // A later status change after resolution reopens it.
    l.add('status.changed', '12:10', { status: 'investigating' });
    s = foldIncident(l.events);
    expect(s.status).toBe('investigating');
    expect(s.resolvedAt).toBeUndefined();
  });

  test('closed is terminal', () => {
    const l = opened();
    l.add('resolved', '11:00', {});
    l.add('closed', '11:30', {});
    l.add('status.changed', '11:40', { status: 'investigating' });
    expect(foldIncident(l.events).status).toBe('closed');
  });

  test('severity, roles, impact with start, actions and completion', () => {
    const l = opened();
    l.add('severity.changed', '10:10', { severity: 'sev1', reason: 'all regions' });
    l.add('role.assigned', '10:11', { role: 'commander', user: bob });
    l.add('impact.set', '10:12', {
      text: '80% of checkouts fail',
      startedAt: '2025-03-04T09:40:00.000Z',
    });
    l.add('action.added', '11:00', {
      text: 'alert on pool saturation',
      owner: bob,
      due: '2025-03-20',
    });
    l.add('action.added', '11:01', { text: 'document pool sizing' });
    l.add('action.completed', '11:05', { action: 'a2' });
    const s = foldIncident(l.events);
    expect(s.severity).toBe('sev1');
    expect(s.severityHistory.map((x) => x.severity)).toEqual(['sev2', 'sev1']);
    expect(s.roles.commander).toEqual(bob);
    expect(s.impact).toBe('80% of checkouts fail');
    expect(s.impactStartedAt?.toISO()).toBe('2025-03-04T09:40:00.000Z');
    expect(s.timeline[0]).toMatchObject({ kind: 'impact_started', label: 'Impact start' });
    expect(s.actions.map((a) => [a.id, a.done, a.owner?.name ?? null, a.due ?? null])).toEqual([
      ['A1', false, 'Bob', '2025-03-20'],
      ['A2', true, null, null],
    ]);
    expect(s.participants.map((p) => p.id).sort()).toEqual(['U_ALICE', 'U_BOB']);
  });

  test('messages: recorded, edited, pinned into the timeline, deleted out of it', () => {
    const l = opened();
    const msg = { channel: 'C1', ts: '1741083000.000100', user: 'U_BOB', userName: 'Bob' };
    l.add('chat.message', '10:10', { ...msg, text: 'errors spike on /pay' }, bob);
    l.add(
      'chat.message',
      '10:11',
      { channel: 'C1', ts: '1741083060.000200', user: 'U_BOB', text: 'lunch?' },
      bob,
    );
    l.add(
      'chat.message_edited',
      '10:12',
      { channel: 'C1', ts: msg.ts, text: 'errors spike on /pay (5xx)' },
      bob,
    );
    l.add('message.pinned', '10:13', { channel: 'C1', ts: msg.ts });
    let s = foldIncident(l.events);
    expect(s.messages).toHaveLength(2);
    const pinned = s.timeline.filter((t) => t.kind === 'pinned');
    expect(pinned).toHaveLength(1);
    expect(pinned[0]).toMatchObject({
      text: 'errors spike on /pay (5xx)',
      actor: { id: 'U_BOB', name: 'Bob' },
    });
    expect(pinned[0].at.toISO()).toBe('2025-03-04T10:10:00.000Z'); // the message's time, not the pin's
    l.add('chat.message_deleted', '10:20', { channel: 'C1', ts: msg.ts });
    s = foldIncident(l.events);
    expect(s.timeline.filter((t) => t.kind === 'pinned')).toHaveLength(0);
    expect(s.messages.find((m) => m.ts === msg.ts)?.deleted).toBe(true);
  });

  test('unpinning demotes the message', () => {
    const l = opened();
    l.add('chat.message', '10:10', { channel: 'C1', ts: '1.1', user: 'U_BOB', text: 'x' }, bob);
    l.add('message.pinned', '10:13', { channel: 'C1', ts: '1.1' });
    l.add('message.unpinned', '10:14', { channel: 'C1', ts: '1.1' });
    expect(foldIncident(l.events).timeline.some((t) => t.kind === 'pinned')).toBe(false);
  });

  test('retractions undo captures by message ref; later ids stay stable', () => {
    const l = opened();
    const ref = { channel: 'C1', ts: '1.1' };
    l.add('hypothesis.raised', '10:10', { text: 'DNS', ref });
    l.add('hypothesis.raised', '10:20', { text: 'disk full' });
    l.add('hypothesis.ruled_out', '10:30', { hypothesis: 'H1', evidence: 'dig ok' });
    l.add('capture.retracted', '10:31', { ref, retracts: 'hypothesis.ruled_out' });
    let s = foldIncident(l.events);
    expect(s.hypotheses[0]).toMatchObject({ id: 'H1', outcome: 'open' });
    expect(s.timeline.some((t) => t.kind === 'ruled_out')).toBe(false);
    l.add('capture.retracted', '10:32', { ref, retracts: 'hypothesis.raised' });
    s = foldIncident(l.events);
    expect(s.hypotheses.map((h) => h.id)).toEqual(['H2']);
    l.add('hypothesis.raised', '10:40', { text: 'cert expiry' });
    expect(foldIncident(l.events).hypotheses.map((h) => h.id)).toEqual(['H2', 'H3']);
  });

  test('escalation and action captures can be retracted', () => {
    const l = opened();
    const ref = { channel: 'C1', ts: '2.2' };
    l.add('escalated', '10:10', { to: 'DBA team', ref });
    l.add('escalated', '10:15', { to: 'Bob', reason: 'owns the pool' });
    l.add('action.added', '10:20', { text: 'x', ref });
    l.add('capture.retracted', '10:21', { ref, retracts: 'escalated' });
    l.add('capture.retracted', '10:22', { ref, retracts: 'action.added' });
    const s = foldIncident(l.events);
    expect(s.escalations.map((e) => e.to)).toEqual(['Bob']);
    expect(s.timeline.filter((t) => t.kind === 'escalation')).toHaveLength(1);
    expect(s.actions).toHaveLength(0);
  });

  test('opening is on the timeline when later than detection, except for imports', () => {
    const same = log();
    same.add('incident.opened', '10:00', { title: 'x', severity: 'sev3', zone: 'UTC' });
    same.add('incident.detected', '10:00', {});
    expect(foldIncident(same.events).timeline.map((t) => t.kind)).toEqual(['detected']);
    const late = log();
    late.add('incident.opened', '13:00', { title: 'x', severity: 'sev3', zone: 'UTC' });
    late.add('incident.detected', '10:00', {});
    expect(foldIncident(late.events).timeline.map((t) => t.kind)).toEqual(['detected', 'opened']);
    const imported = late.events.map((e) => ({ ...e, source: 'import' as const }));
    expect(foldIncident(imported).timeline.map((t) => t.kind)).toEqual(['detected']);
  });

  test('a rule-out of an unknown hypothesis has no effect', () => {
    const l = opened();
    l.add('hypothesis.ruled_out', '10:30', { hypothesis: 'H9', evidence: 'x' });
    const s = foldIncident(l.events);
    expect(s.hypotheses).toHaveLength(0);
    expect(s.timeline.some((t) => t.kind === 'ruled_out')).toBe(false);
  });
});

describe('computeMetrics', () => {
  const byKey = (events: StoredEvent[]) =>
    Object.fromEntries(computeMetrics(foldIncident(events)).map((m) => [m.key, m]));
  const min = (n: number) => n * 60_000;

  test('every metric from a full incident, with formulas', () => {
    const l = opened(); // detected 10:00
    l.add('impact.set', '10:05', { text: 'x', startedAt: '2025-03-04T09:45:00.000Z' });
    l.add('hypothesis.raised', '10:10', { text: 'a' });
    l.add('hypothesis.ruled_out', '10:40', { hypothesis: 'H1', evidence: 'e' });
    l.add('hypothesis.raised', '10:20', { text: 'b' });
    l.add('hypothesis.ruled_out', '10:30', { hypothesis: 'H2', evidence: 'e' });
    l.add('escalated', '10:25', { to: 'DBA' });
    l.add('hypothesis.raised', '10:50', { text: 'c' });
    l.add('hypothesis.confirmed', '11:05', { hypothesis: 'H3' });
    l.add('resolved', '12:15', {});
    const m = byKey(l.events);
    expect(m.time_to_detect.ms).toBe(min(15));
    expect(m.time_to_escalate.ms).toBe(min(25));
    expect(m.time_to_identify.ms).toBe(min(65));
    expect(m.time_to_resolve.ms).toBe(min(135));
    expect(m.total_duration.ms).toBe(min(150));
    expect(m.time_on_ruled_out.ms).toBe(min(40));
    for (const metric of Object.values(m)) expect(metric.formula.length).toBeGreaterThan(5);
  });

  test('missing facts are explained, not zero', () => {
    const m = byKey(opened().events);
    expect(m.time_to_detect.ms).toBeUndefined();
    expect(m.time_to_detect.missing).toMatch(/impact start unknown/);
    expect(m.time_to_escalate.missing).toMatch(/no escalation/);
    expect(m.time_to_identify.missing).toMatch(/not identified/);
    expect(m.time_to_resolve.missing).toMatch(/not resolved/);
    expect(m.time_on_ruled_out.ms).toBe(0);
  });

  test('a root cause stated directly counts as identification', () => {
    const l = opened();
    l.add('root_cause.set', '10:42', { text: 'pool misconfigured' });
    expect(byKey(l.events).time_to_identify.ms).toBe(min(42));
  });

  test('durations across a DST fall-back night are real elapsed time', () => {
    // America/New_York, 2025-11-02: 00:30 EDT (04:30Z) to 01:30 EST (06:30Z) is two hours.
    const l = log();
    l.add('incident.opened', '2025-11-02T04:30:00Z', {
      title: 'night',
      severity: 'sev3',
      zone: 'America/New_York',
    });
    l.add('incident.detected', '2025-11-02T04:30:00Z', {});
    l.add('resolved', '2025-11-02T06:30:00Z', {});
    const m = byKey(l.events);
    expect(m.time_to_resolve.ms).toBe(min(120));
    const s = foldIncident(l.events);
    expect(s.detectedAt?.setZone('America/New_York').toFormat('HH:mm ZZZZ')).toBe('00:30 EDT');
    expect(s.resolvedAt?.setZone('America/New_York').toFormat('HH:mm ZZZZ')).toBe('01:30 EST');
  });
});
