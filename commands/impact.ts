import { serviceCtx, short } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incidentText, incLabel, recorded, when } from './common';

const usage = 'impact <text>';

/**
 * `impact [time] <text>`: who or what is affected. A given time is when the impact STARTED (it is
 * what "time to detect" is measured from); the entry itself is recorded now.
 */
export const impactCommand: CommandModule = {
  name: 'impact',
  usage,
  summary: 'describe the impact; a time given is when the impact started',
  needsIncident: true,
  async run(args, ctx) {
    const { incident, time, text } = await incidentText(args, ctx, usage, 'the impact');
    const res = await ctx.service.setImpact(incident, text, serviceCtx(ctx), time);
    const since = time ? ` (since ${when(ctx, time)})` : '';
    return recorded(
      ctx,
      res.incident,
      res,
      `💥 Impact${since}: ${esc(short(text))} (${esc(ctx.user.name)})`,
      time
        ? `Impact of ${incLabel(incident)} recorded; it started at ${when(ctx, time)}.`
        : `Impact of ${incLabel(incident)} recorded. Add the time it began (\`/incident impact 13:55 <text>\`) to get the time to detect.`,
    );
  },
};
