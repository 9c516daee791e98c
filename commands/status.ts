import { firstWord, serviceCtx, takeLeading } from '../src/slack/grammar';
import { SETTABLE_STATUSES, type Status } from '../src/core/model';
import { UsageError, type CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident, when } from './common';

const usage = 'status <investigating|identified|monitoring>';

/** `status <investigating|identified|monitoring>` (optionally with a leading time). */
export const statusCommand: CommandModule = {
  name: 'status',
  usage,
  summary: 'set the status (resolve and close have their own commands)',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const lead = takeLeading(args, ctx, { usage });
    const { word, rest } = firstWord(lead.rest);
    const status = word.toLowerCase();
    if (!(SETTABLE_STATUSES as readonly string[]).includes(status)) {
      const hint =
        status === 'resolved' || status === 'closed'
          ? ' Use `/incident resolve` and `/incident close` for those.'
          : '';
      throw new UsageError(
        word
          ? `"${word}" is not a status; use investigating, identified or monitoring.${hint}`
          : 'Which status? Use investigating, identified or monitoring.',
        usage,
      );
    }
    if (rest) {
      throw new UsageError(
        `Only the status goes here (got extra text "${rest}"); use \`/incident log\` for notes.`,
        usage,
      );
    }
    const res = await ctx.service.changeStatus(
      incident,
      status as Status,
      serviceCtx(ctx, lead.time),
    );
    return recorded(
      ctx,
      res.incident,
      res,
      `🔄 Status: ${status} (${esc(ctx.user.name)})`,
      `${incLabel(incident)} is now ${status} (as of ${when(ctx, lead.time)}).`,
    );
  },
};
