/**
 * Publishing, wired per service instance (like the insights page): `registerPublishing` is called
 * once where the Slack app is built, with the configured targets; the `postmortem publish`
 * command and the Publish button find it through the service they are given.
 *
 * Delivery: `publish()` runs the outbox handler of the publish subscriber for one effect and
 * records what it produced (`postmortem.published`, keyed by the effect, so a retried request
 * records nothing twice). Until the outbox dispatcher is on main this happens inline, in the
 * command's background work (after the ack); once it is, the command adds the effect in its
 * commit and the dispatcher delivers it with retries, and this function goes away.
 */
import type { DateTime } from 'luxon';
import type { Incident, IncidentService } from '../../app/service';
import type { Subscriber } from '../../app/effects';
import { renderPostmortem } from '../../render/postmortem';
import type { PublishTarget } from './config';
import {
  createPublishSubscriber,
  publishedText,
  publishEffect,
  PUBLISH_EFFECT,
  type PublishPayload,
} from './subscriber';

export interface Publishing {
  targets: readonly PublishTarget[];
  subscriber: Subscriber;
}

const registry = new WeakMap<object, Publishing>();

export function registerPublishing(
  service: IncidentService,
  opts: {
    targets: readonly PublishTarget[];
    template: string;
    templateDir?: string;
    clock?: () => DateTime;
  },
): Publishing {
  const subscriber = createPublishSubscriber({
    targets: opts.targets,
    render: (incident) =>
      renderPostmortem(incident, opts.template, {
        ...(opts.templateDir ? { templateDir: opts.templateDir } : {}),
        ...(opts.clock ? { now: opts.clock } : {}),
      }),
  });
  const p = { targets: opts.targets, subscriber };
  registry.set(service, p);
  return p;
}

export function publishingFor(service: object): Publishing | undefined {
  return registry.get(service);
}

export interface PublishOutcome {
  url: string;
  number: number;
  /** The line to post in the channel. */
  text: string;
}

/** Publishes `incident` to `target` now, and records `postmortem.published`. */
export async function publish(
  service: IncidentService,
  p: Publishing,
  incident: Incident,
  payload: PublishPayload,
  requestKey: string,
): Promise<PublishOutcome> {
  const handler = p.subscriber.handlers?.[PUBLISH_EFFECT];
  if (!handler) throw new Error('the publish subscriber has no handler');
  const effect = publishEffect(incident.record.id, payload, requestKey);
  const outcome = await handler(
    { ...effect, id: effect.key, state: 'pending', attempts: 0 },
    { now: service.now(), incident, attempt: 1 },
  );
  const events = outcome?.events ?? [];
  const published = events.find((e) => e.type === 'postmortem.published');
  if (!published || published.type !== 'postmortem.published') {
    throw new Error('publishing recorded nothing');
  }
  await service.store.append(incident.record.id, events);
  return { url: published.url, number: published.number, text: publishedText(incident, published) };
}
