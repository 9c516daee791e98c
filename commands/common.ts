/**
 * Helpers shared by the subcommand modules (not a subcommand itself; not in the registry).
 */
import type { DateTime } from 'luxon';
import { IncidentError } from '../src/app/errors';
import type { Incident } from '../src/app/service';
import { formatIncidentNumber } from '../src/core/model';
import {
  echoTime,
  incidentZone,
  mentionNames,
  requireText,
  takeHypothesisId,
  takeLeading,
} from '../src/slack/grammar';
import type { CommandContext, Reply } from '../src/slack/ports';
import { escapeSlackText } from '../src/slack/text';

/** The incident of this channel; the dispatcher normally answers before we get here. */
export function requireIncident(ctx: CommandContext): Incident {
  if (!ctx.incident) {
    throw new IncidentError(
      'not_found',
      'This channel is not an incident channel. Run this in the incident’s channel, or open one with `/incident start <title>`.',
    );
  }
  return ctx.incident;
}

/**
 * The common shape `<subcommand> [time] <text>`: the channel's incident, the optional leading
 * time, and the required free text with mentions shown as names.
 */
export async function incidentText(
  args: string,
  ctx: CommandContext,
  usage: string,
  what: string,
): Promise<{ incident: Incident; time?: DateTime; text: string }> {
  const incident = requireIncident(ctx);
  const lead = takeLeading(args, ctx, { usage });
  const text = requireText(lead.rest, what, usage, await mentionNames(ctx, lead.rest));
  return { incident, time: lead.time, text };
}

/**
 * The shape `<subcommand> <H#> [time] [text]` (the time may also come before the id): the
 * channel's incident, the hypothesis id, the time, and the rest of the text (not yet checked).
 */
export function hypothesisArgs(
  args: string,
  ctx: CommandContext,
  usage: string,
): { incident: Incident; id: string; time?: DateTime; rest: string } {
  const incident = requireIncident(ctx);
  const before = takeLeading(args, ctx, { usage });
  const { id, rest } = takeHypothesisId(before.rest, usage);
  if (before.time) return { incident, id, time: before.time, rest };
  const after = takeLeading(rest, ctx, { usage });
  return { incident, id, time: after.time, rest: after.rest };
}

/** "INC-4" */
export function incLabel(incident: Incident): string {
  return formatIncidentNumber(incident.record.number);
}

/** The incident's Slack channel (falls back to where the command was typed). */
export function incidentChannel(incident: Incident, ctx: CommandContext): string {
  return incident.state.channel ?? incident.record.channel ?? ctx.channel;
}

/** The time as understood, in the incident's zone ("14:20 PDT", or with the date). */
export function when(ctx: CommandContext, t: DateTime | undefined): string {
  return echoTime(t ?? ctx.now, incidentZone(ctx), ctx.now);
}

/** User text made safe to post (Slack interprets &, <, >). */
export const esc = escapeSlackText;

/**
 * The usual answer to a recorded change: one line in the channel and the time as understood for
 * the caller (the status card follows from the commit itself: src/slack/statusCard.ts). A
 * duplicate (Slack retry) is acknowledged quietly.
 */
export function recorded(
  _ctx: CommandContext,
  incident: Incident,
  res: { recorded: boolean; events?: readonly unknown[] },
  inChannel: string,
  ephemeral: string,
): Reply {
  // Not recorded now but found under this request's key: the same request processed again after
  // a restart. Its answer may never have gone out: give it.
  if (!res.recorded && !res.events?.length) {
    return { ephemeral: `Already recorded in ${incLabel(incident)}; nothing changed.` };
  }
  return { inChannel, ephemeral };
}

/** Error text for a failed Slack call. */
export function slackError(err: unknown): string {
  if (err && typeof err === 'object') {
    const data = (err as { data?: { error?: unknown } }).data;
    if (data && typeof data.error === 'string') return data.error;
    const code = (err as { code?: unknown }).code;
    const message = (err as { message?: unknown }).message;
    if (typeof message === 'string' && message) return message;
    if (typeof code === 'string') return code;
  }
  return String(err);
}
