import { DateTime } from 'luxon';
import type { Incident } from '../src/app/service';
import { formatIncidentNumber, isSeverity, SEVERITIES, type Severity } from '../src/core/model';
import { isValidZone } from '../src/core/time';
import { slackTime } from '../src/app/capture';
import {
  actorOf,
  checkLength,
  echoTime,
  requireText,
  serviceCtx,
  takeLeading,
  mentionNames,
} from '../src/slack/grammar';
import {
  UsageError,
  type CommandContext,
  type CommandModule,
  type Reply,
} from '../src/slack/ports';
import { clipPlain, escClip, LIMITS, oneLine, option, plain } from '../src/slack/blockKit';
import { channelMarker, createChannelEffect, type StartPlan } from '../src/slack/startFlow';
import { esc } from './common';

const usage = 'start [sevN] [time] <title>';

/** Slack channel names: lowercase letters, digits, `-` and `_`, at most 80 characters. */
export const CHANNEL_NAME_MAX = 80;

/** Title → slug: lowercase ASCII (accents dropped), any other character → `-`, collapsed, trimmed. */
export function slugify(title: string): string {
  return title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** `<prefix>-<yyyy-mm-dd of detection in the incident zone>-<slug>`, within Slack's rules. */
export function channelNameFor(
  prefix: string,
  detectedAt: DateTime,
  zone: string,
  title: string,
  number: number,
): string {
  const p = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
  const date = detectedAt.setZone(isValidZone(zone) ? zone : 'UTC').toFormat('yyyy-MM-dd');
  const slug = slugify(title) || `inc-${number}`;
  const name = [p, date, slug].filter(Boolean).join('-');
  return name.slice(0, CHANNEL_NAME_MAX).replace(/[-_]+$/, '');
}

interface OpenInput {
  title: string;
  severity: Severity;
  detectedAt?: DateTime;
  zone: string;
  description?: string;
  /** Where the command was typed (gets a short announcement when it is not the new channel). */
  typedIn?: string;
  /** Declared from a message (shortcut): recorded as the incident's first entry, at its time. */
  fromMessage?: FromMessage;
}

/** The message an incident was declared from ("Declare incident from message"). */
export interface FromMessage {
  channel: string;
  ts: string;
  user: string;
  userName?: string;
  text: string;
}

/**
 * Records the message an incident was declared from, at the message's time, and promotes it to
 * the timeline (so it is the first entry). Keyed on the request, not `msg:<channel>:<ts>`: the
 * same message may already be recorded in another incident's log.
 */
async function recordFromMessage(
  ctx: CommandContext,
  incident: Incident,
  m: FromMessage,
): Promise<void> {
  const t = slackTime(m.ts);
  const at = t.isValid ? t : ctx.now;
  const base = ctx.key ?? `from:${m.channel}:${m.ts}`;
  const author = { id: m.user, name: m.userName ?? m.user };
  await ctx.service.recordMessage(
    incident.record,
    {
      channel: m.channel,
      ts: m.ts,
      user: m.user,
      ...(m.userName ? { userName: m.userName } : {}),
      text: m.text,
    },
    { actor: author, source: 'message', at, key: `${base}:from-message` },
  );
  await ctx.service.recordMessageChange(
    incident.record,
    'message.pinned',
    { channel: m.channel, ts: m.ts },
    { actor: actorOf(ctx), source: 'command', at, key: `${base}:from-pin` },
  );
}

/**
 * Records the incident (keyed by the request), then owes the Slack work to the outbox: create the
 * channel, and from there invite, post and pin the status card, announce, and answer the caller
 * (src/slack/startFlow.ts). A Slack failure never hides the record: the answer says what could
 * not be done. The request processed again (after a crash) finds its incident and owes nothing
 * new (the keys are the incident's), so there is one channel, one announcement, one answer.
 */
async function openIncident(ctx: CommandContext, input: OpenInput): Promise<Reply> {
  const { incident, created } = await ctx.service.start(
    {
      team: ctx.team,
      title: input.title,
      severity: input.severity,
      zone: input.zone,
      ...(input.detectedAt ? { detectedAt: input.detectedAt } : {}),
      ...(input.description ? { description: input.description } : {}),
      ...(ctx.key ? { key: ctx.key } : {}),
    },
    serviceCtx(ctx),
  );
  // Found under this request's key with its channel: the steps after it are owed (or done).
  if (!created && incident.state.channel) return {};
  const inc = formatIncidentNumber(incident.record.number);
  const sev = input.severity.toUpperCase();
  const detected = incident.state.detectedAt ?? ctx.now;
  if (input.fromMessage) await recordFromMessage(ctx, incident, input.fromMessage);

  const title = escClip(oneLine(input.title), 300);
  const announceTo: StartPlan['announceTo'] = [];
  if (ctx.settings.announceChannel) {
    announceTo.push({ channel: ctx.settings.announceChannel, what: 'the announcement channel' });
  }
  if (input.typedIn) announceTo.push({ channel: input.typedIn, what: 'this channel' });
  const plan: StartPlan = {
    name: channelNameFor(
      ctx.settings.channelPrefix,
      detected,
      input.zone,
      input.title,
      incident.record.number,
    ),
    purpose: channelPurpose(inc, input.title, incident.record.id),
    actor: actorOf(ctx),
    ...(ctx.key ? { key: ctx.key } : {}),
    announcement: `🚨 ${inc} (${sev}) opened by ${esc(ctx.user.name)}: ${title}`,
    announceTo,
    answer: {
      label: inc,
      head: `${inc} (${sev}) opened: ${title}`,
      detected: echoTime(detected, input.zone, ctx.now),
    },
    to: {
      ...(ctx.responseUrl ? { responseUrl: ctx.responseUrl } : {}),
      channel: input.typedIn ?? ctx.channel,
      user: ctx.user.id,
      receivedAt: (ctx.receivedAt ?? ctx.now).toUTC().toISO() ?? '',
    },
  };
  await ctx.service.addEffects([createChannelEffect(incident.record.id, plan)]);
  // The answer comes from the outbox once the channel is there (or could not be made).
  return {};
}

/** The new channel's purpose: what it is for, and the marker that finds it again after a crash. */
function channelPurpose(inc: string, title: string, incidentId: string): string {
  const marker = channelMarker(incidentId);
  const room = 250 - marker.length - inc.length - 8;
  const t = oneLine(title);
  const shown = t.length > room ? `${t.slice(0, Math.max(0, room - 1))}…` : t;
  return `${inc}: ${shown} (${marker})`;
}

/**
 * The "open an incident" modal (when `start` has no title, or declared from a message). Within the
 * view limits: 3 of 100 blocks, labels and options through the Block Kit helpers, initial values
 * (a message's text can be far longer) clipped to the inputs' 3,000; the private_metadata (where
 * it was typed, a time and zone) is a few dozen characters of JSON, far below 3,000.
 */
export function startModal(
  meta: StartMeta,
  severity: Severity,
  initial: { title?: string; description?: string } = {},
): unknown {
  const opt = (s: Severity) => option(s.toUpperCase(), s);
  return {
    type: 'modal',
    callback_id: 'start:modal',
    private_metadata: JSON.stringify(meta),
    title: plain('Open an incident', LIMITS.modalTitle),
    submit: plain('Open', LIMITS.modalButton),
    close: plain('Cancel', LIMITS.modalButton),
    blocks: [
      {
        type: 'input',
        block_id: 'title',
        label: plain('Title', LIMITS.inputLabel),
        element: {
          type: 'plain_text_input',
          action_id: 'title',
          max_length: LIMITS.textInputMax,
          ...(initial.title
            ? { initial_value: clipPlain(initial.title, LIMITS.textInputMax) }
            : {}),
          placeholder: plain('Checkout errors in eu-west-1', LIMITS.placeholder),
        },
      },
      {
        type: 'input',
        block_id: 'severity',
        label: plain('Severity', LIMITS.inputLabel),
        element: {
          type: 'static_select',
          action_id: 'severity',
          initial_option: opt(severity),
          options: SEVERITIES.map(opt),
        },
      },
      {
        type: 'input',
        block_id: 'description',
        optional: true,
        label: plain('Description', LIMITS.inputLabel),
        element: {
          type: 'plain_text_input',
          action_id: 'description',
          multiline: true,
          max_length: LIMITS.textInputMax,
          ...(initial.description
            ? { initial_value: clipPlain(initial.description, LIMITS.textInputMax) }
            : {}),
        },
      },
    ],
  };
}

/** Carried through the modal: where it was typed, and a time/zone typed with `start`. */
export interface StartMeta {
  channel?: string;
  detectedAt?: string;
  zone?: string;
  fromMessage?: FromMessage;
}

function parseMeta(raw: string): StartMeta {
  try {
    const v: unknown = JSON.parse(raw);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return {
        ...(typeof o.channel === 'string' ? { channel: o.channel } : {}),
        ...(typeof o.detectedAt === 'string' ? { detectedAt: o.detectedAt } : {}),
        ...(typeof o.zone === 'string' ? { zone: o.zone } : {}),
        ...(isFromMessage(o.fromMessage) ? { fromMessage: o.fromMessage } : {}),
      };
    }
  } catch {
    // Not ours / empty: defaults.
  }
  return {};
}

function isFromMessage(v: unknown): v is FromMessage {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.channel === 'string' &&
    typeof o.ts === 'string' &&
    typeof o.user === 'string' &&
    typeof o.text === 'string' &&
    (o.userName === undefined || typeof o.userName === 'string')
  );
}

/** `start [sevN] [time] <title>`: works in any channel; no title opens a modal. */
export const startCommand: CommandModule = {
  name: 'start',
  aliases: ['open', 'new', 'declare'],
  usage,
  summary: 'open an incident; the time backdates detection (default: now); no title opens a form',
  needsIncident: false,
  async run(args, ctx) {
    const lead = takeLeading(args, ctx, { usage, severity: true });
    const zone = lead.representativeZone ?? ctx.settings.defaultZone;
    const severity = lead.severity ?? 'sev3';
    if (!lead.rest.trim()) {
      if (!ctx.triggerId) throw new UsageError('Missing the title.', usage);
      const meta: StartMeta = {
        channel: ctx.channel,
        ...(lead.time ? { detectedAt: lead.time.toISO() ?? undefined } : {}),
        ...(lead.representativeZone ? { zone: lead.representativeZone } : {}),
      };
      await ctx.slack.openModal(ctx.triggerId, startModal(meta, severity));
      return {};
    }
    const title = requireText(lead.rest, 'the title', usage, await mentionNames(ctx, lead.rest));
    return openIncident(ctx, {
      title,
      severity,
      detectedAt: lead.time,
      zone,
      typedIn: ctx.channel,
    });
  },
  views: {
    async modal(values, privateMetadata, ctx) {
      const meta = parseMeta(privateMetadata);
      const title = checkLength((values.title ?? '').trim(), 'the title', usage);
      if (!title) throw new UsageError('Missing the title.', usage);
      const sev = (values.severity ?? '').trim().toLowerCase();
      const severity: Severity = isSeverity(sev) ? sev : 'sev3';
      const description = (values.description ?? '').trim();
      if (description) checkLength(description, 'the description', usage);
      const detectedAt = meta.detectedAt
        ? DateTime.fromISO(meta.detectedAt, { zone: 'utc' })
        : undefined;
      const zone = meta.zone && isValidZone(meta.zone) ? meta.zone : ctx.settings.defaultZone;
      return openIncident(ctx, {
        title,
        severity,
        zone,
        ...(detectedAt?.isValid ? { detectedAt } : {}),
        ...(description ? { description } : {}),
        typedIn: meta.channel ?? ctx.channel,
        ...(meta.fromMessage ? { fromMessage: meta.fromMessage } : {}),
      });
    },
  },
};
