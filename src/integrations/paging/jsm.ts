/**
 * Jira Service Management (and Opsgenie, whose alert API JSM keeps): create an alert with the
 * dedup key as its `alias` (an open alert with the same alias is not duplicated), close it by
 * alias. Authorization: `GenieKey <key>`. JSM: `{JSM_API_URL}/jsm/ops/integration/v2/alerts`;
 * Opsgenie: `{OPSGENIE_API_URL}/v2/alerts`.
 */
import type { JsmPriority, JsmResponder } from './config';
import { callProvider } from './http';
import type { PageFacts, TriggerResult } from './types';

export interface JsmOptions {
  kind: 'jsm' | 'opsgenie';
  /** JSM_API_URL or OPSGENIE_API_URL */
  baseUrl: string;
  fetchImpl?: typeof fetch;
}

const providerName = (o: JsmOptions): string =>
  o.kind === 'jsm' ? 'Jira Service Management' : 'Opsgenie';

function alertsUrl(o: JsmOptions): string {
  return o.kind === 'jsm' ? `${o.baseUrl}/jsm/ops/integration/v2/alerts` : `${o.baseUrl}/v2/alerts`;
}

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** The create-alert body (documented limits: message ≤ 130, alias ≤ 512, description ≤ 15000). */
export function jsmAlertBody(
  responders: JsmResponder[],
  priority: JsmPriority,
  f: PageFacts,
): Record<string, unknown> {
  const description = [
    `${f.incidentLabel}: ${f.title}`,
    `Severity: ${f.severity.toUpperCase()}`,
    ...(f.reason ? [`Why: ${f.reason}`] : []),
    `Paged by ${f.requestedBy.name} through incident-bot.`,
    ...(f.channelUrl ? [`Slack: ${f.channelUrl}`] : []),
  ].join('\n');
  return {
    message: cut(`${f.incidentLabel} [${f.severity.toUpperCase()}] ${f.title}`, 130),
    alias: cut(f.dedupKey, 512),
    description: cut(description, 15000),
    ...(responders.length ? { responders } : {}),
    priority,
    source: 'incident-bot',
    entity: f.incidentLabel,
    user: cut(f.requestedBy.name, 100),
    tags: ['incident-bot', f.severity, f.target],
    details: {
      incident: f.incidentLabel,
      target: f.target,
      ...(f.channel ? { slackChannel: f.channel } : {}),
    },
  };
}

/** Reason from a refusal: `{ message, took, requestId }` (sometimes `errors` per field). */
function reasonOf(body: unknown): string | undefined {
  const b = body as { message?: unknown; errors?: unknown } | undefined;
  if (!b || typeof b !== 'object') return undefined;
  const parts: string[] = [];
  if (typeof b.message === 'string') parts.push(b.message);
  if (b.errors && typeof b.errors === 'object') {
    for (const [k, v] of Object.entries(b.errors as Record<string, unknown>)) {
      if (typeof v === 'string') parts.push(`${k}: ${v}`);
    }
  }
  return parts.join('; ') || undefined;
}

export async function jsmCreateAlert(
  o: JsmOptions,
  apiKey: string,
  responders: JsmResponder[],
  priority: JsmPriority,
  f: PageFacts,
): Promise<TriggerResult> {
  const res = await callProvider({
    provider: providerName(o),
    method: 'POST',
    url: alertsUrl(o),
    headers: { authorization: `GenieKey ${apiKey}` },
    body: JSON.stringify(jsmAlertBody(responders, priority, f)),
    secrets: [apiKey],
    reasonOf,
    fetchImpl: o.fetchImpl,
  });
  const id = (res.json as { requestId?: unknown } | undefined)?.requestId;
  return typeof id === 'string' ? { providerRef: id } : {};
}

export async function jsmCloseAlert(
  o: JsmOptions,
  apiKey: string,
  dedupKey: string,
  note: string,
): Promise<void> {
  await callProvider({
    provider: providerName(o),
    method: 'POST',
    url: `${alertsUrl(o)}/${encodeURIComponent(dedupKey)}/close?identifierType=alias`,
    headers: { authorization: `GenieKey ${apiKey}` },
    body: JSON.stringify({ source: 'incident-bot', user: 'incident-bot', note: cut(note, 25000) }),
    secrets: [apiKey],
    reasonOf,
    fetchImpl: o.fetchImpl,
  });
}
