/**
 * One HTTP call to a pager provider, with its answer classified: accepted (2xx), refused (other
 * 4xx: not worth retrying, the provider's reason is shown to the user), or failed for now (429,
 * 408, 5xx, network, timeout: retried by the outbox, no earlier than the provider's Retry-After).
 * Secrets sent in the request are scrubbed from any reason text before it is recorded or logged.
 */
import { DateTime } from 'luxon';

export class ProviderError extends Error {
  constructor(
    /** "PagerDuty", "Jira Service Management" … */
    readonly provider: string,
    /** The HTTP status, when there was an answer. */
    readonly status: number | undefined,
    /** What the provider said (or what went wrong), secret-free. */
    readonly reason: string,
    readonly retryable: boolean,
    /** From Retry-After, when given: how long to wait, in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(`${provider} ${status ? `answered ${status}` : 'could not be reached'}: ${reason}`);
    this.name = 'ProviderError';
  }
}

export interface HttpCall {
  provider: string;
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  /** JSON body (already serialised, so callers can sign exactly these bytes). */
  body?: string;
  /** Values to scrub from reasons (keys, tokens). */
  secrets: string[];
  /** Turns a refusal's body into the provider's reason. */
  reasonOf?: (body: unknown, text: string) => string | undefined;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export interface HttpAnswer {
  status: number;
  /** Parsed JSON, or undefined when the body is not JSON. */
  json: unknown;
  text: string;
}

const MAX_REASON = 500;

export async function callProvider(call: HttpCall): Promise<HttpAnswer> {
  const doFetch = call.fetchImpl ?? fetch;
  const scrub = (s: string): string => scrubSecrets(s, call.secrets);
  let res: Response;
  try {
    res = await doFetch(call.url, {
      method: call.method,
      headers: {
        accept: 'application/json',
        ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}),
        'user-agent': 'incident-bot',
        ...call.headers,
      },
      ...(call.body !== undefined ? { body: call.body } : {}),
      signal: AbortSignal.timeout(call.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const name = (err as { name?: unknown })?.name;
    const why =
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${Math.round((call.timeoutMs ?? 10_000) / 1000)} s`
        : networkReason(err);
    throw new ProviderError(call.provider, undefined, scrub(why), true);
  }
  const text = await res.text().catch(() => '');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (res.ok) return { status: res.status, json, text };

  const given = call.reasonOf?.(json, text);
  const reason = scrub(clip(given?.trim() || text.trim() || res.statusText || 'no reason given'));
  const retryable = res.status === 429 || res.status === 408 || res.status >= 500;
  const now = DateTime.utc();
  const at = retryable ? retryAfter(res.headers.get('retry-after'), now) : undefined;
  const waitMs = at ? Math.max(0, at.toMillis() - now.toMillis()) : undefined;
  throw new ProviderError(call.provider, res.status, reason, retryable, waitMs);
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfter(value: string | null, now: DateTime): DateTime | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return now.plus({ seconds: Math.min(Number(v), 3600) });
  const at = DateTime.fromHTTP(v, { zone: 'utc' });
  return at.isValid ? at : undefined;
}

export function scrubSecrets(s: string, secrets: readonly string[]): string {
  let out = s;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > MAX_REASON ? `${one.slice(0, MAX_REASON - 1)}…` : one;
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (cause && typeof cause.code === 'string') return `network error (${cause.code})`;
  return `network error (${err instanceof Error ? err.message : String(err)})`;
}
