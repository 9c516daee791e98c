/**
 * Permissions from outside: signed slash commands and button clicks against the real app, a real
 * SQLite store and the Slack emulator. Someone who is neither commander, role holder nor admin
 * group member is refused `close`, `severity` and `role`, sees who can, and nothing is recorded.
 */
import { DateTime } from 'luxon';
import { newTriggerId } from '../helpers/signing';
import { startTestBot, type TestBot } from '../helpers/testBot';

const T0 = DateTime.fromISO('2025-03-11T21:30:00Z', { zone: 'utc' });

let now: DateTime;
let bot: TestBot;

beforeEach(async () => {
  now = T0;
  bot = await startTestBot({
    clock: () => now,
    env: { INCIDENT_ADMIN_GROUP: 'S0ADMINS' },
    users: [{ id: 'U_DAN', name: 'Dan', tz: 'Asia/Tokyo' }],
    usergroups: { S0ADMINS: ['U_DAN'] },
  });
});

afterEach(async () => {
  await bot.close();
});

const all = (r: { ephemeral: string[] }) => r.ephemeral.join('\n');

async function openResolved(): Promise<{ id: string; channel: string }> {
  const r = await bot.command('start sev2 Payments are timing out');
  const channel = /<#(C[A-Z0-9]+)>/.exec(all(r))?.[1] ?? '';
  const incident = await bot.service.findByChannel(channel);
  if (!incident) throw new Error(`no incident: ${all(r)}`);
  for (const u of ['U_BOB', 'U_CAROL', 'U_DAN']) bot.emulator.channels.get(channel)?.members.add(u);
  now = now.plus({ minutes: 5 });
  await bot.command('log Rolled back the gateway deploy', { channel, user: 'U_BOB' });
  await bot.command('resolve Rollback finished', { channel, user: 'U_BOB' });
  now = now.plus({ minutes: 5 });
  return { id: incident.record.id, channel };
}

let clicks = 0;
/** Clicks "Close anyway" (the review's button) as `user`; returns the ephemeral answer. */
async function closeAnyway(user: string, id: string, channel: string): Promise<string> {
  clicks += 1;
  const rid = `btn-${clicks}`;
  await bot.interact({
    type: 'block_actions',
    team: { id: 'T_TEST', domain: 'test-workspace' },
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T_TEST' },
    api_app_id: 'A_TEST',
    trigger_id: newTriggerId(),
    channel: { id: channel, name: 'inc' },
    container: { type: 'message', channel_id: channel, is_ephemeral: true },
    response_url: bot.emulator.responseUrl(rid),
    actions: [
      {
        type: 'button',
        action_id: 'close:anyway',
        block_id: 'close_review',
        value: id,
        action_ts: `${Math.floor(Date.now() / 1000)}.000200`,
      },
    ],
  });
  return bot.emulator
    .responsesTo(rid)
    .map((x) => String(x.body.text))
    .join('\n');
}

describe('a refused close', () => {
  it('refuses Bob (no role), names who can, records nothing; Alice (opener) closes', async () => {
    const { id, channel } = await openResolved();
    const before = JSON.stringify(await bot.store.loadEvents(id));
    const r = await bot.command('close', { channel, user: 'U_BOB' });
    expect(all(r)).toBe(
      "You can't close INC-1: only the commander (Alice, who opened it; nobody has been named commander yet) or members of <!subteam^S0ADMINS> can. Ask Alice to do it, or to give you a role with `/incident role <role> @you`.",
    );
    expect(r.posted).toEqual([]);
    expect(JSON.stringify(await bot.store.loadEvents(id))).toBe(before);
    expect(bot.emulator.files).toEqual([]);
    expect(bot.emulator.callsTo('usergroups.users.list').at(-1)?.params.usergroup).toBe('S0ADMINS');

    // The "Close anyway" button is checked too (a crafted click from a non-holder).
    expect(await closeAnyway('U_CAROL', id, channel)).toContain("You can't close INC-1");
    expect((await bot.service.load(id)).state.status).toBe('resolved');

    // Alice passes the check: she is shown the close-time review, then closes anyway.
    const ok = await bot.command('close', { channel, user: 'U_ALICE' });
    expect(all(ok)).toContain('Before closing INC-1');
    expect(await closeAnyway('U_ALICE', id, channel)).toContain('INC-1 closed');
    expect((await bot.service.load(id)).state.status).toBe('closed');
  });

  it('lets a member of INCIDENT_ADMIN_GROUP close', async () => {
    const { id, channel } = await openResolved();
    const r = await bot.command('close', { channel, user: 'U_DAN' });
    expect(all(r)).toContain('Before closing INC-1');
    expect(await closeAnyway('U_DAN', id, channel)).toContain('INC-1 closed');
    expect((await bot.service.load(id)).state.status).toBe('closed');
  });

  it('a role holder may change the severity; someone else may not, nor give themselves a role', async () => {
    const { id, channel } = await openResolved();
    let r = await bot.command('severity sev1 customers affected', { channel, user: 'U_CAROL' });
    expect(all(r)).toContain("You can't change the severity of INC-1");
    r = await bot.command('role scribe <@U_CAROL|carol>', { channel, user: 'U_CAROL' });
    expect(all(r)).toContain("You can't assign roles in INC-1");
    expect((await bot.service.load(id)).state.roles).toEqual({});

    r = await bot.command('role scribe <@U_CAROL|carol>', { channel, user: 'U_ALICE' });
    expect(all(r)).toContain('Carol is scribe');
    r = await bot.command('severity sev1 customers affected', { channel, user: 'U_CAROL' });
    expect(all(r)).toContain('INC-1 is now SEV1');
    expect((await bot.service.load(id)).state.severity).toBe('sev1');
  });

  it('/incident help explains who may', async () => {
    const r = await bot.command('help');
    expect(all(r)).toContain('`close`, `severity`, `role`, paging and archiving are for');
  });
});
