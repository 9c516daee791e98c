/**
 * Reminders in Slack: how each claimed reminder is delivered (DMs to the commander or the action
 * owner, a notice in the incident channel before archiving, conversations.archive) — as the
 * outbox subscriber of `reminder.deliver` effects, so a delivery Slack refuses for a while is
 * retried with backoff (Retry-After respected) and one owed at a crash is delivered after the
 * restart; errors that will not heal (channel_not_found …) make the effect dead, reason kept — and the
 * Snooze / Dismiss buttons, which record `reminder.snoozed` / `reminder.dismissed` (the pure
 * `dueReminders` reads them back). Snoozing or keeping a channel from being archived is guarded
 * by the permission check ('archive').
 *
 * Web API methods used here: chat.postMessage (SlackOps.post), conversations.archive.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { DateTime } from 'luxon';
import {
  PermanentEffectError,
  RetryableEffectError,
  type EffectOutcome,
  type Subscriber,
} from '../app/effects';
import { REMINDER_EFFECT, type ReminderPayload } from '../app/reminderScheduler';
import { requirePermission } from '../app/permissions';
import type { Incident } from '../app/service';
import { IncidentError } from '../app/errors';
import { humanDuration } from '../core/duration';
import { formatIncidentNumber, type NewEvent } from '../core/model';
import {
  isReminderKind,
  snoozeFor,
  type DueReminder,
  type ReminderKind,
  type ReminderSettings,
} from '../core/reminders';
import type { SlackDeps } from './app';
import { escapeSlackText } from './text';
import { describeSlackError, slackErrorCode } from './webOps';

export const REMINDER_ACTIONS = {
  snooze: 'incident_reminder_snooze',
  dismiss: 'incident_reminder_dismiss',
} as const;

interface ButtonValue {
  i: string;
  k: ReminderKind;
  a?: string;
}

/** Snoozes and dismissals of the archive warning apply to the archive itself. */
const controlKind = (k: ReminderKind): ReminderKind => (k === 'archive_warning' ? 'archive' : k);

function buttons(r: DueReminder, snoozeLabel: string, dismissLabel = 'Dismiss'): unknown {
  const value = JSON.stringify({
    i: r.incidentId,
    k: r.kind,
    ...(r.action ? { a: r.action } : {}),
  });
  return {
    type: 'actions',
    block_id: 'reminder',
    elements: [
      {
        type: 'button',
        action_id: REMINDER_ACTIONS.snooze,
        text: { type: 'plain_text', text: snoozeLabel },
        value,
      },
      {
        type: 'button',
        action_id: REMINDER_ACTIONS.dismiss,
        text: { type: 'plain_text', text: dismissLabel },
        value,
      },
    ],
  };
}

function snoozeLabel(kind: ReminderKind, settings: ReminderSettings, i: Incident): string {
  const d = snoozeFor(kind, settings, i.state.severity);
  const ms = ((d.days ?? 0) * 24 * 60 + (d.hours ?? 0) * 60 + (d.minutes ?? 0)) * 60_000;
  return `Snooze ${humanDuration(ms)}`;
}

/** The message of a reminder (text and blocks), pure apart from the clock value given. */
export function reminderMessage(
  r: DueReminder,
  i: Incident,
  now: DateTime,
  settings: ReminderSettings,
): { text: string; blocks: unknown[] } {
  const inc = formatIncidentNumber(i.record.number);
  const title = escapeSlackText(i.state.title);
  const where = i.state.channel ? ` in <#${i.state.channel}>` : '';
  const snooze = snoozeLabel(r.kind, settings, i);
  let text: string;
  switch (r.kind) {
    case 'update': {
      const silent = humanDuration(
        now.diff(r.due).toMillis() + settings.updateMinutes[i.state.severity] * 60_000,
      );
      text = `⏰ ${inc} (${i.state.severity.toUpperCase()}) — ${title}: nothing new on the timeline for ${silent}. Post an update${where} with \`/incident log <what is happening>\` or \`/incident status\`.`;
      break;
    }
    case 'close_nudge':
      text = `🏁 ${inc} — ${title} has been resolved for ${humanDuration(now.diff(i.state.resolvedAt ?? r.due).toMillis())} and is not closed. Run \`/incident close\`${where} to review the record and draft the postmortem.`;
      break;
    case 'action_due': {
      const a = i.state.actions.find((x) => x.id === r.action);
      text = `📅 Action item ${r.action} of ${inc} is due ${a?.due ?? ''}: ${escapeSlackText(a?.text ?? '')}. Mark it done on the bot's Home tab (Done button).`;
      break;
    }
    case 'archive_warning':
      text = `🗄 This channel will be archived ${r.archiveAt?.toUTC().toFormat("yyyy-MM-dd HH:mm 'UTC'") ?? 'soon'} (${inc} was closed ${humanDuration(now.diff(i.state.closedAt ?? r.due).toMillis())} ago). Snooze to keep it longer, or keep it for good.`;
      return {
        text,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text } },
          buttons(r, snooze, 'Keep this channel'),
        ],
      };
    case 'archive':
      text = `🗄 Archiving this channel: ${inc} was closed ${humanDuration(now.diff(i.state.closedAt ?? r.due).toMillis())} ago. Its record and postmortem draft stay with the bot.`;
      return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
  }
  return {
    text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }, buttons(r, snooze)],
  };
}

/**
 * Delivers one claimed reminder; returns the events to record with its completion (the archive's
 * `channel.archived`). `attempt` 1 is the first delivery: a retried archive does not post its
 * notice again, and finds the channel already archived harmless.
 */
export function createReminderDelivery(
  deps: SlackDeps,
  settings: ReminderSettings,
): (r: DueReminder, i: Incident, attempt?: number) => Promise<NewEvent[]> {
  const now = (): DateTime => (deps.clock ? deps.clock() : deps.service.now()).toUTC();
  return async (r, i, attempt = 1) => {
    const msg = reminderMessage(r, i, now(), settings);
    if (r.kind === 'archive') {
      const channel = r.channel ?? '';
      if (attempt <= 1) {
        await deps.slack.post(channel, msg.text, msg.blocks).catch((err: unknown) => {
          deps.logger.warn({ err, channel }, 'could not post the archive notice');
        });
      }
      try {
        await deps.client.conversations.archive({ channel });
      } catch (err) {
        if (slackErrorCode(err) !== 'already_archived') throw err;
      }
      const at = now();
      const event: NewEvent<'channel.archived'> = {
        type: 'channel.archived',
        occurredAt: at,
        recordedAt: at,
        actor: { id: 'system', name: 'incident-bot' },
        source: 'system',
        key: `archived:${i.record.id}:${channel}`,
        channel,
      };
      return [event];
    }
    // DMs go to the person (chat.postMessage to a user id opens the app's DM with them).
    const target = r.kind === 'archive_warning' ? (r.channel ?? '') : (r.to?.id ?? '');
    if (!target) return [];
    await deps.slack.post(target, msg.text, msg.blocks);
    return [];
  };
}

/** Slack errors worth retrying; any other Slack error will not heal by itself. */
const TRANSIENT = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/** A delivery failure as the dispatcher's retry decision. */
function effectError(err: unknown): Error {
  if (err instanceof PermanentEffectError || err instanceof RetryableEffectError) return err;
  const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
  if (typeof retryAfter === 'number') {
    return new RetryableEffectError('ratelimited', { afterMs: retryAfter * 1000 });
  }
  const code = slackErrorCode(err);
  if (code === undefined || TRANSIENT.has(code)) {
    return new RetryableEffectError(describeSlackError(err));
  }
  return new PermanentEffectError(describeSlackError(err));
}

/** The claimed reminder an effect carries (see `reminderEffect`), or undefined. */
export function reminderFromPayload(p: unknown): DueReminder | undefined {
  const v = p as Partial<ReminderPayload> | null;
  if (!v || typeof v !== 'object' || !isReminderKind(String(v.kind))) return undefined;
  if (typeof v.incidentId !== 'string' || typeof v.key !== 'string') return undefined;
  const due = DateTime.fromISO(String(v.due), { zone: 'utc' });
  if (!due.isValid) return undefined;
  const archiveAt =
    typeof v.archiveAt === 'string' ? DateTime.fromISO(v.archiveAt, { zone: 'utc' }) : undefined;
  return {
    kind: v.kind as ReminderKind,
    incidentId: v.incidentId,
    due,
    key: v.key,
    ...(v.to && typeof v.to.id === 'string'
      ? { to: { id: v.to.id, name: String(v.to.name) } }
      : {}),
    ...(typeof v.action === 'string' ? { action: v.action } : {}),
    ...(typeof v.channel === 'string' ? { channel: v.channel } : {}),
    ...(archiveAt?.isValid ? { archiveAt } : {}),
  };
}

/** The outbox subscriber that delivers claimed reminders (`reminder.deliver` effects). */
export function reminderSubscriber(deps: SlackDeps, settings: ReminderSettings): Subscriber {
  const deliver = createReminderDelivery(deps, settings);
  return {
    name: 'reminders',
    handlers: {
      async [REMINDER_EFFECT](effect, ctx): Promise<EffectOutcome | void> {
        const r = reminderFromPayload(effect.payload);
        if (!r) throw new PermanentEffectError('not a reminder payload');
        const incident = ctx.incident ?? (await deps.service.load(r.incidentId));
        let events: NewEvent[];
        try {
          events = await deliver(r, incident, ctx.attempt);
        } catch (err) {
          throw effectError(err);
        }
        return events.length > 0 ? { events } : undefined;
      },
    },
  };
}

function parseValue(v: string | undefined): ButtonValue | undefined {
  try {
    const o = JSON.parse(v ?? '') as Partial<ButtonValue>;
    if (typeof o.i === 'string' && typeof o.k === 'string' && isReminderKind(o.k)) {
      return { i: o.i, k: o.k, ...(typeof o.a === 'string' ? { a: o.a } : {}) };
    }
  } catch {
    // Not ours.
  }
  return undefined;
}

/** Registers the Snooze and Dismiss buttons. */
export function registerReminderButtons(
  app: App,
  deps: SlackDeps,
  settings: ReminderSettings,
): void {
  const handle =
    (what: 'snooze' | 'dismiss') =>
    async ({
      ack,
      body,
      action,
    }: {
      ack: () => Promise<void>;
      body: BlockAction;
      action: ButtonAction;
    }) => {
      await ack();
      const v = parseValue(action.value);
      if (!v) return;
      let text: string;
      try {
        const incident = await deps.service.load(v.i);
        const user = await deps.slack
          .user(body.user.id)
          .catch(() => ({ id: body.user.id, name: body.user.name ?? body.user.id }));
        const kind = controlKind(v.k);
        if (kind === 'archive') {
          await requirePermission(
            {
              incident,
              user,
              settings: deps.settings,
              slack: deps.slack,
            },
            'archive',
          );
        }
        const at = (deps.clock ? deps.clock() : deps.service.now()).toUTC();
        const base = {
          occurredAt: at,
          recordedAt: at,
          actor: { id: user.id, name: user.name },
          source: 'command' as const,
          key: `act:${body.trigger_id}`,
          kind,
          ...(v.a ? { action: v.a } : {}),
        };
        const inc = formatIncidentNumber(incident.record.number);
        if (what === 'snooze') {
          const until = at.plus(snoozeFor(kind, settings, incident.state.severity));
          const event: NewEvent<'reminder.snoozed'> = {
            ...base,
            type: 'reminder.snoozed',
            until: until.toISO() ?? '',
          };
          await deps.service.store.append(incident.record.id, [event]);
          text = `Snoozed until ${until.toFormat("yyyy-MM-dd HH:mm 'UTC'")} by ${escapeSlackText(user.name)} (${inc}).`;
        } else {
          const event: NewEvent<'reminder.dismissed'> = { ...base, type: 'reminder.dismissed' };
          await deps.service.store.append(incident.record.id, [event]);
          text =
            kind === 'archive'
              ? `${escapeSlackText(user.name)} chose to keep this channel: it will not be archived (${inc}).`
              : `Dismissed by ${escapeSlackText(user.name)}: no more of these reminders for ${inc}${v.a ? ` ${v.a}` : ''}.`;
        }
      } catch (err) {
        if (!(err instanceof IncidentError)) throw err;
        text = err.message;
        // A refusal goes to the clicker alone; the reminder stays.
        if (body.response_url) {
          await respond(body.response_url, text, false);
        }
        return;
      }
      if (body.response_url) await respond(body.response_url, text, true);
    };
  app.action<BlockAction<ButtonAction>>(REMINDER_ACTIONS.snooze, handle('snooze'));
  app.action<BlockAction<ButtonAction>>(REMINDER_ACTIONS.dismiss, handle('dismiss'));

  async function respond(url: string, text: string, replace: boolean): Promise<void> {
    try {
      await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          replace
            ? { replace_original: true, text }
            : { response_type: 'ephemeral', replace_original: false, text },
        ),
      });
    } catch (err) {
      deps.logger.warn({ err }, 'could not answer the reminder button');
    }
  }
}
