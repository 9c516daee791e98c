/**
 * The postmortem upload as an outbox effect (`slack.upload_postmortem`), committed with the
 * `closed` event by the close use-case, so the draft is uploaded once per close even with
 * concurrent closers or a crash in between, and retried when Slack fails.
 *
 * Delivery: the latest stored rendering is uploaded to the incident channel (files.uploadV2).
 * Rate limits and transient failures are retried (Retry-After respected); any other Slack error
 * is permanent: the effect is dead and a line in the channel says the draft is in the store
 * (`/incident postmortem` renders it again).
 */
import type { Subscriber } from '../app/effects';
import { PermanentEffectError, RetryableEffectError } from '../app/effects';
import type { NewEffect } from '../store/store';
import { DateTime } from 'luxon';
import type { SlackDeps } from './app';
import { describeSlackError, slackErrorCode } from './webOps';

export const UPLOAD_POSTMORTEM = 'slack.upload_postmortem';

export interface UploadPostmortemPayload {
  channel: string;
  filename: string;
  title: string;
  label: string;
}

/** The effect owed by a close: keyed per incident, so one close uploads once. */
export function uploadPostmortemEffect(
  incidentId: string,
  payload: UploadPostmortemPayload,
): NewEffect {
  return { key: `upload:${incidentId}`, kind: UPLOAD_POSTMORTEM, incidentId, payload };
}

const TRANSIENT = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

export function postmortemUploadSubscriber(
  deps: Pick<SlackDeps, 'slack' | 'service' | 'logger'>,
): Subscriber {
  return {
    name: 'postmortem-upload',
    handlers: {
      async [UPLOAD_POSTMORTEM](effect) {
        const p = effect.payload as UploadPostmortemPayload;
        if (!effect.incidentId) throw new PermanentEffectError('the effect names no incident');
        const pm = await deps.service.store.latestPostmortem(effect.incidentId);
        // Saved right after the closing commit; a crash in between: `/incident postmortem`.
        const content = pm?.content;
        if (content === undefined) throw new RetryableEffectError('the draft is not stored yet');
        try {
          await deps.slack.upload(p.channel, p.filename, content, p.title);
        } catch (err) {
          const data = (err as { data?: { error?: unknown } }).data;
          const code =
            slackErrorCode(err) ?? (typeof data?.error === 'string' ? data.error : undefined);
          const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
          if (typeof retryAfter === 'number') {
            throw new RetryableEffectError(
              'ratelimited',
              DateTime.utc().plus({ seconds: retryAfter }),
            );
          }
          if (code === undefined || TRANSIENT.has(code)) {
            throw new RetryableEffectError(describeSlackError(err));
          }
          await deps.slack
            .post(
              p.channel,
              `I could not upload the postmortem draft of ${p.label} (${describeSlackError(err)}). The incident is closed and its draft is kept: \`/incident postmortem\` shows it again.`,
            )
            .catch(() => undefined);
          throw new PermanentEffectError(describeSlackError(err));
        }
      },
    },
  };
}
