import { serviceCtx, short } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incidentText, incLabel, recorded, when } from './common';

const usage = 'root-cause <text>';

/** `root-cause [time] <text>`: the root cause stated directly. */
export const rootCauseCommand: CommandModule = {
  name: 'root-cause',
  aliases: ['rootcause', 'root_cause', 'rc'],
  usage,
  summary: 'state the root cause directly',
  needsIncident: true,
  async run(args, ctx) {
    const { incident, time, text } = await incidentText(args, ctx, usage, 'the root cause');
    const res = await ctx.service.setRootCause(incident, text, serviceCtx(ctx, time));
    return recorded(
      ctx,
      res.incident,
      res,
      `🎯 Root cause: ${esc(short(text))} (${esc(ctx.user.name)})`,
      `Root cause of ${incLabel(incident)} recorded at ${when(ctx, time)}.`,
    );
  },
};
