/**
 * `POST /pagerduty/webhook`: PagerDuty v3 webhooks, for acknowledgements. Each request is
 * verified before anything is read from it: `X-PagerDuty-Signature` holds one or more
 * `v1=<hex HMAC-SHA256 of the raw body>` (several while a secret is being rotated), compared in
 * constant time with PAGERDUTY_WEBHOOK_SECRET. An `incident.acknowledged` event whose
 * `incident_key` is one of our dedup keys records `page.acknowledged` on that incident, keyed by
 * the webhook event's id (PagerDuty redelivers; it is recorded once). Anything else is answered
 * 2xx and ignored, so PagerDuty does not disable the subscription.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DateTime } from 'luxon';
import type { IncidentService } from '../../app/service';
import type { Logger } from '../../logger';
import { parseDedupKey } from './subscriber';

export const PAGERDUTY_WEBHOOK_PATH = '/pagerduty/webhook';
const MAX_BODY = 1024 * 1024;

/** True when one of the header's `v1=` signatures is the body's HMAC with `secret`. */
export function verifyPagerDutySignature(
  secret: string,
  rawBody: string,
  header: string | undefined,
): boolean {
  if (!header) return false;
  const want = Buffer.from(createHmac('sha256', secret).update(rawBody).digest('hex'));
  return header
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .some((s) => {
      const got = Buffer.from(s.slice(3));
      return got.length === want.length && timingSafeEqual(got, want);
    });
}

interface V3Event {
  event?: {
    id?: string;
    event_type?: string;
    occurred_at?: string;
    agent?: { summary?: string } | null;
    data?: { incident_key?: string; type?: string } | null;
  };
}

export function createPagerDutyWebhookRoute(opts: {
  secret: string;
  service: IncidentService;
  logger: Logger;
  /** Background work tracker, so shutdown and tests wait for the recording. */
  track?: <T>(p: Promise<T>) => Promise<T>;
}) {
  const log = opts.logger.child({ component: 'pagerduty-webhook' });
  const answer = (res: ServerResponse, status: number, body: Record<string, unknown>) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) return answer(res, 413, { ok: false, error: 'body too large' });
      chunks.push(c as Buffer);
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    const header = req.headers['x-pagerduty-signature'];
    if (
      !verifyPagerDutySignature(opts.secret, raw, Array.isArray(header) ? header.join(',') : header)
    ) {
      log.warn('refused a PagerDuty webhook with a missing or wrong signature');
      return answer(res, 401, { ok: false, error: 'bad signature' });
    }
    let body: V3Event;
    try {
      body = JSON.parse(raw) as V3Event;
    } catch {
      return answer(res, 400, { ok: false, error: 'not JSON' });
    }
    const e = body.event;
    const key = e?.data?.incident_key;
    const ours = key ? parseDedupKey(key) : undefined;
    if (e?.event_type !== 'incident.acknowledged' || !ours || !e.id) {
      return answer(res, 202, { ok: true, ignored: true });
    }
    const at = e.occurred_at ? DateTime.fromISO(e.occurred_at, { zone: 'utc' }) : undefined;
    try {
      const incident = await opts.service.load(ours.incidentId);
      if (!incident.state.pages.some((p) => p.dedupKey === key)) {
        return answer(res, 202, { ok: true, ignored: true });
      }
      const by = e.agent?.summary?.slice(0, 200);
      const now = opts.service.now();
      await opts.service.record(
        incident,
        {
          actor: { id: 'pagerduty', name: 'PagerDuty' },
          source: 'system',
          at: at?.isValid && at <= now ? at : now,
          key: `pd-webhook:${e.id}`,
        },
        'page.acknowledged',
        { target: ours.target, dedupKey: key as string, ...(by ? { by } : {}) },
        { allowClosed: true },
      );
      return answer(res, 200, { ok: true });
    } catch (err) {
      // An unknown incident is not PagerDuty's problem; a store outage is worth a redelivery.
      const code = (err as { code?: unknown })?.code;
      if (code === 'not_found') return answer(res, 202, { ok: true, ignored: true });
      log.error({ err }, 'could not record a PagerDuty acknowledgement');
      return answer(res, 503, { ok: false, error: 'try again' });
    }
  }

  return {
    path: PAGERDUTY_WEBHOOK_PATH,
    method: ['POST'],
    handler: (req: IncomingMessage, res: ServerResponse): void => {
      const p = handle(req, res).catch((err: unknown) => {
        log.error({ err }, 'PagerDuty webhook failed');
        if (!res.headersSent) answer(res, 500, { ok: false });
      });
      void (opts.track ? opts.track(p) : p);
    },
  };
}
