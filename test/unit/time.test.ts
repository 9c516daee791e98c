import { DateTime } from 'luxon';
import {
  formatClock,
  formatDateTime,
  isValidZone,
  parseTime,
  resolveZone,
  takeLeadingTime,
  zoneAbbreviation,
  type TimeOptions,
  type TimeParse,
} from '../../src/core/time';

const utc = (iso: string) => DateTime.fromISO(iso, { zone: 'UTC' });
/** Now: Friday 2025-02-28 14:05 UTC. */
const NOW = utc('2025-02-28T14:05:00Z');
const opts = (over: Partial<TimeOptions> = {}): TimeOptions => ({
  now: NOW,
  defaultZone: 'UTC',
  ...over,
});

function ok(r: TimeParse): Extract<TimeParse, { ok: true }> {
  if (!r.ok) throw new Error(`expected ok, got error: ${r.error.message}`);
  return r;
}
function err(r: TimeParse) {
  if (r.ok) throw new Error(`expected error, got ${r.time.toISO()}`);
  return r.error;
}
const iso = (r: TimeParse) => ok(r).time.toISO();

describe('parseTime: clock syntaxes (no date)', () => {
  it.each([
    ['14:20', '2025-02-27T14:20:00.000Z'], // later than now -> yesterday
    ['13:50', '2025-02-28T13:50:00.000Z'],
    ['9:05', '2025-02-28T09:05:00.000Z'],
    ['09:05', '2025-02-28T09:05:00.000Z'],
    ['0:00', '2025-02-28T00:00:00.000Z'],
    ['13:50:30', '2025-02-28T13:50:30.000Z'],
    ['2:20pm', '2025-02-27T14:20:00.000Z'],
    ['1:20pm', '2025-02-28T13:20:00.000Z'],
    ['1:20 PM', '2025-02-28T13:20:00.000Z'],
    ['1:20PM', '2025-02-28T13:20:00.000Z'],
    ['1:20 p.m.', '2025-02-28T13:20:00.000Z'],
    ['9:15am', '2025-02-28T09:15:00.000Z'],
    ['9:15 AM', '2025-02-28T09:15:00.000Z'],
    ['2pm', '2025-02-28T14:00:00.000Z'],
    ['2 pm', '2025-02-28T14:00:00.000Z'],
    ['2 PM', '2025-02-28T14:00:00.000Z'],
    ['11am', '2025-02-28T11:00:00.000Z'],
    ['12am', '2025-02-28T00:00:00.000Z'],
    ['12:30am', '2025-02-28T00:30:00.000Z'],
    ['12pm', '2025-02-28T12:00:00.000Z'],
    ['12:45 pm', '2025-02-28T12:45:00.000Z'],
  ])('%s -> %s', (input, expected) => {
    const r = ok(parseTime(input, opts()));
    expect(r.time.toISO()).toBe(expected);
    expect(r.zone).toBe('UTC');
    expect(r.representativeZone).toBeUndefined();
    expect(r.text).toBe(input);
  });

  it('returns UTC DateTimes', () => {
    const r = ok(parseTime('9:05', opts({ defaultZone: 'Asia/Tokyo' })));
    expect(r.time.zoneName).toBe('UTC');
    expect(r.time.offset).toBe(0);
  });

  it('ignores surrounding whitespace and case', () => {
    expect(iso(parseTime('  2:20 Pm utc  ', opts()))).toBe('2025-02-27T14:20:00.000Z');
  });
});

describe('parseTime: dated syntaxes', () => {
  it.each([
    ['2025-02-27 14:20', '2025-02-27T14:20:00.000Z'],
    ['2025-02-27T14:20', '2025-02-27T14:20:00.000Z'],
    ['2025-02-27t14:20', '2025-02-27T14:20:00.000Z'],
    ['2025-02-27 14:20:15', '2025-02-27T14:20:15.000Z'],
    ['2025-02-27T14:20:15', '2025-02-27T14:20:15.000Z'],
    ['2025-02-27T14:20:15.250', '2025-02-27T14:20:15.000Z'],
    ['2025-02-27 2:20pm', '2025-02-27T14:20:00.000Z'],
    ['2025-02-27 2:20 PM', '2025-02-27T14:20:00.000Z'],
    ['2025-02-27 2pm', '2025-02-27T14:00:00.000Z'],
    ['2025-02-28 9:05', '2025-02-28T09:05:00.000Z'],
    ['2024-02-29 10:00', '2024-02-29T10:00:00.000Z'], // leap day
  ])('%s -> %s', (input, expected) => {
    expect(iso(parseTime(input, opts()))).toBe(expected);
  });

  it('reads a dated time in the default zone', () => {
    const r = ok(parseTime('2025-02-27 14:20', opts({ defaultZone: 'America/Los_Angeles' })));
    expect(r.time.toISO()).toBe('2025-02-27T22:20:00.000Z');
    expect(r.zone).toBe('America/Los_Angeles');
    expect(r.representativeZone).toBeUndefined();
  });
});

describe('parseTime: ISO 8601 with offset', () => {
  it('honours a numeric offset over the default zone', () => {
    const r = ok(parseTime('2025-02-28T14:20:00-08:00', opts({ now: utc('2025-03-01T00:00Z') })));
    expect(r.time.toISO()).toBe('2025-02-28T22:20:00.000Z');
    expect(r.zone).toBe('UTC-8');
    expect(r.representativeZone).toBeUndefined();
  });

  it.each([
    ['2025-02-28T22:20Z', '2025-02-28T22:20:00.000Z'],
    ['2025-02-28T22:20:00Z', '2025-02-28T22:20:00.000Z'],
    ['2025-02-28T22:20:00.123Z', '2025-02-28T22:20:00.000Z'],
    ['2025-02-28t22:20z', '2025-02-28T22:20:00.000Z'],
    ['2025-02-28T14:20:00+05:30', '2025-02-28T08:50:00.000Z'],
    ['2025-02-28T14:20+0530', '2025-02-28T08:50:00.000Z'],
    ['2025-02-28T14:20+01', '2025-02-28T13:20:00.000Z'],
  ])('%s -> %s', (input, expected) => {
    const now = utc('2025-03-01T00:00Z');
    expect(iso(parseTime(input, opts({ now, defaultZone: 'America/New_York' })))).toBe(expected);
  });

  it('Z suffix means UTC', () => {
    const r = ok(parseTime('2025-02-28T10:20Z', opts({ defaultZone: 'Asia/Tokyo' })));
    expect(r.zone).toBe('UTC');
    expect(r.representativeZone).toBe('UTC');
  });

  it('a zone token after an ISO offset gives the representative zone, the offset still wins', () => {
    const r = ok(parseTime('2025-02-28T05:20:00-08:00 America/Los_Angeles', opts()));
    expect(r.time.toISO()).toBe('2025-02-28T13:20:00.000Z');
    expect(r.zone).toBe('UTC-8');
    expect(r.representativeZone).toBe('America/Los_Angeles');
  });
});

describe('parseTime: zone tokens', () => {
  it.each([
    ['14:00 UTC', 'UTC', 'UTC', '2025-02-28T14:00:00.000Z'],
    ['14:00 utc', 'UTC', 'UTC', '2025-02-28T14:00:00.000Z'],
    ['14:00 Z', 'UTC', 'UTC', '2025-02-28T14:00:00.000Z'],
    ['14:00Z', 'UTC', 'UTC', '2025-02-28T14:00:00.000Z'],
    ['14:00 GMT', 'UTC', 'UTC', '2025-02-28T14:00:00.000Z'],
    ['14:00 UTC+2', 'UTC+2', 'Etc/GMT-2', '2025-02-28T12:00:00.000Z'],
    ['14:00 GMT-5', 'UTC-5', 'Etc/GMT+5', '2025-02-27T19:00:00.000Z'],
    ['14:00 UTC+5:30', 'UTC+5:30', 'UTC+5:30', '2025-02-28T08:30:00.000Z'],
  ])('%s', (input, zone, representative, expected) => {
    const r = ok(parseTime(input, opts({ defaultZone: 'Asia/Tokyo' })));
    expect(r.time.toISO()).toBe(expected);
    expect(r.zone).toBe(zone);
    expect(r.representativeZone).toBe(representative);
  });

  it.each([
    // Feb: LA is UTC-8, London UTC+0, Tokyo UTC+9, Kolkata UTC+5:30
    ['2025-02-27 14:20 America/Los_Angeles', 'America/Los_Angeles', '2025-02-27T22:20:00.000Z'],
    ['2025-02-27 14:20 Europe/London', 'Europe/London', '2025-02-27T14:20:00.000Z'],
    ['2025-02-27 14:20 Asia/Tokyo', 'Asia/Tokyo', '2025-02-27T05:20:00.000Z'],
    ['2025-02-27 14:20 Asia/Kolkata', 'Asia/Kolkata', '2025-02-27T08:50:00.000Z'],
    ['2025-02-27 14:20 america/los_angeles', 'America/Los_Angeles', '2025-02-27T22:20:00.000Z'],
    ['2025-02-27 2:20pm America/Los_Angeles', 'America/Los_Angeles', '2025-02-27T22:20:00.000Z'],
  ])('IANA: %s', (input, zone, expected) => {
    const r = ok(parseTime(input, opts()));
    expect(r.time.toISO()).toBe(expected);
    expect(r.zone).toBe(zone);
    expect(r.representativeZone).toBe(zone);
  });

  it('IANA zones follow DST (Europe/London in July is UTC+1)', () => {
    const now = utc('2025-07-20T00:00Z');
    expect(iso(parseTime('2025-07-15 14:20 Europe/London', opts({ now })))).toBe(
      '2025-07-15T13:20:00.000Z',
    );
  });

  it('an undated time with an explicit zone uses that zone for "most recent past"', () => {
    // now is 06:05 in LA (14:05Z); 07:00 LA today is in the future -> yesterday
    const r = ok(parseTime('7:00 America/Los_Angeles', opts()));
    expect(r.time.toISO()).toBe('2025-02-27T15:00:00.000Z');
    // 06:00 LA is 5 minutes ago
    expect(iso(parseTime('6:00 America/Los_Angeles', opts()))).toBe('2025-02-28T14:00:00.000Z');
  });

  it('an explicit zone token beats the default zone', () => {
    const r = ok(parseTime('13:00 UTC', opts({ defaultZone: 'America/Los_Angeles' })));
    expect(r.time.toISO()).toBe('2025-02-28T13:00:00.000Z');
  });
});

// Every abbreviation with one meaning, with its offset and representative zone written out
// independently (CST, IST and BST have several: ambiguousZones.test.ts).
const ABBR_TABLE: [string, string, string][] = [
  ['PST', '-08:00', 'America/Los_Angeles'],
  ['PDT', '-07:00', 'America/Los_Angeles'],
  ['MST', '-07:00', 'America/Denver'],
  ['MDT', '-06:00', 'America/Denver'],
  ['CDT', '-05:00', 'America/Chicago'],
  ['EST', '-05:00', 'America/New_York'],
  ['EDT', '-04:00', 'America/New_York'],
  ['AKST', '-09:00', 'America/Anchorage'],
  ['AKDT', '-08:00', 'America/Anchorage'],
  ['HST', '-10:00', 'Pacific/Honolulu'],
  ['GMT', '+00:00', 'UTC'],
  ['UTC', '+00:00', 'UTC'],
  ['WET', '+00:00', 'Europe/Lisbon'],
  ['WEST', '+01:00', 'Europe/Lisbon'],
  ['CET', '+01:00', 'Europe/Paris'],
  ['CEST', '+02:00', 'Europe/Paris'],
  ['EET', '+02:00', 'Europe/Athens'],
  ['EEST', '+03:00', 'Europe/Athens'],
  ['MSK', '+03:00', 'Europe/Moscow'],
  ['SGT', '+08:00', 'Asia/Singapore'],
  ['HKT', '+08:00', 'Asia/Hong_Kong'],
  ['JST', '+09:00', 'Asia/Tokyo'],
  ['KST', '+09:00', 'Asia/Seoul'],
  ['AEST', '+10:00', 'Australia/Sydney'],
  ['AEDT', '+11:00', 'Australia/Sydney'],
  ['ACST', '+09:30', 'Australia/Adelaide'],
  ['AWST', '+08:00', 'Australia/Perth'],
  ['NZST', '+12:00', 'Pacific/Auckland'],
  ['NZDT', '+13:00', 'Pacific/Auckland'],
];

describe('parseTime: abbreviations are read at exactly their offset', () => {
  // July: many of these are "out of season" (PST in July) and must still use the written offset.
  const now = utc('2025-07-16T12:00:00Z');

  it.each(ABBR_TABLE)('12:00 %s (offset %s, representative %s)', (abbr, offset, rep) => {
    const r = ok(parseTime(`12:00 ${abbr}`, opts({ now, defaultZone: 'Asia/Tokyo' })));
    // Most recent past 12:00 at that offset: today (in that offset) or the day before.
    const localDate = now.setZone(`UTC${offset}`).toISODate();
    let expected = DateTime.fromISO(`${localDate}T12:00:00${offset}`);
    if (expected > now) expected = expected.minus({ days: 1 });
    expect(r.time.toMillis()).toBe(expected.toMillis());
    expect(r.time.setZone(`UTC${offset}`).toFormat('HH:mm')).toBe('12:00');
    expect(r.representativeZone).toBe(rep);
    expect(r.time.zoneName).toBe('UTC');
  });

  it.each(ABBR_TABLE)('2025-07-10 12:00 %s', (abbr, offset) => {
    const r = ok(parseTime(`2025-07-10 12:00 ${abbr}`, opts({ now })));
    expect(r.time.toMillis()).toBe(DateTime.fromISO(`2025-07-10T12:00:00${offset}`).toMillis());
  });

  it('abbreviations are case-insensitive', () => {
    expect(iso(parseTime('2025-07-10 12:00 pdt', opts({ now })))).toBe('2025-07-10T19:00:00.000Z');
  });

  it('14:20 PST in July is still UTC-8 (honour what the user wrote)', () => {
    const r = ok(parseTime('2025-07-10 14:20 PST', opts({ now })));
    expect(r.time.toISO()).toBe('2025-07-10T22:20:00.000Z');
    expect(r.zone).toBe('UTC-8');
    expect(r.representativeZone).toBe('America/Los_Angeles');
  });

  it('IST is India (+5:30) for a user in India', () => {
    const r = ok(parseTime('2025-07-10 09:05 IST', opts({ now, userZone: 'Asia/Kolkata' })));
    expect(r.time.toISO()).toBe('2025-07-10T03:35:00.000Z');
    expect(r.zone).toBe('UTC+5:30');
    expect(r.representativeZone).toBe('Asia/Kolkata');
  });
});

describe('parseTime: default zone and most-recent-past rule', () => {
  it('reads undated times in the default zone', () => {
    // 14:05Z = 06:05 PST on 2025-02-28
    const r = ok(parseTime('5:30', opts({ defaultZone: 'America/Los_Angeles' })));
    expect(r.time.toISO()).toBe('2025-02-28T13:30:00.000Z');
    expect(r.zone).toBe('America/Los_Angeles');
    expect(r.representativeZone).toBeUndefined();
  });

  it('a time later than now (in the applicable zone) is yesterday', () => {
    const r = ok(parseTime('23:00', opts({ defaultZone: 'America/Los_Angeles' })));
    // now is 06:05 PST on the 28th: 23:00 is 23:00 PST on the 27th
    expect(r.time.toISO()).toBe('2025-02-28T07:00:00.000Z');
  });

  it('uses the local date of the zone, not the UTC date', () => {
    // 14:05Z is 23:05 on 2025-02-28 in Tokyo; 23:00 Tokyo is 5 minutes ago
    expect(iso(parseTime('23:00', opts({ defaultZone: 'Asia/Tokyo' })))).toBe(
      '2025-02-28T14:00:00.000Z',
    );
    // 23:10 Tokyo is in 5 minutes -> the day before
    expect(iso(parseTime('23:10', opts({ defaultZone: 'Asia/Tokyo' })))).toBe(
      '2025-02-27T14:10:00.000Z',
    );
  });

  it('crosses month and year boundaries', () => {
    const now = utc('2025-01-01T00:10:00Z');
    expect(iso(parseTime('23:50', opts({ now })))).toBe('2024-12-31T23:50:00.000Z');
  });

  it('now itself is today', () => {
    expect(iso(parseTime('14:05', opts()))).toBe('2025-02-28T14:05:00.000Z');
  });

  it('refuses an invalid default zone', () => {
    const e = err(parseTime('14:05', opts({ defaultZone: 'Mars/Olympus' })));
    expect(e.kind).toBe('invalid');
    expect(e.message).toContain('Mars/Olympus');
  });
});

describe('parseTime: clock skew', () => {
  const now = utc('2025-02-28T14:19:30Z');

  it('a bare 14:20 typed at 14:19:30 is today', () => {
    expect(iso(parseTime('14:20', opts({ now })))).toBe('2025-02-28T14:20:00.000Z');
  });

  it('beyond the skew it is yesterday', () => {
    expect(iso(parseTime('14:21', opts({ now })))).toBe('2025-02-27T14:21:00.000Z');
  });

  it('skew is configurable', () => {
    expect(iso(parseTime('14:20', opts({ now, skewMs: 0 })))).toBe('2025-02-27T14:20:00.000Z');
    expect(iso(parseTime('14:25', opts({ now, skewMs: 10 * 60_000 })))).toBe(
      '2025-02-28T14:25:00.000Z',
    );
  });

  it('a dated time within the skew is accepted', () => {
    expect(iso(parseTime('2025-02-28 14:20', opts({ now })))).toBe('2025-02-28T14:20:00.000Z');
    expect(iso(parseTime('2025-02-28T14:20:00Z', opts({ now })))).toBe('2025-02-28T14:20:00.000Z');
  });

  it('a dated time beyond the skew is in the future', () => {
    const e = err(parseTime('2025-02-28 14:21', opts({ now })));
    expect(e.kind).toBe('future');
  });
});

describe('parseTime: future refusal', () => {
  it('shows what it understood and the current time', () => {
    const e = err(parseTime('2099-01-01 10:00 UTC', opts()));
    expect(e.kind).toBe('future');
    expect(e.message).toBe('2099-01-01 10:00 UTC is in the future (it is now 14:05 UTC).');
  });

  it('uses the zone the time was read in', () => {
    const e = err(parseTime('2025-02-28 10:00', opts({ defaultZone: 'America/Los_Angeles' })));
    expect(e.kind).toBe('future');
    expect(e.message).toBe('2025-02-28 10:00 PST is in the future (it is now 06:05 PST).');
  });

  it('shows the abbreviation the user typed', () => {
    const e = err(parseTime('2025-02-28 10:00 PDT', opts()));
    expect(e.message).toBe('2025-02-28 10:00 PDT is in the future (it is now 07:05 PDT).');
  });

  it('refuses future ISO times', () => {
    const e = err(parseTime('2025-03-01T00:00:00Z', opts()));
    expect(e.kind).toBe('future');
    expect(e.message).toContain('in the future');
    expect(e.message).toContain('2025-03-01 00:00');
  });

  it('refuses tomorrow', () => {
    const e = err(parseTime('2025-03-01 09:00', opts()));
    expect(e.kind).toBe('future');
    expect(e.message).toContain('in the future');
  });
});

describe('parseTime: invalid input', () => {
  it.each([
    ['25:00', 'hour must be 0–23'],
    ['24:00', 'hour must be 0–23'],
    ['14:61', 'minutes must be 00–59'],
    ['14:20:75', 'seconds must be 00–59'],
    ['13:00pm', 'hour must be 1–12'],
    ['0:30am', 'hour must be 1–12'],
    ['13pm', 'hour must be 1–12'],
    ['2025-02-30 10:00', 'not a valid date'],
    ['2025-13-01 10:00', 'not a valid date'],
    ['2025-02-28 25:00', 'hour must be 0–23'],
    ['2025-02-28T25:00Z', 'hour must be 0–23'],
    ['2025-02-28T10:00+15:00', 'invalid UTC offset'],
  ])('%s', (input, fragment) => {
    const e = err(parseTime(input, opts()));
    expect(e.kind).toBe('invalid');
    expect(e.message).toContain(fragment);
    expect(e.message).toContain(input);
  });

  it.each(['', '   ', 'yesterday', 'noon', '1420', '14.20', '2025-02-28', '500', 'foo 14:20'])(
    'not a time: %j',
    (input) => {
      const e = err(parseTime(input, opts()));
      expect(e.kind).toBe('invalid');
      expect(e.message).toMatch(/time/i);
    },
  );

  it('names an unknown zone', () => {
    const e = err(parseTime('14:20 XYZ', opts()));
    expect(e.kind).toBe('invalid');
    expect(e.message).toContain('time zone “XYZ”');
  });

  it('does not blame the zone when a known zone was given', () => {
    const e = err(parseTime('14:20 America/Los_Angeles extra', opts()));
    expect(e.message).not.toContain('time zone “extra”');
    expect(e.message).toContain('unexpected “extra”');
  });

  it('refuses trailing words', () => {
    const e = err(parseTime('14:20 UTC and more', opts()));
    expect(e.kind).toBe('invalid');
    expect(e.message).toContain('and more');
  });
});

describe('DST in America/New_York', () => {
  const NY = 'America/New_York';

  it('fall-back night: 00:30 EDT to 01:30 EST is 2 hours of real time', () => {
    const now = utc('2025-11-02T12:00:00Z');
    const detected = ok(parseTime('2025-11-02 00:30 EDT', opts({ now })));
    const resolved = ok(parseTime('2025-11-02 01:30 EST', opts({ now })));
    expect(detected.time.toISO()).toBe('2025-11-02T04:30:00.000Z');
    expect(resolved.time.toISO()).toBe('2025-11-02T06:30:00.000Z');
    expect(resolved.time.diff(detected.time).as('hours')).toBe(2);
  });

  it('fall-back night in the default zone: same 2 hours (ambiguous 01:30 is the later one)', () => {
    const now = utc('2025-11-02T12:00:00Z');
    const detected = ok(parseTime('2025-11-02 00:30', opts({ now, defaultZone: NY })));
    const resolved = ok(parseTime('2025-11-02 01:30', opts({ now, defaultZone: NY })));
    expect(resolved.time.diff(detected.time).as('hours')).toBe(2);
  });

  it('an ambiguous 01:30 resolves to the most recent past instant', () => {
    // At 01:45 EST (06:45Z) both 01:30 EDT (05:30Z) and 01:30 EST (06:30Z) are past: the later.
    expect(iso(parseTime('1:30', opts({ now: utc('2025-11-02T06:45Z'), defaultZone: NY })))).toBe(
      '2025-11-02T06:30:00.000Z',
    );
    // At 01:05 EST (06:05Z) only 01:30 EDT has happened.
    expect(iso(parseTime('1:30', opts({ now: utc('2025-11-02T06:05Z'), defaultZone: NY })))).toBe(
      '2025-11-02T05:30:00.000Z',
    );
    // At 01:45 EDT (05:45Z), the first 01:30 is past.
    expect(iso(parseTime('1:30', opts({ now: utc('2025-11-02T05:45Z'), defaultZone: NY })))).toBe(
      '2025-11-02T05:30:00.000Z',
    );
    // At 00:45 EDT (04:45Z) neither has happened: the day before.
    expect(iso(parseTime('1:30', opts({ now: utc('2025-11-02T04:45Z'), defaultZone: NY })))).toBe(
      '2025-11-01T05:30:00.000Z',
    );
  });

  it('a dated ambiguous time resolves to the most recent past instant, or the first if only it is past', () => {
    const later = utc('2025-11-02T12:00Z');
    expect(iso(parseTime('2025-11-02 01:30', opts({ now: later, defaultZone: NY })))).toBe(
      '2025-11-02T06:30:00.000Z',
    );
    const between = utc('2025-11-02T06:00Z');
    expect(iso(parseTime('2025-11-02 01:30', opts({ now: between, defaultZone: NY })))).toBe(
      '2025-11-02T05:30:00.000Z',
    );
  });

  it('the spring-forward gap is refused (dated)', () => {
    const e = err(
      parseTime('2025-03-09 02:30', opts({ now: utc('2025-03-10T00:00Z'), defaultZone: NY })),
    );
    expect(e.kind).toBe('invalid');
    expect(e.message).toContain('02:30 does not exist in America/New_York on 2025-03-09');
  });

  it('the spring-forward gap is refused (undated, typed later that day)', () => {
    const e = err(parseTime('2:30', opts({ now: utc('2025-03-09T12:00Z'), defaultZone: NY })));
    expect(e.kind).toBe('invalid');
    expect(e.message).toContain('does not exist');
  });

  it('an undated gap time typed before the gap is the previous day', () => {
    // 01:00 EST on 2025-03-09 (06:00Z): 02:30 has not come yet today -> 2025-03-08 02:30 EST
    expect(iso(parseTime('2:30', opts({ now: utc('2025-03-09T06:00Z'), defaultZone: NY })))).toBe(
      '2025-03-08T07:30:00.000Z',
    );
  });

  it('times around the gap are fine', () => {
    const now = utc('2025-03-10T00:00Z');
    expect(iso(parseTime('2025-03-09 01:59', opts({ now, defaultZone: NY })))).toBe(
      '2025-03-09T06:59:00.000Z',
    );
    expect(iso(parseTime('2025-03-09 03:00', opts({ now, defaultZone: NY })))).toBe(
      '2025-03-09T07:00:00.000Z',
    );
  });

  it('an explicit fixed-offset abbreviation has no gap', () => {
    const now = utc('2025-03-10T00:00Z');
    expect(iso(parseTime('2025-03-09 02:30 EST', opts({ now, defaultZone: NY })))).toBe(
      '2025-03-09T07:30:00.000Z',
    );
  });
});

describe('takeLeadingTime', () => {
  it('splits a time and zone from the text', () => {
    const r = takeLeadingTime('14:20 PDT we suspected the payment API', opts());
    expect(r.error).toBeUndefined();
    expect(r.time?.toISO()).toBe('2025-02-27T21:20:00.000Z');
    expect(r.zone).toBe('UTC-7');
    expect(r.representativeZone).toBe('America/Los_Angeles');
    expect(r.timeText).toBe('14:20 PDT');
    expect(r.rest).toBe('we suspected the payment API');
  });

  it('"14:20 we saw" keeps "we"', () => {
    const r = takeLeadingTime('14:20 we saw errors', opts());
    expect(r.time?.toISO()).toBe('2025-02-27T14:20:00.000Z');
    expect(r.timeText).toBe('14:20');
    expect(r.rest).toBe('we saw errors');
    expect(r.representativeZone).toBeUndefined();
  });

  it.each([
    ['500 errors on checkout'],
    ['3 servers down'],
    ['2 people paged'],
    ['we saw 14:20 errors'],
    ['1:2 ratio of errors'],
    ['14:20we saw'],
    ['2025-02-28 outage'],
    ['404s everywhere'],
    [''],
  ])('not a time: %j', (text) => {
    const r = takeLeadingTime(text, opts());
    expect(r).toEqual({ rest: text });
  });

  it('consumes zone words only when they are known zones', () => {
    expect(takeLeadingTime('14:20 UTC deploy', opts()).rest).toBe('deploy');
    expect(takeLeadingTime('14:20 Z deploy', opts()).rest).toBe('deploy');
    expect(takeLeadingTime('14:20 GMT deploy', opts()).rest).toBe('deploy');
    expect(takeLeadingTime('14:20 pst deploy', opts()).rest).toBe('deploy');
    const iana = takeLeadingTime('6:00 America/Los_Angeles deploy started', opts());
    expect(iana.time?.toISO()).toBe('2025-02-28T14:00:00.000Z');
    expect(iana.representativeZone).toBe('America/Los_Angeles');
    expect(iana.rest).toBe('deploy started');
    // Unknown or non-zone words stay in the text; the time uses the default zone.
    const unknown = takeLeadingTime('14:20 XYZ deploy', opts());
    expect(unknown.timeText).toBe('14:20');
    expect(unknown.rest).toBe('XYZ deploy');
    expect(takeLeadingTime('14:20 Mars/Base deploy', opts()).rest).toBe('Mars/Base deploy');
    // Legacy one-word IANA names are ordinary words here.
    expect(takeLeadingTime('14:20 Japan team paged', opts()).rest).toBe('Japan team paged');
    // "west"/"wet" are words unless written as the abbreviation.
    expect(takeLeadingTime('14:20 west region failed', opts()).rest).toBe('west region failed');
    const west = takeLeadingTime('14:20 WEST region failed', opts());
    expect(west.rest).toBe('region failed');
    expect(west.zone).toBe('UTC+1');
  });

  it('takes am/pm and 2pm forms', () => {
    const a = takeLeadingTime('2:20 pm the pager fired', opts());
    expect(a.time?.toISO()).toBe('2025-02-27T14:20:00.000Z');
    expect(a.rest).toBe('the pager fired');
    const b = takeLeadingTime('1pm PST rollback', opts());
    expect(b.time?.toISO()).toBe('2025-02-27T21:00:00.000Z');
    expect(b.timeText).toBe('1pm PST');
    expect(b.rest).toBe('rollback');
    const c = takeLeadingTime('2 am pages started', opts());
    expect(c.time?.toISO()).toBe('2025-02-28T02:00:00.000Z');
    expect(c.rest).toBe('pages started');
  });

  it('takes dated and ISO times', () => {
    const d = takeLeadingTime('2025-02-27 14:20 EST db failover', opts());
    expect(d.time?.toISO()).toBe('2025-02-27T19:20:00.000Z');
    expect(d.timeText).toBe('2025-02-27 14:20 EST');
    expect(d.rest).toBe('db failover');
    const i = takeLeadingTime('2025-02-28T05:20:00-08:00 alerts fired', opts());
    expect(i.time?.toISO()).toBe('2025-02-28T13:20:00.000Z');
    expect(i.zone).toBe('UTC-8');
    expect(i.rest).toBe('alerts fired');
    const z = takeLeadingTime('2025-02-28T10:20Z: cache cleared', opts());
    expect(z.time?.toISO()).toBe('2025-02-28T10:20:00.000Z');
    expect(z.rest).toBe('cache cleared');
  });

  it('drops separator punctuation but not words', () => {
    expect(takeLeadingTime('14:20: deploy started', opts()).rest).toBe('deploy started');
    expect(takeLeadingTime('14:20, deploy started', opts()).rest).toBe('deploy started');
    expect(takeLeadingTime('14:20 - deploy started', opts()).rest).toBe('deploy started');
    expect(takeLeadingTime('14:20 — deploy started', opts()).rest).toBe('deploy started');
    expect(takeLeadingTime('  14:20   deploy started  ', opts()).rest).toBe('deploy started');
    expect(takeLeadingTime('14:20 -5% traffic', opts()).rest).toBe('-5% traffic');
  });

  it('a time alone leaves an empty rest', () => {
    const r = takeLeadingTime('14:20 UTC', opts());
    expect(r.time?.toISO()).toBe('2025-02-27T14:20:00.000Z');
    expect(r.rest).toBe('');
  });

  it('uses the default zone', () => {
    const r = takeLeadingTime('5:30 restarted pods', opts({ defaultZone: 'America/Los_Angeles' }));
    expect(r.time?.toISO()).toBe('2025-02-28T13:30:00.000Z');
    expect(r.zone).toBe('America/Los_Angeles');
    expect(r.representativeZone).toBeUndefined();
  });

  it.each([
    ['25:99 foo', 'invalid'],
    ['13:00pm foo', 'invalid'],
    ['2025-02-30 10:00 foo', 'invalid'],
    ['2099-01-01 10:00 foo', 'future'],
    ['2099-01-01T10:00Z foo', 'future'],
  ])('returns the error for time-like but bad text: %s', (text, kind) => {
    const r = takeLeadingTime(text, opts());
    expect(r.time).toBeUndefined();
    expect(r.error?.kind).toBe(kind);
    expect(r.rest).toBe(text);
    if (kind === 'future') expect(r.error?.message).toContain('in the future');
  });

  it('refuses the spring-forward gap in free text', () => {
    const r = takeLeadingTime(
      '2025-03-09 02:30 clocks changed',
      opts({ now: utc('2025-03-10T00:00Z'), defaultZone: 'America/New_York' }),
    );
    expect(r.error?.kind).toBe('invalid');
    expect(r.error?.message).toContain('does not exist');
  });
});

describe('resolveZone / isValidZone', () => {
  it('resolves abbreviations to fixed offsets with a representative', () => {
    expect(resolveZone('PST')).toEqual({ zone: 'UTC-8', representative: 'America/Los_Angeles' });
    expect(resolveZone('pdt')).toEqual({ zone: 'UTC-7', representative: 'America/Los_Angeles' });
    expect(resolveZone('IST', 'Asia/Kolkata')).toEqual({
      zone: 'UTC+5:30',
      representative: 'Asia/Kolkata',
    });
    expect(resolveZone('ACST')).toEqual({ zone: 'UTC+9:30', representative: 'Australia/Adelaide' });
  });

  it('every abbreviation resolves to a zone usable with setZone and a valid IANA representative', () => {
    for (const [abbr, offset, rep] of ABBR_TABLE) {
      const z = resolveZone(abbr);
      if (!z || 'ambiguous' in z) throw new Error(`${abbr} did not resolve`);
      expect(z.representative).toBe(rep);
      const t = utc('2025-01-01T00:00Z').setZone(z.zone);
      expect(t.isValid).toBe(true);
      expect(t.toFormat('ZZ')).toBe(offset);
      expect(isValidZone(rep)).toBe(true);
    }
  });

  it('resolves UTC, Z, GMT to UTC', () => {
    for (const t of ['UTC', 'utc', 'Z', 'z', 'GMT']) {
      expect(resolveZone(t)).toEqual({ zone: 'UTC', representative: 'UTC' });
    }
  });

  it('resolves IANA zones (Area/Location)', () => {
    expect(resolveZone('Europe/London')).toEqual({
      zone: 'Europe/London',
      representative: 'Europe/London',
    });
    expect(resolveZone('asia/kolkata')).toMatchObject({ zone: 'Asia/Kolkata' });
  });

  it('returns undefined for unknown tokens', () => {
    for (const t of ['', 'XYZ', 'Mars/Base', 'we', 'Japan', 'UTC+99']) {
      expect(resolveZone(t)).toBeUndefined();
    }
  });

  it('isValidZone', () => {
    expect(isValidZone('UTC')).toBe(true);
    expect(isValidZone('America/Los_Angeles')).toBe(true);
    expect(isValidZone('UTC-8')).toBe(true);
    expect(isValidZone('UTC+5:30')).toBe(true);
    expect(isValidZone('Mars/Olympus')).toBe(false);
    expect(isValidZone('')).toBe(false);
  });
});

describe('formatClock / formatDateTime / zoneAbbreviation', () => {
  const summer = utc('2025-07-01T21:30:00Z');
  const winter = utc('2025-01-15T21:30:00Z');

  it('UTC shows "UTC"', () => {
    expect(formatClock(summer, 'UTC')).toBe('21:30 UTC');
    expect(formatClock(summer, 'Etc/UTC')).toBe('21:30 UTC');
    expect(zoneAbbreviation(summer, 'UTC')).toBe('UTC');
  });

  it('America/Los_Angeles is PDT in summer and PST in winter', () => {
    expect(formatClock(summer, 'America/Los_Angeles')).toBe('14:30 PDT');
    expect(formatClock(winter, 'America/Los_Angeles')).toBe('13:30 PST');
  });

  it('Asia/Kolkata is IST (not GMT+5:30)', () => {
    expect(formatClock(utc('2025-02-28T03:35Z'), 'Asia/Kolkata')).toBe('09:05 IST');
    expect(formatClock(utc('2025-02-28T03:35Z'), 'Asia/Calcutta')).toBe('09:05 IST');
  });

  it('uses the table for other GMT± names', () => {
    expect(zoneAbbreviation(summer, 'Asia/Tokyo')).toBe('JST');
    expect(zoneAbbreviation(summer, 'Europe/Paris')).toBe('CEST');
    expect(zoneAbbreviation(winter, 'Europe/Paris')).toBe('CET');
    expect(zoneAbbreviation(summer, 'Europe/London')).toBe('BST');
    expect(zoneAbbreviation(winter, 'Europe/London')).toBe('GMT');
    expect(zoneAbbreviation(summer, 'Australia/Sydney')).toBe('AEST');
    expect(zoneAbbreviation(winter, 'Australia/Sydney')).toBe('AEDT');
    expect(zoneAbbreviation(summer, 'America/New_York')).toBe('EDT');
  });

  it('falls back to the GMT± name for zones not in the table, and UTC± for fixed offsets', () => {
    expect(zoneAbbreviation(summer, 'Asia/Kathmandu')).toBe('GMT+5:45');
    expect(zoneAbbreviation(summer, 'UTC-8')).toBe('UTC-8');
  });

  it('formatDateTime', () => {
    expect(formatDateTime(utc('2025-02-28T14:20Z'), 'UTC')).toBe('2025-02-28 14:20 UTC');
    expect(formatDateTime(utc('2025-03-01T02:20Z'), 'America/Los_Angeles')).toBe(
      '2025-02-28 18:20 PST',
    );
    expect(formatDateTime(utc('2025-02-28T20:00Z'), 'Asia/Kolkata')).toBe('2025-03-01 01:30 IST');
  });

  it('formats what parseTime returns back to what the user wrote', () => {
    const r = ok(parseTime('2025-02-27 14:20 America/Los_Angeles', opts()));
    expect(formatDateTime(r.time, r.zone)).toBe('2025-02-27 14:20 PST');
  });
});
