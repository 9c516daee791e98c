import {
  firstWord,
  optionalText,
  serviceCtx,
  short,
  takeLeading,
  mentionNames,
} from '../src/slack/grammar';
import { requirePermission } from '../src/app/permissions';
import { UsageError, type CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident, when } from './common';

const usage = 'severity <sevN> [reason]';

/** `severity <sevN> [reason]` (optionally with a leading time). */
export const severityCommand: CommandModule = {
  name: 'severity',
  aliases: ['sev'],
  usage,
  summary: 'change the severity (sev1 … sev4), with an optional reason',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    await requirePermission(ctx, 'severity', incident);
    const lead = takeLeading(args, ctx, { usage, severity: true });
    const severity = lead.severity;
    if (!severity) {
      const { word } = firstWord(lead.rest);
      throw new UsageError(
        word
          ? `"${word}" is not a severity; use sev1, sev2, sev3 or sev4.`
          : 'Which severity? Use sev1, sev2, sev3 or sev4.',
        usage,
      );
    }
    const reason = optionalText(lead.rest, 'the reason', usage, await mentionNames(ctx, lead.rest));
    const res = await ctx.service.changeSeverity(
      incident,
      severity,
      reason,
      serviceCtx(ctx, lead.time),
    );
    const sev = severity.toUpperCase();
    return recorded(
      ctx,
      res.incident,
      res,
      `🚨 Severity changed to ${sev}${reason ? `: ${esc(short(reason))}` : ''} (${esc(ctx.user.name)})`,
      `${incLabel(incident)} is now ${sev} (as of ${when(ctx, lead.time)}).`,
    );
  },
};
