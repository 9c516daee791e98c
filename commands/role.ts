import {
  firstWord,
  serviceCtx,
  takeLeading,
  takeUserMention,
  userName,
} from '../src/slack/grammar';
import { requirePermission } from '../src/app/permissions';
import { UsageError, type CommandModule } from '../src/slack/ports';
import { esc, incidentChannel, incLabel, recorded, requireIncident, when } from './common';

const usage = 'role <commander|comms|scribe|NAME> <@user>';

/** `role <commander|comms|scribe|NAME> <@user>`; the mention may also come first. */
export const roleCommand: CommandModule = {
  name: 'role',
  usage,
  summary: 'assign a role (commander, comms, scribe or any one-word name) to someone',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    await requirePermission(ctx, 'role', incident);
    const lead = takeLeading(args, ctx, { usage });
    let mention = takeUserMention(lead.rest);
    let role: string;
    if (mention.user) {
      role = firstWord(mention.rest).word;
      if (firstWord(mention.rest).rest) throw extra(firstWord(mention.rest).rest);
    } else {
      const w = firstWord(lead.rest);
      role = w.word;
      mention = takeUserMention(w.rest);
      if (mention.rest) throw extra(mention.rest);
    }
    if (!role) throw new UsageError('Which role? e.g. commander, comms or scribe.', usage);
    if (!mention.user) {
      throw new UsageError(
        'Mention the person who takes the role, e.g. `/incident role commander @alice`.',
        usage,
      );
    }
    const name = await userName(ctx, mention.user);
    const res = await ctx.service.assignRole(
      incident,
      role,
      { id: mention.user.id, name },
      serviceCtx(ctx, lead.time),
    );
    const r = role.toLowerCase();
    if (res.recorded) {
      // Whoever holds a role needs to be in the channel; a failed invite does not undo the role.
      await ctx.slack
        .invite(incidentChannel(incident, ctx), [mention.user.id])
        .catch(() => undefined);
    }
    return recorded(
      ctx,
      res.incident,
      res,
      `👤 ${esc(name)} is now ${esc(r)} (set by ${esc(ctx.user.name)})`,
      `${esc(name)} is ${esc(r)} of ${incLabel(incident)} (as of ${when(ctx, lead.time)}).`,
    );
  },
};

function extra(text: string): UsageError {
  return new UsageError(`Unexpected "${text}": give a role and one person.`, usage);
}
