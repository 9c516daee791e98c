/**
 * The few HTTP calls the publishers make, over Node's own `fetch` (no client library: a handful of
 * JSON requests, CommonJS-safe). Answers are sorted for the effect dispatcher: 429 and 5xx and
 * network failures are retryable (Retry-After respected), a 403 with an exhausted rate limit too;
 * any other unexpected 4xx is permanent. Messages never include the token.
 */
import { DateTime } from 'luxon';
import { PermanentEffectError, RetryableEffectError } from '../../app/effects';

export interface HttpAnswer {
  status: number;
  body: unknown;
  headers: Headers;
}

export type FetchLike = typeof fetch;

export async function requestJson(
  fetchImpl: FetchLike,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
  now: () => DateTime = () => DateTime.utc(),
): Promise<HttpAnswer> {
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method,
      headers: {
        ...headers,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new RetryableEffectError(
      `${method} ${new URL(url).pathname}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    // Not JSON: kept as text for the error message.
  }
  const answer = { status: res.status, body: parsed, headers: res.headers };
  const rateLimited =
    res.status === 429 || (res.status === 403 && res.headers.get('x-ratelimit-remaining') === '0');
  if (rateLimited || res.status >= 500) {
    const after = Number(res.headers.get('retry-after'));
    const reset = Number(res.headers.get('x-ratelimit-reset'));
    const retryAt =
      Number.isFinite(after) && after > 0
        ? now().plus({ seconds: after })
        : Number.isFinite(reset) && reset > 0
          ? DateTime.fromSeconds(reset, { zone: 'utc' })
          : undefined;
    throw new RetryableEffectError(
      `${method} ${new URL(url).pathname}: HTTP ${res.status}`,
      retryAt,
    );
  }
  return answer;
}

/** The API's own error text (GitHub `message` + `errors[].message`, GitLab `message`/`error`). */
export function apiMessage(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 300);
  if (!body || typeof body !== 'object') return '';
  const b = body as { message?: unknown; error?: unknown; errors?: unknown };
  const parts: string[] = [];
  if (typeof b.message === 'string') parts.push(b.message);
  else if (Array.isArray(b.message)) parts.push(b.message.map(String).join('; '));
  else if (b.message && typeof b.message === 'object') parts.push(JSON.stringify(b.message));
  if (typeof b.error === 'string') parts.push(b.error);
  if (Array.isArray(b.errors)) {
    for (const e of b.errors) {
      if (typeof e === 'string') parts.push(e);
      else if (
        e &&
        typeof e === 'object' &&
        typeof (e as { message?: unknown }).message === 'string'
      )
        parts.push((e as { message: string }).message);
    }
  }
  return parts.join(' — ').slice(0, 300);
}

export function unexpected(what: string, a: HttpAnswer): PermanentEffectError {
  const msg = apiMessage(a.body);
  return new PermanentEffectError(`${what}: HTTP ${a.status}${msg ? ` (${msg})` : ''}`);
}
