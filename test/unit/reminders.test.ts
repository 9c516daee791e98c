/**
 * The pure reminder schedule (src/core/reminders.ts): which reminders are due for a folded
 * incident at a given instant, with snoozes, dismissals and claims read back from the record.
 */
import { DateTime } from 'luxon';
import {
  DEFAULT_REMINDER_SETTINGS,
  dueFor,
  reminderKey,
  type ReminderSettings,
} from '../../src/core/reminders';
import { REMINDER_EFFECT, reminderEffect } from '../../src/app/reminderScheduler';
import { reminderFromPayload } from '../../src/slack/reminders';
import { IncidentBuilder, people } from '../helpers/incidentBuilder';

const S: ReminderSettings = {
  ...DEFAULT_REMINDER_SETTINGS,
  updateMinutes: { sev1: 15, sev2: 30, sev3: 60, sev4: 0 },
  closeNudgeHours: 24,
  archiveDays: 7,
  actionHour: 9,
};

const at = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });
const base = () =>
  new IncidentBuilder({ date: '2025-03-11', number: 3 })
    .as(people.dana)
    .opened('14:00', 'Orders stuck', 'sev2')
    .channel('14:00', 'C0INC3')
    .detected('13:55');

const kinds = (b: IncidentBuilder, now: string, s = S) =>
  dueFor(b.incident(), at(now), s).map(
    (r) => `${r.kind}@${r.due.toUTC().toFormat('MM-dd HH:mm')}${r.to ? `→${r.to.name}` : ''}`,
  );

describe('update reminders', () => {
  it('fall due after N minutes of timeline silence (per severity), to the commander', () => {
    const b = base().log('14:10', 'Consumers restarted');
    expect(kinds(b, '2025-03-11T14:39:00Z')).toEqual([]);
    expect(kinds(b, '2025-03-11T14:40:00Z')).toEqual(['update@03-11 14:40→Dana Okafor']);
    // Still silent: the next one 30 minutes later (one per period, never a backlog).
    expect(kinds(b, '2025-03-11T15:55:00Z')).toEqual(['update@03-11 15:40→Dana Okafor']);
    // The named commander gets it.
    b.role('14:12', 'commander', people.ravi);
    expect(kinds(b, '2025-03-11T14:45:00Z')).toEqual(['update@03-11 14:42→Ravi Menon']);
  });

  it('chat messages and reminders are not timeline activity; a backdated entry counts when recorded', () => {
    const b = base()
      .message('14:20', 'anyone looking?', { by: people.tom })
      .log('14:05', 'Paged the DB team', { recordedAt: '14:25' });
    expect(kinds(b, '2025-03-11T14:54:00Z')).toEqual([]);
    expect(kinds(b, '2025-03-11T14:55:00Z')).toEqual(['update@03-11 14:55→Dana Okafor']);
  });

  it('severity decides the period; 0 turns it off', () => {
    const b = base().severity('14:01', 'sev4');
    expect(kinds(b, '2025-03-12T14:00:00Z')).toEqual([]);
    b.severity('14:02', 'sev1');
    expect(kinds(b, '2025-03-11T14:17:00Z')).toEqual(['update@03-11 14:17→Dana Okafor']);
  });

  it('a claim already in the record is not due again; snooze and dismiss are read back', () => {
    const b = base();
    const r = dueFor(b.incident(), at('2025-03-11T14:31:00Z'), S)[0];
    expect(r.key).toBe(reminderKey('update', 'inc-3', at('2025-03-11T14:30:00Z')));
    expect(r.key).toBe('reminder:update:inc-3:2025-03-11T14:30:00Z');
    b.add(
      'reminder.sent',
      '14:31',
      { kind: 'update', due: '2025-03-11T14:30:00Z' },
      { key: r.key, by: people.bot, source: 'system' },
    );
    expect(kinds(b, '2025-03-11T14:35:00Z')).toEqual([]);
    // The reminder itself is not activity: the next one is 30 minutes after the last entry.
    expect(kinds(b, '2025-03-11T15:00:00Z')).toEqual(['update@03-11 15:00→Dana Okafor']);
    b.add('reminder.snoozed', '15:01', { kind: 'update', until: '2025-03-11T16:00:00Z' });
    expect(kinds(b, '2025-03-11T15:59:00Z')).toEqual([]);
    expect(kinds(b, '2025-03-11T16:00:00Z')).toEqual(['update@03-11 16:00→Dana Okafor']);
    b.add('reminder.dismissed', '16:01', { kind: 'update' });
    expect(kinds(b, '2025-03-11T18:00:00Z')).toEqual([]);
  });

  it('none once resolved; the close nudge takes over', () => {
    const b = base().resolve('15:00', 'Rolled back');
    expect(kinds(b, '2025-03-12T14:59:00Z')).toEqual([]);
    expect(kinds(b, '2025-03-12T15:00:00Z')).toEqual(['close_nudge@03-12 15:00→Dana Okafor']);
    expect(kinds(b, '2025-03-13T16:00:00Z')).toEqual(['close_nudge@03-13 15:00→Dana Okafor']);
    expect(kinds(b, '2025-03-13T16:00:00Z', { ...S, closeNudgeHours: 0 })).toEqual([]);
  });
});

describe('action item due dates', () => {
  it('remind the owner at the action hour of the due date, in the incident zone', () => {
    const b = new IncidentBuilder({ date: '2025-03-11', zone: 'Europe/Berlin' })
      .opened('14:00', 'Orders stuck', 'sev3')
      .resolve('15:00')
      .close('16:00')
      .action('15:30', 'Add a lag alert', { owner: people.lena, due: '2025-03-20' })
      .action('15:31', 'No owner', { due: '2025-03-20' });
    const s = { ...S, archiveDays: 0 };
    expect(kinds(b, '2025-03-20T07:59:00Z', s)).toEqual([]);
    // 09:00 in Berlin is 08:00 UTC in March.
    expect(kinds(b, '2025-03-20T08:00:00Z', s)).toEqual(['action_due@03-20 08:00→Lena Park']);
    b.add('reminder.snoozed', '+9d 08:01', {
      kind: 'action_due',
      action: 'A1',
      until: '2025-03-21T08:01:00Z',
    });
    expect(kinds(b, '2025-03-20T12:00:00Z', s)).toEqual([]);
    expect(kinds(b, '2025-03-21T08:01:00Z', s)).toEqual(['action_due@03-21 08:01→Lena Park']);
    b.completeAction('A1', '+9d 10:00');
    expect(kinds(b, '2025-03-22T08:00:00Z', s)).toEqual([]);
  });
});

describe('archive', () => {
  const closed = () => base().resolve('15:00').close('16:00');

  it('warns a day before, then archives N days after close', () => {
    const b = closed();
    expect(kinds(b, '2025-03-17T15:59:00Z')).toEqual([]);
    expect(kinds(b, '2025-03-17T16:00:00Z')).toEqual(['archive_warning@03-17 16:00']);
    expect(kinds(b, '2025-03-18T16:00:00Z')).toEqual(['archive@03-18 16:00']);
    const [r] = dueFor(b.incident(), at('2025-03-18T16:00:00Z'), S);
    expect(r.channel).toBe('C0INC3');
    b.add('channel.archived', '+7d 16:00', { channel: 'C0INC3' });
    expect(kinds(b, '2025-03-30T00:00:00Z')).toEqual([]);
  });

  it('snooze postpones; keep (dismiss) cancels; 0 days turns it off', () => {
    const b = closed();
    b.add('reminder.snoozed', '+6d 16:30', { kind: 'archive', until: '2025-03-25T16:30:00Z' });
    expect(kinds(b, '2025-03-20T00:00:00Z')).toEqual([]);
    expect(kinds(b, '2025-03-24T16:30:00Z')).toEqual(['archive_warning@03-24 16:30']);
    expect(kinds(b, '2025-03-25T16:30:00Z')).toEqual(['archive@03-25 16:30']);
    expect(kinds(b, '2025-03-25T16:30:00Z', { ...S, archiveDays: 0 })).toEqual([]);
    b.add('reminder.dismissed', '+7d 10:00', { kind: 'archive' });
    expect(kinds(b, '2025-04-30T00:00:00Z')).toEqual([]);
  });
});

describe('the reminder effect (outbox payload)', () => {
  it('carries a claimed reminder through JSON and back, times in UTC', () => {
    const r = {
      kind: 'archive_warning' as const,
      incidentId: 'I1',
      due: at('2025-03-17T14:00:00Z'),
      key: reminderKey('archive_warning', 'I1', at('2025-03-17T14:00:00Z')),
      to: { id: 'U1', name: 'Dana' },
      channel: 'C0INC3',
      archiveAt: at('2025-03-18T14:00:00Z'),
    };
    const effect = reminderEffect(r);
    expect(effect).toMatchObject({ key: r.key, kind: REMINDER_EFFECT, incidentId: 'I1' });
    const back = reminderFromPayload(JSON.parse(JSON.stringify(effect.payload)));
    expect(back?.due.toMillis()).toBe(r.due.toMillis());
    expect(back?.archiveAt?.toISO()).toBe('2025-03-18T14:00:00.000Z');
    expect({ ...back, due: undefined, archiveAt: undefined }).toEqual({
      ...r,
      due: undefined,
      archiveAt: undefined,
    });
    expect(reminderFromPayload({ kind: 'nope', incidentId: 'I1', key: 'k', due: 'x' })).toBe(
      undefined,
    );
  });
});
