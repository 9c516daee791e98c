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
