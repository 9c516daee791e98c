/**
 * Ambiguous zone abbreviations (CST, IST, BST): the typing user's zone picks the meaning, else
 * the time is refused with a message naming the choices. Expected instants are written out
 * independently of the table in src/core/time.ts.
 */
import { DateTime } from 'luxon';
import {
  AMBIGUOUS_ABBREVIATIONS,
  parseTime,
  resolveZone,
  takeLeadingTime,
  type TimeOptions,
} from '../../src/core/time';

const NOW = DateTime.fromISO('2025-07-16T12:00:00Z', { zone: 'utc' });
const opts = (userZone?: string): TimeOptions => ({
  now: NOW,
  defaultZone: 'UTC',
  ...(userZone ? { userZone } : {}),
});

// [typed, user's Slack zone, expected UTC instant, expected representative zone]
const RESOLVED: [string, string, string, string][] = [
  ['2025-07-10 14:20 CST', 'Asia/Shanghai', '2025-07-10T06:20:00.000Z', 'Asia/Shanghai'],
  ['2025-07-10 14:20 CST', 'Asia/Taipei', '2025-07-10T06:20:00.000Z', 'Asia/Shanghai'],
  ['2025-07-10 14:20 CST', 'America/Chicago', '2025-07-10T20:20:00.000Z', 'America/Chicago'],
  ['2025-07-10 14:20 cst', 'America/Mexico_City', '2025-07-10T20:20:00.000Z', 'America/Chicago'],
  ['2025-07-10 14:20 CST', 'America/Winnipeg', '2025-07-10T20:20:00.000Z', 'America/Chicago'],
  ['2025-07-10 09:05 IST', 'Asia/Kolkata', '2025-07-10T03:35:00.000Z', 'Asia/Kolkata'],
  ['2025-07-10 09:05 IST', 'Asia/Calcutta', '2025-07-10T03:35:00.000Z', 'Asia/Kolkata'],
  ['2025-07-10 09:05 IST', 'Asia/Jerusalem', '2025-07-10T07:05:00.000Z', 'Asia/Jerusalem'],
  ['2025-07-10 09:05 IST', 'Europe/Dublin', '2025-07-10T08:05:00.000Z', 'Europe/Dublin'],
  ['2025-07-10 10:00 BST', 'Europe/London', '2025-07-10T09:00:00.000Z', 'Europe/London'],
  ['2025-07-10 10:00 BST', 'Europe/Jersey', '2025-07-10T09:00:00.000Z', 'Europe/London'],
  ['2025-07-10 10:00 BST', 'Asia/Dhaka', '2025-07-10T04:00:00.000Z', 'Asia/Dhaka'],
  // An ISO offset names the meaning by itself, whatever the user's zone.
  ['2025-07-10T14:20:00+08:00 CST', 'Europe/Berlin', '2025-07-10T06:20:00.000Z', 'Asia/Shanghai'],
];

describe('an ambiguous abbreviation takes the meaning of the user’s zone', () => {
  it.each(RESOLVED)('%s typed by a user in %s → %s', (typed, userZone, instant, rep) => {
    const r = parseTime(typed, opts(userZone));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.time.toISO()).toBe(instant);
    expect(r.representativeZone).toBe(rep);
  });

  it('also at the start of free text, keeping the rest', () => {
    const r = takeLeadingTime('14:20 CST consumer lag alarm fired', opts('Asia/Shanghai'));
    expect(r.error).toBeUndefined();
    expect(r.time?.toISO()).toBe('2025-07-16T06:20:00.000Z');
    expect(r.rest).toBe('consumer lag alarm fired');
  });
});

// [typed, user's Slack zone (undefined: Slack did not say), the choices the message names]
const REFUSED: [string, string | undefined, string][] = [
  ['14:20 CST', 'Europe/Berlin', 'CST is ambiguous: use America/Chicago or Asia/Shanghai'],
  ['14:20 CST', 'UTC', 'CST is ambiguous: use America/Chicago or Asia/Shanghai'],
  ['14:20 CST', undefined, 'CST is ambiguous: use America/Chicago or Asia/Shanghai'],
  ['14:20 CST', 'America/Los_Angeles', 'use America/Chicago or Asia/Shanghai'],
  [
    '09:05 IST',
    'Europe/London',
    'IST is ambiguous: use Asia/Kolkata, Asia/Jerusalem or Europe/Dublin',
  ],
  ['09:05 ist', 'Asia/Dubai', 'use Asia/Kolkata, Asia/Jerusalem or Europe/Dublin'],
  ['10:00 BST', 'America/New_York', 'BST is ambiguous: use Europe/London or Asia/Dhaka'],
  ['2025-07-10 10:00 BST', 'Europe/Dublin', 'use Europe/London or Asia/Dhaka'],
  // An ISO offset that is none of the meanings does not decide either.
  ['2025-07-10T10:00:00+02:00 BST', 'Europe/Paris', 'use Europe/London or Asia/Dhaka'],
];

describe('otherwise it is refused, naming the choices', () => {
  it.each(REFUSED)('%s typed by a user in %s', (typed, userZone, choices) => {
    const r = parseTime(typed, opts(userZone));
    if (r.ok) throw new Error(`expected a refusal, got ${r.time.toISO()}`);
    expect(r.error.kind).toBe('ambiguous');
    expect(r.error.message).toContain(choices);
    expect(r.error.message).toContain(
      userZone ? `(${userZone})` : "I don't know your Slack time zone",
    );
  });

  it('the message gives a worked example with the time as typed', () => {
    const r = parseTime('14:20 CST', opts('Europe/Berlin'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('“14:20 America/Chicago”');
  });

  it('in free text the abbreviation is consumed as a zone, so the text is not recorded with it', () => {
    const r = takeLeadingTime('14:20 CST consumer lag alarm fired', opts('Europe/Berlin'));
    expect(r.time).toBeUndefined();
    expect(r.error?.kind).toBe('ambiguous');
    expect(r.rest).toBe('14:20 CST consumer lag alarm fired');
  });
});

describe('the table of meanings', () => {
  it.each(Object.entries(AMBIGUOUS_ABBREVIATIONS))(
    '%s: every meaning is consistent',
    (abbr, ms) => {
      expect(ms.length).toBeGreaterThan(1);
      for (const m of ms) {
        // The representative is one of its zones and is really at that offset some time of year.
        expect(m.zones).toContain(m.representative);
        const offsets = [1, 7].map(
          (month) =>
            DateTime.fromObject({ year: 2025, month, day: 15 }, { zone: m.representative }).offset,
        );
        expect(offsets).toContain(m.offset);
        for (const z of m.zones) expect(DateTime.now().setZone(z).isValid).toBe(true);
        expect(resolveZone(abbr, m.representative)).toEqual({
          zone: DateTime.now().setZone(
            `UTC${m.offset >= 0 ? '+' : '-'}${Math.floor(Math.abs(m.offset) / 60)}${Math.abs(m.offset) % 60 ? `:${String(Math.abs(m.offset) % 60).padStart(2, '0')}` : ''}`,
          ).zoneName,
          representative: m.representative,
        });
      }
      // No zone belongs to two meanings (else a user there would still be ambiguous).
      const all = ms.flatMap((m) => m.zones);
      expect(new Set(all).size).toBe(all.length);
      expect(resolveZone(abbr, 'Antarctica/Troll')).toEqual({ ambiguous: abbr });
    },
  );
});
