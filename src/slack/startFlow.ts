/**
 * The Slack side of `/incident start` as outbox effects (the command records the incident and
 * owes one `slack.create_channel`; everything else follows from it):
 *
 *   slack.create_channel ─(channel recorded: incident.channel_set, with the chain below, in one
 *   commit)→ slack.invite → card.post → slack.announce (announce channel) → slack.announce (the
 *   channel it was typed in) → start.reply
 *
 * Each step is its own keyed effect (`start:<incident id>:…`, `card-post:<incident id>`), written
 * when the step before it is done (src/app/effectChain.ts), so each is owed once per incident
 * even when the stored request is processed again. A step that cannot be done is noted and the
 * chain goes on: the person who started it gets one answer (`start.reply`) saying what happened
 * and what could not be done ("⚠️ INC-n IS recorded, but I could not …").
 *
 * Channel creation is idempotent: a redelivered `slack.create_channel` does nothing when the
 * record already names the channel (the chain was committed with it); otherwise (a crash after
 * conversations.create, before the channel was recorded) the channel created the first time is
 * found by the marker put in its purpose (`incident-bot:<incident id>`) under its taken name, so
 * no second channel is made. (A crash between conversations.create and setPurpose, a few ms,
 * leaves a channel without the marker: a second one would then be created.)
 *
 * The answer goes to the command's response_url while Slack accepts it (30 minutes after the
 * request), else as chat.postEphemeral in the channel it was typed in, else as a DM.
 */
import type { Actor } from '../core/model';
import type { IncidentService } from '../app/service';
import { PermanentEffectError, type EffectContext, type Subscriber } from '../app/effects';
import { chain, chainable, chainOf, shortReason } from '../app/effectChain';
import type { NewEffect, StoredEffect } from '../store/store';
import type { SlackOps } from './ports';
import { cardPostEffect, slackFailure } from './statusCard';
import { describeSlackError } from './webOps';
import type { webApi } from '@slack/bolt';

export const CREATE_CHANNEL = 'slack.create_channel';
export const INVITE = 'slack.invite';
export const ANNOUNCE = 'slack.announce';
export const START_REPLY = 'start.reply';

/** Where the answer to a request goes. */
export interface ReplyTarget {
  responseUrl?: string;
  /** The channel it was typed in ('' when none: a DM is used). */
  channel: string;
  user: string;
  /** When Slack delivered the request (ISO): the response_url lives 30 minutes from then. */
  receivedAt: string;
}

/** What the command decided; carried by `slack.create_channel`. */
export interface StartPlan {
  /** The channel name wanted (suffixed -2, -3 … when taken). */
  name: string;
  /** The channel purpose (with the marker). */
  purpose: string;
  /** Who started it: invited, and the actor of `incident.channel_set`. */
  actor: Actor;
  /** The request key: `incident.channel_set` is keyed `<key>:channel`. */
  key?: string;
  /** "🚨 INC-4 (SEV2) opened by Alice: Checkout errors" (the channel link is added). */
  announcement: string;
  /** Where to announce, besides the new channel. */
  announceTo: { channel: string; what: string }[];
  /** "INC-4 (SEV2) opened: Checkout errors" and the detection time as understood. */
  answer: { label: string; head: string; detected: string };
  to: ReplyTarget;
}

/** The marker in an incident channel's purpose, found again after a crash. */
export const channelMarker = (incidentId: string): string => `incident-bot:${incidentId}`;

const stepKey = (incidentId: string, step: string): string => `start:${incidentId}:${step}`;

/** The effect the start command owes: create the channel (and, from there, the rest). */
export function createChannelEffect(incidentId: string, plan: StartPlan): NewEffect {
  return {
    key: stepKey(incidentId, 'channel'),
    kind: CREATE_CHANNEL,
    incidentId,
    payload: plan,
  };
}

interface AnnouncePayload {
  channel: string;
  text: string;
  what: string;
}
interface InvitePayload {
  channel: string;
  users: string[];
}
interface ReplyPayload {
  plan: StartPlan['answer'];
  to: ReplyTarget;
  /** The incident channel, when there is one. */
  channel?: string;
}

export interface StartFlowDeps {
  service: IncidentService;
  slack: Pick<SlackOps, 'createChannel' | 'invite' | 'post'>;
  /** chat.postEphemeral / chat.postMessage for the answer. */
  client: webApi.WebClient;
  logger: { warn(obj: unknown, msg?: string): void; debug(obj: unknown, msg?: string): void };
  /** How long after the request its response_url is used (the dispatcher's RESPONSE_URL_TTL_MS). */
  responseUrlTtlMs: number;
  /** The response_url poster (default: fetch). */
  fetch?: typeof fetch;
}

/** The steps after the channel: invite, card, announcements, answer (or the last two alone). */
function followUps(incidentId: string, plan: StartPlan, channel?: string): NewEffect[] {
  const where = channel ? ` → <#${channel}>` : '';
  const steps: NewEffect[] = [];
  if (channel) {
    steps.push({
      key: stepKey(incidentId, 'invite'),
      kind: INVITE,
      incidentId,
      payload: { channel, users: [plan.actor.id] } satisfies InvitePayload,
    });
    steps.push(cardPostEffect(incidentId, channel));
  }
  const seen = new Set<string>();
  for (const t of plan.announceTo) {
    // A DM (D…) gets the answer anyway; the new channel has the status card.
    if (!t.channel || seen.has(t.channel) || t.channel === channel || /^D/.test(t.channel)) {
      continue;
    }
    seen.add(t.channel);
    steps.push({
      key: stepKey(incidentId, `announce:${t.channel}`),
      kind: ANNOUNCE,
      incidentId,
      payload: {
        channel: t.channel,
        text: `${plan.announcement}${where}`,
        what: t.what,
      } satisfies AnnouncePayload,
    });
  }
  steps.push({
    key: stepKey(incidentId, 'reply'),
    kind: START_REPLY,
    incidentId,
    payload: {
      plan: plan.answer,
      to: plan.to,
      ...(channel ? { channel } : {}),
    } satisfies ReplyPayload,
  });
  return steps;
}

/** The answer: what happened, and what could not be done. */
export function startAnswer(p: ReplyPayload, failures: string[]): string {
  const where = p.channel ? ` → <#${p.channel}>` : '';
  const head = `${p.plan.head}${where}. Detected ${p.plan.detected}.`;
  if (failures.length === 0) {
    return `${head} Record what happens there with \`/incident log\`, \`/incident hypothesis\` …`;
  }
  return `${head}\n⚠️ ${p.plan.label} IS recorded, but I could not ${failures.join('; ')}.${
    p.channel ? '' : ' Create a channel by hand and keep the record with `/incident log` from here.'
  }`;
}

export function startFlowSubscriber(deps: StartFlowDeps): Subscriber {
  const post = deps.fetch ?? fetch;

  async function createChannel(effect: StoredEffect, ctx: EffectContext): Promise<void> {
    const incident = ctx.incident;
    if (!incident) throw new PermanentEffectError('the incident is not recorded');
    // Recorded already: the steps after it were committed with it.
    if (incident.state.channel) return;
    const plan = effect.payload as StartPlan;
    const id = incident.record.id;
    let channel: { id: string; name: string; adopted?: boolean };
    try {
      channel = await deps.slack.createChannel(plan.name, {
        purpose: plan.purpose,
        ...(ctx.attempt > 1 ? { adopt: channelMarker(id) } : {}),
      });
    } catch (err) {
      const failure = slackFailure(err);
      if (!(failure instanceof PermanentEffectError) && ctx.attempt < 3) throw failure;
      // No channel: announce without a link and say so in the answer.
      throw new PermanentEffectError(failure.message, {
        effects: chain(followUps(id, plan), [
          `create its channel (${shortReason(describeSlackError(err))})`,
        ]),
      });
    }
    if (channel.adopted) {
      deps.logger.warn({ incidentId: id, channel: channel.id }, 'found the channel created before');
    }
    await deps.service.attachChannel(
      incident,
      channel.id,
      channel.name,
      {
        actor: plan.actor,
        source: 'command',
        ...(plan.key ? { key: `${plan.key}:channel` } : {}),
      },
      { effects: chain(followUps(id, plan, channel.id)) },
    );
  }

  async function invite(effect: StoredEffect): Promise<void> {
    const p = effect.payload as InvitePayload;
    try {
      await deps.slack.invite(p.channel, p.users);
    } catch (err) {
      throw slackFailure(err);
    }
  }

  async function announce(effect: StoredEffect): Promise<void> {
    const p = effect.payload as AnnouncePayload;
    try {
      await deps.slack.post(p.channel, p.text);
    } catch (err) {
      throw slackFailure(err);
    }
  }

  async function reply(effect: StoredEffect, ctx: EffectContext): Promise<void> {
    const p = effect.payload as ReplyPayload;
    const text = startAnswer(p, chainOf(effect)?.failures ?? []);
    const to = p.to;
    const received = Date.parse(to.receivedAt);
    const alive =
      Number.isFinite(received) && ctx.now.toMillis() - received < deps.responseUrlTtlMs;
    if (to.responseUrl && alive) {
      const res = await post(to.responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
      });
      if (res.ok) return;
      deps.logger.warn(
        { status: res.status },
        'response_url answered an error; answering otherwise',
      );
    }
    try {
      if (to.channel && !/^D/.test(to.channel)) {
        await deps.client.chat.postEphemeral({ channel: to.channel, user: to.user, text });
        return;
      }
    } catch (err) {
      deps.logger.debug({ err, channel: to.channel }, 'ephemeral answer refused; sending a DM');
    }
    try {
      await deps.client.chat.postMessage({ channel: to.user, text });
    } catch (err) {
      throw slackFailure(err);
    }
  }

  return {
    name: 'start-flow',
    handlers: {
      [CREATE_CHANNEL]: createChannel,
      [INVITE]: chainable(invite, (_e, why) => `invite you to the channel (${shortReason(why)})`),
      [ANNOUNCE]: chainable(
        announce,
        (e, why) =>
          `post the announcement in ${(e.payload as AnnouncePayload).what} (${shortReason(why)})`,
      ),
      [START_REPLY]: reply,
    },
  };
}
