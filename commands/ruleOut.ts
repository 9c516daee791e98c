import { requireText, serviceCtx, short, mentionNames } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, hypothesisArgs, incLabel, recorded, when } from './common';

const usage = 'rule-out <H#> [time] <evidence>';

/** `rule-out <H#> [time] <evidence>`: the hypothesis was a misleading path. */
export const ruleOutCommand: CommandModule = {
  name: 'rule-out',
  aliases: ['ruleout', 'rule_out'],
  usage,
  summary: 'the hypothesis was a misleading path, with the evidence',
  needsIncident: true,
  async run(args, ctx) {
    const { incident, id, time, rest: raw } = hypothesisArgs(args, ctx, usage);
    const evidence = requireText(
      raw,
      'the evidence that rules it out',
      usage,
      await mentionNames(ctx, raw),
    );
    const res = await ctx.service.ruleOut(incident, id, evidence, serviceCtx(ctx, time));
    return recorded(
      ctx,
      res.incident,
      res,
      `❌ ${id} ruled out: ${esc(short(evidence))} (${esc(ctx.user.name)})`,
      `${id} (${esc(short(res.hypothesis.text, 80))}) ruled out in ${incLabel(incident)} at ${when(ctx, time)}; it will show as a misleading path.`,
    );
  },
};
