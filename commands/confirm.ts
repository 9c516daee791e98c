import {
  optionalText,
  serviceCtx,
  short,
  takeHypothesisId,
  takeLeading,
  mentionNames,
} from '../src/slack/grammar';
import type { CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident, when } from './common';

const usage = 'confirm <H#> [time] [evidence]';

/** `confirm <H#> [time] [evidence]`: the hypothesis is the root cause. */
export const confirmCommand: CommandModule = {
  name: 'confirm',
  usage,
  summary: 'the hypothesis is the root cause',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const before = takeLeading(args, ctx, { usage });
    const { id, rest } = takeHypothesisId(before.rest, usage);
    const after = before.time ? before : takeLeading(rest, ctx, { usage });
    const raw = before.time ? rest : after.rest;
    const evidence = optionalText(raw, 'the evidence', usage, await mentionNames(ctx, raw));
    const res = await ctx.service.confirm(
      incident.record.id,
      id,
      evidence,
      serviceCtx(ctx, after.time),
    );
    const text = short(res.hypothesis.text);
    return recorded(
      ctx,
      res.incident,
      res,
      `✅ ${id} confirmed as root cause: ${esc(text)}${evidence ? ` — ${esc(short(evidence))}` : ''} (${esc(ctx.user.name)})`,
      `${id} confirmed as the root cause of ${incLabel(incident)} at ${when(ctx, after.time)}.`,
    );
  },
};
