import { requireText, serviceCtx, short, takeLeading, mentionNames } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident, when } from './common';

const usage = 'hypothesis [time] <text>';

/** `hypothesis [time] <text>`: raises H1, H2 … */
export const hypothesisCommand: CommandModule = {
  name: 'hypothesis',
  aliases: ['hyp', 'hypo'],
  usage,
  summary: 'raise a hypothesis (H1, H2 …)',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const lead = takeLeading(args, ctx, { usage });
    const text = requireText(
      lead.rest,
      'the hypothesis',
      usage,
      await mentionNames(ctx, lead.rest),
    );
    const res = await ctx.service.raiseHypothesis(
      incident.record.id,
      text,
      serviceCtx(ctx, lead.time),
    );
    const id = res.hypothesis?.id ?? 'H?';
    return recorded(
      ctx,
      res.incident,
      res,
      `🔎 ${id} raised: ${esc(short(text))} (${esc(ctx.user.name)})`,
      `${id} raised in ${incLabel(incident)} at ${when(ctx, lead.time)}. Settle it with \`/incident rule-out ${id} <evidence>\` or \`/incident confirm ${id}\`.`,
    );
  },
};
