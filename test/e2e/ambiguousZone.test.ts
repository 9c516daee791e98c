/**
 * Ambiguous zone abbreviations through the signed slash-command path: the typing user's Slack
 * zone decides what CST means, and when it cannot, the answer is an ephemeral refusal naming the
 * choices and nothing is recorded or posted.
 */
import { DateTime } from 'luxon';
import { startTestBot, type TestBot } from '../helpers/testBot';

// 2025-03-12 06:00 UTC = 14:00 in Shanghai; "13:40 CST" read as China is 05:40 UTC.
const T0 = DateTime.fromISO('2025-03-12T06:00:00Z', { zone: 'utc' });

let bot: TestBot;

beforeEach(async () => {
  bot = await startTestBot({
    clock: () => T0,
    users: [{ id: 'U_MEI', name: 'Mei', tz: 'Asia/Shanghai' }],
  });
});

afterEach(async () => {
  await bot.close();
});

const all = (r: { ephemeral: string[] }) => r.ephemeral.join('\n');

async function openIncident(): Promise<{ id: string; channel: string }> {
  const r = await bot.command('start sev3 05:50 UTC Order queue stalls');
  const channel = /<#(C[A-Z0-9]+)>/.exec(all(r))?.[1];
  if (!channel) throw new Error(`no channel in: ${all(r)}`);
  const incident = await bot.service.findByChannel(channel);
  if (!incident) throw new Error('no incident for the channel');
  return { id: incident.record.id, channel };
}

describe('ambiguous zone abbreviations on /incident', () => {
  it('refuses CST from a user in Europe/London: ephemeral, choices named, nothing recorded', async () => {
    const { id, channel } = await openIncident();
    const before = JSON.stringify(await bot.store.loadEvents(id));
    const posted = bot.emulator.callsTo('chat.postMessage').length;

    const r = await bot.command('log 13:40 CST the consumer lag alarm fired', {
      channel,
      user: 'U_BOB', // Europe/London
    });

    expect(r.status).toBe(200);
    const reply = all(r);
    expect(reply).toContain('CST is ambiguous: use America/Chicago or Asia/Shanghai');
    expect(reply).toContain('Europe/London');
    expect(reply).toContain('Nothing was recorded.');
    expect(r.posted).toEqual([]);
    expect(bot.emulator.callsTo('chat.postMessage').length).toBe(posted);
    expect(JSON.stringify(await bot.store.loadEvents(id))).toBe(before);
  });

  it('reads CST as China Standard Time for a user in Asia/Shanghai', async () => {
    const { id, channel } = await openIncident();
    const r = await bot.command('log 13:40 CST the consumer lag alarm fired', {
      channel,
      user: 'U_MEI',
    });
    expect(all(r)).not.toContain('ambiguous');
    const events = await bot.store.loadEvents(id);
    const entry = events.find((e) => e.type === 'timeline.entry');
    expect(entry?.occurredAt.toISO()).toBe('2025-03-12T05:40:00.000Z');
  });
});
