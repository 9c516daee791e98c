import { requireText, serviceCtx, short, takeLeading, mentionNames } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident, when } from './common';

const usage = 'log [time] <text>';

/** `log [time] <text>`: a timeline entry, backdatable. */
export const logCommand: CommandModule = {
  name: 'log',
  aliases: ['note'],
  usage,
  summary: 'add a timeline entry (the time backdates it; default: now)',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const lead = takeLeading(args, ctx, { usage });
    const text = requireText(
      lead.rest,
      'the entry text',
      usage,
      await mentionNames(ctx, lead.rest),
    );
    const res = await ctx.service.log(incident.record.id, text, serviceCtx(ctx, lead.time));
    const at = when(ctx, lead.time);
    return recorded(
      ctx,
      res.incident,
      res,
      `📝 ${at} — ${esc(short(text))} (${esc(ctx.user.name)})`,
      `Logged in ${incLabel(incident)} at ${at}.`,
    );
  },
};
