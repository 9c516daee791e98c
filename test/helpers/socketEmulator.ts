/**
 * A local emulator of Slack's Socket Mode, built from the documented protocol, on top of the Web
 * API emulator (slackEmulator.ts):
 *
 * - `apps.connections.open` (on the Web API emulator): needs an app-level token (xapp-…; other
 *   token types get `not_allowed_token_type`, unknown ones `invalid_auth`), answers a one-time
 *   `ws://127.0.0.1:<port>/link/?ticket=…&app_id=…` URL. A URL is good for one connection; an
 *   unknown or used ticket is refused at the upgrade (HTTP 401). At most 10 connections at once
 *   (Slack's limit per app); the 11th is told `too_many_websockets` and closed.
 * - On connect it sends `hello` (num_connections, debug_info, connection_info).
 * - It sends envelopes: `slash_commands`, `events_api` (with `retry_attempt`/`retry_reason`) and
 *   `interactive` (block actions, view submissions, shortcuts), each `{ envelope_id, type,
 *   payload, accepts_response_payload }`, spread round-robin over the open connections.
 * - It expects `{ "envelope_id": … }` acks within `ackTimeoutMs` (Slack: 3 s). An ack may carry a
 *   `payload` only where Slack accepts one (`accepts_response_payload`: slash commands and view
 *   submissions); anything else is recorded in `violations` (an unknown or repeated envelope_id,
 *   a payload where none is accepted, a message that is not JSON), and the suites assert there
 *   are none. An ack that arrives after the envelope was given up on (below) is only counted in
 *   `lateAcks`: Slack ignores it, and the redelivery is what must be recorded once.
 * - An envelope not acked in time, or whose connection closed before the ack, is delivered
 *   again: Events API envelopes as Slack retries them (same event, new envelope_id,
 *   retry_attempt 1..3, retry_reason `timeout`), up to 3 times; slash commands and interactions
 *   are not retried by Slack (the user sees an error), unless `redeliver: true` asks for it.
 *   Redelivery waits for an open connection, so envelopes sent across a reconnect arrive. (Slack
 *   spaces its retries over minutes; the emulator retries as soon as the ack timeout passes.)
 *   `loseAcks` makes acks vanish on the way, to deliver an envelope the app did handle again.
 * - It sends `disconnect` with `refresh_requested`, `warning` or `link_disabled`, and closes the
 *   connection if the client has not within `disconnectGraceMs`; `drop()` cuts a connection
 *   without a close frame (a network failure).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { SlackEmulator } from './slackEmulator';

export type EnvelopeType = 'slash_commands' | 'events_api' | 'interactive';
export type DisconnectReason = 'refresh_requested' | 'warning' | 'link_disabled';

export interface EmulatedConnection {
  id: number;
  ws: WebSocket;
  openedAt: number;
  /** Envelopes delivered on this connection (envelope ids). */
  delivered: string[];
  closed: boolean;
}

export interface Delivery {
  envelopeId: string;
  type: EnvelopeType;
  connection: number;
  retryAttempt: number;
  at: number;
}

export interface AckRecord {
  envelopeId: string;
  connection: number;
  /** The ack's `payload`, when it had one. */
  payload?: Record<string, unknown>;
  at: number;
}

export interface EnvelopeResult {
  /** True when some delivery of it was acked. */
  acked: boolean;
  /** The acked delivery's payload ({} when the ack had none). */
  payload: Record<string, unknown>;
  /** Every delivery of it (first, then redeliveries). */
  deliveries: Delivery[];
  /** ms from the first send to the ack. */
  latencyMs?: number;
}

export interface SendOptions {
  /** Deliver on this connection (default: round-robin over the open ones). */
  connection?: number;
  /** Events API: the first delivery's retry_attempt/retry_reason (default 0 and ''). */
  retryAttempt?: number;
  retryReason?: string;
  /** Redeliver un-acked envelopes of any type (Slack retries only Events API ones). */
  redeliver?: boolean;
  /** How many times to deliver again (default: 3 when redelivered, as Slack; 0: never). */
  retries?: number;
  /** Override the emulator's ack timeout for this envelope. */
  ackTimeoutMs?: number;
  /** Treat the first N acks of this envelope as lost on the way (so it is delivered again). */
  loseAcks?: number;
}

export interface SocketEmulatorOptions {
  /** How long an envelope may go un-acked before it counts as lost (default 3000, like Slack). */
  ackTimeoutMs?: number;
  /** How long after `disconnect` the emulator closes the connection itself (default 1000). */
  disconnectGraceMs?: number;
  appId?: string;
}

export interface SocketEmulator {
  /** ws://127.0.0.1:<port> */
  wsBaseUrl: string;
  appId: string;
  connections: EmulatedConnection[];
  openConnections(): EmulatedConnection[];
  deliveries: Delivery[];
  acks: AckRecord[];
  /** Protocol violations seen from the app (see the file header). */
  violations: string[];
  /**
   * Acks that came after the emulator stopped waiting for them (the ack timeout passed or the
   * connection closed, so the envelope was redelivered under a new id): not violations — a late
   * ack is only ignored; the redelivery is what the app must record once.
   */
  lateAcks: string[];
  /** Number of apps.connections.open calls answered with a URL. */
  urlsIssued: number;
  /** Resolves when `count` connections are open (hello sent). */
  waitForConnections(count: number, timeoutMs?: number): Promise<EmulatedConnection[]>;
  /** Sends an envelope and resolves when it is acked or finally given up on. */
  send(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    opts?: SendOptions,
  ): Promise<EnvelopeResult>;
  slashCommand(fields: Record<string, string>, opts?: SendOptions): Promise<EnvelopeResult>;
  event(body: Record<string, unknown>, opts?: SendOptions): Promise<EnvelopeResult>;
  interactive(payload: Record<string, unknown>, opts?: SendOptions): Promise<EnvelopeResult>;
  /** Sends `disconnect` with this reason on one connection (default: every open one). */
  disconnect(reason: DisconnectReason, connection?: number): void;
  /** Cuts a connection without a close frame (default: every open one). */
  drop(connection?: number): void;
  /** Refuse (true) or accept again (false) new connections at the WebSocket upgrade. */
  refuseConnections(refuse: boolean): void;
  /** apps.connections.open answers `{ ok: false, error }` until called with undefined. */
  failOpen(error: string | undefined): void;
  close(): Promise<void>;
}

/** Slack's limit of simultaneous Socket Mode connections per app. */
export const MAX_CONNECTIONS = 10;
/** Events API retries: Slack retries an un-acknowledged event up to 3 times. */
const EVENT_RETRIES = 3;

interface Pending {
  envelopeId: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  acceptsResponsePayload: boolean;
  retryAttempt: number;
  retryReason: string;
  connection?: number;
  /** Acks still to be lost (SendOptions.loseAcks), shared by every delivery of the envelope. */
  losing: { left: number };
  timer?: NodeJS.Timeout;
  onClosed?: () => void;
  settle: (acked: boolean, ack?: AckRecord) => void;
}

/** Starts the WebSocket server and installs `apps.connections.open` on the Web API emulator. */
export async function startSocketEmulator(
  web: SlackEmulator,
  opts: SocketEmulatorOptions = {},
): Promise<SocketEmulator> {
  const ackTimeoutMs = opts.ackTimeoutMs ?? 3000;
  const disconnectGraceMs = opts.disconnectGraceMs ?? 1000;
  const appId = opts.appId ?? 'A_TEST';
  const tickets = new Set<string>();
  const connections: EmulatedConnection[] = [];
  const deliveries: Delivery[] = [];
  const acks: AckRecord[] = [];
  const violations: string[] = [];
  /** Outstanding deliveries by envelope id. */
  const outstanding = new Map<string, Pending>();
  /** Envelope ids already acked (a second ack is a violation). */
  const ackedIds = new Set<string>();
  /** Envelope ids given up on (ack timeout or connection closed), and their late acks. */
  const givenUp = new Set<string>();
  const lateAcks: string[] = [];
  /** Deliveries waiting for an open connection. */
  const waitingForConnection: (() => void)[] = [];
  const connectionWaiters: (() => void)[] = [];
  let nextConnection = 1;
  let roundRobin = 0;
  let refusing = false;
  let urlsIssued = 0;
  let closing = false;
  let openError: string | undefined;

  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info: { req: IncomingMessage }, cb: (ok: boolean, code?: number) => void) => {
      const url = new URL(info.req.url ?? '/', 'http://localhost');
      const ticket = url.searchParams.get('ticket') ?? '';
      if (refusing || url.pathname !== '/link/' || !tickets.delete(ticket)) return cb(false, 401);
      cb(true);
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const { port } = wss.address() as AddressInfo;
  const wsBaseUrl = `ws://127.0.0.1:${port}`;

  web.setHandler('apps.connections.open', () => {
    if (openError) return { ok: false, error: openError };
    const ticket = randomBytes(12).toString('hex');
    tickets.add(ticket);
    urlsIssued += 1;
    return { url: `${wsBaseUrl}/link/?ticket=${ticket}&app_id=${appId}` };
  });

  const openConnections = (): EmulatedConnection[] =>
    connections.filter((c) => !c.closed && c.ws.readyState === WebSocket.OPEN);

  const wakeDeliveries = (): void => {
    for (const w of waitingForConnection.splice(0)) w();
    for (const w of connectionWaiters.splice(0)) w();
  };

  wss.on('connection', (ws) => {
    const conn: EmulatedConnection = {
      id: nextConnection++,
      ws,
      openedAt: Date.now(),
      delivered: [],
      closed: false,
    };
    if (openConnections().length >= MAX_CONNECTIONS) {
      ws.send(JSON.stringify({ type: 'disconnect', reason: 'too_many_websockets' }));
      ws.close(1008);
      return;
    }
    connections.push(conn);
    ws.on('message', (data, isBinary) => onMessage(conn, data.toString(), isBinary));
    ws.on('close', () => {
      conn.closed = true;
      for (const p of outstanding.values()) if (p.connection === conn.id) p.onClosed?.();
    });
    ws.on('error', () => undefined);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: openConnections().length,
        debug_info: {
          host: `applink-emulator-${conn.id}`,
          build_number: 1,
          approximate_connection_time: 18060,
        },
        connection_info: { app_id: appId },
      }),
    );
    wakeDeliveries();
  });

  function onMessage(conn: EmulatedConnection, text: string, isBinary: boolean): void {
    if (isBinary) {
      violations.push(`connection ${conn.id}: a binary message`);
      return;
    }
    let msg: { envelope_id?: unknown; payload?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      violations.push(`connection ${conn.id}: not JSON: ${text.slice(0, 80)}`);
      return;
    }
    const id = typeof msg.envelope_id === 'string' ? msg.envelope_id : undefined;
    if (!id) {
      violations.push(`connection ${conn.id}: a message without envelope_id: ${text.slice(0, 80)}`);
      return;
    }
    const p = outstanding.get(id);
    if (p && p.losing.left > 0) {
      p.losing.left -= 1;
      return;
    }
    if (!p && givenUp.has(id)) {
      lateAcks.push(id);
      return;
    }
    if (!p) {
      violations.push(
        ackedIds.has(id) ? `envelope ${id} acked twice` : `an ack for unknown envelope ${id}`,
      );
      return;
    }
    const payload =
      msg.payload && typeof msg.payload === 'object'
        ? (msg.payload as Record<string, unknown>)
        : undefined;
    const hasPayload = payload !== undefined && Object.keys(payload).length > 0;
    if (hasPayload && !p.acceptsResponsePayload) {
      violations.push(`envelope ${id} (${p.type}) acked with a payload Slack does not accept`);
    }
    const ack: AckRecord = {
      envelopeId: id,
      connection: conn.id,
      ...(payload ? { payload } : {}),
      at: Date.now(),
    };
    acks.push(ack);
    ackedIds.add(id);
    p.settle(true, ack);
  }

  function pickConnection(wanted?: number): EmulatedConnection | undefined {
    const open = openConnections();
    if (wanted !== undefined) return open.find((c) => c.id === wanted);
    if (open.length === 0) return undefined;
    roundRobin = (roundRobin + 1) % open.length;
    return open[roundRobin];
  }

  /** Delivers once; resolves with the ack, or undefined when not acked (timeout or close). */
  function deliverOnce(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    retryAttempt: number,
    retryReason: string,
    o: SendOptions,
    losing: { left: number },
  ): Promise<AckRecord | undefined> {
    return new Promise((resolve) => {
      const attempt = (): void => {
        if (closing) return resolve(undefined);
        const conn = pickConnection(retryAttempt === 0 ? o.connection : undefined);
        if (!conn) {
          waitingForConnection.push(attempt);
          return;
        }
        const envelopeId = randomUUID();
        const acceptsResponsePayload =
          type === 'slash_commands' ||
          (type === 'interactive' && payload.type === 'view_submission');
        const p: Pending = {
          envelopeId,
          type,
          payload,
          acceptsResponsePayload,
          retryAttempt,
          retryReason,
          connection: conn.id,
          losing,
          settle: (acked, ack) => {
            clearTimeout(p.timer);
            outstanding.delete(envelopeId);
            if (!acked) givenUp.add(envelopeId);
            resolve(acked ? ack : undefined);
          },
        };
        p.onClosed = () => p.settle(false);
        p.timer = setTimeout(() => p.settle(false), o.ackTimeoutMs ?? ackTimeoutMs);
        outstanding.set(envelopeId, p);
        const envelope: Record<string, unknown> = {
          envelope_id: envelopeId,
          payload,
          type,
          accepts_response_payload: acceptsResponsePayload,
          ...(type === 'events_api'
            ? { retry_attempt: retryAttempt, retry_reason: retryReason }
            : {}),
        };
        conn.delivered.push(envelopeId);
        deliveries.push({ envelopeId, type, connection: conn.id, retryAttempt, at: Date.now() });
        conn.ws.send(JSON.stringify(envelope));
      };
      attempt();
    });
  }

  async function send(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    o: SendOptions = {},
  ): Promise<EnvelopeResult> {
    const t0 = Date.now();
    const first = deliveries.length;
    const retries = o.retries ?? (type === 'events_api' || o.redeliver ? EVENT_RETRIES : 0);
    let attempt = o.retryAttempt ?? 0;
    let reason = o.retryReason ?? '';
    let ack: AckRecord | undefined;
    const losing = { left: o.loseAcks ?? 0 };
    for (let i = 0; i <= retries; i += 1) {
      ack = await deliverOnce(type, payload, attempt, reason, o, losing);
      if (ack || closing) break;
      attempt += 1;
      reason = 'timeout';
    }
    const mine = deliveries.slice(first).filter((d) => d.type === type);
    return {
      acked: ack !== undefined,
      payload: ack?.payload ?? {},
      deliveries: mine,
      ...(ack ? { latencyMs: ack.at - t0 } : {}),
    };
  }

  return {
    wsBaseUrl,
    appId,
    connections,
    openConnections,
    deliveries,
    acks,
    violations,
    lateAcks,
    get urlsIssued() {
      return urlsIssued;
    },
    waitForConnections(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = (): void => {
          const open = openConnections();
          if (open.length >= count) return resolve(open);
          if (Date.now() > deadline) {
            return reject(
              new Error(`timed out waiting for ${count} connection(s); ${open.length} open`),
            );
          }
          connectionWaiters.push(check);
          setTimeout(() => {
            const i = connectionWaiters.indexOf(check);
            if (i >= 0) {
              connectionWaiters.splice(i, 1);
              check();
            }
          }, 25);
        };
        check();
      });
    },
    send,
    slashCommand: (fields, o) => send('slash_commands', { ...fields }, o),
    event: (body, o) => send('events_api', body, o),
    interactive: (payload, o) => send('interactive', payload, o),
    disconnect(reason, connection) {
      for (const c of openConnections()) {
        if (connection !== undefined && c.id !== connection) continue;
        c.ws.send(
          JSON.stringify({
            type: 'disconnect',
            reason,
            debug_info: { host: `applink-emulator-${c.id}` },
          }),
        );
        const timer = setTimeout(() => {
          if (c.ws.readyState === WebSocket.OPEN) c.ws.close(1000);
        }, disconnectGraceMs);
        c.ws.once('close', () => clearTimeout(timer));
      }
    },
    drop(connection) {
      for (const c of openConnections()) {
        if (connection !== undefined && c.id !== connection) continue;
        c.ws.terminate();
      }
    },
    refuseConnections(refuse) {
      refusing = refuse;
    },
    failOpen(error) {
      openError = error;
    },
    async close() {
      closing = true;
      for (const p of [...outstanding.values()]) p.settle(false);
      for (const w of waitingForConnection.splice(0)) w();
      for (const c of connections) if (!c.closed) c.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
