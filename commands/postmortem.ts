import type { Incident } from '../src/app/service';
import { reviewDraft, type Finding } from '../src/core/review';
import { UsageError, type CommandContext, type CommandModule } from '../src/slack/ports';
import { esc, incidentChannel, incLabel, requireIncident, slackError } from './common';
import { publishButton, publishCommand } from './postmortemPublish';

const usage = 'postmortem [template] | postmortem publish [target]';

/**
 * A template name from the command text: one word of letters, digits, `.`, `_`, `-` (no paths:
 * a Slack user must not point the renderer at files). Empty → the configured default.
 */
export function parseTemplate(args: string, ctx: CommandContext, cmdUsage: string): string {
  const t = args.trim();
  if (!t) return ctx.settings.template;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(t) || t.includes('..')) {
    throw new UsageError(
      `"${t}" is not a template name; give one word (letters, digits, ., _ or -).`,
      cmdUsage,
    );
  }
  return t;
}

export function postmortemFilename(incident: Incident): string {
  return `postmortem-${incLabel(incident)}.md`;
}

export function postmortemTitle(incident: Incident): string {
  return `Postmortem draft — ${incLabel(incident)}: ${incident.state.title}`;
}

/** Findings as Slack bullet lines. */
export function findingLines(findings: readonly Finding[]): string {
  return findings.map((f) => `• ${esc(f.message)}`).join('\n');
}

/**
 * `postmortem [template]`: renders the draft now and uploads it, without closing.
 * `postmortem publish [target]`: opens (or updates) the draft's pull/merge request.
 */
export const postmortemCommand: CommandModule = {
  name: 'postmortem',
  aliases: ['draft', 'pm'],
  usage,
  summary:
    'render the postmortem draft now and upload it, without closing; or publish it for review',
  needsIncident: true,
  actions: { publish: publishButton },
  async run(args, ctx) {
    const sub = /^publish(?:\s+(.*))?$/is.exec(args.trim());
    if (sub) return publishCommand(sub[1] ?? '', ctx);
    const current = requireIncident(ctx);
    const template = parseTemplate(args, ctx, usage);
    const { incident, markdown } = await ctx.service.draftPostmortem(current, template);
    const channel = incidentChannel(incident, ctx);
    const findings = reviewDraft(incident.state, { gapMinutes: ctx.settings.gapMinutes });
    const review = findings.length
      ? `\nBefore closing, the draft is missing:\n${findingLines(findings)}`
      : '\nThe review found nothing missing.';
    try {
      await ctx.slack.upload(
        channel,
        postmortemFilename(incident),
        markdown,
        postmortemTitle(incident),
      );
    } catch (err) {
      return {
        ephemeral: `I rendered the draft for ${incLabel(incident)} but could not upload it (${esc(slackError(err))}). Try again in a moment.${review}`,
      };
    }
    return {
      ephemeral: `Draft postmortem for ${incLabel(incident)} uploaded to <#${channel}> as ${postmortemFilename(incident)} (template: ${esc(template)}).${review}`,
    };
  },
};
