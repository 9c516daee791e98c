/**
 * A receiver for the generic webhook pager, as a team would write one from the README: it
 * checks `X-Incident-Bot-Signature` (HMAC-SHA256 of `<timestamp>.<raw body>`) with the shared
 * secret and refuses (401) a bad signature; it keeps one alert per `dedupKey` (a repeated trigger
 * is counted, not duplicated) and closes it on `action: "resolve"`. Answers `{ ref }`.
 */
import { verifyWebhook } from '../../../src/integrations/paging/webhook';
import { startFakeServer, type FakeServer } from './server';

export interface ReceivedPage {
  dedupKey: string;
  open: boolean;
  triggers: number;
  body: Record<string, unknown>;
}

export interface FakeWebhookReceiver extends FakeServer {
  pages: ReceivedPage[];
  /** Requests refused for a bad or missing signature. */
  refused: number;
}

export async function startWebhookReceiver(secret: string): Promise<FakeWebhookReceiver> {
  const pages: ReceivedPage[] = [];
  const state = { refused: 0 };
  const server = await startFakeServer([
    {
      method: 'POST',
      path: /^\/page$/,
      handle: (req) => {
        const ts = String(req.headers['x-incident-bot-timestamp'] ?? '');
        const sig = String(req.headers['x-incident-bot-signature'] ?? '');
        if (!ts || !sig || !verifyWebhook(secret, ts, req.raw, sig)) {
          state.refused += 1;
          return { status: 401, body: { error: 'bad signature' } };
        }
        const b = req.json as { action?: string; dedupKey?: string } & Record<string, unknown>;
        if (!b?.dedupKey || (b.action !== 'trigger' && b.action !== 'resolve')) {
          return { status: 400, body: { error: 'dedupKey and action are required' } };
        }
        const open = pages.find((p) => p.dedupKey === b.dedupKey && p.open);
        if (b.action === 'trigger') {
          if (open) open.triggers += 1;
          else pages.push({ dedupKey: b.dedupKey, open: true, triggers: 1, body: b });
        } else if (open) {
          open.open = false;
        }
        return { status: 200, body: { ref: `hook-${pages.length}` } };
      },
    },
  ]);
  // A getter (Object.assign would copy the count once).
  return Object.defineProperties(server, {
    pages: { value: pages },
    refused: { get: () => state.refused },
  }) as FakeWebhookReceiver;
}
