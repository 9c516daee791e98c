/**
 * The two routes of Sign in with Slack (see slackOidc.ts for the flow and what is checked).
 */
import type { ServerResponse } from 'node:http';
import type { DateTime } from 'luxon';
import type { Logger } from '../logger';
import { parseCookies, sessionCookieHeader, type WebAuth } from './auth';
import { HTML, send, type Req } from './http';
import { messagePage } from './pages';
import {
  authorizeUrl,
  exchangeCode,
  fetchJwks,
  newStateAndNonce,
  OidcError,
  TEAM_CLAIM,
  verifyIdToken,
  type OidcSettings,
} from './slackOidc';

export const OIDC_COOKIE = 'ib_oidc';
const STATE_MINUTES = 10;

export interface OidcRouteDeps {
  settings: OidcSettings;
  auth: WebAuth;
  /** The bot's public base URL (read when a sign-in starts). */
  publicUrl: () => string;
  secure: boolean;
  clock: () => DateTime;
  /** Workspaces this bot keeps incidents for: a token of any other team opens nothing. */
  knownTeams: () => Promise<string[]>;
  log: Logger;
}

function stateCookie(value: string, maxAgeSec: number, secure: boolean): string {
  return sessionCookieHeader(value, maxAgeSec, secure).replace(/^ib_insights=/, `${OIDC_COOKIE}=`);
}

export function oidcStart(d: OidcRouteDeps) {
  return async (_req: Req, res: ServerResponse): Promise<void> => {
    const { state, nonce } = newStateAndNonce();
    const exp = d.clock().toMillis() + STATE_MINUTES * 60_000;
    const cookie = d.auth.signBlob({ s: state, n: nonce, e: exp });
    send(res, 302, HTML, '', {
      location: authorizeUrl(
        d.settings,
        `${d.publicUrl()}/insights/auth/slack/callback`,
        state,
        nonce,
      ),
      'set-cookie': stateCookie(cookie, STATE_MINUTES * 60, d.secure),
    });
  };
}

export function oidcCallback(d: OidcRouteDeps) {
  return async (req: Req, res: ServerResponse): Promise<void> => {
    const q = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const refuse = (status: number, text: string): void =>
      send(res, status, HTML, messagePage('Sign-in refused', text), {
        'set-cookie': stateCookie('', 0, d.secure),
      });
    const blob = d.auth.verifyBlob(parseCookies(req.headers.cookie)[OIDC_COOKIE]) as
      | { s?: unknown; n?: unknown; e?: unknown }
      | undefined;
    const code = q.get('code');
    if (
      !blob ||
      typeof blob.s !== 'string' ||
      typeof blob.n !== 'string' ||
      typeof blob.e !== 'number' ||
      blob.e <= d.clock().toMillis() ||
      q.get('state') !== blob.s ||
      !code
    ) {
      refuse(
        400,
        'This sign-in is not valid any more (or was not started here). Please start again.',
      );
      return;
    }
    try {
      const idToken = await exchangeCode(
        d.settings,
        code,
        `${d.publicUrl()}/insights/auth/slack/callback`,
      );
      const claims = verifyIdToken(idToken, await fetchJwks(d.settings), {
        clientId: d.settings.clientId,
        nonce: blob.n,
        nowSec: Math.floor(d.clock().toMillis() / 1000),
      });
      const team = claims[TEAM_CLAIM] ?? '';
      if (!(await d.knownTeams()).includes(team)) {
        d.log.info({ team }, 'Slack sign-in from a workspace this bot does not serve');
        refuse(403, 'Your Slack workspace has no incidents with this bot.');
        return;
      }
      const { session, cookieValue } = d.auth.openSession(team, claims.sub);
      d.log.info({ team, user: claims.sub }, 'insights session opened (Sign in with Slack)');
      send(res, 303, HTML, '', {
        location: '/insights',
        'set-cookie': [
          sessionCookieHeader(
            cookieValue,
            (session.expiresAt - d.clock().toMillis()) / 1000,
            d.secure,
          ),
          stateCookie('', 0, d.secure),
        ],
      });
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      d.log.info({ reason: err.message }, 'Slack sign-in refused');
      refuse(401, `Slack sign-in failed: ${err.message}.`);
    }
  };
}
