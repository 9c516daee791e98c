/**
 * Message shortcuts (the ⋯ menu of any message; manifest `shortcuts`, type message):
 *
 * - "Add to incident timeline" promotes the message exactly as a 📌 reaction does (the same
 *   capture rule, `applyReaction` with the pin meaning): a message already on the timeline is
 *   not added twice, whichever of 📌 or the shortcut came first.
 * - "Raise as hypothesis" raises the message's text as a hypothesis at the message's time, like
 *   a 🔍 reaction (a message already raised is not raised twice).
 * - "Declare incident from message" opens the start form prefilled with the message's text and
 *   permalink; the new incident records that message as its first entry, at the message's time,
 *   and its detection time is the message's time (editable in the record with `/incident log`).
 *
 * In an incident's channel the first two act on that incident; elsewhere they open a small form
 * to pick one of the open incidents. Answers are ephemeral (the shortcut's response_url; a DM
 * when a shortcut has none).
 *
 * A form can only be opened within 3 seconds of the click (Slack's trigger_id expires). A stored
 * shortcut processed later — after a crash and restart, or from a long queue — cannot open its
 * form: when it was received 3 s ago or more, or when views.open answers `expired_trigger_id`,
 * the user is told what happened and to use the shortcut again, instead of nothing happening.
 *
 * Web API methods used here: chat.getPermalink, views.open (SlackOps.openModal), users.info.
 */
import type { App, MessageShortcut, ViewSubmitAction } from '@slack/bolt';
import { DateTime } from 'luxon';
import { applyReaction, slackTime, type Meaning } from '../app/capture';
import { IncidentError } from '../app/errors';
import { currentRequest } from '../app/requestContext';
import type { Incident } from '../app/service';
import { OPEN_STATUSES, formatIncidentNumber, type Actor } from '../core/model';
import { startModal, type FromMessage, type StartMeta } from '../../commands/start';
import type { SlackDeps } from './app';
import { decodeSlackText, extractMentions } from './text';
import { slackErrorCode } from './webOps';

export const SHORTCUT_IDS = {
  timeline: 'incident_timeline_add',
  hypothesis: 'incident_hypothesis_raise',
  declare: 'incident_declare_from_message',
} as const;

/** The "which incident?" form for a shortcut used outside an incident channel. */
export const PICK_CALLBACK = 'incident_shortcut_pick';

/** Slack's limit on a modal's private_metadata. */
const MAX_METADATA = 3000;
/** Slack's limit on options in a static select. */
const MAX_OPTIONS = 100;
/** A trigger_id opens a modal within 3 s of the user's click, never later. */
export const TRIGGER_TTL_MS = 3000;

const SHORTCUT_NAMES: Record<keyof typeof SHORTCUT_IDS, string> = {
  timeline: 'Add to incident timeline',
  hypothesis: 'Raise as hypothesis',
  declare: 'Declare incident from message',
};

/** The answer when a shortcut's form can no longer be opened (its trigger expired). */
export function expiredTriggerText(kind: keyof typeof SHORTCUT_IDS): string {
  return `I could not open the form for *${SHORTCUT_NAMES[kind]}*: the bot was delayed (it may have restarted) and Slack only lets a form open within 3 seconds of your click. Nothing was recorded. Please use the shortcut again (⋯ on the message → *${SHORTCUT_NAMES[kind]}*).`;
}

/**
 * Opens a shortcut's modal, or returns the text telling the user it is too late: when the stored
 * request is 3 s old or more (processed after a restart), or when Slack says the trigger expired.
 */
async function openShortcutModal(
  deps: SlackDeps,
  kind: keyof typeof SHORTCUT_IDS,
  triggerId: string,
  view: unknown,
): Promise<string | undefined> {
  const received = currentRequest()?.receivedAt;
  if (received && now(deps).toMillis() - received.toMillis() >= TRIGGER_TTL_MS) {
    deps.logger.info({ kind }, 'shortcut processed too late to open its form; user told');
    return expiredTriggerText(kind);
  }
  try {
    await deps.slack.openModal(triggerId, view);
    return undefined;
  } catch (err) {
    if (slackErrorCode(err) !== 'expired_trigger_id') throw err;
    deps.logger.info({ kind }, 'views.open: expired_trigger_id; user told');
    return expiredTriggerText(kind);
  }
}

type CaptureKind = 'timeline' | 'hypothesis';
const MEANING: Record<CaptureKind, Meaning> = { timeline: 'pin', hypothesis: 'hypothesis' };

/** What the pick form carries to its submission. */
interface PickMeta {
  kind: CaptureKind;
  message: FromMessage & { threadTs?: string };
  responseUrl?: string;
}

export function registerShortcuts(app: App, deps: SlackDeps): void {
  for (const kind of ['timeline', 'hypothesis'] as const) {
    app.shortcut<MessageShortcut>(
      { type: 'message_action', callback_id: SHORTCUT_IDS[kind] },
      async ({ ack, shortcut }) => {
        await ack();
        await guarded(
          deps,
          shortcut.response_url,
          () => captureShortcut(deps, kind, shortcut),
          shortcut.user.id,
        );
      },
    );
  }

  app.shortcut<MessageShortcut>(
    { type: 'message_action', callback_id: SHORTCUT_IDS.declare },
    async ({ ack, shortcut }) => {
      await ack();
      await guarded(
        deps,
        shortcut.response_url,
        () => declareShortcut(deps, shortcut),
        shortcut.user.id,
      );
    },
  );

  app.view<ViewSubmitAction>(
    { callback_id: PICK_CALLBACK, type: 'view_submission' },
    async ({ ack, body, view }) => {
      await ack();
      const meta = parsePickMeta(view.private_metadata);
      if (!meta) return;
      const values = view.state.values;
      const picked = values.incident?.incident?.selected_option?.value ?? '';
      await guarded(deps, meta.responseUrl, async () => {
        const incident = await deps.service.load(picked);
        const actor = await actorFor(deps, body.user.id, body.user.name);
        return applyTo(deps, meta.kind, incident, meta.message, actor, `sc:${view.id}`);
      });
    },
  );
}

/** The message of a shortcut, as recorded text (markup decoded, names resolved). */
async function messageOf(deps: SlackDeps, s: MessageShortcut): Promise<PickMeta['message']> {
  const raw = typeof s.message.text === 'string' ? s.message.text : '';
  const names = new Map<string, string>();
  await Promise.all(
    extractMentions(raw).users.map(async (id) => {
      const u = await deps.slack.user(id).catch(() => undefined);
      if (u?.name) names.set(id, u.name);
    }),
  );
  const user = s.message.user ?? 'unknown';
  const author = s.message.user
    ? await deps.slack.user(s.message.user).catch(() => undefined)
    : undefined;
  const thread = typeof s.message.thread_ts === 'string' ? s.message.thread_ts : undefined;
  return {
    channel: s.channel.id,
    ts: s.message.ts ?? s.message_ts,
    user,
    ...(author ? { userName: author.name } : {}),
    text: decodeSlackText(raw, names).trim(),
    ...(thread && thread !== s.message_ts ? { threadTs: thread } : {}),
  };
}

async function captureShortcut(
  deps: SlackDeps,
  kind: CaptureKind,
  s: MessageShortcut,
): Promise<string | undefined> {
  const message = await messageOf(deps, s);
  const here = await deps.service.findByChannel(s.channel.id);
  const actor = await actorFor(deps, s.user.id, s.user.name);
  if (here) return applyTo(deps, kind, here, message, actor, `sc:${s.trigger_id}`);
  const open = await deps.service.list({
    ...(s.team?.id ? { team: s.team.id } : {}),
    status: OPEN_STATUSES,
  });
  if (open.length === 0) {
    return 'There are no open incidents to add this message to. Use *Declare incident from message* to open one from it.';
  }
  const meta = fitPickMeta({ kind, message, responseUrl: s.response_url });
  return openShortcutModal(deps, kind, s.trigger_id, pickModal(kind, meta, open));
}

/** Applies the shortcut to one incident; returns the ephemeral answer. */
async function applyTo(
  deps: SlackDeps,
  kind: CaptureKind,
  incident: Incident,
  message: PickMeta['message'],
  actor: Actor,
  key: string,
): Promise<string> {
  const inc = formatIncidentNumber(incident.record.number);
  const t = slackTime(message.ts);
  const res = await applyReaction(
    deps.service,
    incident,
    {
      message: { ...message, at: t.isValid ? t : now(deps) },
      emoji: deps.config.emoji[MEANING[kind]][0] ?? (kind === 'timeline' ? 'pushpin' : 'mag'),
      added: true,
      actor,
      at: now(deps),
      source: 'command',
      key,
    },
    deps.config.emoji,
  );
  if (res.error) return res.error;
  if (res.effect) {
    return `${res.effect} in ${inc}.`;
  }
  return kind === 'timeline'
    ? `That message is already on the timeline of ${inc}.`
    : `That message is already a hypothesis in ${inc}.`;
}

async function declareShortcut(deps: SlackDeps, s: MessageShortcut): Promise<string | undefined> {
  const message = await messageOf(deps, s);
  let permalink: string | undefined;
  try {
    const r = await deps.client.chat.getPermalink({
      channel: s.channel.id,
      message_ts: s.message_ts,
    });
    permalink = typeof r.permalink === 'string' ? r.permalink : undefined;
  } catch (err) {
    deps.logger.warn({ err, channel: s.channel.id }, 'chat.getPermalink failed');
  }
  const at = slackTime(message.ts);
  const firstLine =
    message.text
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? '';
  const title = firstLine.length > 150 ? `${firstLine.slice(0, 149)}…` : firstLine;
  const link = permalink ? `\n\nDeclared from ${permalink}` : '';
  const body = message.text.slice(0, 3000 - link.length);
  const meta: StartMeta = {
    channel: s.channel.id,
    ...(at.isValid ? { detectedAt: at.toISO() ?? undefined } : {}),
    fromMessage: message,
  };
  return openShortcutModal(
    deps,
    'declare',
    s.trigger_id,
    startModal(fitStartMeta(meta), 'sev3', {
      ...(title ? { title } : {}),
      ...(body || link ? { description: `${body}${link}`.trim() } : {}),
    }),
  );
}

/** Keeps private_metadata within Slack's 3000 characters by shortening the message text. */
function fitStartMeta(meta: StartMeta): StartMeta {
  return fit(meta, (m, n) => ({
    ...m,
    ...(m.fromMessage
      ? { fromMessage: { ...m.fromMessage, text: clip(m.fromMessage.text, n) } }
      : {}),
  }));
}

function fitPickMeta(meta: PickMeta): PickMeta {
  return fit(meta, (m, n) => ({ ...m, message: { ...m.message, text: clip(m.message.text, n) } }));
}

function fit<T>(value: T, shorten: (v: T, max: number) => T): T {
  let v = value;
  let max = 3000;
  while (JSON.stringify(v).length > MAX_METADATA && max > 0) {
    max = Math.floor(max * 0.8);
    v = shorten(value, max);
  }
  return v;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

function pickModal(
  kind: CaptureKind,
  meta: PickMeta,
  open: { id: string; number: number; title: string; severity: string }[],
): unknown {
  const options = open.slice(0, MAX_OPTIONS).map((r) => ({
    text: {
      type: 'plain_text',
      text: clip(`${formatIncidentNumber(r.number)} (${r.severity}) ${r.title}`, 75),
    },
    value: r.id,
  }));
  return {
    type: 'modal',
    callback_id: PICK_CALLBACK,
    private_metadata: JSON.stringify(meta),
    title: {
      type: 'plain_text',
      text: kind === 'timeline' ? 'Add to timeline' : 'Raise as hypothesis',
    },
    submit: { type: 'plain_text', text: kind === 'timeline' ? 'Add' : 'Raise' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: 'incident',
        label: { type: 'plain_text', text: 'Incident' },
        element: {
          type: 'static_select',
          action_id: 'incident',
          ...(options.length === 1 ? { initial_option: options[0] } : {}),
          options,
        },
      },
    ],
  };
}

function parsePickMeta(raw: string | undefined): PickMeta | undefined {
  try {
    const v = JSON.parse(raw ?? '') as Partial<PickMeta>;
    const m = v.message;
    if (
      (v.kind === 'timeline' || v.kind === 'hypothesis') &&
      m &&
      typeof m.channel === 'string' &&
      typeof m.ts === 'string' &&
      typeof m.user === 'string' &&
      typeof m.text === 'string'
    ) {
      return v as PickMeta;
    }
  } catch {
    // Not ours.
  }
  return undefined;
}

async function actorFor(deps: SlackDeps, id: string, fallback?: string): Promise<Actor> {
  try {
    const u = await deps.slack.user(id);
    return { id, name: u.name };
  } catch {
    return { id, name: fallback || id };
  }
}

function now(deps: SlackDeps): DateTime {
  return (deps.clock ? deps.clock() : deps.service.now()).toUTC();
}

/**
 * Runs the work and posts its answer (or a friendly error) to the response_url, or as a DM to
 * `user` when there is no response_url.
 */
async function guarded(
  deps: SlackDeps,
  responseUrl: string | undefined,
  fn: () => Promise<string | undefined>,
  user?: string,
): Promise<void> {
  let text: string | undefined;
  try {
    text = await fn();
  } catch (err) {
    if (err instanceof IncidentError) {
      text = err.message;
    } else {
      deps.logger.error({ err }, 'message shortcut failed');
      text =
        'Something went wrong with that shortcut; anything recorded before the failure is kept. Please try again, or use `/incident` commands.';
    }
  }
  if (!text) return;
  if (!responseUrl) {
    if (!user) return;
    // chat.postMessage to a user id posts in the app's DM with them.
    await deps.slack.post(user, text).catch((err: unknown) => {
      deps.logger.warn({ err }, 'could not answer the shortcut by DM');
    });
    return;
  }
  try {
    await fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
    });
  } catch (err) {
    deps.logger.warn({ err }, 'could not answer the shortcut on its response_url');
  }
}
