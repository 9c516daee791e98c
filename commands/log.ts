import { serviceCtx, short } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incidentText, incLabel, recorded, when } from './common';

const usage = 'log [time] <text>';

/** `log [time] <text>`: a timeline entry, backdatable. */
export const logCommand: CommandModule = {
  name: 'log',
  aliases: ['note'],
  usage,
  summary: 'add a timeline entry (the time backdates it; default: now)',
  needsIncident: true,
  async run(args, ctx) {
    const { incident, time, text } = await incidentText(args, ctx, usage, 'the entry text');
    const res = await ctx.service.log(incident, text, serviceCtx(ctx, time));
    const at = when(ctx, time);
    return recorded(
      ctx,
      res.incident,
      res,
      `📝 ${at} — ${esc(short(text))} (${esc(ctx.user.name)})`,
      `Logged in ${incLabel(incident)} at ${at}.`,
    );
  },
};
