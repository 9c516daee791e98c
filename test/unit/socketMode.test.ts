/**
 * The Socket Mode receiver's pure parts: the reconnect backoff and the words for why a
 * connection cannot be opened.
 */
import { webApi } from '@slack/bolt';
import { describeConnectError, matchRoute, reconnectDelay } from '../../src/slack/socketMode';

const API = 'https://slack.example.test/api/';

describe('reconnectDelay', () => {
  const backoff = { initialMs: 1000, maxMs: 60_000 };
  it('reconnects at once after a connection that worked, then doubles, capped', () => {
    const mid = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 7, 8, 50].map((f) => reconnectDelay(f, backoff, mid))).toEqual([
      0, 1000, 2000, 4000, 8000, 60_000, 60_000, 60_000,
    ]);
  });
  it('jitters by ±20 %', () => {
    expect(reconnectDelay(3, backoff, () => 0)).toBe(3200);
    expect(reconnectDelay(3, backoff, () => 1)).toBe(4800);
  });
});

describe('describeConnectError', () => {
  const platform = (error: string) =>
    Object.assign(new Error(`An API error occurred: ${error}`), {
      code: webApi.ErrorCode.PlatformError,
      data: { ok: false, error },
    });

  it.each([
    ['invalid_auth', 'Slack rejected SLACK_APP_TOKEN (invalid_auth)'],
    ['not_authed', 'Slack rejected SLACK_APP_TOKEN (not_authed)'],
    ['token_revoked', 'Slack rejected SLACK_APP_TOKEN (token_revoked)'],
    ['not_allowed_token_type', 'needs an app-level token (not_allowed_token_type)'],
    ['missing_scope', 'lacks the connections:write scope (missing_scope)'],
    ['team_disabled', `apps.connections.open at ${API} answered team_disabled`],
  ])('%s', (code, words) => {
    const text = describeConnectError(platform(code), API);
    expect(text.startsWith('cannot open a Socket Mode connection: ')).toBe(true);
    expect(text).toContain(words);
  });

  it('an unreachable API base names the base and the network error', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), {
      code: 'ECONNREFUSED',
    });
    const err = Object.assign(new Error('A request error occurred: fetch failed'), {
      code: webApi.ErrorCode.RequestError,
      original: Object.assign(new TypeError('fetch failed'), { cause }),
    });
    expect(describeConnectError(err, API)).toBe(
      `cannot open a Socket Mode connection: the Slack Web API at ${API} is unreachable (fetch failed: ECONNREFUSED). Check SLACK_API_URL and the network.`,
    );
  });

  it('an HTTP error status, and a failed WebSocket', () => {
    const http = Object.assign(new Error('An HTTP protocol error occurred: statusCode = 502'), {
      code: webApi.ErrorCode.HTTPError,
      statusCode: 502,
    });
    expect(describeConnectError(http, API)).toContain(`at ${API} answered HTTP 502`);
    expect(describeConnectError(new Error('Unexpected server response: 401'), API)).toBe(
      'cannot open a Socket Mode connection: the WebSocket connection failed (Unexpected server response: 401).',
    );
    expect(describeConnectError(undefined, API)).toBe(
      'cannot open a Socket Mode connection: the WebSocket connection failed.',
    );
  });
});

describe('matchRoute', () => {
  it('matches literal segments and :params (decoded), nothing else', () => {
    expect(matchRoute('/healthz', '/healthz')).toEqual({});
    expect(matchRoute('/insights/incidents/:number', '/insights/incidents/12')).toEqual({
      number: '12',
    });
    expect(matchRoute('/a/:x/b', '/a/caf%C3%A9/b')).toEqual({ x: 'café' });
    expect(matchRoute('/insights/incidents/:number', '/insights/incidents/')).toBeUndefined();
    expect(matchRoute('/insights/incidents/:number', '/insights/incidents/1/x')).toBeUndefined();
    expect(matchRoute('/healthz', '/healthz/')).toBeUndefined();
    expect(matchRoute('/a/:x', '/a/%E0%A4%A')).toBeUndefined();
  });
});
