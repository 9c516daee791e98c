import { requireText, serviceCtx, short, takeLeading, mentionNames } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident, when } from './common';

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
    const incident = requireIncident(ctx);
    const lead = takeLeading(args, ctx, { usage });
    const text = requireText(lead.rest, 'the impact', usage, await mentionNames(ctx, lead.rest));
    const res = await ctx.service.setImpact(incident.record.id, text, serviceCtx(ctx), lead.time);
    const since = lead.time ? ` (since ${when(ctx, lead.time)})` : '';
    return recorded(
      ctx,
      res.incident,
      res,
      `💥 Impact${since}: ${esc(short(text))} (${esc(ctx.user.name)})`,
      lead.time
        ? `Impact of ${incLabel(incident)} recorded; it started at ${when(ctx, lead.time)}.`
        : `Impact of ${incLabel(incident)} recorded. Add the time it began (\`/incident impact 13:55 <text>\`) to get the time to detect.`,
    );
  },
};
