import { serviceCtx, short } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incidentText, incLabel, recorded, when } from './common';

const usage = 'hypothesis [time] <text>';

/** `hypothesis [time] <text>`: raises H1, H2 … */
export const hypothesisCommand: CommandModule = {
  name: 'hypothesis',
  aliases: ['hyp', 'hypo'],
  usage,
  summary: 'raise a hypothesis (H1, H2 …)',
  needsIncident: true,
  async run(args, ctx) {
    const { incident, time, text } = await incidentText(args, ctx, usage, 'the hypothesis');
    const res = await ctx.service.raiseHypothesis(incident, text, serviceCtx(ctx, time));
    const id = res.hypothesis?.id ?? 'H?';
    return recorded(
      ctx,
      res.incident,
      res,
      `🔎 ${id} raised: ${esc(short(text))} (${esc(ctx.user.name)})`,
      `${id} raised in ${incLabel(incident)} at ${when(ctx, time)}. Settle it with \`/incident rule-out ${id} <evidence>\` or \`/incident confirm ${id}\`.`,
    );
  },
};
