import type { Incident } from '../src/app/service';
import { publishingFor } from '../src/integrations/publish';
import { clipMrkdwn, LIMITS } from '../src/slack/blockKit';
import { serviceCtx } from '../src/slack/grammar';
import { UsageError, type CommandContext, type Reply } from '../src/slack/ports';
import { esc, incLabel, requireIncident } from './common';

export const publishUsage = 'postmortem publish [target]';

/** The Publish button offered after close: one per configured target (Slack allows 25 per block). */
export function publishButtons(ctx: CommandContext, incident: Incident): unknown[] {
  const p = publishingFor(ctx.service);
  if (!p || p.targets.length === 0) return [];
  return [
    {
      type: 'actions',
      block_id: 'publish',
      elements: p.targets.slice(0, 5).map((t) => ({
        type: 'button',
        action_id: `postmortem:publish`,
        text: {
          type: 'plain_text',
          text: p.targets.length === 1 ? 'Publish for review' : `Publish to ${t.name}`.slice(0, 75),
        },
        value: `${incident.record.id}|${t.name}`,
      })),
    },
  ];
}

/**
 * Publishes the channel's incident's draft to a target (the only one, or the named one) as a draft
 * pull/merge request; publishing again updates the same one. The link is posted in the channel.
 */
export async function publishCommand(args: string, ctx: CommandContext): Promise<Reply> {
  return publishIncident(requireIncident(ctx), args.trim(), ctx);
}

/** The Publish button: `value` is `<incident id>|<target>`. */
export async function publishButton(value: string, ctx: CommandContext): Promise<Reply> {
  const bar = value.indexOf('|');
  const incident = await ctx.service.load(bar < 0 ? value : value.slice(0, bar));
  if (incident.record.team !== ctx.team) {
    return { ephemeral: 'That incident belongs to another workspace.' };
  }
  return publishIncident(incident, bar < 0 ? '' : value.slice(bar + 1), ctx);
}

async function publishIncident(
  incident: Incident,
  name: string,
  ctx: CommandContext,
): Promise<Reply> {
  const p = publishingFor(ctx.service);
  if (!p || p.targets.length === 0) {
    return {
      ephemeral:
        'No place to publish postmortems is configured. An admin sets PUBLISH_TARGETS (a GitHub repository or a GitLab project); see the README.',
    };
  }
  const names = p.targets.map((t) => t.name);
  let target = p.targets[0];
  if (name) {
    const found = p.targets.find((t) => t.name === name.toLowerCase());
    if (!found) {
      throw new UsageError(
        `"${name}" is not a publish target; use one of: ${names.join(', ')}.`,
        publishUsage,
      );
    }
    target = found;
  } else if (p.targets.length > 1) {
    throw new UsageError(`Which target? Use one of: ${names.join(', ')}.`, publishUsage);
  }
  const res = await ctx.service.record(
    incident,
    serviceCtx(ctx),
    'postmortem.publish_requested',
    { target: target.name },
    { allowClosed: true },
  );
  const where = target.provider === 'github' ? `GitHub ${target.repo}` : `GitLab ${target.project}`;
  if (!res.recorded) {
    return { ephemeral: `Already asked to publish ${incLabel(incident)} to ${esc(target.name)}.` };
  }
  return {
    ephemeral: `Publishing the draft of ${incLabel(incident)} to ${esc(target.name)} (${esc(where)}): the link is posted in the channel once the ${target.provider === 'github' ? 'pull' : 'merge'} request is ready.`,
  };
}

/** Adds the Publish button(s) under an ephemeral reply (its text kept as the first block). */
export function withPublishButtons(reply: Reply, ctx: CommandContext, incident: Incident): Reply {
  const buttons = publishButtons(ctx, incident);
  if (buttons.length === 0 || !reply.ephemeral) return reply;
  return {
    ...reply,
    blocks: [
      // Clipped after escaping, never inside an entity or link (src/slack/blockKit.ts).
      {
        type: 'section',
        text: { type: 'mrkdwn', text: clipMrkdwn(reply.ephemeral, LIMITS.sectionText) },
      },
      ...buttons,
    ],
  };
}
