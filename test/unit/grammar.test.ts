import { DateTime } from 'luxon';
import {
  checkLength,
  echoTime,
  firstWord,
  incidentZone,
  inputZone,
  parseActionId,
  parseHypothesisId,
  parseSeverity,
  requireText,
  SLACK_TEXT_LIMIT,
  takeDue,
  takeHypothesisId,
  takeLeading,
  takeUserMention,
  type GrammarContext,
} from '../../src/slack/grammar';
import { UsageError } from '../../src/slack/ports';
import type { Incident } from '../../src/app/service';

// 2025-03-11 21:30 UTC = 14:30 PDT = 21:30 GMT (London still on GMT).
const NOW = DateTime.fromISO('2025-03-11T21:30:00Z', { zone: 'utc' });

function gctx(
  opts: { tz?: string; incidentZone?: string; defaultZone?: string } = {},
): GrammarContext {
  return {
    now: NOW,
    user: { id: 'U_ALICE', name: 'Alice', ...(opts.tz ? { tz: opts.tz } : {}) },
    incident: opts.incidentZone
      ? ({ state: { zone: opts.incidentZone } } as unknown as Incident)
      : undefined,
    settings: {
      channelPrefix: 'inc',
      defaultZone: opts.defaultZone ?? 'UTC',
      template: 'default',
    },
  };
}

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error('expected a UsageError');
}

describe('takeLeading', () => {
  it('takes nothing from plain text', () => {
    const r = takeLeading('  checkout errors spiking ', gctx());
    expect(r).toEqual({ rest: 'checkout errors spiking' });
  });

  it('reads a bare time in the user’s Slack zone', () => {
    const r = takeLeading(
      '14:20 we suspected the payment API',
      gctx({ tz: 'America/Los_Angeles' }),
    );
    expect(r.time?.toISO()).toBe('2025-03-11T21:20:00.000Z');
    expect(r.zone).toBe('America/Los_Angeles');
    expect(r.representativeZone).toBeUndefined();
    expect(r.timeText).toBe('14:20');
    expect(r.rest).toBe('we suspected the payment API');
    expect(r.time?.zoneName).toBe('UTC');
  });

  it('falls back to the incident’s zone, then the default zone', () => {
    const inc = takeLeading(
      '14:20 x',
      gctx({ incidentZone: 'Europe/London', defaultZone: 'Asia/Tokyo' }),
    );
    expect(inc.time?.toISO()).toBe('2025-03-11T14:20:00.000Z');
    const def = takeLeading('14:20 x', gctx({ defaultZone: 'America/New_York' }));
    // 14:20 EDT (DST began 2025-03-09) = 18:20 UTC.
    expect(def.time?.toISO()).toBe('2025-03-11T18:20:00.000Z');
  });

  it('lets a zone typed with the time win, and reports its representative zone', () => {
    const r = takeLeading('2:20pm PDT deploy started', gctx({ tz: 'Europe/London' }));
    expect(r.time?.toISO()).toBe('2025-03-11T21:20:00.000Z');
    expect(r.representativeZone).toBe('America/Los_Angeles');
    expect(r.rest).toBe('deploy started');
    const iana = takeLeading('2025-03-11 09:00 Europe/London: first alert', gctx());
    expect(iana.time?.toISO()).toBe('2025-03-11T09:00:00.000Z');
    expect(iana.representativeZone).toBe('Europe/London');
    expect(iana.rest).toBe('first alert');
  });

  it('takes a severity and a time in any order, case-insensitively', () => {
    const a = takeLeading('sev2 13:55 UTC Checkout down', gctx(), { severity: true });
    const b = takeLeading('13:55 UTC SEV2 Checkout down', gctx(), { severity: true });
    for (const r of [a, b]) {
      expect(r.severity).toBe('sev2');
      expect(r.time?.toISO()).toBe('2025-03-11T13:55:00.000Z');
      expect(r.rest).toBe('Checkout down');
    }
    expect(takeLeading('Sev4 typo on page', gctx(), { severity: true })).toEqual({
      severity: 'sev4',
      rest: 'typo on page',
    });
  });

  it('does not take a severity where the command does not allow one, or inside a word', () => {
    expect(takeLeading('sev1 was declared', gctx()).severity).toBeUndefined();
    expect(takeLeading('sev12 x', gctx(), { severity: true }).severity).toBeUndefined();
    expect(takeLeading('sev5 x', gctx(), { severity: true }).severity).toBeUndefined();
    expect(takeLeading('severe outage', gctx(), { severity: true }).rest).toBe('severe outage');
  });

  it('does not mistake numbers in the text for times', () => {
    for (const t of ['500 errors on checkout', '2 pods crashlooping', '3x latency']) {
      const r = takeLeading(t, gctx());
      expect(r.time).toBeUndefined();
      expect(r.rest).toBe(t);
    }
  });

  it('refuses a time in the future, saying so', () => {
    const e = usageError(() =>
      takeLeading('2025-03-12 09:00 UTC deploy', gctx(), { usage: 'log [time] <text>' }),
    );
    expect(e.message).toMatch(/in the future/);
    expect(e.usage).toBe('log [time] <text>');
  });

  it('refuses an unreadable time, saying so', () => {
    const e = usageError(() => takeLeading('25:99 something', gctx()));
    expect(e.message).toMatch(/couldn't read that time/i);
    expect(e.message).toMatch(/hour/);
    expect(usageError(() => takeLeading('2025-02-30 10:00 x', gctx())).message).toMatch(/date/);
    expect(usageError(() => takeLeading('13pm x', gctx())).message).toMatch(/am\/pm/);
  });

  it('refuses a second severity', () => {
    expect(
      usageError(() => takeLeading('sev1 sev2 x', gctx(), { severity: true })).message,
    ).toMatch(/only once/);
  });

  it('can be told not to take a time', () => {
    expect(takeLeading('14:20 x', gctx(), { time: false }).rest).toBe('14:20 x');
  });
});

describe('zones', () => {
  it('input zone: user tz, incident zone, default, else UTC', () => {
    expect(inputZone(gctx({ tz: 'Asia/Kolkata', incidentZone: 'Europe/London' }))).toBe(
      'Asia/Kolkata',
    );
    expect(inputZone(gctx({ incidentZone: 'Europe/London', defaultZone: 'Asia/Tokyo' }))).toBe(
      'Europe/London',
    );
    expect(inputZone(gctx({ defaultZone: 'Asia/Tokyo' }))).toBe('Asia/Tokyo');
    expect(inputZone(gctx({ tz: 'Not/AZone', defaultZone: 'nope' }))).toBe('UTC');
  });

  it('incident zone ignores the user', () => {
    expect(incidentZone(gctx({ tz: 'Asia/Kolkata', incidentZone: 'Europe/London' }))).toBe(
      'Europe/London',
    );
    expect(incidentZone(gctx({ tz: 'Asia/Kolkata', defaultZone: 'America/Chicago' }))).toBe(
      'America/Chicago',
    );
  });

  it('echoes a time in the given zone, with the date when not today there', () => {
    const t = DateTime.fromISO('2025-03-11T21:20:00Z', { zone: 'utc' });
    expect(echoTime(t, 'America/Los_Angeles', NOW)).toBe('14:20 PDT');
    expect(echoTime(t, 'UTC', NOW)).toBe('21:20 UTC');
    const yesterday = t.minus({ days: 1 });
    expect(echoTime(yesterday, 'America/Los_Angeles', NOW)).toBe('2025-03-10 14:20 PDT');
  });
});

describe('ids, mentions, due dates, severities', () => {
  it('parses hypothesis and action ids', () => {
    expect(parseHypothesisId('h2')).toBe('H2');
    expect(parseHypothesisId('H10')).toBe('H10');
    expect(parseHypothesisId('H0')).toBeUndefined();
    expect(parseHypothesisId('HX')).toBeUndefined();
    expect(parseHypothesisId('2')).toBeUndefined();
    expect(parseActionId('a3')).toBe('A3');
    expect(parseActionId('H3')).toBeUndefined();
  });

  it('takes a leading hypothesis id or says which is missing', () => {
    expect(takeHypothesisId('h1 14:20 disk at 41%', 'u')).toEqual({
      id: 'H1',
      rest: '14:20 disk at 41%',
    });
    expect(takeHypothesisId('H2: because', 'u')).toEqual({ id: 'H2', rest: 'because' });
    expect(usageError(() => takeHypothesisId('', 'u')).message).toMatch(/Which hypothesis/);
    expect(usageError(() => takeHypothesisId('disk full', 'u')).message).toMatch(
      /"disk" is not a hypothesis id/,
    );
  });

  it('takes a leading user mention, with or without a label', () => {
    expect(takeUserMention('<@U123|bob> fix it')).toEqual({
      user: { id: 'U123', label: 'bob' },
      rest: 'fix it',
    });
    expect(takeUserMention('<@W9> x')).toEqual({ user: { id: 'W9' }, rest: 'x' });
    expect(takeUserMention('@bob x')).toEqual({ rest: '@bob x' });
    expect(takeUserMention('<!subteam^S1|@sre> x').user).toBeUndefined();
  });

  it('takes `due YYYY-MM-DD` and refuses dates that are not', () => {
    expect(takeDue('due 2025-04-01 add alerting')).toEqual({
      due: '2025-04-01',
      rest: 'add alerting',
    });
    expect(takeDue('DUE 2025-04-01, x')).toEqual({ due: '2025-04-01', rest: 'x' });
    expect(takeDue('add alerting due 2025-04-01')).toEqual({ rest: 'add alerting due 2025-04-01' });
    expect(usageError(() => takeDue('due 2025-02-30 x')).message).toMatch(/YYYY-MM-DD/);
    expect(usageError(() => takeDue('due 04/01 x')).message).toMatch(/"04\/01" is not a due date/);
    // "due to …" is ordinary text, not a due date.
    expect(takeDue('due to the outage, add alerting')).toEqual({
      rest: 'due to the outage, add alerting',
    });
  });

  it('parses severities and splits words', () => {
    expect(parseSeverity('SEV1')).toBe('sev1');
    expect(parseSeverity('sev9')).toBeUndefined();
    expect(firstWord('  commander  <@U1> ')).toEqual({ word: 'commander', rest: '<@U1>' });
    expect(firstWord('')).toEqual({ word: '', rest: '' });
  });
});

describe('text length and required text', () => {
  it('accepts text up to Slack’s limit and refuses longer text without truncating', () => {
    const ok = 'x'.repeat(SLACK_TEXT_LIMIT);
    expect(checkLength(ok, 'the entry')).toBe(ok);
    const e = usageError(() =>
      checkLength('x'.repeat(SLACK_TEXT_LIMIT + 1), 'the entry', 'log [time] <text>'),
    );
    expect(e.message).toBe(
      `The entry is 3001 characters; Slack's limit is 3000. Shorten it or split it into several entries.`,
    );
    expect(e.usage).toBe('log [time] <text>');
  });

  it('requires text, decoded to names and plain characters', () => {
    expect(usageError(() => requireText('   ', 'the entry text', 'u')).message).toBe(
      'Missing the entry text.',
    );
    expect(requireText(' <@U1|bob> says a &lt; b ', 'x', 'u', new Map([['U1', 'Bob Ng']]))).toBe(
      '@Bob Ng says a < b',
    );
  });

  it('measures the length after decoding', () => {
    // 2999 characters plus "&amp;" (5 raw, 1 decoded) = 3000 decoded: accepted.
    const raw = `${'y'.repeat(2999)}&amp;`;
    expect(requireText(raw, 'the entry', 'u')).toHaveLength(3000);
  });
});
