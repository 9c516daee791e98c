import {
  checkLength,
  mentionNames,
  requireText,
  serviceCtx,
  short,
  takeLeading,
} from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { extractMentions } from '../src/slack/text';
import {
  esc,
  incidentChannel,
  incLabel,
  recorded,
  requireIncident,
  slackError,
  when,
} from './common';

import { splitEscalation } from '../src/core/escalation';
import { pageFromEscalation } from './page';

export { splitEscalation };

const usage = 'escalate [time] <to whom and why>';

/**
 * `escalate [time] <to whom and why>`: mentioned users and groups' members are invited. When
 * "to whom" starts with a responder target's name (`escalate payments because …`), the target
 * is paged too (see commands/page.ts).
 */
export const escalateCommand: CommandModule = {
  name: 'escalate',
  aliases: ['esc'],
  usage,
  summary: 'record an escalation; mentioned users and user groups are invited to the channel',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const lead = takeLeading(args, ctx, { usage });
    const mentions = extractMentions(lead.rest);
    const names = await mentionNames(ctx, lead.rest);
    const text = requireText(lead.rest, 'who it is escalated to (and why)', usage, names);
    const { to, reason } = splitEscalation(text);
    checkLength(to, 'who it is escalated to', usage);
    const res = await ctx.service.escalate(
      incident,
      { to, reason, users: mentions.users, groups: mentions.groups },
      serviceCtx(ctx, lead.time),
    );

    // Invitations: after the record, so a Slack failure never loses the escalation.
    const problems: string[] = [];
    const invitees = new Set<string>(mentions.users);
    for (const g of mentions.groups) {
      try {
        for (const u of await ctx.slack.usergroupMembers(g)) invitees.add(u);
      } catch (err) {
        problems.push(`could not list the members of a user group (${slackError(err)})`);
      }
    }
    invitees.delete(ctx.user.id);
    if (res.recorded && invitees.size) {
      try {
        await ctx.slack.invite(incidentChannel(incident, ctx), [...invitees]);
      } catch (err) {
        problems.push(`could not invite them to the channel (${slackError(err)})`);
      }
    }
    const invited =
      res.recorded && invitees.size && problems.length === 0
        ? ` Invited ${invitees.size} ${invitees.size === 1 ? 'person' : 'people'} to the channel.`
        : '';
    const trouble = problems.length
      ? ` The escalation is recorded, but I ${problems.join('; ')}.`
      : '';
    const reply = recorded(
      ctx,
      res.incident,
      res,
      `📣 Escalated to ${esc(short(to))}${reason ? ` — ${esc(short(reason))}` : ''} (${esc(ctx.user.name)})`,
      `Escalation recorded in ${incLabel(incident)} at ${when(ctx, lead.time)}.${invited}${trouble}`,
    );
    if (!res.recorded) return reply;
    const page = await pageFromEscalation(ctx, res.incident, to, reason);
    if (!page) return reply;
    const both = (a?: string, b?: string) => [a, b].filter(Boolean).join('\n') || undefined;
    return {
      ephemeral: both(reply.ephemeral, page.ephemeral),
      inChannel: both(reply.inChannel, page.inChannel),
      ...(page.blocks
        ? {
            blocks: [
              { type: 'section', text: { type: 'mrkdwn', text: reply.ephemeral ?? '' } },
              ...page.blocks,
            ],
          }
        : {}),
    };
  },
};
