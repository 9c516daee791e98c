/**
 * A local PagerDuty, written from its public API reference:
 *
 * - Events API v2, `POST /v2/enqueue`: `routing_key` (32 characters, must be a known integration
 *   key), `event_action` trigger | acknowledge | resolve, `dedup_key` (≤ 255; required for
 *   acknowledge/resolve), and for a trigger `payload.summary` (≤ 1024), `payload.source`,
 *   `payload.severity` (critical | error | warning | info). Answers 202
 *   `{ status: "success", message: "Event processed", dedup_key }`, or 400
 *   `{ status: "invalid event", message: "Event object is invalid", errors: [...] }`.
 *   A trigger whose dedup key matches an open alert is added to it: no second alert.
 * - REST API, `GET /oncalls`: `Authorization: Token token=<token>`, `Accept:
 *   application/vnd.pagerduty+json;version=2`, filters `escalation_policy_ids[]` /
 *   `schedule_ids[]`, `include[]=users` (full user objects, with email), `limit`/`offset`/`more`.
 *   401 `{ error: { message, code } }` for a bad token.
 * - Webhooks v3 (what PagerDuty sends): `signedWebhook()` builds an `incident.acknowledged`
 *   event and its `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>` header.
 */
import { createHmac } from 'node:crypto';
import { startFakeServer, type FakeAnswer, type FakeServer } from './server';

export interface FakeAlert {
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  /** Trigger events received for it (a second page adds one, never a second alert). */
  triggers: number;
  summary: string;
  severity: string;
  routingKey: string;
  body: Record<string, unknown>;
}

export interface FakeOncall {
  escalationPolicy?: string;
  schedule?: string;
  level: number;
  user: { id: string; name: string; email: string };
}

export interface FakePagerDuty extends FakeServer {
  /** Every alert ever opened, in order (a resolved one stays listed). */
  alerts: FakeAlert[];
  /** The open alert for a dedup key. */
  openAlert(dedupKey: string): FakeAlert | undefined;
}

const SEVERITIES = ['critical', 'error', 'warning', 'info'];

export async function startFakePagerDuty(opts: {
  routingKeys: string[];
  apiTokens?: string[];
  oncalls?: FakeOncall[];
}): Promise<FakePagerDuty> {
  const alerts: FakeAlert[] = [];
  const openAlert = (k: string) => alerts.find((a) => a.dedupKey === k && a.status !== 'resolved');
  const invalid = (...errors: string[]): FakeAnswer => ({
    status: 400,
    body: { status: 'invalid event', message: 'Event object is invalid', errors },
  });

  const server = await startFakeServer([
    {
      method: 'POST',
      path: /^\/v2\/enqueue$/,
      handle: (req) => {
        const b = req.json as Record<string, unknown> | undefined;
        if (!b || typeof b !== 'object') return invalid('Request body is not JSON');
        const errors: string[] = [];
        const rk = b.routing_key;
        if (typeof rk !== 'string' || rk.length !== 32) {
          errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
        } else if (!opts.routingKeys.includes(rk)) {
          errors.push('Invalid routing key');
        }
        const action = b.event_action;
        if (action !== 'trigger' && action !== 'acknowledge' && action !== 'resolve') {
          errors.push("'event_action' is missing or invalid");
        }
        const dk = b.dedup_key;
        if (dk !== undefined && (typeof dk !== 'string' || dk.length > 255)) {
          errors.push("'dedup_key' must be a string of at most 255 characters");
        }
        if ((action === 'acknowledge' || action === 'resolve') && typeof dk !== 'string') {
          errors.push("'dedup_key' is required for acknowledge and resolve");
        }
        const p = b.payload as Record<string, unknown> | undefined;
        if (action === 'trigger') {
          if (!p || typeof p !== 'object') errors.push("'payload' is missing");
          else {
            if (typeof p.summary !== 'string' || !p.summary)
              errors.push("'payload.summary' is missing");
            else if (p.summary.length > 1024)
              errors.push("'payload.summary' is longer than 1024 characters");
            if (typeof p.source !== 'string' || !p.source)
              errors.push("'payload.source' is missing");
            if (!SEVERITIES.includes(p.severity as string))
              errors.push("'payload.severity' is invalid");
          }
        }
        if (errors.length) return invalid(...errors);
        const key = typeof dk === 'string' ? dk : `generated-${alerts.length + 1}`;
        const open = openAlert(key);
        if (action === 'trigger') {
          if (open) open.triggers += 1;
          else
            alerts.push({
              dedupKey: key,
              status: 'triggered',
              triggers: 1,
              summary: String(p?.summary),
              severity: String(p?.severity),
              routingKey: String(rk),
              body: b,
            });
        } else if (open) {
          open.status = action === 'resolve' ? 'resolved' : 'acknowledged';
        }
        return {
          status: 202,
          body: { status: 'success', message: 'Event processed', dedup_key: key },
        };
      },
    },
    {
      method: 'GET',
      path: /^\/oncalls$/,
      handle: (req) => {
        const auth = String(req.headers.authorization ?? '');
        const token = /^Token token=(.+)$/.exec(auth)?.[1];
        if (!token || !(opts.apiTokens ?? []).includes(token)) {
          return { status: 401, body: { error: { message: 'Authentication failed', code: 2006 } } };
        }
        if (
          !String(req.headers.accept ?? '').includes('application/vnd.pagerduty+json;version=2')
        ) {
          return { status: 406, body: { error: { message: 'Not Acceptable', code: 2001 } } };
        }
        const policies = req.query.getAll('escalation_policy_ids[]');
        const schedules = req.query.getAll('schedule_ids[]');
        const withUsers = req.query.getAll('include[]').includes('users');
        const limit = Number(req.query.get('limit') ?? 25);
        const offset = Number(req.query.get('offset') ?? 0);
        const matching = (opts.oncalls ?? []).filter(
          (o) =>
            (policies.length === 0 ||
              (o.escalationPolicy && policies.includes(o.escalationPolicy))) &&
            (schedules.length === 0 || (o.schedule && schedules.includes(o.schedule))),
        );
        const page = matching.slice(offset, offset + limit).map((o) => ({
          escalation_policy: o.escalationPolicy
            ? { id: o.escalationPolicy, type: 'escalation_policy_reference' }
            : null,
          schedule: o.schedule ? { id: o.schedule, type: 'schedule_reference' } : null,
          escalation_level: o.level,
          start: null,
          end: null,
          user: withUsers
            ? {
                id: o.user.id,
                type: 'user',
                name: o.user.name,
                email: o.user.email,
                summary: o.user.name,
              }
            : { id: o.user.id, type: 'user_reference', summary: o.user.name },
        }));
        return {
          status: 200,
          body: {
            oncalls: page,
            limit,
            offset,
            more: offset + limit < matching.length,
            total: null,
          },
        };
      },
    },
  ]);
  return Object.assign(server, { alerts, openAlert });
}

/** A v3 webhook as PagerDuty sends it, signed with `secret`: body and headers. */
export function signedWebhook(
  secret: string,
  e: { eventType: string; incidentKey: string; occurredAt: string; agent?: string; id?: string },
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    event: {
      id: e.id ?? `01EVENT${Math.random().toString(36).slice(2, 10).toUpperCase()}`,
      event_type: e.eventType,
      resource_type: 'incident',
      occurred_at: e.occurredAt,
      agent: e.agent
        ? {
            html_url: 'https://example.pagerduty.com/users/PUSER01',
            id: 'PUSER01',
            self: null,
            summary: e.agent,
            type: 'user_reference',
          }
        : null,
      client: null,
      data: {
        id: 'PINC001',
        type: 'incident',
        self: 'https://api.pagerduty.com/incidents/PINC001',
        html_url: 'https://example.pagerduty.com/incidents/PINC001',
        number: 7,
        status: e.eventType === 'incident.acknowledged' ? 'acknowledged' : 'triggered',
        incident_key: e.incidentKey,
        title: 'paged by incident-bot',
      },
    },
  });
  const sig = createHmac('sha256', secret).update(body).digest('hex');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-pagerduty-signature': `v1=${sig}`,
      'x-webhook-id': 'PWEBHOOK1',
    },
  };
}
