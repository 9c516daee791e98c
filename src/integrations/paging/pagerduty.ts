/**
 * PagerDuty: Events API v2 (`POST /v2/enqueue`: trigger and resolve by dedup key) and the REST
 * API's `GET /oncalls` (who is on call for an escalation policy or a schedule, with their email
 * through `include[]=users`). Base URLs come from PAGERDUTY_EVENTS_URL / PAGERDUTY_API_URL.
 */
import type { OncallConfig, PdSeverity } from './config';
import { callProvider } from './http';
import type { OncallPerson, PageFacts, TriggerResult } from './types';

const PROVIDER = 'PagerDuty';

export interface PagerDutyOptions {
  eventsUrl: string;
  fetchImpl?: typeof fetch;
}

/** The Events API v2 trigger body (documented limits: summary ≤ 1024, dedup_key ≤ 255). */
export function pagerdutyTriggerBody(
  routingKey: string,
  severity: PdSeverity,
  f: PageFacts,
): Record<string, unknown> {
  const summary = `${f.incidentLabel} [${f.severity.toUpperCase()}] ${f.title}${f.reason ? ` — ${f.reason}` : ''}`;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: f.dedupKey,
    payload: {
      summary: summary.length > 1024 ? `${summary.slice(0, 1023)}…` : summary,
      source: 'incident-bot',
      severity,
      timestamp: f.at,
      component: f.target,
      class: 'incident',
      custom_details: {
        incident: f.incidentLabel,
        title: f.title,
        severity: f.severity,
        ...(f.reason ? { reason: f.reason } : {}),
        requested_by: f.requestedBy.name,
        ...(f.channel ? { slack_channel: f.channel } : {}),
      },
    },
    client: 'incident-bot',
    ...(f.channelUrl
      ? {
          client_url: f.channelUrl,
          links: [{ href: f.channelUrl, text: `${f.incidentLabel} in Slack` }],
        }
      : {}),
  };
}

/** Reason from an Events API refusal: `{ status, message, errors: [...] }`. */
function eventsReason(body: unknown): string | undefined {
  const b = body as { message?: unknown; errors?: unknown } | undefined;
  if (!b || typeof b !== 'object') return undefined;
  const errors = Array.isArray(b.errors) ? b.errors.filter((e) => typeof e === 'string') : [];
  const message = typeof b.message === 'string' ? b.message : undefined;
  return [message, ...errors].filter(Boolean).join(': ') || undefined;
}

async function enqueue(opts: PagerDutyOptions, routingKey: string, body: Record<string, unknown>) {
  return callProvider({
    provider: PROVIDER,
    method: 'POST',
    url: `${opts.eventsUrl}/v2/enqueue`,
    body: JSON.stringify(body),
    secrets: [routingKey],
    reasonOf: eventsReason,
    fetchImpl: opts.fetchImpl,
  });
}

export async function pagerdutyTrigger(
  opts: PagerDutyOptions,
  routingKey: string,
  severity: PdSeverity,
  f: PageFacts,
): Promise<TriggerResult> {
  const res = await enqueue(opts, routingKey, pagerdutyTriggerBody(routingKey, severity, f));
  const key = (res.json as { dedup_key?: unknown } | undefined)?.dedup_key;
  return typeof key === 'string' ? { providerRef: key } : {};
}

export async function pagerdutyResolve(
  opts: PagerDutyOptions,
  routingKey: string,
  dedupKey: string,
): Promise<void> {
  await enqueue(opts, routingKey, {
    routing_key: routingKey,
    event_action: 'resolve',
    dedup_key: dedupKey,
  });
}

/** Reason from a REST API refusal: `{ error: { message, errors: [...] } }`. */
function restReason(body: unknown): string | undefined {
  const e = (body as { error?: { message?: unknown; errors?: unknown } } | undefined)?.error;
  if (!e) return undefined;
  const errors = Array.isArray(e.errors) ? e.errors.filter((x) => typeof x === 'string') : [];
  return (
    [typeof e.message === 'string' ? e.message : undefined, ...errors].filter(Boolean).join(': ') ||
    undefined
  );
}

interface OncallEntry {
  escalation_level?: number;
  user?: { id?: string; name?: string; summary?: string; email?: string };
}

/**
 * Who is on call now for the policy or schedule. For an escalation policy, only the first
 * escalation level present is taken (the people the page reaches first). Follows `more`
 * pagination up to 4 pages of 100.
 */
export async function pagerdutyOncall(
  opts: { apiUrl: string; fetchImpl?: typeof fetch },
  cfg: OncallConfig,
): Promise<OncallPerson[]> {
  const entries: OncallEntry[] = [];
  for (let page = 0, offset = 0; page < 4; page += 1) {
    const q = new URLSearchParams();
    if (cfg.escalationPolicy) q.append('escalation_policy_ids[]', cfg.escalationPolicy);
    if (cfg.schedule) q.append('schedule_ids[]', cfg.schedule);
    q.append('include[]', 'users');
    q.set('earliest', 'true');
    q.set('limit', '100');
    q.set('offset', String(offset));
    const res = await callProvider({
      provider: PROVIDER,
      method: 'GET',
      url: `${opts.apiUrl}/oncalls?${q.toString()}`,
      headers: {
        authorization: `Token token=${cfg.token.value}`,
        accept: 'application/vnd.pagerduty+json;version=2',
      },
      secrets: [cfg.token.value],
      reasonOf: restReason,
      fetchImpl: opts.fetchImpl,
    });
    const body = res.json as { oncalls?: OncallEntry[]; more?: boolean } | undefined;
    const got = Array.isArray(body?.oncalls) ? body.oncalls : [];
    entries.push(...got);
    if (!body?.more || got.length === 0) break;
    offset += got.length;
  }
  const levels = entries.map((e) => e.escalation_level ?? 1);
  const first = cfg.escalationPolicy && levels.length ? Math.min(...levels) : undefined;
  const people = new Map<string, OncallPerson>();
  for (const e of entries) {
    if (first !== undefined && (e.escalation_level ?? 1) !== first) continue;
    const u = e.user;
    if (!u) continue;
    const id = u.id ?? u.email ?? u.name ?? u.summary;
    if (!id || people.has(id)) continue;
    people.set(id, {
      name: u.name ?? u.summary ?? 'someone',
      ...(u.email ? { email: u.email } : {}),
    });
  }
  return [...people.values()];
}
