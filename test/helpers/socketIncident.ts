/**
 * The setup the Socket Mode suites share: a bot over Socket Mode (the socket emulator with the
 * given ack timeout) with one incident open, a person's message in its channel as an
 * events_api payload, and the chat messages the incident has recorded.
 */
import { eventCallbackBody } from './signing';
import { startTestBot, type TestBot } from './testBot';

export interface SocketIncident {
  bot: TestBot;
  /** The incident's channel. */
  channel: string;
  incidentId: string;
  /**
   * A message from Alice in the incident's channel (also put in the Slack emulator's history),
   * each with a later ts than the one before.
   */
  message(text: string, eventId?: string): Record<string, unknown>;
  /** The texts of the chat messages the incident recorded, in record order. */
  recorded(): Promise<string[]>;
}

export async function startSocketIncident(opts: { ackTimeoutMs: number }): Promise<SocketIncident> {
  const bot = await startTestBot({
    transport: 'socket',
    socketEmulator: { ackTimeoutMs: opts.ackTimeoutMs },
  });
  await bot.command('start sev2 Checkout is down');
  const [rec] = await bot.service.list();
  if (!rec?.channel) throw new Error('no incident channel');
  const channel = rec.channel;
  let seq = 0;
  return {
    bot,
    channel,
    incidentId: rec.id,
    message(text, eventId) {
      seq += 1;
      const ts = `${Math.floor(Date.now() / 1000) - 60}.${String(seq).padStart(6, '0')}`;
      bot.emulator.messages.push({ channel, ts, text, user: 'U_ALICE' });
      const event = {
        type: 'message',
        channel,
        channel_type: 'channel',
        user: 'U_ALICE',
        text,
        ts,
      };
      return eventCallbackBody(event, eventId ? { eventId } : {});
    },
    recorded: async () =>
      (await bot.service.load(rec.id)).events.flatMap((e) =>
        e.type === 'chat.message' ? [e.text] : [],
      ),
  };
}
