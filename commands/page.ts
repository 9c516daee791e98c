/**
 * `page <target> [why]`: pages a responder target from the responders file (PagerDuty, JSM,
 * Opsgenie or a webhook). The command only records `page.requested`; the paging subscriber
 * (src/integrations/paging) sends it through the outbox, posts the provider's answer in the
 * channel, and invites the on-call people it finds. At SEV1/SEV2 the caller confirms first
 * (buttons `page:confirm` / `page:cancel`), since a page wakes people up.
 *
 * `/incident escalate <target> …` pages too, through `pageFromEscalation` below. Paging is a
 * guarded action (src/app/permissions.ts): the commander, role holders and INCIDENT_ADMIN_GROUP.
 */
import { IncidentError } from '../src/app/errors';
import { requirePermission } from '../src/app/permissions';
import type { Incident } from '../src/app/service';
import { PAGER_NAMES } from '../src/core/fold';
import { findTarget, type ResponderTarget } from '../src/integrations/paging/config';
import { pageDedupKey } from '../src/integrations/paging/subscriber';
import { firstWord, mentionNames, optionalText, serviceCtx, short } from '../src/slack/grammar';
import type { CommandContext, CommandModule, Reply } from '../src/slack/ports';
import { UsageError } from '../src/slack/ports';
import { esc, incLabel, recorded, requireIncident } from './common';

const usage = 'page <target> [why]';
/** Slack allows 2000 characters in a button value; the reason is clipped to fit. */
const MAX_REASON_IN_BUTTON = 1500;

function targets(ctx: CommandContext): ResponderTarget[] {
  return ctx.settings.paging?.targets ?? [];
}

function knownTargets(ctx: CommandContext): string {
  return targets(ctx)
    .map((t) => `\`${t.name}\`${t.description ? ` (${esc(t.description)})` : ''}`)
    .join(', ');
}

/** The target by name, or a UsageError naming the configured ones. */
function requireTarget(ctx: CommandContext, name: string): ResponderTarget {
  if (targets(ctx).length === 0) {
    throw new IncidentError(
      'invalid',
      'Paging is not set up: no responder targets are configured (INCIDENT_RESPONDERS_FILE, see the README section "Paging"). Use `/incident escalate @someone` to invite people instead.',
    );
  }
  const t = ctx.settings.paging && name ? findTarget(ctx.settings.paging, name) : undefined;
  if (!t) {
    throw new UsageError(
      name
        ? `There is no responder target "${esc(short(name, 60))}". Known targets: ${knownTargets(ctx)}.`
        : `Which target? Known targets: ${knownTargets(ctx)}.`,
      usage,
    );
  }
  return t;
}

/** Whether paging this incident needs a confirmation (SEV1/SEV2). */
function needsConfirmation(incident: Incident): boolean {
  return incident.state.severity === 'sev1' || incident.state.severity === 'sev2';
}

function confirmation(incident: Incident, target: ResponderTarget, reason?: string): Reply {
  const text = `Page *${target.name}* (${PAGER_NAMES[target.pager.kind]}) for ${incLabel(incident)}, a ${incident.state.severity.toUpperCase()}?${reason ? `\nWhy: ${esc(short(reason, 300))}` : ''}\nThis notifies whoever is on call for it.`;
  const value = JSON.stringify({
    t: target.name,
    ...(reason ? { r: reason.slice(0, MAX_REASON_IN_BUTTON) } : {}),
  });
  return {
    ephemeral: text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      {
        type: 'actions',
        block_id: 'page_confirm',
        elements: [
          {
            type: 'button',
            action_id: 'page:confirm',
            text: { type: 'plain_text', text: `Page ${target.name}` },
            style: 'danger',
            value,
          },
          {
            type: 'button',
            action_id: 'page:cancel',
            text: { type: 'plain_text', text: 'Cancel' },
            value,
          },
        ],
      },
    ],
  };
}

/** Records page.requested (the subscriber does the rest). */
async function requestPage(
  ctx: CommandContext,
  incident: Incident,
  target: ResponderTarget,
  reason: string | undefined,
): Promise<Reply> {
  await requirePermission(ctx, 'page', incident);
  const base = serviceCtx(ctx);
  const res = await ctx.service.record(
    incident,
    { ...base, ...(base.key ? { key: `${base.key}:page:${target.name}` } : {}) },
    'page.requested',
    {
      target: target.name,
      pager: target.pager.kind,
      dedupKey: pageDedupKey(incident.record.id, target.name),
      ...(reason ? { reason } : {}),
    },
  );
  const pager = PAGER_NAMES[target.pager.kind];
  const dry = ctx.settings.paging?.dryRun ? ' PAGING_DRY_RUN is on: it is recorded, not sent.' : '';
  return recorded(
    ctx,
    res.incident,
    res,
    `📟 Paging *${esc(target.name)}* (${pager})${reason ? ` — ${esc(short(reason))}` : ''} (${esc(ctx.user.name)})`,
    `Page to ${target.name} requested in ${incLabel(incident)}; I will post here when ${pager} answers.${dry}`,
  );
}

/** Pages (or asks to confirm) unless confirmation is needed and not given. */
async function pageOrConfirm(
  ctx: CommandContext,
  incident: Incident,
  target: ResponderTarget,
  reason: string | undefined,
): Promise<Reply> {
  // Checked before asking, so nobody confirms a page they may not send.
  await requirePermission(ctx, 'page', incident);
  if (needsConfirmation(incident)) return confirmation(incident, target, reason);
  return requestPage(ctx, incident, target, reason);
}

/**
 * For `/incident escalate <target> …`: when the escalation's "to whom" starts with a configured
 * target's name, that target is paged too (or the confirmation is shown). Otherwise undefined.
 */
export async function pageFromEscalation(
  ctx: CommandContext,
  incident: Incident,
  to: string,
  reason: string | undefined,
): Promise<Reply | undefined> {
  const paging = ctx.settings.paging;
  if (!paging?.targets.length) return undefined;
  const word = firstWord(to).word.replace(/[,:;.]$/, '');
  const target = findTarget(paging, word);
  if (!target) return undefined;
  try {
    return await pageOrConfirm(ctx, incident, target, reason);
  } catch (err) {
    // The escalation itself is recorded; only the page is refused.
    if (err instanceof IncidentError)
      return { ephemeral: `${target.name} was not paged: ${err.message}` };
    throw err;
  }
}

export const pageCommand: CommandModule = {
  name: 'page',
  usage,
  summary:
    'page a responder target (PagerDuty, JSM, webhook) and invite who is on call; SEV1/SEV2 ask to confirm',
  needsIncident: true,
  async run(args, ctx) {
    const incident = requireIncident(ctx);
    const { word, rest } = firstWord(args);
    const target = requireTarget(ctx, word);
    const reason = optionalText(rest, 'the reason', usage, await mentionNames(ctx, rest));
    return pageOrConfirm(ctx, incident, target, reason);
  },
  actions: {
    async confirm(value, ctx) {
      const incident = requireIncident(ctx);
      const v = parseValue(value);
      return requestPage(ctx, incident, requireTarget(ctx, v.t), v.r);
    },
    async cancel(value) {
      const v = parseValue(value);
      return { ephemeral: `Nothing was paged${v.t ? ` (${v.t})` : ''}.` };
    },
  },
};

function parseValue(value: string): { t: string; r?: string } {
  try {
    const v = JSON.parse(value) as { t?: unknown; r?: unknown };
    return {
      t: typeof v.t === 'string' ? v.t : '',
      ...(typeof v.r === 'string' && v.r ? { r: v.r } : {}),
    };
  } catch {
    return { t: '' };
  }
}
