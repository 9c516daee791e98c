/**
 * Who may do the consequential things to an incident: `close`, `severity`, `role` (any role,
 * see below), paging and archiving.
 *
 * Allowed: the incident's commander, every holder of an incident role, and members of the
 * optional admin user group (`INCIDENT_ADMIN_GROUP`). Everyone else is refused with a message
 * naming who can.
 *
 * Choices where the issue was silent (documented in the README and in `/incident help`):
 * - An incident without a commander role counts its opener as commander, so the person who
 *   declared it can run it before anyone is named.
 * - Assigning ANY role is guarded, not only `commander`: role holders may close, so an open
 *   `role` would let anyone make themselves a role holder and then close.
 * - When nobody qualifies (no human opener, no role holder, no admin group configured: e.g. an
 *   imported incident), everyone is allowed, so an incident can never be locked for good.
 *
 * `decidePermission` is pure; `requirePermission` adds the one lookup that needs Slack (the admin
 * group's members, through a callback) and only makes it when the pure check refuses.
 */
import type { Incident } from './service';
import type { Actor } from '../core/model';
import { formatIncidentNumber } from '../core/model';
import { IncidentError } from './errors';

export const GUARDED_ACTIONS = ['close', 'severity', 'role', 'page', 'archive'] as const;
export type GuardedAction = (typeof GUARDED_ACTIONS)[number];

/** What each guarded action is called in a refusal. */
const VERB: Record<GuardedAction, string> = {
  close: 'close',
  severity: 'change the severity of',
  role: 'assign roles in',
  page: 'page responders for',
  archive: 'manage the archiving of',
};

const NON_HUMAN = new Set(['system', 'cli', 'import']);

export interface Authorities {
  /** The commander in force: the `commander` role, else the opener (see header). */
  commander?: Actor;
  /** Whether `commander` is the opener standing in for a missing commander role. */
  commanderIsOpener: boolean;
  /** Every role holder, by role (commander included). */
  roles: { role: string; user: Actor }[];
}

/** Who holds authority over the incident, from its folded state. */
export function authorities(incident: Pick<Incident, 'state'>): Authorities {
  const s = incident.state;
  const roles = Object.entries(s.roles).map(([role, user]) => ({ role, user }));
  const named = s.roles.commander;
  if (named) return { commander: named, commanderIsOpener: false, roles };
  const opener = s.openedBy && !NON_HUMAN.has(s.openedBy.id) ? s.openedBy : undefined;
  return { commander: opener, commanderIsOpener: !!opener, roles };
}

export type PermissionDecision =
  | { allowed: true; why: 'commander' | 'role' | 'admin_group' | 'nobody_qualifies' }
  | { allowed: false; message: string };

export interface PermissionInput {
  action: GuardedAction;
  incident: Pick<Incident, 'state' | 'record'>;
  userId: string;
  /** INCIDENT_ADMIN_GROUP (a user group id), when configured. */
  adminGroup?: string;
  /**
   * Members of the admin group, when known. Undefined means "not looked up yet": a refusal
   * is then provisional and `requirePermission` looks the group up.
   */
  adminMembers?: readonly string[];
}

/** Pure: allowed, or the refusal naming who can. */
export function decidePermission(input: PermissionInput): PermissionDecision {
  const a = authorities(input.incident);
  if (a.commander?.id === input.userId) return { allowed: true, why: 'commander' };
  if (a.roles.some((r) => r.user.id === input.userId)) return { allowed: true, why: 'role' };
  if (input.adminGroup && input.adminMembers?.includes(input.userId)) {
    return { allowed: true, why: 'admin_group' };
  }
  if (!a.commander && a.roles.length === 0 && !input.adminGroup) {
    return { allowed: true, why: 'nobody_qualifies' };
  }
  return { allowed: false, message: refusal(input, a) };
}

function refusal(input: PermissionInput, a: Authorities): string {
  const inc = formatIncidentNumber(input.incident.record.number);
  const who: string[] = [];
  if (a.commander) {
    who.push(
      a.commanderIsOpener
        ? `the commander (${a.commander.name}, who opened it; nobody has been named commander yet)`
        : `the commander (${a.commander.name})`,
    );
  }
  const others = a.roles.filter((r) => r.role !== 'commander');
  if (others.length > 0) {
    who.push(
      `holders of incident roles (${others.map((r) => `${r.user.name} as ${r.role}`).join(', ')})`,
    );
  } else if (!a.commander) {
    who.push('holders of incident roles (none yet)');
  }
  if (input.adminGroup) who.push(`members of <!subteam^${input.adminGroup}>`);
  const list = who.length > 1 ? `${who.slice(0, -1).join(', ')} or ${who.at(-1)}` : who[0];
  const ask = a.commander
    ? ` Ask ${a.commander.name} to do it, or to give you a role with \`/incident role <role> @you\`.`
    : '';
  return `You can't ${VERB[input.action]} ${inc}: only ${list} can.${ask}`;
}

/** What requirePermission needs from the caller (a command context has all of it). */
export interface PermissionContext {
  incident?: Pick<Incident, 'state' | 'record'>;
  user: { id: string };
  settings: { adminGroup?: string };
  slack: { usergroupMembers(groupId: string): Promise<string[]> };
}

/** Raised for a refusal; `message` is the friendly text for the user. */
export class PermissionDeniedError extends IncidentError {
  constructor(message: string) {
    super('forbidden', message);
    this.name = 'PermissionDeniedError';
  }
}

/**
 * Throws PermissionDeniedError unless `ctx.user` may do `action` to the incident (`ctx.incident`
 * or the one given). The admin group is looked up only when the pure check refuses; a failed
 * lookup counts as "not a member" and the refusal says the group could not be checked.
 * Paging calls this as `requirePermission(ctx, 'page')`.
 */
export async function requirePermission(
  ctx: PermissionContext,
  action: GuardedAction,
  incident = ctx.incident,
): Promise<void> {
  if (!incident) return;
  const base = {
    action,
    incident,
    userId: ctx.user.id,
    ...(ctx.settings.adminGroup ? { adminGroup: ctx.settings.adminGroup } : {}),
  };
  const first = decidePermission(base);
  if (first.allowed) return;
  if (!ctx.settings.adminGroup) throw new PermissionDeniedError(first.message);
  let members: string[];
  try {
    members = await ctx.slack.usergroupMembers(ctx.settings.adminGroup);
  } catch {
    throw new PermissionDeniedError(
      `${first.message} (I could not check the membership of <!subteam^${ctx.settings.adminGroup}> just now.)`,
    );
  }
  const second = decidePermission({ ...base, adminMembers: members });
  if (!second.allowed) throw new PermissionDeniedError(second.message);
}

/** The rules in one paragraph, for `/incident help` and the README. */
export const PERMISSIONS_HELP =
  '`close`, `severity`, `role`, paging and archiving are for the incident’s commander (its opener until someone is named commander), holders of incident roles, and members of the admin user group (INCIDENT_ADMIN_GROUP) when one is set.';
