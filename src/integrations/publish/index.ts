/**
 * Publishing, wired per service instance (like the insights page): `registerPublishing` is called
 * once where the Slack app is built, with the configured targets; its subscriber is registered
 * with the outbox, and the `postmortem publish` command and the Publish button find the targets
 * through the service they are given.
 */
import type { DateTime } from 'luxon';
import type { IncidentService } from '../../app/service';
import type { Subscriber } from '../../app/effects';
import { renderPostmortem } from '../../render/postmortem';
import type { PublishTarget } from './config';
import { createPublishSubscriber, type PublishSubscriberDeps } from './subscriber';

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
    post?: PublishSubscriberDeps['post'];
    log?: PublishSubscriberDeps['log'];
  },
): Publishing {
  const subscriber = createPublishSubscriber({
    targets: opts.targets,
    render: (incident) =>
      renderPostmortem(incident, opts.template, {
        ...(opts.templateDir ? { templateDir: opts.templateDir } : {}),
        ...(opts.clock ? { now: opts.clock } : {}),
      }),
    ...(opts.post ? { post: opts.post } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  const p = { targets: opts.targets, subscriber };
  registry.set(service, p);
  return p;
}

export function publishingFor(service: object): Publishing | undefined {
  return registry.get(service);
}
