import { DateTime } from 'luxon';
import { foldIncident } from '../../src/core/fold';
import type { Actor, EventPayloads, EventType, StoredEvent } from '../../src/core/model';
import { reviewDraft, timelineGaps, type FindingCode } from '../../src/core/review';

const ALICE: Actor = { id: 'U_ALICE', name: 'Alice' };
const BOB: Actor = { id: 'U_BOB', name: 'Bob' };

/** A tiny event log builder: times are HH:mm on 2025-03-11 UTC. */
function log() {
  const events: StoredEvent[] = [];
  const at = (t: string) =>
    DateTime.fromISO(t.includes('T') ? `${t}:00Z` : `2025-03-11T${t}:00Z`, { zone: 'utc' });
  const api = {
    add<T extends EventType>(type: T, hhmm: string, payload: EventPayloads[T]) {
      events.push({
        type,
        occurredAt: at(hhmm),
        recordedAt: at(hhmm),
        actor: ALICE,
        source: 'command',
        seq: events.length + 1,
        ...payload,
      } as unknown as StoredEvent);
      return api;
    },
    state: () => foldIncident(events),
  };
  return api;
}

/** A complete incident the review has nothing to say about. */
function complete(severity: 'sev1' | 'sev3' = 'sev3') {
  return log()
    .add('incident.opened', '14:00', { title: 'Checkout errors', severity, zone: 'UTC' })
    .add('incident.detected', '14:00', {})
    .add('impact.set', '14:05', {
      text: 'EU checkout failing',
      startedAt: '2025-03-11T13:50:00.000Z',
    })
    .add('hypothesis.raised', '14:10', { text: 'bad deploy' })
    .add('hypothesis.raised', '14:15', { text: 'provider down' })
    .add('hypothesis.ruled_out', '14:25', { hypothesis: 'H2', evidence: 'status page green' })
    .add('escalated', '14:30', { to: '@db-oncall' })
    .add('hypothesis.confirmed', '14:40', { hypothesis: 'H1' })
    .add('action.added', '14:50', { text: 'canary deploys', owner: BOB, due: '2025-03-30' })
    .add('resolved', '15:00', { how: 'rolled back' });
}

const codes = (s: ReturnType<typeof foldIncident>, gapMinutes?: number): FindingCode[] =>
  reviewDraft(s, gapMinutes === undefined ? {} : { gapMinutes }).map((f) => f.code);

describe('reviewDraft', () => {
  it('finds nothing in a complete record', () => {
    expect(reviewDraft(complete().state())).toEqual([]);
    expect(reviewDraft(complete('sev1').state())).toEqual([]);
  });

  it('flags everything missing from an empty record, in a fixed order', () => {
    const s = log()
      .add('incident.opened', '14:00', { title: 'x', severity: 'sev2', zone: 'UTC' })
      .state();
    expect(codes(s)).toEqual([
      'no_detection',
      'no_impact',
      'no_root_cause',
      'no_escalation',
      'no_actions',
    ]);
  });

  it('no impact', () => {
    const s = log()
      .add('incident.opened', '14:00', { title: 'x', severity: 'sev3', zone: 'UTC' })
      .add('incident.detected', '14:00', {})
      .add('root_cause.set', '14:10', { text: 'cert expired' })
      .add('action.added', '14:11', { text: 'a', owner: BOB, due: '2025-04-01' })
      .add('resolved', '14:20', {})
      .state();
    const f = reviewDraft(s);
    expect(f.map((x) => x.code)).toEqual(['no_impact']);
    expect(f[0].message).toContain('/incident impact');
  });

  it('a stated root cause counts; a ruled-out hypothesis does not', () => {
    const base = () =>
      log()
        .add('incident.opened', '14:00', { title: 'x', severity: 'sev3', zone: 'UTC' })
        .add('incident.detected', '14:00', {})
        .add('hypothesis.raised', '14:05', { text: 'h' })
        .add('hypothesis.ruled_out', '14:06', { hypothesis: 'H1', evidence: 'no' });
    expect(codes(base().state())).toContain('no_root_cause');
    expect(codes(base().add('root_cause.set', '14:07', { text: 'rc' }).state())).not.toContain(
      'no_root_cause',
    );
  });

  it('lists the hypotheses still open', () => {
    const s = complete()
      .add('hypothesis.raised', '14:55', { text: 'third' })
      .add('hypothesis.raised', '14:56', { text: 'fourth' })
      .state();
    const f = reviewDraft(s);
    expect(f).toEqual([
      {
        code: 'open_hypotheses',
        message: 'Hypotheses still open: H3, H4 — confirm or rule them out.',
      },
    ]);
  });

  it('lists action items without owner or due date (done ones excepted)', () => {
    const s = complete()
      .add('action.added', '14:51', { text: 'no owner', due: '2025-04-01' })
      .add('action.added', '14:52', { text: 'no due', owner: BOB })
      .add('action.added', '14:53', { text: 'neither' })
      .add('action.added', '14:54', { text: 'done already' })
      .add('action.completed', '14:55', { action: 'A5' })
      .state();
    const f = reviewDraft(s);
    expect(f).toEqual([
      {
        code: 'actions_incomplete',
        message:
          'Action items without an owner or a due date: A2 (no owner), A3 (no due date), A4 (no owner and due date).',
      },
    ]);
  });

  it('no action items at all', () => {
    const s = log()
      .add('incident.opened', '14:00', { title: 'x', severity: 'sev3', zone: 'UTC' })
      .add('incident.detected', '14:00', {})
      .add('impact.set', '14:01', { text: 'i' })
      .add('root_cause.set', '14:02', { text: 'rc' })
      .state();
    expect(codes(s)).toEqual(['no_actions']);
  });

  it('a sev1/sev2 without escalation, including one downgraded later', () => {
    const s = log()
      .add('incident.opened', '14:00', { title: 'x', severity: 'sev1', zone: 'UTC' })
      .add('incident.detected', '14:00', {})
      .add('severity.changed', '14:10', { severity: 'sev3' })
      .state();
    const f = reviewDraft(s).find((x) => x.code === 'no_escalation');
    expect(f?.message).toContain('SEV1 without any escalation');
    // A sev3 all along needs none.
    expect(codes(complete().state())).not.toContain('no_escalation');
  });

  it('a timeline gap longer than the threshold, saying where', () => {
    const s = log()
      .add('incident.opened', '14:00', {
        title: 'x',
        severity: 'sev3',
        zone: 'America/Los_Angeles',
      })
      .add('incident.detected', '14:00', {})
      .add('timeline.entry', '14:20', { text: 'a' })
      .add('timeline.entry', '15:05', { text: 'b' })
      .add('resolved', '16:00', {})
      .state();
    const f = reviewDraft(s).find((x) => x.code === 'timeline_gap');
    // In the incident's zone: 14:20 UTC = 07:20 PDT.
    expect(f?.message).toBe(
      'The timeline has 2 gaps longer than 30 minutes between 07:20 PDT and 08:05 PDT (45 minutes); between 08:05 PDT and 09:00 PDT (55 minutes): what happened then?',
    );
    expect(codes(s, 60)).not.toContain('timeline_gap');
    expect(codes(s, 50)).toContain('timeline_gap');
  });

  it('gaps: only between detection and resolution; none without detection', () => {
    const s = log()
      .add('incident.opened', '10:00', { title: 'x', severity: 'sev3', zone: 'UTC' })
      .add('impact.set', '10:01', { text: 'i', startedAt: '2025-03-11T08:00:00.000Z' })
      .add('incident.detected', '12:00', {})
      .add('resolved', '12:20', {})
      .add('timeline.entry', '13:30', { text: 'follow-up after resolution' })
      .state();
    expect(timelineGaps(s, 30)).toEqual([]);
    const noDetection = log()
      .add('incident.opened', '10:00', { title: 'x', severity: 'sev3', zone: 'UTC' })
      .add('timeline.entry', '13:30', { text: 'x' })
      .state();
    noDetection.detectedAt = undefined;
    expect(timelineGaps(noDetection, 30)).toEqual([]);
  });

  it('shows dates when a gap spans days', () => {
    const s = log()
      .add('incident.opened', '23:00', { title: 'x', severity: 'sev3', zone: 'UTC' })
      .add('incident.detected', '23:00', {})
      .add('resolved', '2025-03-12T00:10', {})
      .state();
    const f = reviewDraft(s).find((x) => x.code === 'timeline_gap');
    expect(f?.message).toContain(
      'between 2025-03-11 23:00 UTC and 2025-03-12 00:10 UTC (1 hour, 10 minutes)',
    );
  });
});
