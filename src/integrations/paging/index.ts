/**
 * Paging, wired: the subscriber for a configuration, or undefined when no responder target is
 * configured (then nothing about paging runs). Register it with the app's subscriber registry.
 */
import type { webApi } from '@slack/bolt';
import type { Subscriber } from '../../app/effects';
import type { Logger } from '../../logger';
import type { SlackOps } from '../../slack/ports';
import type { PagingConfig } from './config';
import { createPagingSlack } from './slack';
import { createPagingSubscriber } from './subscriber';

export function pagingSubscriber(opts: {
  config: PagingConfig;
  client: webApi.WebClient;
  slack: SlackOps;
  logger: Logger;
}): Subscriber | undefined {
  if (opts.config.targets.length === 0) return undefined;
  return createPagingSubscriber({
    config: opts.config,
    slack: createPagingSlack(opts.client, opts.slack),
    logger: opts.logger,
  });
}
