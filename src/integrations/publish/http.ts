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

// ---- what the GitHub and GitLab publishers share -----------------------------------------------

/** True when the answer is `status` with an "already exists" message: a concurrent creation. */
export function alreadyExists(a: HttpAnswer, status: number): boolean {
  return a.status === status && /already exists/i.test(apiMessage(a.body));
}

/**
 * The text of a file as a repository API answers it (GitHub contents, GitLab files: base64
 * `content`), or undefined when it is not given in base64.
 */
export function fileText(file: { content?: unknown; encoding?: unknown }): string | undefined {
  return file.encoding === 'base64' && typeof file.content === 'string'
    ? Buffer.from(file.content, 'base64').toString('utf8')
    : undefined;
}

/** An open pull request (GitHub) or merge request (GitLab). */
export interface ReviewRequest {
  url: string;
  number: number;
}

/** How a forge lists and opens review requests from a branch. */
export interface ReviewRequestApi {
  /** "pull request", "merge request": for error messages. */
  what: string;
  /** The fields of a review request in the API's answers: its number and its web URL. */
  fields: { number: string; url: string };
  /** Lists the open review requests from the branch (a 200 list). */
  list: () => Promise<HttpAnswer>;
  /** Opens one (a 201 with the review request). */
  open: () => Promise<HttpAnswer>;
  /** True when `open` failed because a concurrent call opened one first. */
  lostRace: (a: HttpAnswer) => boolean;
}

/**
 * The open review request from the branch, or a new one: looked up first; else opened; when
 * opening loses a race to a concurrent one, looked up again. Never a second one. Any other
 * answer is a permanent failure.
 */
export async function findOrOpenReview(
  api: ReviewRequestApi,
): Promise<ReviewRequest & { opened: boolean }> {
  const of = (item: Record<string, unknown>) => ({
    url: item[api.fields.url] as string,
    number: item[api.fields.number] as number,
  });
  const find = async (): Promise<ReviewRequest | undefined> => {
    const list = await api.list();
    if (list.status !== 200 || !Array.isArray(list.body)) {
      throw unexpected(`listing ${api.what}s`, list);
    }
    const first = (list.body as Record<string, unknown>[])[0];
    return first?.[api.fields.number] && first[api.fields.url] ? of(first) : undefined;
  };
  const existing = await find();
  if (existing) return { ...existing, opened: false };
  const answer = await api.open();
  if (answer.status === 201) return { ...of(answer.body as Record<string, unknown>), opened: true };
  if (api.lostRace(answer)) {
    const again = await find();
    if (again) return { ...again, opened: false };
  }
  throw unexpected(`opening the ${api.what}`, answer);
}
