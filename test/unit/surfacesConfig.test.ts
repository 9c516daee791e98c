/** Settings of the issue-10 surfaces: permissions (and, below, reminders). */
import { parseConfig } from '../../src/config';

const BASE = { SLACK_BOT_TOKEN: 'xoxb-123-456-abc', SLACK_SIGNING_SECRET: 'shhh' };

describe('INCIDENT_ADMIN_GROUP', () => {
  it('is optional, and a user group id when set', () => {
    const unset = parseConfig(BASE);
    expect(unset.ok && unset.config.adminGroup).toBe(undefined);
    const set = parseConfig({ ...BASE, INCIDENT_ADMIN_GROUP: ' S0ADMINS ' });
    expect(set.ok && set.config.adminGroup).toBe('S0ADMINS');
  });

  it('refuses a handle with a message saying what to paste', () => {
    const r = parseConfig({ ...BASE, INCIDENT_ADMIN_GROUP: '@incident-admins' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toEqual([
        expect.stringContaining('INCIDENT_ADMIN_GROUP must be a user group id such as S0123ABCDEF'),
      ]);
    }
  });
});

describe('reminder settings', () => {
  it('have defaults', () => {
    const r = parseConfig(BASE);
    expect(r.ok && r.config.reminders).toEqual({
      updateMinutes: { sev1: 15, sev2: 30, sev3: 60, sev4: 120 },
      closeNudgeHours: 24,
      archiveDays: 0,
      actionHour: 9,
    });
    expect(r.ok && r.config.reminderIntervalMs).toBe(60_000);
  });

  it('read severity=minutes pairs; unnamed severities keep the default', () => {
    const r = parseConfig({
      ...BASE,
      INCIDENT_UPDATE_REMINDER_MINUTES: 'SEV1=5, sev4=0',
      INCIDENT_ARCHIVE_AFTER_DAYS: '30',
    });
    expect(r.ok && r.config.reminders.updateMinutes).toEqual({
      sev1: 5,
      sev2: 30,
      sev3: 60,
      sev4: 0,
    });
    expect(r.ok && r.config.reminders.archiveDays).toBe(30);
  });

  it('list every bad value at once', () => {
    const r = parseConfig({
      ...BASE,
      INCIDENT_UPDATE_REMINDER_MINUTES: 'sev1:15',
      INCIDENT_ACTION_REMINDER_HOUR: '25',
      INCIDENT_CLOSE_NUDGE_HOURS: '-1',
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toHaveLength(3);
      expect(r.errors[0]).toContain(
        'INCIDENT_UPDATE_REMINDER_MINUTES must be severity=minutes pairs',
      );
    }
  });
});
