/**
 * Who may read the insights: nobody by default. `/incident insights` mints a one-time link; the
 * link opens a signed session cookie bound to the workspace (team) of whoever asked for it.
 *
 * Guarantees (each has a test in test/unit/webAuth.test.ts):
 * - a login token is 32 random bytes; only its SHA-256 is kept, so a dump of the token table
 *   opens nothing;
 * - a token opens at most one session (it is deleted when redeemed) and none after its expiry;
 * - a session cookie is `<payload>.<HMAC-SHA256>`; a changed payload, a foreign key or an
 *   expired session is refused, and the signature is compared in constant time;
 * - a session names exactly one team; every query of the web routes is filtered by it.
 *
 * Where tokens live: in this process (`MemoryLoginTokens`), one table per service. That keeps the
 * store adapters (owned elsewhere) untouched; the price is that a link must be opened on the
 * replica that minted it and dies with a restart (harmless for a 10-minute link: ask again).
 * A store-backed `LoginTokenStore` can replace it without changing anything else.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DateTime } from 'luxon';

export interface LoginTokenRecord {
  team: string;
  /** Who asked for the link (Slack user id), for the log. */
  user: string;
  expiresAt: number;
}

/** Hashed one-time tokens. `take` removes the token it returns (single use). */
export interface LoginTokenStore {
  put(hash: string, rec: LoginTokenRecord): void;
  take(hash: string): LoginTokenRecord | undefined;
  /** Drops expired tokens. */
  sweep(nowMs: number): void;
}

export class MemoryLoginTokens implements LoginTokenStore {
  private readonly tokens = new Map<string, LoginTokenRecord>();
  put(hash: string, rec: LoginTokenRecord): void {
    this.tokens.set(hash, rec);
  }
  take(hash: string): LoginTokenRecord | undefined {
    const rec = this.tokens.get(hash);
    this.tokens.delete(hash);
    return rec;
  }
  sweep(nowMs: number): void {
    for (const [h, r] of this.tokens) if (r.expiresAt <= nowMs) this.tokens.delete(h);
  }
  get size(): number {
    return this.tokens.size;
  }
}

export const hashToken = (token: string): string =>
  createHash('sha256').update(token, 'utf8').digest('hex');

export interface Session {
  team: string;
  user: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'ib_insights';

export interface WebAuthOptions {
  key: Buffer;
  tokens: LoginTokenStore;
  clock: () => DateTime;
  linkMinutes: number;
  sessionHours: number;
}

export type RedeemResult =
  | { ok: true; session: Session; cookieValue: string }
  | { ok: false; reason: 'unknown' | 'expired' };

export class WebAuth {
  constructor(private readonly opts: WebAuthOptions) {}

  private nowMs(): number {
    return this.opts.clock().toMillis();
  }

  /** Mints a one-time login token for `team`; returns the token (only ever shown once). */
  mint(team: string, user: string): { token: string; expiresAt: number } {
    const now = this.nowMs();
    this.opts.tokens.sweep(now);
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + this.opts.linkMinutes * 60_000;
    this.opts.tokens.put(hashToken(token), { team, user, expiresAt });
    return { token, expiresAt };
  }

  /** Redeems a token once: a session for its team, or why not. */
  redeem(token: string): RedeemResult {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return { ok: false, reason: 'unknown' };
    const rec = this.opts.tokens.take(hashToken(token));
    if (!rec) return { ok: false, reason: 'unknown' };
    const now = this.nowMs();
    if (rec.expiresAt <= now) return { ok: false, reason: 'expired' };
    const session: Session = {
      team: rec.team,
      user: rec.user,
      expiresAt: now + this.opts.sessionHours * 3_600_000,
    };
    return { ok: true, session, cookieValue: this.sign(session) };
  }

  /** A session for `team` opened by another proof (Sign in with Slack). */
  openSession(team: string, user: string): { session: Session; cookieValue: string } {
    const session: Session = {
      team,
      user,
      expiresAt: this.nowMs() + this.opts.sessionHours * 3_600_000,
    };
    return { session, cookieValue: this.sign(session) };
  }

  sign(session: Session): string {
    return this.signBlob({ k: 'session', t: session.team, u: session.user, e: session.expiresAt });
  }

  /** `<base64url JSON>.<HMAC>` of any small JSON value (sessions, sign-in state). */
  signBlob(value: unknown): string {
    const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The value of a signed blob whose signature holds (constant-time check), else undefined. */
  verifyBlob(value: string | undefined): unknown {
    if (!value) return undefined;
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  }

  /** The session in a cookie value, when its signature holds and it has not expired. */
  verify(value: string | undefined): Session | undefined {
    const parsed = this.verifyBlob(value);
    if (!parsed || typeof parsed !== 'object') return undefined;
    const { k, t, u, e } = parsed as Record<string, unknown>;
    // `k` keeps other signed values (the sign-in state) from passing as a session.
    if (k !== 'session' || typeof t !== 'string' || typeof u !== 'string' || typeof e !== 'number')
      return undefined;
    if (e <= this.nowMs()) return undefined;
    return { team: t, user: u, expiresAt: e };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.opts.key).update(payload).digest('base64url');
  }
}

/** Cookie header → name → value (first occurrence wins). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

export function sessionCookieHeader(value: string, maxAgeSec: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSec))}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
