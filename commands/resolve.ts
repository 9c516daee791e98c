import { optionalText, serviceCtx, short, takeLeading, mentionNames } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident, when } from './common';

const usage = 'resolve [time] [how it was resolved]';

/** `resolve [time] [how]`: service restored; the time ends the incident's duration. */
export const resolveCommand: CommandModule = {
  name: 'resolve',
  aliases: ['resolved'],
  usage,
  summary: 'service restored: ends the duration (then `close` drafts the postmortem)',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const lead = takeLeading(args, ctx, { usage });
    const how = optionalText(
      lead.rest,
      'how it was resolved',
      usage,
      await mentionNames(ctx, lead.rest),
    );
    const res = await ctx.service.resolve(incident, how, serviceCtx(ctx, lead.time));
    const at = when(ctx, lead.time);
    return recorded(
      ctx,
      res.incident,
      res,
      `🟢 Resolved at ${at}${how ? `: ${esc(short(how))}` : ''} (${esc(ctx.user.name)})`,
      `${incLabel(incident)} resolved at ${at}. When the record is complete, \`/incident close\` drafts the postmortem.`,
    );
  },
};
