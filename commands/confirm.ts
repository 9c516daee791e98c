import { optionalText, serviceCtx, short, mentionNames } from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, hypothesisArgs, incLabel, recorded, when } from './common';

const usage = 'confirm <H#> [time] [evidence]';

/** `confirm <H#> [time] [evidence]`: the hypothesis is the root cause. */
export const confirmCommand: CommandModule = {
  name: 'confirm',
  usage,
  summary: 'the hypothesis is the root cause',
  needsIncident: true,
  async run(args, ctx) {
    const { incident, id, time, rest: raw } = hypothesisArgs(args, ctx, usage);
    const evidence = optionalText(raw, 'the evidence', usage, await mentionNames(ctx, raw));
    const res = await ctx.service.confirm(incident, id, evidence, serviceCtx(ctx, time));
    const text = short(res.hypothesis.text);
    return recorded(
      ctx,
      res.incident,
      res,
      `✅ ${id} confirmed as root cause: ${esc(text)}${evidence ? ` — ${esc(short(evidence))}` : ''} (${esc(ctx.user.name)})`,
      `${id} confirmed as the root cause of ${incLabel(incident)} at ${when(ctx, time)}.`,
    );
  },
};
