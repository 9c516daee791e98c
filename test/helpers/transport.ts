/**
 * How the end-to-end suites send "a request" to the bot: the same slash command, Events API
 * callback or interactivity payload, either as Slack sends it over HTTP (signed POST to
 * /slack/events) or as Slack sends it in Socket Mode (an envelope on the WebSocket, answered by
 * an ack). Suites run over both with `describe.each(TRANSPORTS)`.
 */
import {
  eventCallbackBody,
  postEvent,
  postInteraction,
  postSlashCommand,
  slashCommandBody,
  type SlashCommandFields,
} from './signing';
import type { EnvelopeResult, SocketEmulator } from './socketEmulator';

export type TransportKind = 'http' | 'socket';

/** Every transport the suites run over. */
export const TRANSPORTS: TransportKind[] = ['http', 'socket'];

/** What the bot answered: HTTP status and body, or (Socket Mode) 200 and the ack's payload. */
export interface TransportResponse {
  /** HTTP status; in Socket Mode 200 when acked, 0 when never acked. */
  status: number;
  /** The response body; in Socket Mode the ack payload as JSON ('' for an empty ack). */
  body: string;
  /** Socket Mode only: the envelope's deliveries and ack. */
  envelope?: EnvelopeResult;
}

export interface EventSendOptions {
  eventId?: string;
  retryNum?: number;
  retryReason?: string;
  team?: string;
}

export interface Transport {
  kind: TransportKind;
  command(fields: SlashCommandFields): Promise<TransportResponse>;
  event(event: Record<string, unknown>, opts?: EventSendOptions): Promise<TransportResponse>;
  interact(payload: Record<string, unknown>): Promise<TransportResponse>;
}

export function httpTransport(url: string, secret: string): Transport {
  return {
    kind: 'http',
    command: (fields) => postSlashCommand(url, secret, fields),
    event: (event, o = {}) =>
      postEvent(url, secret, event, {
        ...(o.eventId ? { eventId: o.eventId } : {}),
        ...(o.retryNum !== undefined ? { retryNum: o.retryNum } : {}),
        ...(o.retryReason ? { retryReason: o.retryReason } : {}),
        ...(o.team ? { team: o.team } : {}),
      }),
    interact: (payload) => postInteraction(url, secret, payload),
  };
}

function fromEnvelope(r: EnvelopeResult): TransportResponse {
  const body = Object.keys(r.payload).length === 0 ? '' : JSON.stringify(r.payload);
  return { status: r.acked ? 200 : 0, body, envelope: r };
}

export function socketTransport(socket: SocketEmulator): Transport {
  return {
    kind: 'socket',
    // A slash command's Socket Mode payload holds the same fields as the HTTP form.
    command: async (fields) =>
      fromEnvelope(
        await socket.slashCommand(
          Object.fromEntries(new URLSearchParams(slashCommandBody(fields))),
        ),
      ),
    event: async (event, o = {}) =>
      fromEnvelope(
        await socket.event(
          eventCallbackBody(event, {
            ...(o.eventId ? { eventId: o.eventId } : {}),
            ...(o.team ? { team: o.team } : {}),
          }),
          {
            ...(o.retryNum !== undefined
              ? { retryAttempt: o.retryNum, retryReason: o.retryReason ?? 'timeout' }
              : {}),
          },
        ),
      ),
    interact: async (payload) => fromEnvelope(await socket.interactive(payload)),
  };
}
