/**
 * Sign in with Slack (OpenID Connect), optional: on when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET
 * are set. The authorization-code flow (https://api.slack.com/authentication/sign-in-with-slack):
 *
 *   GET /insights/auth/slack            → a signed, short-lived state cookie (state + nonce), then
 *                                         302 to Slack's /openid/connect/authorize
 *   GET /insights/auth/slack/callback   → state checked against the cookie; the code exchanged at
 *                                         /api/openid.connect.token; the id_token verified: RS256
 *                                         signature against Slack's published keys (JWKS), issuer,
 *                                         audience (our client id), expiry, nonce; then the team
 *                                         claim must be a workspace this bot keeps incidents for.
 *
 * Only then is a session opened, bound to that team, like a one-time link's. Every failure is
 * refused without a session. The base URL is a setting (SLACK_OIDC_URL) so tests use a local fake.
 */
import {
  createPublicKey,
  randomBytes,
  verify as verifySignature,
  type JsonWebKey,
} from 'node:crypto';

export interface OidcSettings {
  clientId: string;
  clientSecret: string;
  /** https://slack.com by default. */
  baseUrl: string;
}

export const SLACK_ISSUER = 'https://slack.com';
export const TEAM_CLAIM = 'https://slack.com/team_id';

export interface IdTokenClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  exp: number;
  nonce?: string;
  [TEAM_CLAIM]?: string;
  name?: string;
}

export class OidcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OidcError';
  }
}

export function newStateAndNonce(): { state: string; nonce: string } {
  return {
    state: randomBytes(24).toString('base64url'),
    nonce: randomBytes(24).toString('base64url'),
  };
}

export function authorizeUrl(
  s: OidcSettings,
  redirectUri: string,
  state: string,
  nonce: string,
): string {
  const q = new URLSearchParams({
    response_type: 'code',
    scope: 'openid profile',
    client_id: s.clientId,
    state,
    nonce,
    redirect_uri: redirectUri,
  });
  return `${s.baseUrl}/openid/connect/authorize?${q.toString()}`;
}

async function getJson(url: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new OidcError(`${new URL(url).pathname} answered HTTP ${res.status}`);
  return (await res.json()) as unknown;
}

/** Exchanges the code for an id_token (Slack answers `{ok, id_token}` or `{ok:false, error}`). */
export async function exchangeCode(
  s: OidcSettings,
  code: string,
  redirectUri: string,
): Promise<string> {
  const body = new URLSearchParams({
    client_id: s.clientId,
    client_secret: s.clientSecret,
    code,
    redirect_uri: redirectUri,
    grant_type: 'authorization_code',
  });
  const r = (await getJson(`${s.baseUrl}/api/openid.connect.token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  })) as { ok?: boolean; id_token?: string; error?: string };
  if (!r.ok || typeof r.id_token !== 'string') {
    throw new OidcError(`the code was refused (${r.error ?? 'no id_token'})`);
  }
  return r.id_token;
}

const b64json = (part: string): unknown =>
  JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/**
 * Verifies an id_token: RS256 signature by a key of `jwks` (matched by `kid`), issuer, audience,
 * expiry (`nowSec`, with 60 s of leeway) and nonce. Returns its claims.
 */
export function verifyIdToken(
  token: string,
  jwks: { keys?: (JsonWebKey & { kid?: string })[] },
  expect: { clientId: string; nonce: string; nowSec: number },
): IdTokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new OidcError('the id_token is not a JWT');
  let header: { alg?: string; kid?: string };
  let claims: IdTokenClaims;
  try {
    header = b64json(parts[0]) as typeof header;
    claims = b64json(parts[1]) as IdTokenClaims;
  } catch {
    throw new OidcError('the id_token is not a JWT');
  }
  if (header.alg !== 'RS256')
    throw new OidcError(`unexpected signature algorithm ${String(header.alg)}`);
  const jwk = (jwks.keys ?? []).find((k) => k.kid === header.kid);
  if (!jwk) throw new OidcError('the id_token is signed by an unknown key');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verifySignature(
    'RSA-SHA256',
    Buffer.from(`${parts[0]}.${parts[1]}`),
    key,
    Buffer.from(parts[2], 'base64url'),
  );
  if (!ok) throw new OidcError('the id_token signature does not verify');
  if (claims.iss !== SLACK_ISSUER) throw new OidcError('the id_token is from another issuer');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(expect.clientId)) throw new OidcError('the id_token is for another app');
  if (typeof claims.exp !== 'number' || claims.exp + 60 < expect.nowSec) {
    throw new OidcError('the id_token has expired');
  }
  if (claims.nonce !== expect.nonce) throw new OidcError('the id_token nonce does not match');
  if (typeof claims.sub !== 'string' || typeof claims[TEAM_CLAIM] !== 'string') {
    throw new OidcError('the id_token names no user or workspace');
  }
  return claims;
}

export async function fetchJwks(
  s: OidcSettings,
): Promise<{ keys?: (JsonWebKey & { kid?: string })[] }> {
  return (await getJson(`${s.baseUrl}/openid/connect/keys`)) as {
    keys?: (JsonWebKey & { kid?: string })[];
  };
}
