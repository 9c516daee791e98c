/**
 * The request path through the real Bolt receiver: a request is stored in the inbox before it is
 * acknowledged; a store outage is never acknowledged as done (commands are told nothing was
 * saved, events get a non-2xx so Slack retries); a Slack retry of a stored request is a no-op;
 * requests of one incident are processed in arrival order.
 */
import { StoreUnavailableError } from '../../src/store/store';
import { classifyRequest } from '../../src/slack/requestPath';
import { startTestBot, type TestBot } from '../helpers/testBot';

describe('request path', () => {
  let bot: TestBot;
  let channel: string;
  let incidentId: string;

  beforeEach(async () => {
    bot = await startTestBot();
    await bot.command('start sev2 Payments failing');
    const [rec] = await bot.service.list();
    channel = rec.channel as string;
    incidentId = rec.id;
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await bot.close();
  });

  const messages = async () =>
    (await bot.service.load(incidentId)).events.filter((e) => e.type === 'chat.message');

  it('store down: a command is answered in its ack that nothing was saved, with what was typed', async () => {
    jest
      .spyOn(bot.store, 'enqueueInbox')
      .mockRejectedValue(new StoreUnavailableError('SQLITE_IOERR: disk I/O error'));
    const before = (await bot.service.load(incidentId)).events.length;
    const r = await bot.command('log rolled back the deploy', { channel });
    expect(r.status).toBe(200);
    const ack = JSON.parse(r.ackBody) as { response_type: string; text: string };
    expect(ack.response_type).toBe('ephemeral');
    expect(ack.text).toContain('nothing was saved');
    expect(ack.text).toContain('/incident log rolled back the deploy');
    jest.restoreAllMocks();
    expect((await bot.service.load(incidentId)).events.length).toBe(before);
  });

  it('store down: an event gets a non-2xx (Slack retries it), and the retry is recorded once', async () => {
    const spy = jest
      .spyOn(bot.store, 'enqueueInbox')
      .mockRejectedValue(new StoreUnavailableError('SQLITE_IOERR: disk I/O error'));
    const event = {
      type: 'message',
      channel,
      user: 'U_BOB',
      text: 'is it DNS?',
      ts: '1741089600.000200',
    };
    const first = await bot.event(event, { eventId: 'Ev_OUTAGE_1' });
    expect(first.status).toBeGreaterThanOrEqual(500);
    expect(await messages()).toHaveLength(0);
    spy.mockRestore();
    const retry = await bot.event(event, { eventId: 'Ev_OUTAGE_1', retryNum: 1 });
    expect(retry.status).toBe(200);
    const again = await bot.event(event, { eventId: 'Ev_OUTAGE_1', retryNum: 2 });
    expect(again.status).toBe(200);
    expect((await messages()).map((e) => (e.type === 'chat.message' ? e.text : ''))).toEqual([
      'is it DNS?',
    ]);
  });

  it('stores the request before acknowledging it, and processes it after', async () => {
    const order: string[] = [];
    const enqueue = bot.store.enqueueInbox.bind(bot.store);
    jest.spyOn(bot.store, 'enqueueInbox').mockImplementation(async (item) => {
      const res = await enqueue(item);
      order.push(`stored ${item.key}`);
      return res;
    });
    const complete = bot.store.completeInbox.bind(bot.store);
    jest.spyOn(bot.store, 'completeInbox').mockImplementation(async (ids, effects) => {
      order.push('processed');
      return complete(ids, effects);
    });
    // A chat message's item is completed by the commit that records the message.
    const commit = bot.store.commit.bind(bot.store);
    jest.spyOn(bot.store, 'commit').mockImplementation(async (input) => {
      const res = await commit(input);
      if (input.inboxDone?.length) order.push('processed');
      return res;
    });
    const r = await bot.event(
      { type: 'message', channel, user: 'U_BOB', text: 'first', ts: '1741089600.000300' },
      { eventId: 'Ev_ORDER_1' },
    );
    expect(r.status).toBe(200);
    expect(order).toEqual(['stored evt:Ev_ORDER_1', 'processed']);
  });

  it('a stored event whose processing fails (store gone mid-way) is processed again later, once', async () => {
    const quick = await startTestBot({ env: { INBOX_LEASE_MS: '200', INBOX_POLL_MS: '50' } });
    try {
      await quick.command('start sev2 Flaky store');
      const [rec] = await quick.service.list();
      const commit = jest
        .spyOn(quick.store, 'commit')
        .mockRejectedValueOnce(new StoreUnavailableError('SQLITE_IOERR: disk I/O error'));
      const r = await quick.event(
        {
          type: 'message',
          channel: rec.channel,
          user: 'U_BOB',
          text: 'retry me',
          ts: '1741089600.000400',
        },
        { eventId: 'Ev_FLAKY_1' },
      );
      expect(r.status).toBe(200);
      const texts = async () =>
        (await quick.service.load(rec.id)).events
          .filter((e) => e.type === 'chat.message')
          .map((e) => (e.type === 'chat.message' ? e.text : ''));
      for (let i = 0; i < 200 && (await texts()).length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await quick.idle();
      expect(await texts()).toEqual(['retry me']);
      expect(commit.mock.calls.length).toBeGreaterThanOrEqual(2);
    } finally {
      await quick.close();
    }
  });

  it('classifies requests by what Slack gives: key, kind and partition', () => {
    expect(
      classifyRequest({
        command: '/incident',
        text: 'log hi',
        trigger_id: 'tr1',
        channel_id: 'C1',
        team_id: 'T1',
      }),
    ).toEqual({ key: 'cmd:tr1', kind: 'command', partition: 'ch:C1' });
    expect(
      classifyRequest({
        command: '/incident',
        text: 'start sev1 x',
        trigger_id: 'tr2',
        channel_id: 'C1',
        team_id: 'T1',
      }),
    ).toEqual({ key: 'cmd:tr2', kind: 'command', partition: 'team:T1' });
    expect(
      classifyRequest({
        type: 'event_callback',
        event_id: 'Ev1',
        team_id: 'T1',
        event: { type: 'reaction_added', item: { channel: 'C9' } },
      }),
    ).toEqual({ key: 'evt:Ev1', kind: 'event', partition: 'ch:C9' });
    expect(
      classifyRequest({
        type: 'view_submission',
        team: { id: 'T1' },
        view: { id: 'V1', hash: 'h1', private_metadata: '{"channel":"C3"}' },
      }),
    ).toEqual({ key: 'view:V1:h1', kind: 'view', partition: 'ch:C3' });
    expect(classifyRequest({ type: 'url_verification', challenge: 'x' })).toBeUndefined();
    expect(classifyRequest({ type: 'block_suggestion', action_id: 'a' })).toBeUndefined();
  });
});
