/**
 * A message shortcut whose form can no longer open: the stored request is processed after a
 * restart (more than 3 s after the click, so its trigger_id has expired), or Slack answers
 * views.open with expired_trigger_id. The user is told what happened and to try again, on the
 * shortcut's response_url; nothing is recorded and no views.open is attempted with a dead trigger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { classifyRequest } from '../../src/slack/requestPath';
import { expiredTriggerText, SHORTCUT_IDS } from '../../src/slack/shortcuts';
import { openSqliteStore } from '../../src/store/sqlite';
import { messageShortcutPayload } from '../helpers/signing';
import { startSlackEmulator, type SlackEmulator } from '../helpers/slackEmulator';
import {
  DEFAULT_TEST_CHANNELS,
  DEFAULT_TEST_USERS,
  startTestBot,
  type TestBot,
} from '../helpers/testBot';

let now: DateTime;
let emulator: SlackEmulator;
let bot: TestBot | undefined;
let dir: string;

beforeEach(async () => {
  now = DateTime.utc().startOf('second');
  const members = DEFAULT_TEST_USERS.map((u) => u.id);
  emulator = await startSlackEmulator({
    users: DEFAULT_TEST_USERS,
    channels: DEFAULT_TEST_CHANNELS.map((c) => ({ ...c, members })),
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-shortcut-'));
});

afterEach(async () => {
  await bot?.close();
  bot = undefined;
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

function declarePayload(responseId: string): Record<string, unknown> {
  const m = emulator.addMessage({
    channel: 'C_GENERAL',
    user: 'U_BOB',
    text: 'Checkout latency is climbing in eu-west',
  });
  return messageShortcutPayload({
    callbackId: SHORTCUT_IDS.declare,
    channel: { id: 'C_GENERAL', name: 'general' },
    message: { ts: m.ts, text: m.text, user: 'U_BOB' },
    user: { id: 'U_CAROL', name: 'carol' },
    responseUrl: emulator.responseUrl(responseId),
  });
}

describe('a shortcut that cannot open its form any more', () => {
  it('stored before a crash and processed at the restart (received 40 s ago): the user is told, no views.open', async () => {
    // The request as the killed process stored it (acknowledged, then never processed).
    const store = openSqliteStore({ dataDir: dir });
    const body = declarePayload('late');
    const c = classifyRequest(body);
    if (!c) throw new Error('not a stored request');
    await store.enqueueInbox({
      ...c,
      body: JSON.stringify(body),
      receivedAt: now.minus({ seconds: 40 }),
    });
    bot = await startTestBot({ clock: () => now, emulator, store });
    await bot.idle();
    expect(emulator.callsTo('views.open')).toHaveLength(0);
    const answers = emulator.responsesTo('late').map((r) => String(r.body.text));
    expect(answers).toEqual([expiredTriggerText('declare')]);
    expect(answers[0]).toContain('Please use the shortcut again');
    expect(await bot.service.list()).toEqual([]);
  });

  it('processed in time but Slack says the trigger expired: the user is told', async () => {
    bot = await startTestBot({ clock: () => now, emulator });
    emulator.failNext('views.open', 'expired_trigger_id');
    const res = await bot.interact(declarePayload('expired'));
    expect(res.status).toBe(200);
    expect(emulator.callsTo('views.open')).toHaveLength(1);
    expect(emulator.responsesTo('expired').map((r) => String(r.body.text))).toEqual([
      expiredTriggerText('declare'),
    ]);
  });

  it('processed at once: the form opens as usual', async () => {
    bot = await startTestBot({ clock: () => now, emulator });
    await bot.interact(declarePayload('fresh'));
    expect(emulator.views).toHaveLength(1);
    expect(emulator.responsesTo('fresh')).toHaveLength(0);
  });
});
