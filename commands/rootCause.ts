import { requireText, serviceCtx, short, takeLeading, mentionNames } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident, when } from './common';

const usage = 'root-cause <text>';

/** `root-cause [time] <text>`: the root cause stated directly. */
export const rootCauseCommand: CommandModule = {
  name: 'root-cause',
  aliases: ['rootcause', 'root_cause', 'rc'],
  usage,
  summary: 'state the root cause directly',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const lead = takeLeading(args, ctx, { usage });
    const text = requireText(
      lead.rest,
      'the root cause',
      usage,
      await mentionNames(ctx, lead.rest),
    );
    const res = await ctx.service.setRootCause(
      incident.record.id,
      text,
      serviceCtx(ctx, lead.time),
    );
    return recorded(
      ctx,
      res.incident,
      res,
      `🎯 Root cause: ${esc(short(text))} (${esc(ctx.user.name)})`,
      `Root cause of ${incLabel(incident)} recorded at ${when(ctx, lead.time)}.`,
    );
  },
};
