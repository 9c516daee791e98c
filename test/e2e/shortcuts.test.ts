/**
 * Message shortcuts from outside: signed `message_action` payloads and modal submissions against
 * the real app, a real SQLite store and the Slack emulator.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import { parse } from 'yaml';
import { slackTime } from '../../src/app/capture';
import { PICK_CALLBACK, SHORTCUT_IDS } from '../../src/slack/shortcuts';
import { messageShortcutPayload, newTriggerId } from '../helpers/signing';
import { startTestBot, type TestBot } from '../helpers/testBot';

let now: DateTime;
let bot: TestBot;
let seq = 0;

beforeEach(async () => {
  now = DateTime.utc().startOf('second');
  bot = await startTestBot({ clock: () => now });
});

afterEach(async () => {
  await bot.close();
});

const all = (r: { ephemeral: string[] }) => r.ephemeral.join('\n');

async function openIncident(): Promise<{ id: string; channel: string }> {
  const r = await bot.command('start sev2 Login page returns 502');
  const channel = /<#(C[A-Z0-9]+)>/.exec(all(r))?.[1] ?? '';
  const incident = await bot.service.findByChannel(channel);
  if (!incident) throw new Error(`no incident: ${all(r)}`);
  bot.emulator.channels.get(channel)?.members.add('U_BOB');
  return { id: incident.record.id, channel };
}

/** Sends a message shortcut on `message` as `user`; returns the ephemeral answers. */
async function shortcut(
  callbackId: string,
  channel: string,
  message: { ts: string; text: string; user: string },
  user = { id: 'U_CAROL', name: 'carol' },
): Promise<string[]> {
  seq += 1;
  const rid = `sc-${seq}`;
  const res = await bot.interact(
    messageShortcutPayload({
      callbackId,
      channel: { id: channel, name: bot.emulator.channels.get(channel)?.name ?? 'x' },
      message,
      user,
      responseUrl: bot.emulator.responseUrl(rid),
    }),
  );
  expect(res.status).toBe(200);
  return bot.emulator.responsesTo(rid).map((r) => String(r.body.text));
}

describe('the manifest', () => {
  it('declares the three message shortcuts with the callback ids the app listens for', () => {
    const manifest = parse(readFileSync(path.resolve(__dirname, '../../manifest.yml'), 'utf8')) as {
      features: { shortcuts: { type: string; callback_id: string }[] };
    };
    expect(manifest.features.shortcuts.map((s) => [s.type, s.callback_id])).toEqual([
      ['message', SHORTCUT_IDS.timeline],
      ['message', SHORTCUT_IDS.hypothesis],
      ['message', SHORTCUT_IDS.declare],
    ]);
  });
});

describe('Add to incident timeline', () => {
  it('pins the message once, whichever of the shortcut or 📌 comes first', async () => {
    const { id, channel } = await openIncident();
    now = now.plus({ minutes: 3 });
    const m = bot.emulator.addMessage({
      channel,
      user: 'U_BOB',
      text: 'Error rate dropped after the LB drain',
    });
    const answer = await shortcut(SHORTCUT_IDS.timeline, channel, m);
    expect(answer).toEqual(['Pinned to the timeline in INC-1.']);

    // A second time, and a 📌 reaction afterwards: nothing more.
    expect(await shortcut(SHORTCUT_IDS.timeline, channel, m)).toEqual([
      'That message is already on the timeline of INC-1.',
    ]);
    await bot.event({
      type: 'reaction_added',
      user: 'U_BOB',
      reaction: 'pushpin',
      item: { type: 'message', channel, ts: m.ts },
      item_user: 'U_BOB',
      event_ts: m.ts,
    });
    const events = await bot.store.loadEvents(id);
    const pins = events.filter((e) => e.type === 'message.pinned');
    expect(pins).toHaveLength(1);
    expect(pins[0]).toMatchObject({ actor: { id: 'U_CAROL', name: 'Carol' }, source: 'command' });
    const inc = await bot.service.load(id);
    const item = inc.state.timeline.find((t) => t.kind === 'pinned');
    expect(item?.text).toContain('Error rate dropped after the LB drain');
    expect(item?.at.toMillis()).toBe(slackTime(m.ts).toMillis());
  });

  it('outside an incident channel, asks which open incident, then pins there', async () => {
    const { id } = await openIncident();
    const m = bot.emulator.addMessage({
      channel: 'C_GENERAL',
      user: 'U_BOB',
      text: 'EU users report login loops',
    });
    const answer = await shortcut(SHORTCUT_IDS.timeline, 'C_GENERAL', m);
    expect(answer).toEqual([]);
    const opened = bot.emulator.views.at(-1);
    const view = opened?.view as {
      callback_id: string;
      private_metadata: string;
      blocks: unknown[];
    };
    expect(view.callback_id).toBe(PICK_CALLBACK);
    expect(JSON.stringify(view.blocks)).toContain('INC-1 (sev2) Login page returns 502');

    await bot.interact({
      type: 'view_submission',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_CAROL', name: 'carol', team_id: 'T_TEST' },
      trigger_id: newTriggerId(),
      view: {
        id: opened?.id,
        type: 'modal',
        callback_id: PICK_CALLBACK,
        private_metadata: view.private_metadata,
        state: {
          values: {
            incident: { incident: { type: 'static_select', selected_option: { value: id } } },
          },
        },
      },
    });
    const inc = await bot.service.load(id);
    const msg = inc.state.messages.find((x) => x.ts === m.ts);
    expect(msg).toMatchObject({
      channel: 'C_GENERAL',
      pinned: true,
      text: 'EU users report login loops',
    });
    expect(bot.emulator.responses.map((r) => r.body.text)).toContain(
      'Pinned to the timeline in INC-1.',
    );
  });

  it('with no open incident, says so and suggests declaring one', async () => {
    const m = bot.emulator.addMessage({ channel: 'C_GENERAL', user: 'U_BOB', text: 'hmm' });
    expect((await shortcut(SHORTCUT_IDS.timeline, 'C_GENERAL', m))[0]).toContain(
      'There are no open incidents',
    );
    expect(bot.emulator.views).toEqual([]);
  });
});

describe('Raise as hypothesis', () => {
  it('raises the message at its own time, once', async () => {
    const { id, channel } = await openIncident();
    const m = bot.emulator.addMessage({
      channel,
      user: 'U_BOB',
      text: 'Maybe the <@U_ALICE> cert rotation broke TLS',
    });
    now = now.plus({ minutes: 10 });
    expect(await shortcut(SHORTCUT_IDS.hypothesis, channel, m)).toEqual(['H1 raised in INC-1.']);
    expect(await shortcut(SHORTCUT_IDS.hypothesis, channel, m)).toEqual([
      'That message is already a hypothesis in INC-1.',
    ]);
    const inc = await bot.service.load(id);
    expect(inc.state.hypotheses).toHaveLength(1);
    const h = inc.state.hypotheses[0];
    expect(h.text).toBe('Maybe the @Alice cert rotation broke TLS');
    expect(h.raisedAt.toMillis()).toBe(slackTime(m.ts).toMillis());
    expect(h.raisedBy).toEqual({ id: 'U_CAROL', name: 'Carol' });
    expect(h.ref).toEqual({ channel, ts: m.ts });
  });
});

describe('Declare incident from message', () => {
  it('opens the start form prefilled; the incident starts with that message', async () => {
    const m = bot.emulator.addMessage({
      channel: 'C_GENERAL',
      user: 'U_BOB',
      text: 'Checkout is throwing 500s for card payments\nstarted a few minutes ago',
    });
    now = now.plus({ minutes: 4 });
    expect(await shortcut(SHORTCUT_IDS.declare, 'C_GENERAL', m)).toEqual([]);
    const opened = bot.emulator.views.at(-1);
    const view = opened?.view as {
      callback_id: string;
      private_metadata: string;
      blocks: { element?: { initial_value?: string } }[];
    };
    expect(view.callback_id).toBe('start:modal');
    const permalink = `https://test-workspace.slack.com/archives/C_GENERAL/p${m.ts.replace('.', '')}`;
    expect(view.blocks[0].element?.initial_value).toBe(
      'Checkout is throwing 500s for card payments',
    );
    expect(view.blocks[2].element?.initial_value).toBe(
      `Checkout is throwing 500s for card payments\nstarted a few minutes ago\n\nDeclared from ${permalink}`,
    );
    expect(bot.emulator.callsTo('chat.getPermalink')).toHaveLength(1);

    await bot.interact({
      type: 'view_submission',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_CAROL', name: 'carol', team_id: 'T_TEST' },
      trigger_id: newTriggerId(),
      view: {
        id: 'V_DECLARE',
        type: 'modal',
        callback_id: 'start:modal',
        private_metadata: view.private_metadata,
        state: {
          values: {
            title: { title: { type: 'plain_text_input', value: 'Card payments failing' } },
            severity: { severity: { type: 'static_select', selected_option: { value: 'sev2' } } },
            description: {
              description: {
                type: 'plain_text_input',
                value: view.blocks[2].element?.initial_value,
              },
            },
          },
        },
      },
      response_urls: [],
    });
    const [record] = await bot.service.list();
    const inc = await bot.service.load(record.id);
    expect(inc.state.title).toBe('Card payments failing');
    expect(inc.state.description).toContain(permalink);
    const at = slackTime(m.ts);
    expect(inc.state.detectedAt?.toMillis()).toBe(at.toMillis());
    const first = inc.state.timeline.filter((t) => t.kind !== 'detected' && t.kind !== 'opened')[0];
    expect(first).toMatchObject({ kind: 'pinned' });
    expect(first.text).toContain('Checkout is throwing 500s for card payments');
    expect(first.at.toMillis()).toBe(at.toMillis());
    expect(inc.state.messages[0]).toMatchObject({
      channel: 'C_GENERAL',
      ts: m.ts,
      user: 'U_BOB',
      userName: 'Bob',
    });
    // Announced where the message was.
    expect(
      bot.emulator.messages.some((x) => x.channel === 'C_GENERAL' && x.text.includes('INC-1')),
    ).toBe(true);
  });
});
