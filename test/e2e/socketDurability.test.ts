/**
 * Durable in Socket Mode as in HTTP mode: an envelope is acked only after its request is in the
 * inbox; an envelope the store could not take is not acked (Slack delivers it again) and is then
 * recorded once; an envelope delivered again after its ack was lost is recorded once.
 */
import type { NewInboxItem } from '../../src/store/store';
import { StoreUnavailableError } from '../../src/store/store';
import { slashCommandBody } from '../helpers/signing';
import type { SocketEmulator } from '../helpers/socketEmulator';
import { startSocketIncident, type SocketIncident } from '../helpers/socketIncident';
import type { TestBot } from '../helpers/testBot';

describe('Socket Mode: inbox before ack', () => {
  let bot: TestBot;
  let channel: string;
  let incidentId: string;
  let message: SocketIncident['message'];
  let recorded: SocketIncident['recorded'];
  beforeEach(async () => {
    ({ bot, channel, incidentId, message, recorded } = await startSocketIncident({
      ackTimeoutMs: 400,
    }));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    // Closed first, so a failed expectation never leaves the bot running (jest would not exit).
    const violations = [...(bot.socket?.violations ?? [])];
    await bot.close();
    expect(violations).toEqual([]);
  });

  const socket = (): SocketEmulator => bot.socket as SocketEmulator;

  it('acks an envelope only once its request is written to the inbox', async () => {
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const enqueue = bot.store.enqueueInbox.bind(bot.store);
    jest.spyOn(bot.store, 'enqueueInbox').mockImplementation(async (item: NewInboxItem) => {
      order.push(`enqueue ${item.key}`);
      await held;
      const r = await enqueue(item);
      order.push(`written ${item.key}`);
      return r;
    });
    const acksBefore = socket().acks.length;
    const sent = socket().event(message('held', 'EvHELD1'));
    await new Promise((r) => setTimeout(r, 150));
    expect(order).toEqual(['enqueue evt:EvHELD1']);
    expect(socket().acks.length).toBe(acksBefore); // not acked while the write is held
    release();
    const r = await sent;
    expect(r.acked).toBe(true);
    expect(order).toEqual(['enqueue evt:EvHELD1', 'written evt:EvHELD1']);
    expect(r.deliveries).toHaveLength(1);
    await bot.idle();
    expect(await recorded()).toEqual(['held']);
  });

  it('does not ack an event the store could not take; Slack’s retry is then recorded once', async () => {
    const enqueue = bot.store.enqueueInbox.bind(bot.store);
    let failures = 1;
    jest.spyOn(bot.store, 'enqueueInbox').mockImplementation(async (item: NewInboxItem) => {
      if (item.key === 'evt:EvDOWN1' && failures-- > 0) {
        throw new StoreUnavailableError('database is locked');
      }
      return enqueue(item);
    });
    const r = await socket().event(message('store was down', 'EvDOWN1'));
    expect(r.acked).toBe(true);
    expect(r.deliveries.map((d) => d.retryAttempt)).toEqual([0, 1]);
    await bot.idle();
    expect(await recorded()).toEqual(['store was down']);
  });

  it('a command the store could not take is answered in its ack: nothing saved, here it is again', async () => {
    jest
      .spyOn(bot.store, 'enqueueInbox')
      .mockRejectedValueOnce(new StoreUnavailableError('database is locked'));
    const r = await bot.command('log rolled back the deploy', { channel });
    expect(r.status).toBe(200);
    const ack = JSON.parse(r.ackBody) as { text: string };
    expect(ack.text).toContain('nothing was saved');
    expect(ack.text).toContain('rolled back the deploy');
    expect(
      (await bot.service.load(incidentId)).events.some((e) => e.type === 'timeline.entry'),
    ).toBe(false);
  });

  it('the same command envelope delivered twice (its ack lost) is recorded once', async () => {
    const before = (await bot.service.load(incidentId)).events.length;
    const payload = Object.fromEntries(
      new URLSearchParams(
        slashCommandBody({
          text: 'log failover started',
          channel_id: channel,
          user_id: 'U_ALICE',
          team_id: 'T_TEST',
          response_url: bot.emulator.responseUrl('dup-1'),
          trigger_id: 'trig-dup-1',
        }),
      ),
    );
    const r = await socket().slashCommand(payload, { redeliver: true, loseAcks: 1 });
    expect(r.acked).toBe(true);
    expect(r.deliveries).toHaveLength(2);
    await bot.idle();
    const events = (await bot.service.load(incidentId)).events;
    expect(events.length).toBe(before + 1);
    expect(events.filter((e) => e.type === 'timeline.entry')).toHaveLength(1);
    expect(bot.emulator.responsesTo('dup-1')).toHaveLength(1);
  });
});
