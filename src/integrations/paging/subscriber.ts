/**
 * Paging as an outbox subscriber. The record drives everything:
 *
 *   page.requested (recorded by /incident page or escalate)
 *     -> effect page.trigger -> the provider -> page.sent | page.failed (+ a line in the channel)
 *     -> after page.sent: effect page.oncall -> on-call people (PagerDuty /oncalls) matched to
 *        Slack users by email, plus the target's Slack user group, invited -> page.oncall
 *   resolved
 *     -> effect page.resolve for each page the provider accepted -> page.resolved
 *
 * Every provider call carries the page's dedup key (stable per incident and target), so a retry
 * of an effect, a redelivery after a crash, or a second `/incident page` lands on the same alert.
 * Outcome events are keyed by the effect's key, so a redelivered effect records nothing twice.
 * Refusals (4xx) are final and recorded with the provider's reason; 429/5xx/network failures are
 * retried by the dispatcher (Retry-After respected) and recorded as failed after `maxAttempts`.
 */
import type { DateTime } from 'luxon';
import type { Logger } from '../../logger';
import {
  PermanentEffectError,
  RetryableEffectError,
  type EffectContext,
  type EffectHandler,
  type EffectOutcome,
  type Subscriber,
} from '../../app/effects';
import type { Incident } from '../../app/service';
import { PAGER_NAMES } from '../../core/fold';
import { formatIncidentNumber, type Actor, type NewEvent, type PagerKind } from '../../core/model';
import type { NewEffect, StoredEffect } from '../../store/store';
import { findTarget, type PagingConfig, type ResponderTarget } from './config';
import { ProviderError } from './http';
import { jsmCloseAlert, jsmCreateAlert } from './jsm';
import { pagerdutyOncall, pagerdutyResolve, pagerdutyTrigger } from './pagerduty';
import type { OncallPerson, PageFacts, TriggerResult } from './types';
import { webhookSend } from './webhook';

export const PAGE_EFFECTS = {
  trigger: 'page.trigger',
  resolve: 'page.resolve',
  oncall: 'page.oncall',
  notify: 'page.notify',
} as const;

const SYSTEM: Actor = { id: 'system', name: 'incident-bot' };

/** The provider alert key for an incident and a target: the same for every page of the pair. */
export function pageDedupKey(incidentId: string, target: string): string {
  return `incident-bot:${incidentId}:${target}`;
}

/** The incident id and target back from a dedup key (PagerDuty webhooks carry it). */
export function parseDedupKey(key: string): { incidentId: string; target: string } | undefined {
  const m = /^incident-bot:(.+):([a-z0-9][a-z0-9_-]{0,39})$/.exec(key);
  return m ? { incidentId: m[1], target: m[2] } : undefined;
}

/** What the subscriber needs from Slack (over the app's WebClient in production). */
export interface PagingSlack {
  /** users.lookupByEmail; undefined when nobody in the workspace has that email. */
  userByEmail(email: string): Promise<Actor | undefined>;
  usergroupMembers(groupId: string): Promise<string[]>;
  invite(channel: string, users: string[]): Promise<void>;
  post(channel: string, text: string): Promise<unknown>;
}

export interface PagingDeps {
  config: PagingConfig;
  slack: PagingSlack;
  logger: Logger;
  fetchImpl?: typeof fetch;
  /** After this many failed deliveries a retryable failure is recorded as final (default 6). */
  maxAttempts?: number;
}

interface TriggerPayload {
  target: string;
  dedupKey: string;
  reason?: string;
  requestedBy: Actor;
}
interface ResolvePayload {
  target: string;
  dedupKey: string;
}
interface NotifyPayload {
  channel: string;
  text: string;
}

export function createPagingSubscriber(deps: PagingDeps): Subscriber {
  const maxAttempts = deps.maxAttempts ?? 6;
  const log = deps.logger.child({ component: 'paging' });

  return {
    name: 'paging',

    effectsFor(incident, appended) {
      const out: NewEffect[] = [];
      const id = incident.record.id;
      for (const e of appended) {
        if (e.type === 'page.requested') {
          const payload: TriggerPayload = {
            target: e.target,
            dedupKey: e.dedupKey,
            ...(e.reason ? { reason: e.reason } : {}),
            requestedBy: e.actor,
          };
          out.push({
            key: `page.trigger:${id}:${e.seq}`,
            kind: PAGE_EFFECTS.trigger,
            incidentId: id,
            payload,
          });
        } else if (e.type === 'resolved') {
          // Every page whose alert is open at the provider (accepted, not yet resolved).
          for (const p of incident.state.pages) {
            if (!p.sentAt || p.status === 'resolved') continue;
            const payload: ResolvePayload = { target: p.target, dedupKey: p.dedupKey };
            out.push({
              key: `page.resolve:${id}:${p.target}:${e.seq}`,
              kind: PAGE_EFFECTS.resolve,
              incidentId: id,
              payload,
            });
          }
        }
      }
      return out;
    },

    handlers: {
      [PAGE_EFFECTS.trigger]: (effect, ctx) => trigger(effect, ctx),
      [PAGE_EFFECTS.resolve]: (effect, ctx) => resolve(effect, ctx),
      [PAGE_EFFECTS.oncall]: (effect, ctx) => oncall(effect, ctx),
      [PAGE_EFFECTS.notify]: notify,
    } satisfies Record<string, EffectHandler>,
  };

  // ---- page.trigger ------------------------------------------------------------------------

  async function trigger(effect: StoredEffect, ctx: EffectContext): Promise<EffectOutcome> {
    const p = effect.payload as TriggerPayload;
    const incident = requireIncident(effect, ctx);
    const target = findTarget(deps.config, p.target);
    const base = { target: p.target, dedupKey: p.dedupKey };
    const channel = channelOf(incident);
    const requester = p.requestedBy.id.startsWith('U') ? `<@${p.requestedBy.id}> ` : '';
    if (!target) {
      const reason = `"${p.target}" is no longer a responder target (INCIDENT_RESPONDERS_FILE)`;
      throw new PermanentEffectError(reason, {
        events: [event(ctx, effect, 'page.failed', { ...base, reason })],
        effects: notifyEffect(
          effect,
          channel,
          `⚠️ ${requester}The page to *${p.target}* was not sent: ${reason}.`,
        ),
      });
    }
    const pagerName = PAGER_NAMES[target.pager.kind];
    const facts = pageFacts(incident, p, ctx.now);
    if (deps.config.dryRun) {
      log.info(
        {
          incident: facts.incidentLabel,
          target: p.target,
          pager: target.pager.kind,
          dedupKey: p.dedupKey,
        },
        'PAGING_DRY_RUN: page recorded, not sent',
      );
      return {
        events: [
          event(ctx, effect, 'page.sent', { ...base, pager: target.pager.kind, dryRun: true }),
        ],
        effects: [
          ...notifyEffect(
            effect,
            channel,
            `📟 Page to *${p.target}* recorded but not sent (PAGING_DRY_RUN is on).`,
          ),
          ...oncallEffect(effect, incident, target, p.dedupKey),
        ],
      };
    }
    let result: TriggerResult;
    try {
      result = await sendTrigger(target, facts, ctx.now);
    } catch (err) {
      throw failure(err, ctx, effect, base, channel, `⚠️ ${requester}Paging *${p.target}* failed`);
    }
    log.info(
      { incident: facts.incidentLabel, target: p.target, pager: target.pager.kind },
      'page sent',
    );
    return {
      events: [
        event(ctx, effect, 'page.sent', {
          ...base,
          pager: target.pager.kind,
          ...(result.providerRef ? { providerRef: result.providerRef } : {}),
        }),
      ],
      effects: [
        ...notifyEffect(effect, channel, `📟 ${pagerName} accepted the page to *${p.target}*.`),
        ...oncallEffect(effect, incident, target, p.dedupKey),
      ],
    };
  }

  async function sendTrigger(
    target: ResponderTarget,
    f: PageFacts,
    now: DateTime,
  ): Promise<TriggerResult> {
    const pager = target.pager;
    const c = deps.config;
    switch (pager.kind) {
      case 'pagerduty':
        return pagerdutyTrigger(
          { eventsUrl: c.pagerdutyEventsUrl, fetchImpl: deps.fetchImpl },
          pager.routingKey.value,
          pager.severity[f.severity],
          f,
        );
      case 'jsm':
      case 'opsgenie':
        return jsmCreateAlert(
          {
            kind: pager.kind,
            baseUrl: pager.kind === 'jsm' ? c.jsmApiUrl : c.opsgenieApiUrl,
            fetchImpl: deps.fetchImpl,
          },
          pager.apiKey.value,
          pager.responders,
          pager.priority[f.severity],
          f,
        );
      case 'webhook':
        return webhookSend(
          {
            url: pager.url,
            secret: pager.secret.value,
            fetchImpl: deps.fetchImpl,
            nowSeconds: Math.floor(now.toSeconds()),
          },
          'trigger',
          f,
        );
    }
  }

  // ---- page.resolve ------------------------------------------------------------------------

  async function resolve(effect: StoredEffect, ctx: EffectContext): Promise<EffectOutcome> {
    const p = effect.payload as ResolvePayload;
    const incident = requireIncident(effect, ctx);
    const base = { target: p.target, dedupKey: p.dedupKey };
    const channel = channelOf(incident);
    const target = findTarget(deps.config, p.target);
    const sent = incident.state.pages.find((x) => x.dedupKey === p.dedupKey);
    if (!target || deps.config.dryRun || sent?.dryRun) {
      if (!target)
        log.warn(
          { target: p.target },
          'page to resolve: target no longer configured; recorded only',
        );
      return { events: [event(ctx, effect, 'page.resolved', base)] };
    }
    const pager = target.pager;
    const c = deps.config;
    const facts = pageFacts(incident, { ...base, requestedBy: SYSTEM }, ctx.now);
    try {
      switch (pager.kind) {
        case 'pagerduty':
          await pagerdutyResolve(
            { eventsUrl: c.pagerdutyEventsUrl, fetchImpl: deps.fetchImpl },
            pager.routingKey.value,
            p.dedupKey,
          );
          break;
        case 'jsm':
        case 'opsgenie':
          await jsmCloseAlert(
            {
              kind: pager.kind,
              baseUrl: pager.kind === 'jsm' ? c.jsmApiUrl : c.opsgenieApiUrl,
              fetchImpl: deps.fetchImpl,
            },
            pager.apiKey.value,
            p.dedupKey,
            `${facts.incidentLabel} was resolved in Slack.`,
          );
          break;
        case 'webhook':
          await webhookSend(
            {
              url: pager.url,
              secret: pager.secret.value,
              fetchImpl: deps.fetchImpl,
              nowSeconds: Math.floor(ctx.now.toSeconds()),
            },
            'resolve',
            facts,
          );
          break;
      }
    } catch (err) {
      throw failure(
        err,
        ctx,
        effect,
        base,
        channel,
        `⚠️ Resolving the page to *${p.target}* failed`,
      );
    }
    return { events: [event(ctx, effect, 'page.resolved', base)] };
  }

  // ---- page.oncall -------------------------------------------------------------------------

  async function oncall(effect: StoredEffect, ctx: EffectContext): Promise<EffectOutcome> {
    const p = effect.payload as ResolvePayload;
    const incident = requireIncident(effect, ctx);
    const channel = channelOf(incident);
    const target = findTarget(deps.config, p.target);
    if (!target || !channel) return {};
    const invitees = new Map<string, Actor>();
    const unmatched: string[] = [];
    const problems: string[] = [];
    if (target.slackGroup) {
      try {
        for (const id of await deps.slack.usergroupMembers(target.slackGroup))
          invitees.set(id, { id, name: id });
      } catch (err) {
        problems.push(`could not list the Slack user group (${errorText(err)})`);
      }
    }
    if (target.oncall && !deps.config.dryRun) {
      let people: OncallPerson[] = [];
      try {
        people = await pagerdutyOncall(
          { apiUrl: deps.config.pagerdutyApiUrl, fetchImpl: deps.fetchImpl },
          target.oncall,
        );
      } catch (err) {
        if (err instanceof ProviderError && err.retryable && ctx.attempt < maxAttempts) {
          throw new RetryableEffectError(err.message, retryAt(ctx, err));
        }
        problems.push(
          `could not look up who is on call (${err instanceof ProviderError ? providerText(err) : errorText(err)})`,
        );
      }
      // Matched by the email the pager lists, never by name.
      for (const person of people) {
        const user = person.email
          ? await deps.slack.userByEmail(person.email).catch(() => undefined)
          : undefined;
        if (user) invitees.set(user.id, user);
        else unmatched.push(person.name);
      }
    }
    const ids = [...invitees.keys()];
    if (ids.length) {
      try {
        await deps.slack.invite(channel, ids);
      } catch (err) {
        if (ctx.attempt < maxAttempts)
          throw new RetryableEffectError(`invite failed: ${errorText(err)}`);
        problems.push(`could not invite them (${errorText(err)})`);
      }
    }
    const users = [...invitees.values()];
    const lines: string[] = [];
    if (users.length)
      lines.push(`👥 Invited for *${p.target}*: ${users.map((u) => `<@${u.id}>`).join(', ')}.`);
    if (unmatched.length)
      lines.push(
        `On call for *${p.target}* but not found in Slack by email: ${unmatched.join(', ')}.`,
      );
    if (problems.length) lines.push(`⚠️ For *${p.target}* I ${problems.join('; ')}.`);
    return {
      events:
        users.length || unmatched.length
          ? [
              event(ctx, effect, 'page.oncall', {
                ...p,
                users,
                ...(unmatched.length ? { unmatched } : {}),
              }),
            ]
          : [],
      effects: lines.length ? notifyEffect(effect, channel, lines.join('\n')) : [],
    };
  }

  // ---- page.notify -------------------------------------------------------------------------

  async function notify(effect: StoredEffect): Promise<void> {
    const p = effect.payload as NotifyPayload;
    try {
      await deps.slack.post(p.channel, p.text);
    } catch (err) {
      const code = (err as { data?: { error?: unknown } })?.data?.error;
      if (code === 'channel_not_found' || code === 'is_archived' || code === 'not_in_channel') {
        throw new PermanentEffectError(`could not post in the incident channel: ${String(code)}`);
      }
      throw new RetryableEffectError(`could not post in the incident channel: ${errorText(err)}`);
    }
  }

  // ---- shared ------------------------------------------------------------------------------

  /** Maps a provider failure to the dispatcher's errors, recording page.failed when final. */
  function failure(
    err: unknown,
    ctx: EffectContext,
    effect: StoredEffect,
    base: { target: string; dedupKey: string },
    channel: string | undefined,
    headline: string,
  ): Error {
    if (!(err instanceof ProviderError)) {
      // A bug or an unexpected answer: retried like a network failure, never lost.
      if (ctx.attempt < maxAttempts) return new RetryableEffectError(errorText(err));
      err = new ProviderError('the pager', undefined, errorText(err), false);
    }
    const e = err as ProviderError;
    if (e.retryable && ctx.attempt < maxAttempts) {
      log.warn(
        { target: base.target, status: e.status, attempt: ctx.attempt, reason: e.reason },
        'page delivery failed; will retry',
      );
      return new RetryableEffectError(e.message, retryAt(ctx, e));
    }
    const reason = e.retryable
      ? `${providerText(e)} (gave up after ${ctx.attempt} attempts)`
      : providerText(e);
    log.warn({ target: base.target, status: e.status, reason }, 'page failed');
    return new PermanentEffectError(reason, {
      events: [
        event(ctx, effect, 'page.failed', {
          ...base,
          ...(e.status ? { status: e.status } : {}),
          reason,
        }),
      ],
      effects: notifyEffect(effect, channel, `${headline}: ${reason}`),
    });
  }

  function oncallEffect(
    effect: StoredEffect,
    incident: Incident,
    target: ResponderTarget,
    dedupKey: string,
  ): NewEffect[] {
    if (!target.oncall && !target.slackGroup) return [];
    return [
      {
        key: `${effect.key}:oncall`,
        kind: PAGE_EFFECTS.oncall,
        incidentId: incident.record.id,
        payload: { target: target.name, dedupKey } satisfies ResolvePayload,
      },
    ];
  }
}

/** Retry-After, on the effect's clock. */
function retryAt(_ctx: EffectContext, e: ProviderError): { afterMs: number } | undefined {
  return e.retryAfterMs === undefined ? undefined : { afterMs: e.retryAfterMs };
}

/** "PagerDuty answered 400: Event object is invalid: …" */
function providerText(e: ProviderError): string {
  return `${e.provider} ${e.status ? `answered ${e.status}` : 'could not be reached'}: ${e.reason}`;
}

function errorText(err: unknown): string {
  const code = (err as { data?: { error?: unknown } })?.data?.error;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message : String(err);
}

function notifyEffect(
  effect: StoredEffect,
  channel: string | undefined,
  text: string,
): NewEffect[] {
  if (!channel) return [];
  return [
    {
      key: `${effect.key}:notify`,
      kind: PAGE_EFFECTS.notify,
      ...(effect.incidentId ? { incidentId: effect.incidentId } : {}),
      payload: { channel, text } satisfies NotifyPayload,
    },
  ];
}

function requireIncident(effect: StoredEffect, ctx: EffectContext): Incident {
  if (!ctx.incident)
    throw new PermanentEffectError(
      `${effect.kind}: the incident ${effect.incidentId ?? '?'} was not found`,
    );
  return ctx.incident;
}

function channelOf(incident: Incident): string | undefined {
  return incident.state.channel ?? incident.record.channel;
}

/** The facts every pager gets, from the incident as recorded now. */
export function pageFacts(
  incident: Incident,
  p: { target: string; dedupKey: string; reason?: string; requestedBy: Actor },
  now: DateTime,
): PageFacts {
  const channel = channelOf(incident);
  return {
    dedupKey: p.dedupKey,
    target: p.target,
    incidentId: incident.record.id,
    incidentLabel: formatIncidentNumber(incident.record.number),
    incidentNumber: incident.record.number,
    title: incident.state.title || incident.record.title,
    severity: incident.state.severity,
    ...(p.reason ? { reason: p.reason } : {}),
    requestedBy: p.requestedBy,
    ...(channel
      ? { channel, channelUrl: `https://app.slack.com/client/${incident.record.team}/${channel}` }
      : {}),
    at: now.toUTC().toISO() ?? '',
  };
}

/** An outcome event, keyed by the effect (a redelivery records nothing twice). */
function event<T extends 'page.sent' | 'page.failed' | 'page.oncall' | 'page.resolved'>(
  ctx: EffectContext,
  effect: StoredEffect,
  type: T,
  payload: Extract<NewEvent, { type: T }> extends infer E
    ? Omit<E, 'type' | 'occurredAt' | 'recordedAt' | 'actor' | 'source' | 'key'>
    : never,
): NewEvent {
  return {
    ...payload,
    type,
    occurredAt: ctx.now,
    recordedAt: ctx.now,
    actor: SYSTEM,
    source: 'system',
    key: `${effect.key}:${type}`,
  } as unknown as NewEvent;
}

export type { PagerKind };
