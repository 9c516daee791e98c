import { requirePermission } from '../src/app/permissions';
import type { Incident } from '../src/app/service';
import { humanDuration } from '../src/core/duration';
import { computeMetrics } from '../src/core/metrics';
import { reviewDraft, type Finding } from '../src/core/review';
import {
  andMore,
  button,
  escClip,
  LIMITS,
  messageText,
  oneLine,
  section,
} from '../src/slack/blockKit';
import { serviceCtx } from '../src/slack/grammar';
import { uploadPostmortemEffect } from '../src/slack/postmortemUpload';
import type { CommandContext, CommandModule, Reply } from '../src/slack/ports';
import { incidentChannel, incLabel, requireIncident, when } from './common';
import { parseTemplate, postmortemFilename, postmortemTitle } from './postmortem';
import { withPublishButtons } from './postmortemPublish';

const usage = 'close [template]';

/** Button value: the incident id, plus `|template` when one was named explicitly. */
function buttonValue(incidentId: string, template: string | undefined): string {
  return template ? `${incidentId}|${template}` : incidentId;
}

function parseButtonValue(value: string): { incidentId: string; template?: string } {
  const bar = value.indexOf('|');
  return bar < 0
    ? { incidentId: value }
    : { incidentId: value.slice(0, bar), template: value.slice(bar + 1) || undefined };
}

/** The summary posted in the channel once closed. */
export function closeSummary(ctx: CommandContext, incident: Incident, filename: string): string {
  const s = incident.state;
  const total = computeMetrics(s).find((m) => m.key === 'total_duration');
  const duration =
    total?.ms !== undefined
      ? `${humanDuration(total.ms)}${s.detectedAt && s.resolvedAt ? ` (detected ${when(ctx, s.detectedAt)} → resolved ${when(ctx, s.resolvedAt)})` : ''}`
      : `unknown (${total?.missing ?? 'no start time'})`;
  const ruledOut = s.hypotheses.filter((h) => h.outcome === 'ruled_out');
  const actions = s.actions;
  const lines = [
    `🏁 *${incLabel(incident)} closed* — ${escClip(oneLine(s.title), 300)}`,
    `Duration: ${duration}`,
    `Hypotheses ruled out: ${
      ruledOut.length
        ? listed(
            ruledOut.map((h) => `${h.id} (${escClip(oneLine(h.text), ITEM_CHARS)})`),
            SUMMARY_ITEMS,
          )
        : 'none'
    }`,
    `Action items: ${
      actions.length
        ? listed(
            actions.map(
              (a) =>
                `${a.id} ${escClip(oneLine(a.text), ITEM_CHARS)} (${a.owner ? escClip(oneLine(a.owner.name), 80) : 'no owner'}, ${a.due ? `due ${a.due}` : 'no due date'})`,
            ),
            SUMMARY_ITEMS,
          )
        : 'none'
    }`,
    `Postmortem draft: ${filename}`,
  ];
  return messageText(lines.join('\n'));
}

/** Items of each list the closing summary names (then "… and N more"), and their length. */
const SUMMARY_ITEMS = 10;
const ITEM_CHARS = 100;

function listed(items: readonly string[], max: number): string {
  const shown = items.slice(0, max);
  if (items.length > max) shown.push(andMore(items.length - max));
  return shown.join('; ');
}

/**
 * The close-time review as Block Kit: an intro, one section per finding, the way out, and the
 * "Close anyway" / "Go back" buttons. There are at most 8 findings, each message already names at
 * most a few items (src/core/review.ts); each finding is clipped after escaping so that the
 * blocks' texts together stay within Slack's message budget, and the buttons always come last.
 */
export function reviewBlocks(
  incident: Incident,
  findings: readonly Finding[],
  value: string,
): { text: string; blocks: unknown[] } {
  const intro = `Before closing ${incLabel(incident)}, the postmortem draft is missing:`;
  const outro = 'Nothing blocks closing: fix these first, or close anyway.';
  const shown = findings.slice(0, LIMITS.messageBlocks - 3);
  const perFinding = Math.min(
    LIMITS.sectionText,
    Math.floor((LIMITS.messageBlocksChars - 1000) / Math.max(1, shown.length)),
  );
  const lines = shown.map((f) => escClip(`• ${f.message}`, perFinding));
  return {
    text: messageText(`${intro}\n${lines.join('\n')}\n${outro}`),
    blocks: [
      section(`*${intro}*`),
      ...lines.map((l) => section(l)),
      section(outro),
      {
        type: 'actions',
        block_id: 'close_review',
        elements: [
          button({ actionId: 'close:anyway', text: 'Close anyway', value, style: 'danger' }),
          button({ actionId: 'close:back', text: 'Go back', value }),
        ],
      },
    ],
  };
}

/** Renders, uploads and closes; the service refuses when not resolved or already closed. */
async function doClose(
  ctx: CommandContext,
  incidentId: string,
  template: string | undefined,
): Promise<Reply> {
  // The button may name another incident than the channel's: check against the one closed.
  const target =
    ctx.incident?.record.id === incidentId ? ctx.incident : await ctx.service.load(incidentId);
  await requirePermission(ctx, 'close', target);
  // The upload is owed by the closing commit itself (once, retried): src/slack/postmortemUpload.ts.
  const result = await ctx.service.close(incidentId, serviceCtx(ctx), {
    template: template ?? ctx.settings.template,
    effects: (_markdown, incident) => [
      uploadPostmortemEffect(incident.record.id, {
        channel: incidentChannel(incident, ctx),
        filename: postmortemFilename(incident),
        title: postmortemTitle(incident),
        label: incLabel(incident),
      }),
    ],
  });
  const incident = result.incident;
  const filename = postmortemFilename(incident);
  const summary = closeSummary(ctx, incident, filename);
  const channel = incidentChannel(incident, ctx);
  const reply: Reply = {
    ephemeral: `${incLabel(incident)} closed. The postmortem draft is being uploaded to <#${channel}> as ${filename}.`,
  };
  // The summary goes to the incident's channel, also when the button was clicked elsewhere; it
  // is delivered with the reply (outbox). With publish targets configured, a "Publish for review"
  // button goes with the answer.
  const line: Reply = { ...reply, inChannel: summary };
  if (channel !== ctx.channel) line.channel = channel;
  return withPublishButtons(line, ctx, incident);
}

/**
 * `close [template]`: reviews the draft first; with findings, answers with them and the buttons
 * "Close anyway" / "Go back"; without, closes directly.
 */
export const closeCommand: CommandModule = {
  name: 'close',
  usage,
  summary: 'review the record, render the postmortem draft, upload it, and close',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    await requirePermission(ctx, 'close', incident);
    const explicit = args.trim() ? parseTemplate(args, ctx, usage) : undefined;
    const s = incident.state;
    // Closed or unresolved: the service answers (and refuses) before any review is shown.
    if (s.status === 'closed' || incident.record.status === 'closed' || !s.resolvedAt) {
      return doClose(ctx, incident.record.id, explicit);
    }
    const findings = reviewDraft(s, { gapMinutes: ctx.settings.gapMinutes });
    if (findings.length === 0) return doClose(ctx, incident.record.id, explicit);
    const review = reviewBlocks(incident, findings, buttonValue(incident.record.id, explicit));
    return { ephemeral: review.text, blocks: review.blocks };
  },
  actions: {
    async anyway(value, ctx) {
      const { incidentId, template } = parseButtonValue(value);
      return doClose(ctx, incidentId, template);
    },
    async back() {
      return {
        ephemeral:
          'Nothing was closed. Fill in what the review found, then run `/incident close` again.',
      };
    },
  },
};
