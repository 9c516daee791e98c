/**
 * Socket Mode: Bolt's SocketModeReceiver with the connection managed here, so that
 *
 * - `apps.connections.open` goes to the same Web API base, with the same WebClient options, as
 *   every other call the app makes (SLACK_API_URL: a Slack-compatible API, GovSlack, a proxy);
 * - a `disconnect` message or a dropped connection is followed by a new connection, retried with
 *   capped exponential backoff (jittered) for as long as the app runs, never by an unhandled
 *   rejection that leaves the app deaf (the client's own reconnect gives up that way when
 *   `apps.connections.open` fails during a reconnect, so it is turned off);
 * - why a connection cannot be opened (`invalid_auth`, `not_allowed_token_type`, an unreachable
 *   API base …) is logged ONCE, in words, and again only when the reason changes or the
 *   connection comes back; the library's per-attempt messages are demoted to debug;
 * - `/healthz` (and any other route) is served on its own HTTP server, and `health()` says
 *   whether the socket is connected and, if not, why.
 *
 * Envelopes reach Bolt exactly as SocketModeReceiver hands them over (`app.processEvent` with
 * `ack` = the envelope ack), so whatever wraps `app.processEvent` (inbox before ack) applies in
 * Socket Mode as in HTTP mode.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SocketModeReceiver, type Logger as BoltLogger, webApi } from '@slack/bolt';
import type { Logger } from '../logger';

/** Where the Socket Mode connection stands. */
export type SocketState = 'connecting' | 'connected' | 'reconnecting' | 'stopped';

export interface SocketHealth {
  state: SocketState;
  /** True while a connection is open and Slack said hello on it. */
  connected: boolean;
  /** Why there is no connection (absent when connected). */
  reason?: string;
}

/** An HTTP route served beside the socket, as Bolt's custom routes (`:name` path parameters). */
export interface HttpRoute {
  path: string;
  method: string[];
  handler: (
    req: IncomingMessage & { params?: Record<string, string> },
    res: ServerResponse,
  ) => void;
}

/** Matches `/a/:b/c` against a path: the parameters, or undefined when it does not match. */
export function matchRoute(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    const w = want[i] ?? '';
    const g = got[i] ?? '';
    if (w.startsWith(':') && g !== '') {
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}

export interface SocketModeOptions {
  appToken: string;
  /** The app's Web API options (slackApiUrl …); apps.connections.open uses the same ones. */
  clientOptions: webApi.WebClientOptions;
  logger: Logger;
  boltLogger: BoltLogger;
  /** HTTP routes served beside the socket (/healthz, /insights …), on `port` (0: a free one). */
  routes: HttpRoute[];
  port: number;
  /** Interface the HTTP routes listen on (default: all, as the HTTP receiver does). */
  host?: string;
  /** Reconnect backoff: first delay after a failed attempt, and the cap (ms). */
  backoff?: { initialMs: number; maxMs: number };
  /** Timeout of one apps.connections.open call (ms) when clientOptions has none. */
  openTimeoutMs?: number;
}

const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 60_000 };

/** Backoff before attempt `failures + 1`: initial·2^(failures-1), capped, with ±20 % jitter. */
export function reconnectDelay(
  failures: number,
  backoff: { initialMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  if (failures <= 0) return 0;
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** The reason a connection attempt failed, in words a person can act on (no secrets). */
export function describeConnectError(err: unknown, apiUrl: string): string {
  const e = err as {
    code?: unknown;
    data?: { error?: unknown; needed?: unknown };
    statusCode?: unknown;
    original?: { message?: unknown; cause?: unknown };
    message?: unknown;
  } | null;
  const prefix = 'cannot open a Socket Mode connection';
  if (e?.code === webApi.ErrorCode.PlatformError) {
    const code = String(e.data?.error ?? 'unknown_error');
    switch (code) {
      case 'invalid_auth':
      case 'not_authed':
      case 'token_revoked':
      case 'token_expired':
      case 'account_inactive':
        return `${prefix}: Slack rejected SLACK_APP_TOKEN (${code}). Create an app-level token (xapp-…) with the connections:write scope under Basic Information → App-Level Tokens, and set SLACK_APP_TOKEN to it.`;
      case 'not_allowed_token_type':
        return `${prefix}: apps.connections.open needs an app-level token (not_allowed_token_type). SLACK_APP_TOKEN must be the xapp-… token from Basic Information → App-Level Tokens, not a bot or user token.`;
      case 'missing_scope':
        return `${prefix}: SLACK_APP_TOKEN lacks the connections:write scope (missing_scope). Add it to the app-level token under Basic Information → App-Level Tokens.`;
      default:
        return `${prefix}: apps.connections.open at ${apiUrl} answered ${code}.`;
    }
  }
  if (e?.code === webApi.ErrorCode.RequestError) {
    const original = e.original;
    const cause = original?.cause as { code?: unknown; message?: unknown } | undefined;
    // e.g. "fetch failed: ECONNREFUSED" (the cause is absent when fetch came from another realm).
    const detail = [original?.message, cause?.code ?? cause?.message]
      .filter((x): x is string => typeof x === 'string' && x !== '')
      .map((x) => x.replace(/^TypeError: /, ''))
      .join(': ');
    return `${prefix}: the Slack Web API at ${apiUrl} is unreachable (${detail || 'request failed'}). Check SLACK_API_URL and the network.`;
  }
  if (e?.code === webApi.ErrorCode.HTTPError) {
    return `${prefix}: the Slack Web API at ${apiUrl} answered HTTP ${String(e.statusCode)}. Check SLACK_API_URL.`;
  }
  if (e?.code === webApi.ErrorCode.RateLimitedError) {
    return `${prefix}: apps.connections.open is rate-limited (ratelimited).`;
  }
  const message = err instanceof Error ? err.message : err === undefined ? '' : String(err);
  return `${prefix}: the WebSocket connection failed${message ? ` (${message})` : ''}.`;
}

/** The library's per-attempt connection messages, logged at debug (ours say it once). */
const CONNECTION_NOISE = [
  'Failed to retrieve a new WSS URL',
  'WebSocket error',
  'http request failed',
  'Failed to send a WebSocket message',
  'Failed to send a message as the client',
  "A ping wasn't received",
  "A pong wasn't received",
];

function quietConnectionLogger(base: BoltLogger): BoltLogger {
  const noisy = (msg: unknown[]): boolean =>
    msg.some((m) => typeof m === 'string' && CONNECTION_NOISE.some((n) => m.startsWith(n)));
  return {
    debug: (...msg: unknown[]) => base.debug(...msg),
    info: (...msg: unknown[]) => base.info(...msg),
    warn: (...msg: unknown[]) => (noisy(msg) ? base.debug(...msg) : base.warn(...msg)),
    error: (...msg: unknown[]) => (noisy(msg) ? base.debug(...msg) : base.error(...msg)),
    setLevel: (level) => base.setLevel(level),
    getLevel: () => base.getLevel(),
    setName: (name) => base.setName(name),
  };
}

/**
 * The Socket Mode receiver of the app (a SocketModeReceiver, so Bolt treats it as one) whose
 * connection is opened, watched and reopened here; see the file header.
 */
export class ManagedSocketModeReceiver extends SocketModeReceiver {
  private readonly smLog: Logger;
  private readonly apiUrl: string;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly httpRoutes: HttpRoute[];
  private server: Server | undefined;
  private boundPort: number | undefined;
  private state: SocketState = 'connecting';
  private everConnected = false;
  private attempting = false;
  private stopping = false;
  private failures = 0;
  private lastReason: string | undefined;
  private loggedReason: string | undefined;
  private lastWsError: unknown;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SocketModeOptions) {
    const timeout = opts.clientOptions.timeout ?? opts.openTimeoutMs ?? 10_000;
    super({
      appToken: opts.appToken,
      logger: quietConnectionLogger(opts.boltLogger),
      // Reconnecting is done here (see the file header).
      autoReconnectEnabled: false,
      installerOptions: {
        // A copy: the client writes its own defaults into the object it is given. One attempt
        // per call (retries are this receiver's, with backoff); a bounded wait per attempt.
        clientOptions: { ...opts.clientOptions, retryConfig: { retries: 0 }, timeout },
      },
    });
    this.smLog = opts.logger.child({ component: 'socket-mode' });
    this.apiUrl = opts.clientOptions.slackApiUrl ?? 'https://slack.com/api/';
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.httpRoutes = opts.routes;
    this.client.on('error', (err: unknown) => {
      this.lastWsError = err;
    });
    this.client.on('disconnected', () => this.onDisconnected());
  }

  /** The port the HTTP routes listen on (after start). */
  get port(): number | undefined {
    return this.boundPort;
  }

  health(): SocketHealth {
    if (this.state === 'connected') return { state: 'connected', connected: true };
    const why =
      this.state === 'stopped'
        ? 'Socket Mode is stopped'
        : this.state === 'reconnecting'
          ? 'Socket Mode connection lost; reconnecting'
          : 'no Socket Mode connection yet';
    return {
      state: this.state,
      connected: false,
      reason: this.lastReason ? `${why}: ${this.lastReason}` : why,
    };
  }

  /**
   * Serves the routes, then makes the first connection attempt. Resolves once connected, or
   * once that attempt failed (the reason is logged and retries go on in the background), so
   * the health routes answer either way.
   */
  override async start(): Promise<webApi.AppsConnectionsOpenResponse> {
    this.stopping = false;
    this.state = 'connecting';
    await this.listen();
    await this.attempt();
    if (!this.health().connected) this.scheduleRetry();
    return (
      (this.client as unknown as { connectionResponse?: webApi.AppsConnectionsOpenResponse })
        .connectionResponse ?? { ok: false }
    );
  }

  override async stop(): Promise<void> {
    this.stopping = true;
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await withTimeout(this.client.disconnect(), 5000).catch(() => undefined);
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    }
  }

  private async listen(): Promise<void> {
    if (this.server || this.httpRoutes.length === 0) return;
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const method = (req.method ?? 'GET').toUpperCase();
      for (const route of this.httpRoutes) {
        if (!route.method.includes(method)) continue;
        const params = matchRoute(route.path, path);
        if (params) return route.handler(Object.assign(req, { params }), res);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (this.opts.host) server.listen(this.opts.port, this.opts.host, done);
      else server.listen(this.opts.port, done);
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  /** One attempt: apps.connections.open, then the WebSocket until Slack says hello. */
  private async attempt(): Promise<void> {
    if (this.stopping || this.attempting) return;
    this.attempting = true;
    this.lastWsError = undefined;
    try {
      await this.client.start();
      if (this.stopping) return;
      this.state = 'connected';
      this.failures = 0;
      this.lastReason = undefined;
      if (this.loggedReason) {
        this.smLog.info('Socket Mode connected again');
        this.loggedReason = undefined;
      } else if (!this.everConnected) {
        this.smLog.info('Socket Mode connected');
      } else {
        this.smLog.debug('Socket Mode reconnected');
      }
      this.everConnected = true;
    } catch (err) {
      if (this.stopping) return;
      this.failures += 1;
      const reason = describeConnectError(err ?? this.lastWsError, this.apiUrl);
      this.lastReason = reason;
      if (reason !== this.loggedReason) {
        this.loggedReason = reason;
        const cap = this.backoff.maxMs;
        const every = cap >= 1000 ? `${Math.round(cap / 1000)} s` : `${cap} ms`;
        this.smLog.error(
          `${reason} Retrying with backoff (at most every ${every}); /healthz answers 503 until connected.`,
        );
      } else {
        this.smLog.debug({ failures: this.failures }, reason);
      }
    } finally {
      this.attempting = false;
    }
  }

  private onDisconnected(): void {
    // During an attempt, a failed handshake ends in `disconnected` too: attempt() handles it.
    if (this.attempting || this.stopping) return;
    if (this.state === 'connected') {
      this.state = 'reconnecting';
      this.smLog.info('Socket Mode connection closed; reconnecting');
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopping || this.retryTimer || this.state === 'connected') return;
    if (this.everConnected) this.state = 'reconnecting';
    const delay = reconnectDelay(this.failures, this.backoff);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt().then(() => {
        if (!this.health().connected) this.scheduleRetry();
      });
    }, delay);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
