/**
 * Generic webhook pager: a signed JSON POST to the target's URL (see README "Paging" for the
 * body). The signature is HMAC-SHA256 over `<timestamp>.<body>` with the target's secret, sent as
 * `X-Incident-Bot-Signature: v1=<hex>` beside `X-Incident-Bot-Timestamp: <unix seconds>`, so a
 * receiver can verify the sender and refuse replays of old requests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { callProvider } from './http';
import type { PageFacts, TriggerResult } from './types';

export const SIGNATURE_HEADER = 'x-incident-bot-signature';
export const TIMESTAMP_HEADER = 'x-incident-bot-timestamp';

export interface WebhookBody {
  version: 1;
  action: 'trigger' | 'resolve';
  dedupKey: string;
  target: string;
  incident: {
    id: string;
    number: number;
    label: string;
    title: string;
    severity: string;
    channel?: string;
    url?: string;
  };
  reason?: string;
  requestedBy?: { id: string; name: string };
  /** ISO UTC */
  at: string;
}

export function webhookBody(action: 'trigger' | 'resolve', f: PageFacts): WebhookBody {
  return {
    version: 1,
    action,
    dedupKey: f.dedupKey,
    target: f.target,
    incident: {
      id: f.incidentId,
      number: f.incidentNumber,
      label: f.incidentLabel,
      title: f.title,
      severity: f.severity,
      ...(f.channel ? { channel: f.channel } : {}),
      ...(f.channelUrl ? { url: f.channelUrl } : {}),
    },
    ...(action === 'trigger' && f.reason ? { reason: f.reason } : {}),
    ...(action === 'trigger' ? { requestedBy: f.requestedBy } : {}),
    at: f.at,
  };
}

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers (and the tests' fake): constant-time check of a signature header. */
export function verifyWebhook(
  secret: string,
  timestamp: string,
  body: string,
  header: string,
): boolean {
  const want = Buffer.from(signWebhook(secret, timestamp, body));
  const got = Buffer.from(header.trim());
  return want.length === got.length && timingSafeEqual(want, got);
}

export async function webhookSend(
  o: { url: string; secret: string; fetchImpl?: typeof fetch; nowSeconds: number },
  action: 'trigger' | 'resolve',
  f: PageFacts,
): Promise<TriggerResult> {
  const body = JSON.stringify(webhookBody(action, f));
  const ts = String(o.nowSeconds);
  const res = await callProvider({
    provider: 'the webhook',
    method: 'POST',
    url: o.url,
    headers: { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: signWebhook(o.secret, ts, body) },
    body,
    secrets: [o.secret],
    reasonOf: (json, text) => {
      const j = json as { error?: unknown; message?: unknown } | undefined;
      if (typeof j?.error === 'string') return j.error;
      if (typeof j?.message === 'string') return j.message;
      return text;
    },
    fetchImpl: o.fetchImpl,
  });
  const ref = (res.json as { ref?: unknown } | undefined)?.ref;
  return typeof ref === 'string' ? { providerRef: ref.slice(0, 200) } : {};
}
