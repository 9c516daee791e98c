/**
 * Sign in with Slack on the real app, against a local fake of Slack's OpenID Connect endpoints
 * (token exchange and published keys), with id_tokens signed by a key made here.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { insightsWebFor } from '../../src/web/registry';
import { IncidentBuilder } from '../helpers/incidentBuilder';
import { seed } from '../helpers/seedIncidents';
import { TEST_TEAM } from '../helpers/slackEmulator';
import { startTestBot, type TestBot } from '../helpers/testBot';

const CLIENT_ID = '1111.2222';
const CLIENT_SECRET = 'oidc-test-secret';
const good = generateKeyPairSync('rsa', { modulusLength: 2048 });
const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** code → id_token the fake answers with. */
const codes = new Map<string, string>();
let oidc: Server;
let oidcUrl: string;
let bot: TestBot;
let base: string;

function jwt(
  claims: Record<string, unknown>,
  key: KeyObject = good.privateKey,
  kid = 'k1',
): string {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg: 'RS256', typ: 'JWT', kid })}.${enc(claims)}`;
  return `${head}.${sign('RSA-SHA256', Buffer.from(head), key).toString('base64url')}`;
}

beforeAll(async () => {
  oidc = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/openid/connect/keys') {
        const jwk = good.publicKey.export({ format: 'jwk' });
        res.end(JSON.stringify({ keys: [{ ...jwk, kid: 'k1', alg: 'RS256', use: 'sig' }] }));
        return;
      }
      if (req.url === '/api/openid.connect.token' && req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        const token = codes.get(form.get('code') ?? '');
        if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
          res.end(JSON.stringify({ ok: false, error: 'invalid_client_id' }));
        } else if (!token) {
          res.end(JSON.stringify({ ok: false, error: 'invalid_code' }));
        } else {
          codes.delete(form.get('code') ?? '');
          res.end(JSON.stringify({ ok: true, access_token: 'xoxp-x', id_token: token }));
        }
        return;
      }
      res.statusCode = 404;
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => oidc.listen(0, '127.0.0.1', resolve));
  oidcUrl = `http://127.0.0.1:${(oidc.address() as AddressInfo).port}`;
  bot = await startTestBot({
    env: {
      SLACK_CLIENT_ID: CLIENT_ID,
      SLACK_CLIENT_SECRET: CLIENT_SECRET,
      SLACK_OIDC_URL: oidcUrl,
    },
  });
  base = `http://127.0.0.1:${bot.port}`;
  const web = insightsWebFor(bot.service);
  if (!web) throw new Error('insights routes not registered');
  web.publicUrl = base;
  await seed(
    bot.store,
    TEST_TEAM.id,
    new IncidentBuilder({ number: 1 }).opened('10:00', 'Queue backlog').detected('10:00'),
  );
});

afterAll(async () => {
  await bot.close();
  await new Promise<void>((resolve) => oidc.close(() => resolve()));
});

/** Starts a sign-in: the state cookie, and the state and nonce sent to Slack. */
async function start(): Promise<{ cookie: string; state: string; nonce: string }> {
  const r = await fetch(`${base}/insights/auth/slack`, { redirect: 'manual' });
  expect(r.status).toBe(302);
  const to = new URL(r.headers.get('location') ?? '');
  expect(`${to.origin}${to.pathname}`).toBe(`${oidcUrl}/openid/connect/authorize`);
  expect(to.searchParams.get('client_id')).toBe(CLIENT_ID);
  expect(to.searchParams.get('redirect_uri')).toBe(`${base}/insights/auth/slack/callback`);
  expect(to.searchParams.get('scope')).toContain('openid');
  return {
    cookie: (r.headers.get('set-cookie') ?? '').split(';')[0],
    state: to.searchParams.get('state') ?? '',
    nonce: to.searchParams.get('nonce') ?? '',
  };
}

const claims = (nonce: string, over: Record<string, unknown> = {}) => ({
  iss: 'https://slack.com',
  aud: CLIENT_ID,
  sub: 'U_ALICE',
  exp: Math.floor(Date.now() / 1000) + 300,
  iat: Math.floor(Date.now() / 1000),
  nonce,
  'https://slack.com/team_id': TEST_TEAM.id,
  ...over,
});

async function callback(s: { cookie: string; state: string }, code: string, state = s.state) {
  return fetch(`${base}/insights/auth/slack/callback?code=${code}&state=${state}`, {
    headers: { cookie: s.cookie },
    redirect: 'manual',
  });
}

describe('Sign in with Slack', () => {
  it('the 401 page offers it', async () => {
    const r = await fetch(`${base}/insights`);
    expect(r.status).toBe(401);
    expect(await r.text()).toContain('href="/insights/auth/slack"');
  });

  it('a verified id_token of a known workspace opens a session for that workspace', async () => {
    const s = await start();
    codes.set('good', jwt(claims(s.nonce)));
    const r = await callback(s, 'good');
    expect(r.status).toBe(303);
    const cookies = r.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith('ib_insights='))?.split(';')[0] ?? '';
    expect(cookies.join('\n')).toMatch(/ib_insights=[^;]+; Path=\/; HttpOnly; SameSite=Lax/);
    const page = await fetch(`${base}/insights`, { headers: { cookie: session } });
    expect(page.status).toBe(200);
    const json = (await (
      await fetch(`${base}/insights.json?days=730`, { headers: { cookie: session } })
    ).json()) as { incidents: { title: string }[] };
    expect(json.incidents.map((i) => i.title)).toEqual(['Queue backlog']);
  });

  it.each([
    [
      'another workspace',
      (n: string) => jwt(claims(n, { 'https://slack.com/team_id': 'T_STRANGER' })),
      403,
    ],
    ['a key Slack never published', (n: string) => jwt(claims(n), foreign.privateKey), 401],
    ['a forged kid', (n: string) => jwt(claims(n), foreign.privateKey, 'k2'), 401],
    ['another app', (n: string) => jwt(claims(n, { aud: '9999.0000' })), 401],
    ['another issuer', (n: string) => jwt(claims(n, { iss: 'https://evil.example' })), 401],
    [
      'an expired token',
      (n: string) => jwt(claims(n, { exp: Math.floor(Date.now() / 1000) - 3600 })),
      401,
    ],
    ['another nonce', () => jwt(claims('not-the-nonce')), 401],
  ])('refuses %s', async (_what, token, status) => {
    const s = await start();
    codes.set('bad', token(s.nonce));
    const r = await callback(s, 'bad');
    expect(r.status).toBe(status);
    expect(r.headers.getSetCookie().join('\n')).not.toMatch(/ib_insights=[^;]/);
  });

  it('refuses a callback whose state does not match the cookie, or has no cookie', async () => {
    const s = await start();
    codes.set('c', jwt(claims(s.nonce)));
    expect((await callback(s, 'c', 'other-state')).status).toBe(400);
    expect((await callback({ ...s, cookie: '' }, 'c')).status).toBe(400);
  });
});
