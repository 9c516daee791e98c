import { computeAnalytics, firstCorrectHypothesis, longestGap } from '../../src/core/analytics';
import { IncidentBuilder, queueBacklogIncident } from '../helpers/incidentBuilder';

const MIN = 60_000;

describe('computeAnalytics on a full incident', () => {
  const s = queueBacklogIncident().incident().state;
  const a = computeAnalytics(s);

  it('counts hypotheses by outcome', () => {
    expect(a.hypotheses).toEqual({ raised: 4, ruledOut: 2, confirmed: 1, open: 1 });
  });

  it('time to first correct hypothesis: raised (earliest confirmed) − detected', () => {
    expect(a.timeToFirstCorrectHypothesis).toEqual({
      key: 'time_to_first_correct_hypothesis',
      name: 'Time to first correct hypothesis',
      formula: 'raised (earliest confirmed hypothesis) − detected',
      ms: 41 * MIN, // H3 raised 14:41, detected 14:00
    });
  });

  it('time on misleading paths: Σ (ruled out − raised), and its share of the duration', () => {
    expect(a.timeOnMisleadingPaths.ms).toBe((15 + 20) * MIN); // H1 14:09→14:24, H2 14:18→14:38
    expect(a.timeOnMisleadingPaths.formula).toBe(
      'Σ (ruled out − raised) over ruled-out hypotheses',
    );
    // Duration 13:41 (impact start) → 15:36 = 115 minutes.
    expect(a.misleadingShare.ratio).toBeCloseTo(35 / 115, 10);
    expect(a.misleadingShare.missing).toBeUndefined();
  });

  it('time to first escalation: first escalation − detected', () => {
    expect(a.timeToFirstEscalation.ms).toBe(31 * MIN);
    expect(a.timeToFirstEscalation.formula).toBe('first escalation − detected');
  });

  it('finds the longest gap between detection and resolution, and where it was', () => {
    const g = a.longestGap;
    expect(g.ms).toBe(24 * MIN);
    expect(g.from?.toISO()).toBe('2025-03-11T15:10:00.000Z');
    expect(g.to?.toISO()).toBe('2025-03-11T15:34:00.000Z');
    expect(g.after?.text).toBe('Status changed to monitoring');
    expect(g.before?.text).toBe('Queue depth back under 1k; confirmations flowing normally');
  });
});

describe('missing facts give reasons, not numbers', () => {
  it('for an incident with nothing but an opening', () => {
    const s = new IncidentBuilder().opened('10:00', 'x').incident().state;
    const a = computeAnalytics(s);
    expect(a.hypotheses).toEqual({ raised: 0, ruledOut: 0, confirmed: 0, open: 0 });
    expect(a.timeToFirstCorrectHypothesis).toMatchObject({
      missing: 'no hypothesis confirmed yet',
    });
    expect(a.timeToFirstCorrectHypothesis.ms).toBeUndefined();
    expect(a.timeOnMisleadingPaths.ms).toBe(0);
    expect(a.misleadingShare).toMatchObject({ missing: 'not resolved yet' });
    expect(a.misleadingShare.ratio).toBeUndefined();
    expect(a.timeToFirstEscalation).toMatchObject({ missing: 'no escalation recorded' });
    expect(a.longestGap).toMatchObject({ missing: 'no detection time' });
    expect(a.longestGap.ms).toBeUndefined();
  });

  it('when the root cause is confirmed but the incident is not resolved', () => {
    const s = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .hypothesis('10:05', 'a')
      .confirm('H1', '10:20')
      .incident().state;
    const a = computeAnalytics(s);
    expect(a.timeToFirstCorrectHypothesis.ms).toBe(5 * MIN);
    expect(a.longestGap.missing).toBe('not resolved yet');
    expect(a.misleadingShare.missing).toBe('not resolved yet');
  });

  it('when there is no detection time', () => {
    const s = new IncidentBuilder()
      .opened('10:00', 'x')
      .hypothesis('10:05', 'a')
      .confirm('H1', '10:20')
      .escalate('10:06', 'db team')
      .incident().state;
    // The fold has no detection without an incident.detected event.
    expect(s.detectedAt).toBeUndefined();
    const a = computeAnalytics(s);
    expect(a.timeToFirstCorrectHypothesis.missing).toBe('no detection time');
    expect(a.timeToFirstEscalation.missing).toBe('no detection time');
  });
});

describe('edge cases', () => {
  it('uses the earliest-raised confirmed hypothesis, and clamps one raised before detection', () => {
    const b = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .hypothesis('10:30', 'late but confirmed first')
      .hypothesis('09:50', 'raised before detection (backdated)')
      .confirm('H1', '10:35')
      .confirm('H2', '10:40');
    const s = b.incident().state;
    expect(firstCorrectHypothesis(s)?.id).toBe('H2');
    expect(computeAnalytics(s).timeToFirstCorrectHypothesis.ms).toBe(0);
  });

  it('overlapping misleading paths can exceed 100% of the duration', () => {
    const s = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .hypothesis('10:00', 'a')
      .hypothesis('10:00', 'b')
      .ruleOut('H1', '10:50', 'no')
      .ruleOut('H2', '10:50', 'no')
      .resolve('11:00')
      .incident().state;
    const a = computeAnalytics(s);
    expect(a.timeOnMisleadingPaths.ms).toBe(100 * MIN);
    expect(a.misleadingShare.ratio).toBeCloseTo(100 / 60, 10);
  });

  it('a zero-length incident has no share', () => {
    const s = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .resolve('10:00')
      .incident().state;
    expect(computeAnalytics(s).misleadingShare.missing).toBe('the incident lasted no time');
  });

  it('a gap may start at detection and end at resolution; entries outside are ignored', () => {
    const s = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .log('09:00', 'before detection')
      .log('10:05', 'first')
      .log('10:10', 'second')
      .resolve('11:00')
      .log('12:00', 'after resolution')
      .incident().state;
    const g = longestGap(s);
    expect(g.ms).toBe(50 * MIN);
    expect(g.after?.text).toBe('second');
    expect(g.before).toBeUndefined(); // resolution itself

    const early = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .log('10:40', 'only entry')
      .resolve('10:45')
      .incident().state;
    const g2 = longestGap(early);
    expect(g2.ms).toBe(40 * MIN);
    expect(g2.after).toBeUndefined(); // detection itself
    expect(g2.before?.text).toBe('only entry');
    expect(g2.from?.toISO()).toBe('2025-03-11T10:00:00.000Z');
  });

  it('resolution no later than detection has no gap', () => {
    const s = new IncidentBuilder()
      .opened('10:00', 'x')
      .detected('10:00')
      .resolve('09:59')
      .incident().state;
    expect(longestGap(s).missing).toBe('resolved no later than detected');
  });
});
