/**
 * Paging through the outbox, end to end: `/incident page` records the request, the paging
 * subscriber's effects are committed with it, and the effect dispatcher delivers them to local
 * fakes of PagerDuty, JSM and a webhook receiver; answers come back as events and channel posts.
 */
import type { StoredEvent } from '../../src/core/model';
import { pageDedupKey } from '../../src/integrations/paging/subscriber';
import type { FakeJsm } from '../helpers/fakes/jsm';
import type { FakePagerDuty } from '../helpers/fakes/pagerduty';
import type { FakeWebhookReceiver } from '../helpers/fakes/webhookReceiver';
import {
  clickPageButton,
  lastButtons,
  onCall,
  openIncident,
  respondersFile,
  startPagingFakes,
  type PagingFakes,
} from '../helpers/paging';
import { startTestBot, type TestBot } from '../helpers/testBot';

const ROUTING_KEY = 'outboxroutingkey0000000000000001';
const SECRETS = {
  PD_KEY: ROUTING_KEY,
  PD_BAD_KEY: 'unknownroutingkey000000000000001',
  PD_TOKEN: 'pd-rest-token',
  JSM_KEY: 'jsm-genie-key',
  HOOK_SECRET: 'hook-shared-secret',
};

let fakes: PagingFakes;
let pd: FakePagerDuty;
let jsm: FakeJsm;
let hook: FakeWebhookReceiver;
let responders: ReturnType<typeof respondersFile>;
let bot: TestBot;

beforeAll(async () => {
  fakes = await startPagingFakes(SECRETS, [
    onCall('PBOB', 'Bob B', 'bob@example.com'),
    onCall('PZED', 'Zed Z', 'zed@example.com'),
  ]);
  ({ pd, jsm, hook } = fakes);
  responders = respondersFile(`targets:
  - name: payments
    pager: { kind: pagerduty, routingKeyEnv: PD_KEY }
    oncall: { pagerduty: { tokenEnv: PD_TOKEN, escalationPolicy: PEP1 } }
  - name: wrongkey
    pager: { kind: pagerduty, routingKeyEnv: PD_BAD_KEY }
  - name: dba
    pager: { kind: jsm, apiKeyEnv: JSM_KEY, responders: [{ type: team, name: database }] }
  - name: hook
    pager: { kind: webhook, url: '${hook.url}/page', secretEnv: HOOK_SECRET }
`);
  bot = await startTestBot({
    users: [{ id: 'U_BOB', name: 'Bob', tz: 'Europe/London', email: 'bob@example.com' }],
    env: {
      ...SECRETS,
      INCIDENT_RESPONDERS_FILE: responders.file,
      PAGERDUTY_EVENTS_URL: pd.url,
      PAGERDUTY_API_URL: pd.url,
      JSM_API_URL: jsm.url,
    },
  });
});

afterAll(async () => {
  await bot?.close();
  await fakes?.close();
  responders?.remove();
});

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 15_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    await bot.idle();
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function eventsOf(id: string, type: string): Promise<StoredEvent[]> {
  return (await bot.service.load(id)).events.filter((e) => e.type === type);
}

/** Clicks Page on the SEV1 confirmation the bot answered with last. */
async function confirmLastPage(channel: string): Promise<void> {
  const confirm = lastButtons(bot).find((b) => b.action_id === 'page:confirm');
  if (!confirm) throw new Error('no page:confirm button in the last response');
  await clickPageButton(bot, channel, 'page:confirm', confirm.value);
}

const postedIn = (channel: string): string[] =>
  bot.emulator.messages.filter((m) => m.channel === channel).map((m) => m.text);

describe('paging through the outbox', () => {
  test('PagerDuty: one alert, on-call found by email and invited, the answer posted; resolve resolves it', async () => {
    const inc = await openIncident(bot, 'sev3', 'Payments declining');
    const triggerId = 'trig-pay-1';
    await bot.command('page payments declines at 30%', { channel: inc.channel, triggerId });
    const key = pageDedupKey(inc.id, 'payments');
    const alert = await waitFor('the PagerDuty alert', () => pd.openAlert(key));
    expect(alert).toMatchObject({ triggers: 1, severity: 'warning' });
    await waitFor('page.oncall', async () => (await eventsOf(inc.id, 'page.oncall')).length > 0);
    expect(bot.emulator.channels.get(inc.channel)?.members.has('U_BOB')).toBe(true);
    const lookups = bot.emulator.callsTo('users.lookupByEmail').map((c) => c.params.email);
    expect(lookups).toEqual(expect.arrayContaining(['bob@example.com', 'zed@example.com']));
    await waitFor('the posts', () =>
      postedIn(inc.channel).some((t) => t.includes('not found in Slack by email: Zed Z')),
    );
    expect(postedIn(inc.channel).join('\n')).toContain('PagerDuty accepted the page to *payments*');

    // Slack retries the same command: nothing new. A second page: the same alert.
    await bot.command('page payments declines at 30%', { channel: inc.channel, triggerId });
    await bot.command('page payments now 50%', { channel: inc.channel });
    await waitFor('the second trigger', () =>
      pd.openAlert(key)?.triggers === 2 ? true : undefined,
    );
    expect(await eventsOf(inc.id, 'page.requested')).toHaveLength(2);
    expect(pd.alerts.filter((a) => a.dedupKey === key)).toHaveLength(1);

    await bot.command('resolve rolled back the fraud rule', { channel: inc.channel });
    await waitFor('the resolve', async () => (await eventsOf(inc.id, 'page.resolved')).length > 0);
    expect(pd.openAlert(key)).toBeUndefined();
  });

  test('a 4xx is shown in the channel with the provider reason and not retried', async () => {
    const inc = await openIncident(bot, 'sev3', 'Bad key incident');
    const before = pd.requests.length;
    await bot.command('page wrongkey', { channel: inc.channel });
    const failed = await waitFor(
      'page.failed',
      async () => (await eventsOf(inc.id, 'page.failed'))[0],
    );
    expect(failed).toMatchObject({ status: 400 });
    await waitFor('the post', () =>
      postedIn(inc.channel).some((t) => t.includes('Invalid routing key')),
    );
    await new Promise((r) => setTimeout(r, 300));
    await bot.idle();
    expect(pd.requests.length - before).toBe(1);
  });

  test('5xx and 429 are retried until PagerDuty accepts', async () => {
    const inc = await openIncident(bot, 'sev3', 'Flaky provider');
    pd.failNext(1, {
      status: 429,
      body: { status: 'throttle event', message: 'slow down' },
      headers: { 'retry-after': '0' },
    });
    pd.failNext(1, { status: 503, body: {} });
    await bot.command('page payments', { channel: inc.channel });
    await waitFor(
      'page.sent after retries',
      async () => (await eventsOf(inc.id, 'page.sent')).length > 0,
      20_000,
    );
    expect(await eventsOf(inc.id, 'page.failed')).toHaveLength(0);
    expect(pd.openAlert(pageDedupKey(inc.id, 'payments'))?.triggers).toBe(1);
    await bot.command('resolve fixed', { channel: inc.channel });
  });

  test('JSM and the webhook each get one alert, closed on resolve; SEV1 pages only after confirmation', async () => {
    const inc = await openIncident(bot, 'sev1', 'Everything is on fire');
    const r = await bot.command('page dba replica lag', { channel: inc.channel });
    expect(r.ephemeral.join('\n')).toContain('Page *dba*');
    await bot.idle();
    expect(jsm.alerts.find((a) => a.alias === pageDedupKey(inc.id, 'dba'))).toBeUndefined();
    await confirmLastPage(inc.channel);
    const alert = await waitFor('the JSM alert', () =>
      jsm.alerts.find((a) => a.alias === pageDedupKey(inc.id, 'dba')),
    );
    expect(alert).toMatchObject({ priority: 'P1', api: 'jsm', open: true });

    // The webhook target, confirmed the same way.
    await bot.command('page hook partners affected', { channel: inc.channel });
    await confirmLastPage(inc.channel);
    const page = await waitFor('the webhook page', () =>
      hook.pages.find((p) => p.dedupKey === pageDedupKey(inc.id, 'hook')),
    );
    expect(page.body).toMatchObject({
      action: 'trigger',
      reason: 'partners affected',
      incident: { severity: 'sev1' },
    });

    await bot.command('resolve failover done', { channel: inc.channel });
    await waitFor('both resolved', async () =>
      (await eventsOf(inc.id, 'page.resolved')).length === 2 ? true : undefined,
    );
    expect(alert.open).toBe(false);
    expect(page.open).toBe(false);
    // The draft's Escalations section lists both pages.
    const draft = await bot.service.draftPostmortem(inc.id);
    expect(draft.markdown).toMatch(/paged dba \(Jira Service Management\) by Alice: resolved/);
    expect(draft.markdown).toMatch(/paged hook \(webhook\) by Alice: resolved/);
  });
});
