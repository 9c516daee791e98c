import { firstWord, serviceCtx } from '../src/slack/grammar';
import { INCIDENT_KINDS, incidentKind, isIncidentKind } from '../src/core/insights';
import { UsageError, type CommandModule } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident } from './common';

const usage = 'kind <real|drill|test>';

/**
 * `kind <real|drill|test>`: marks the incident as a drill or a test (left out of the insights
 * page by default), or back to a real incident. Allowed after close too: people often decide an
 * incident was a drill only afterwards.
 */
export const kindCommand: CommandModule = {
  name: 'kind',
  usage,
  summary: 'mark the incident as a drill or a test (left out of insights), or real',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const { word, rest } = firstWord(args);
    const kind = word.toLowerCase();
    if (!isIncidentKind(kind) || rest) {
      throw new UsageError(
        word
          ? `"${args.trim()}" is not a kind; use one of ${INCIDENT_KINDS.join(', ')}.`
          : `Which kind? Use one of ${INCIDENT_KINDS.join(', ')}.`,
        usage,
      );
    }
    if (incidentKind(incident.events) === kind) {
      return { ephemeral: `${incLabel(incident)} is already marked ${kind}.` };
    }
    const res = await ctx.service.record(
      incident,
      serviceCtx(ctx),
      'incident.kind_set',
      { kind },
      { allowClosed: true },
    );
    return recorded(
      ctx,
      res.incident,
      res,
      `🏷️ Kind: ${kind} (${esc(ctx.user.name)})`,
      `${incLabel(incident)} is now marked ${kind}${kind === 'real' ? '' : ': left out of insights by default'}.`,
    );
  },
};
