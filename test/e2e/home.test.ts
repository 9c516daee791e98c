/**
 * The App Home tab from outside: signed `app_home_opened` events and button clicks against the
 * real app, a real SQLite store and the Slack emulator (views.publish).
 */
import { DateTime } from 'luxon';
import { buildHomeView, MAX_HOME_BLOCKS, HOME_ACTIONS } from '../../src/slack/homeView';
import { newTriggerId, postEvent } from '../helpers/signing';
import { startTestBot, type TestBot } from '../helpers/testBot';
import { IncidentBuilder, people } from '../helpers/incidentBuilder';

let now: DateTime;
let bot: TestBot;

beforeEach(async () => {
  now = DateTime.utc().startOf('minute');
  bot = await startTestBot({ clock: () => now, env: { INCIDENT_HOME_DEBOUNCE_MS: '20' } });
});

afterEach(async () => {
  await bot.close();
});

const all = (r: { ephemeral: string[] }) => r.ephemeral.join('\n');

interface Published {
  user: string;
  blocks: {
    type: string;
    text?: { text: string };
    accessory?: { action_id: string; value: string };
  }[];
}

function published(): Published[] {
  return bot.emulator.callsTo('views.publish').map((c) => {
    const view = (
      typeof c.params.view === 'string' ? JSON.parse(c.params.view) : c.params.view
    ) as {
      type: string;
      blocks: Published['blocks'];
    };
    expect(view.type).toBe('home');
    return { user: String(c.params.user_id), blocks: view.blocks };
  });
}

const textOf = (p: Published | undefined): string => JSON.stringify(p?.blocks ?? []);

async function openHome(user: string): Promise<void> {
  await bot.event({ type: 'app_home_opened', user, channel: 'D_HOME', tab: 'home' });
}

describe('App Home', () => {
  it('shows the viewer their incidents, all open ones, their action items and drafts to review', async () => {
    let r = await bot.command('start sev2 Search is slow');
    const c1 = /<#(C[A-Z0-9]+)>/.exec(all(r))?.[1] ?? '';
    r = await bot.command('start sev3 Webhooks delayed', { user: 'U_BOB' });
    const c2 = /<#(C[A-Z0-9]+)>/.exec(all(r))?.[1] ?? '';
    bot.emulator.channels.get(c2)?.members.add('U_ALICE');
    await bot.command('action <@U_ALICE|alice> due 2020-01-01 Add a search latency alert', {
      channel: c1,
    });
    await bot.command('action <@U_BOB|bob> Write the webhook runbook', {
      channel: c2,
      user: 'U_BOB',
    });

    await openHome('U_ALICE');
    const home = published().at(-1);
    expect(home?.user).toBe('U_ALICE');
    const text = textOf(home);
    const mineAt = text.indexOf('Incidents you are in');
    const allAt = text.indexOf('All open incidents');
    const actionsAt = text.indexOf('Your open action items');
    expect(mineAt).toBeGreaterThan(0);
    // INC-1 (Alice opened it) is in "you are in"; INC-2 (Bob's) only under "all open".
    expect(text.slice(mineAt, allAt)).toContain('INC-1');
    expect(text.slice(mineAt, allAt)).not.toContain('INC-2');
    expect(text.slice(allAt, actionsAt)).toContain('INC-2');
    expect(text.slice(actionsAt)).toContain('Add a search latency alert');
    expect(text.slice(actionsAt)).toContain('overdue');
    expect(text.slice(actionsAt)).not.toContain('webhook runbook');
    expect(text).toContain(HOME_ACTIONS.declare);
    expect(home?.blocks.length).toBeLessThanOrEqual(MAX_HOME_BLOCKS);

    // Done records action.completed and republishes without the item.
    const done = home?.blocks.find((b) => b.accessory?.action_id === HOME_ACTIONS.done);
    expect(done).toBeDefined();
    const before = published().length;
    await bot.interact({
      type: 'block_actions',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_ALICE', username: 'alice', name: 'alice', team_id: 'T_TEST' },
      api_app_id: 'A_TEST',
      trigger_id: newTriggerId(),
      container: { type: 'view', view_id: 'V_HOME' },
      view: { id: 'V_HOME', type: 'home' },
      actions: [
        {
          type: 'button',
          action_id: HOME_ACTIONS.done,
          block_id: 'x',
          value: done?.accessory?.value,
          action_ts: `${Math.floor(Date.now() / 1000)}.000100`,
        },
      ],
    });
    const inc = await bot.service.findByChannel(c1);
    const completed = inc?.events.filter((e) => e.type === 'action.completed') ?? [];
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ action: 'A1', actor: { id: 'U_ALICE', name: 'Alice' } });
    expect(published().length).toBeGreaterThan(before);
    expect(textOf(published().at(-1))).not.toContain('Add a search latency alert');
  });

  it('pushes a new view to users who opened their home when a shown incident changes', async () => {
    await openHome('U_CAROL');
    expect(textOf(published().at(-1))).toContain('No open incidents');
    await bot.command('start sev1 Payments down', { user: 'U_BOB' });
    const last = published()
      .filter((p) => p.user === 'U_CAROL')
      .at(-1);
    expect(textOf(last)).toContain('Payments down');
  });

  it('debounces: opens in a burst give one views.publish', async () => {
    // A wide window (1.5 s) so that three opens sent back to back fall in it even on a busy CI.
    await bot.close();
    bot = await startTestBot({ clock: () => now, env: { INCIDENT_HOME_DEBOUNCE_MS: '1500' } });
    const open = { type: 'app_home_opened', user: 'U_BOB', channel: 'D_HOME', tab: 'home' };
    const acks = await Promise.all(
      [1, 2, 3].map(() => postEvent(bot.url, bot.signingSecret, open, { team: 'T_TEST' })),
    );
    expect(acks.map((a) => a.status)).toEqual([200, 200, 200]);
    await bot.idle();
    expect(published().filter((p) => p.user === 'U_BOB')).toHaveLength(1);
  });

  it('Declare opens the start form', async () => {
    await bot.interact({
      type: 'block_actions',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_ALICE', username: 'alice', name: 'alice', team_id: 'T_TEST' },
      api_app_id: 'A_TEST',
      trigger_id: newTriggerId(),
      container: { type: 'view', view_id: 'V_HOME' },
      actions: [
        { type: 'button', action_id: HOME_ACTIONS.declare, block_id: 'home_top', action_ts: '1.2' },
      ],
    });
    expect((bot.emulator.views.at(-1)?.view as { callback_id: string }).callback_id).toBe(
      'start:modal',
    );
  });
});

describe('buildHomeView', () => {
  it('stays within 100 blocks and says how many more there are', () => {
    const incidents = Array.from({ length: 150 }, (_, k) =>
      new IncidentBuilder({ number: k + 1 })
        .as(people.dana)
        .opened('10:00', `Incident ${k + 1}`, 'sev3')
        .action('10:05', `Follow-up ${k + 1}`, { owner: people.dana })
        .incident(),
    );
    const view = buildHomeView({ userId: people.dana.id, incidents, now: DateTime.utc() });
    expect(view.blocks.length).toBeLessThanOrEqual(MAX_HOME_BLOCKS);
    const text = JSON.stringify(view.blocks);
    expect(text).toMatch(/… and \d+ more/);
    // The cut lists still show the newest first.
    expect(text).toContain('INC-150');
  });
});
