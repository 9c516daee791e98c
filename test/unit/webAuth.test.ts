import { randomBytes } from 'node:crypto';
import { DateTime } from 'luxon';
import {
  hashToken,
  MemoryLoginTokens,
  parseCookies,
  sessionCookieHeader,
  WebAuth,
} from '../../src/web/auth';
import { parseWebConfig, sessionKey, WebConfigError } from '../../src/web/config';

const T0 = DateTime.fromISO('2025-06-01T12:00:00Z', { zone: 'utc' });

function setup(key = randomBytes(32)) {
  let now = T0;
  const tokens = new MemoryLoginTokens();
  const auth = new WebAuth({
    key,
    tokens,
    clock: () => now,
    linkMinutes: 10,
    sessionHours: 8,
  });
  return { auth, tokens, advance: (minutes: number) => (now = now.plus({ minutes })) };
}

describe('one-time login links', () => {
  it('keep only the hash of the token, and open one session for the team that asked', () => {
    const { auth, tokens } = setup();
    const { token, expiresAt } = auth.mint('T_A', 'U_ALICE');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toBe(T0.plus({ minutes: 10 }).toMillis());
    expect(tokens.size).toBe(1);
    // The table holds the hash, never the token.
    expect(tokens.take(token)).toBeUndefined();
    const r = auth.redeem(token);
    expect(r).toMatchObject({ ok: true, session: { team: 'T_A', user: 'U_ALICE' } });
    expect(hashToken(token)).not.toContain(token);
  });

  it('cannot be replayed', () => {
    const { auth } = setup();
    const { token } = auth.mint('T_A', 'U_ALICE');
    expect(auth.redeem(token).ok).toBe(true);
    expect(auth.redeem(token)).toEqual({ ok: false, reason: 'unknown' });
  });

  it.each([
    [9.9, true],
    [10, false],
    [60, false],
  ])('after %d minutes: valid %p', (minutes, ok) => {
    const { auth, advance } = setup();
    const { token } = auth.mint('T_A', 'U_ALICE');
    advance(minutes);
    const r = auth.redeem(token);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.reason).toBe('expired');
  });

  it.each(['', 'short', 'x'.repeat(200), 'has spaces in it and is long enough'])(
    'refuses a malformed token %j',
    (token) => {
      expect(setup().auth.redeem(token)).toEqual({ ok: false, reason: 'unknown' });
    },
  );
});

describe('session cookies', () => {
  it('carry the team and verify only with the same key, untampered, unexpired', () => {
    const key = randomBytes(32);
    const { auth, advance } = setup(key);
    const { token } = auth.mint('T_A', 'U_ALICE');
    const r = auth.redeem(token);
    if (!r.ok) throw new Error('not redeemed');
    expect(auth.verify(r.cookieValue)).toMatchObject({ team: 'T_A', user: 'U_ALICE' });

    // Another key (another deployment) does not accept it.
    expect(setup(randomBytes(32)).auth.verify(r.cookieValue)).toBeUndefined();

    // A payload changed to another team keeps the old signature: refused.
    const [payload, sig] = r.cookieValue.split('.');
    const forged = Buffer.from(
      Buffer.from(payload, 'base64url').toString().replace('T_A', 'T_B'),
    ).toString('base64url');
    expect(auth.verify(`${forged}.${sig}`)).toBeUndefined();
    expect(auth.verify(`${payload}.`)).toBeUndefined();
    expect(auth.verify('garbage')).toBeUndefined();
    expect(auth.verify(undefined)).toBeUndefined();

    advance(8 * 60 - 1);
    expect(auth.verify(r.cookieValue)).toBeDefined();
    advance(1);
    expect(auth.verify(r.cookieValue)).toBeUndefined();
  });

  it('are HttpOnly, SameSite=Lax, Secure behind https', () => {
    expect(sessionCookieHeader('v', 60, true)).toBe(
      'ib_insights=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure',
    );
    expect(sessionCookieHeader('v', 60, false)).not.toContain('Secure');
  });

  it('are read from a Cookie header', () => {
    expect(parseCookies('a=1; ib_insights=x.y; a=2')).toEqual({ a: '1', ib_insights: 'x.y' });
    expect(parseCookies(undefined)).toEqual({});
  });
});

describe('web settings', () => {
  it('have defaults and report bad values', () => {
    expect(parseWebConfig({})).toEqual({ linkMinutes: 10, sessionHours: 8 });
    expect(
      parseWebConfig({
        INSIGHTS_PUBLIC_URL: 'https://bot.example.com/',
        INSIGHTS_LINK_MINUTES: '5',
      }),
    ).toEqual({ publicUrl: 'https://bot.example.com', linkMinutes: 5, sessionHours: 8 });
    expect(() =>
      parseWebConfig({ INSIGHTS_PUBLIC_URL: 'ftp://x', INSIGHTS_SESSION_SECRET: 'short' }),
    ).toThrow(WebConfigError);
  });

  it('turn on Sign in with Slack only with both the client id and secret', () => {
    expect(parseWebConfig({ SLACK_CLIENT_ID: '1.2', SLACK_CLIENT_SECRET: 's' }).slack).toEqual({
      clientId: '1.2',
      clientSecret: 's',
      baseUrl: 'https://slack.com',
    });
    expect(() => parseWebConfig({ SLACK_CLIENT_ID: '1.2' })).toThrow(/go together/);
  });

  it('derive a stable session key from the signing secret when none is set', () => {
    const web = parseWebConfig({});
    expect(sessionKey(web, 'secret-1').equals(sessionKey(web, 'secret-1'))).toBe(true);
    expect(sessionKey(web, 'secret-1').equals(sessionKey(web, 'secret-2'))).toBe(false);
  });
});
