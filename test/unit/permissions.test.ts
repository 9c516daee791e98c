/**
 * The permission rules for close, severity, role, paging and archiving (src/app/permissions.ts):
 * who is allowed, what a refusal says, and when the admin group is looked up.
 */
import { IncidentError } from '../../src/app/errors';
import {
  authorities,
  decidePermission,
  PermissionDeniedError,
  requirePermission,
  type GuardedAction,
} from '../../src/app/permissions';
import { IncidentBuilder, people } from '../helpers/incidentBuilder';

const opened = () =>
  new IncidentBuilder({ number: 7 }).as(people.dana).opened('14:00', 'Queue backlog', 'sev2');

describe('authorities', () => {
  it('counts the opener as commander until someone is named', () => {
    const a = authorities(opened().incident());
    expect(a.commander).toEqual(people.dana);
    expect(a.commanderIsOpener).toBe(true);
  });

  it('the named commander replaces the opener', () => {
    const a = authorities(opened().role('14:05', 'commander', people.ravi).incident());
    expect(a.commander).toEqual(people.ravi);
    expect(a.commanderIsOpener).toBe(false);
  });

  it('a non-human opener (import, cli, system) is nobody', () => {
    const inc = new IncidentBuilder().as(people.bot).opened('14:00', 'Imported', 'sev3').incident();
    expect(authorities(inc).commander).toBeUndefined();
  });
});

describe('decidePermission', () => {
  const actions: GuardedAction[] = ['close', 'severity', 'role', 'page', 'archive'];

  it.each(actions)('%s: commander, role holders and admin-group members are allowed', (action) => {
    const inc = opened()
      .role('14:05', 'commander', people.ravi)
      .role('14:06', 'scribe', people.lena)
      .incident();
    const d = (userId: string, adminMembers?: string[]) =>
      decidePermission({ action, incident: inc, userId, adminGroup: 'S0ADMIN', adminMembers });
    expect(d(people.ravi.id)).toEqual({ allowed: true, why: 'commander' });
    expect(d(people.lena.id)).toEqual({ allowed: true, why: 'role' });
    expect(d(people.tom.id, [people.tom.id])).toEqual({ allowed: true, why: 'admin_group' });
    // The opener handed command over: no longer allowed.
    expect(d(people.dana.id, []).allowed).toBe(false);
    expect(d(people.tom.id, []).allowed).toBe(false);
  });

  it('a refusal names the commander, the role holders and the admin group', () => {
    const inc = opened()
      .role('14:05', 'commander', people.ravi)
      .role('14:06', 'comms', people.lena)
      .incident();
    const d = decidePermission({
      action: 'close',
      incident: inc,
      userId: people.tom.id,
      adminGroup: 'S0ADMIN',
      adminMembers: [],
    });
    expect(d).toEqual({
      allowed: false,
      message:
        "You can't close INC-7: only the commander (Ravi Menon), holders of incident roles (Lena Park as comms) or members of <!subteam^S0ADMIN> can. Ask Ravi Menon to do it, or to give you a role with `/incident role <role> @you`.",
    });
  });

  it('says when the commander is the opener standing in', () => {
    const d = decidePermission({
      action: 'severity',
      incident: opened().incident(),
      userId: 'U0X',
    });
    expect(d.allowed).toBe(false);
    if (!d.allowed) {
      expect(d.message).toContain("You can't change the severity of INC-7");
      expect(d.message).toContain('the commander (Dana Okafor, who opened it; nobody has been');
      expect(d.message).not.toContain('holders');
      expect(d.message).not.toContain('subteam');
    }
  });

  it('lets everyone act when nobody qualifies and no admin group is set', () => {
    const inc = new IncidentBuilder().as(people.bot).opened('14:00', 'Imported', 'sev3').incident();
    expect(decidePermission({ action: 'close', incident: inc, userId: 'U0ANY' })).toEqual({
      allowed: true,
      why: 'nobody_qualifies',
    });
    // With an admin group configured, the group is who can.
    const d = decidePermission({
      action: 'close',
      incident: inc,
      userId: 'U0ANY',
      adminGroup: 'S0ADMIN',
      adminMembers: [],
    });
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.message).toContain('members of <!subteam^S0ADMIN>');
  });
});

describe('requirePermission', () => {
  const inc = opened().role('14:05', 'commander', people.ravi).incident();
  const ctxFor = (userId: string, adminGroup: string | undefined, members: () => string[]) => {
    const lookups: string[] = [];
    return {
      lookups,
      ctx: {
        incident: inc,
        user: { id: userId },
        settings: adminGroup ? { adminGroup } : {},
        slack: {
          usergroupMembers: async (g: string) => {
            lookups.push(g);
            return members();
          },
        },
      },
    };
  };

  it('does not look the group up for the commander', async () => {
    const { ctx, lookups } = ctxFor(people.ravi.id, 'S0ADMIN', () => []);
    await expect(requirePermission(ctx, 'close')).resolves.toBeUndefined();
    expect(lookups).toEqual([]);
  });

  it('looks the group up for anyone else, and allows its members', async () => {
    const { ctx, lookups } = ctxFor(people.tom.id, 'S0ADMIN', () => [people.tom.id]);
    await expect(requirePermission(ctx, 'page')).resolves.toBeUndefined();
    expect(lookups).toEqual(['S0ADMIN']);
  });

  it('refuses with a friendly IncidentError', async () => {
    const { ctx } = ctxFor(people.tom.id, undefined, () => []);
    const err = await requirePermission(ctx, 'archive').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toBeInstanceOf(IncidentError);
    expect((err as IncidentError).code).toBe('forbidden');
    expect((err as Error).message).toBe(
      "You can't manage the archiving of INC-7: only the commander (Ravi Menon) can. Ask Ravi Menon to do it, or to give you a role with `/incident role <role> @you`.",
    );
  });

  it('a failed group lookup refuses and says the group could not be checked', async () => {
    const { ctx } = ctxFor(people.tom.id, 'S0ADMIN', () => {
      throw new Error('no_such_subteam');
    });
    await expect(requirePermission(ctx, 'close')).rejects.toThrow(
      'I could not check the membership of <!subteam^S0ADMIN> just now.',
    );
  });
});
