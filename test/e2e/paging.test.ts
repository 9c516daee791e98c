/**
 * Paging end to end: signed Slack requests to the real app, the Slack emulator, a responders
 * file, and local fakes of PagerDuty, JSM and a webhook receiver.
 */
import type { StoredEvent } from '../../src/core/model';
import { pageDedupKey } from '../../src/integrations/paging/subscriber';
import { signedWebhook } from '../helpers/fakes/pagerduty';
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

const ROUTING_KEY = 'e2eroutingkey0000000000000000001';
const PD_WEBHOOK_SECRET = 'pd-webhook-signing-secret';
const SECRETS = {
  PD_KEY: ROUTING_KEY,
  PD_TOKEN: 'pd-rest-token',
  JSM_KEY: 'jsm-genie-key',
  HOOK_SECRET: 'hook-shared-secret',
};

let fakes: PagingFakes;
let responders: ReturnType<typeof respondersFile>;
let bot: TestBot;

beforeAll(async () => {
  fakes = await startPagingFakes(SECRETS, [onCall('PBOB', 'Bob B', 'bob@example.com')]);
  responders = respondersFile(`targets:
  - name: payments
    pager: { kind: pagerduty, routingKeyEnv: PD_KEY }
    oncall: { pagerduty: { tokenEnv: PD_TOKEN, escalationPolicy: PEP1 } }
  - name: dba
    pager: { kind: jsm, apiKeyEnv: JSM_KEY, responders: [{ type: team, name: database }] }
  - name: hook
    pager: { kind: webhook, url: '${fakes.hook.url}/page', secretEnv: HOOK_SECRET }
`);
  bot = await startTestBot({
    users: [{ id: 'U_BOB', name: 'Bob', tz: 'Europe/London', email: 'bob@example.com' }],
    env: {
      ...SECRETS,
      INCIDENT_RESPONDERS_FILE: responders.file,
      PAGERDUTY_EVENTS_URL: fakes.pd.url,
      PAGERDUTY_API_URL: fakes.pd.url,
      JSM_API_URL: fakes.jsm.url,
      PAGERDUTY_WEBHOOK_SECRET: PD_WEBHOOK_SECRET,
    },
  });
});

afterAll(async () => {
  await bot?.close();
  await fakes?.close();
  responders?.remove();
});

async function pageEvents(id: string): Promise<StoredEvent[]> {
  return (await bot.service.load(id)).events.filter((e) => e.type.startsWith('page.'));
}

describe('/incident page', () => {
  test('records the request with a stable dedup key and echoes it in the channel (SEV3: no confirmation)', async () => {
    const inc = await openIncident(bot, 'sev3', 'Card payments failing');
    const r = await bot.command('page payments card auth errors at 40%', { channel: inc.channel });
    expect(r.ephemeral.join('\n')).toContain('Page to payments requested in INC-');
    expect(r.posted.map((p) => p.text).join('\n')).toContain(
      '📟 Paging *payments* (PagerDuty) — card auth errors at 40% (Alice)',
    );
    const events = await pageEvents(inc.id);
    expect(events[0]).toMatchObject({
      type: 'page.requested',
      target: 'payments',
      pager: 'pagerduty',
      dedupKey: pageDedupKey(inc.id, 'payments'),
      reason: 'card auth errors at 40%',
      actor: { id: 'U_ALICE' },
    });
  });

  test('an unknown target lists the configured ones; a non-commander is refused; nothing is recorded', async () => {
    const inc = await openIncident(bot, 'sev3', 'Search is slow');
    const unknown = await bot.command('page nobody', { channel: inc.channel });
    expect(unknown.ephemeral.join('\n')).toContain(
      'There is no responder target "nobody". Known targets: `payments`, `dba`, `hook`.',
    );
    const refused = await bot.command('page payments', { channel: inc.channel, user: 'U_BOB' });
    expect(refused.ephemeral.join('\n')).toMatch(/page responders for INC-\d+/);
    expect(await pageEvents(inc.id)).toEqual([]);
  });

  test('SEV1 asks to confirm with buttons; Cancel records nothing, Page records the request', async () => {
    const inc = await openIncident(bot, 'sev1', 'Checkout down everywhere');
    const r = await bot.command('page dba replica lag', { channel: inc.channel });
    expect(r.ephemeral.join('\n')).toContain('Page *dba* (Jira Service Management) for INC-');
    expect(await pageEvents(inc.id)).toEqual([]);
    const buttons = lastButtons(bot);
    expect(buttons.map((b) => b.action_id)).toEqual(['page:confirm', 'page:cancel']);

    expect(
      (await clickPageButton(bot, inc.channel, 'page:cancel', buttons[1].value)).join('\n'),
    ).toContain('Nothing was paged (dba).');
    expect(await pageEvents(inc.id)).toEqual([]);

    const confirmed = await clickPageButton(bot, inc.channel, 'page:confirm', buttons[0].value);
    expect(confirmed.join('\n')).toContain('Page to dba requested');
    // The request is recorded once; the outbox may already have delivered it (page.sent follows).
    const events = (await pageEvents(inc.id)).filter((e) => e.type === 'page.requested');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'page.requested',
      target: 'dba',
      reason: 'replica lag',
    });
  });

  test('escalate <target> records the escalation and pages the target', async () => {
    const inc = await openIncident(bot, 'sev3', 'Webhooks delayed');
    const r = await bot.command('escalate hook because partners see delays', {
      channel: inc.channel,
    });
    expect(r.ephemeral.join('\n')).toContain('Escalation recorded');
    expect(r.ephemeral.join('\n')).toContain('Page to hook requested');
    const loaded = await bot.service.load(inc.id);
    expect(loaded.state.escalations.map((e) => e.to)).toEqual(['hook']);
    expect(loaded.state.pages.map((p) => `${p.target}:${p.reason}`)).toEqual([
      'hook:partners see delays',
    ]);
  });
});

describe('PagerDuty webhook (acknowledgements)', () => {
  const webhookUrl = () => `http://127.0.0.1:${bot.port}/pagerduty/webhook`;

  test('a signed incident.acknowledged records page.acknowledged once; a bad signature is refused', async () => {
    const inc = await openIncident(bot, 'sev3', 'Queue backlog');
    await bot.command('page payments', { channel: inc.channel });
    const dedupKey = pageDedupKey(inc.id, 'payments');
    const ack = signedWebhook(PD_WEBHOOK_SECRET, {
      id: '01ACKEVENT',
      eventType: 'incident.acknowledged',
      incidentKey: dedupKey,
      occurredAt: new Date(Date.now() - 1000).toISOString(),
      agent: 'Bob B',
    });
    const post = (body: string, headers: Record<string, string>) =>
      fetch(webhookUrl(), { method: 'POST', body, headers }).then(async (res) => {
        await bot.idle();
        return res.status;
      });

    expect(await post(ack.body, { ...ack.headers, 'x-pagerduty-signature': 'v1=00ff' })).toBe(401);
    expect(await post(ack.body, {})).toBe(401);
    expect(await post(ack.body, ack.headers)).toBe(200);
    // PagerDuty redelivers: recorded once.
    expect(await post(ack.body, ack.headers)).toBe(200);
    // Several signatures during a secret rotation: one valid is enough.
    const rotated = {
      ...ack.headers,
      'x-pagerduty-signature': `v1=${'0'.repeat(64)},${ack.headers['x-pagerduty-signature']}`,
    };
    expect(await post(ack.body, rotated)).toBe(200);
    const acks = (await pageEvents(inc.id)).filter((e) => e.type === 'page.acknowledged');
    expect(acks).toHaveLength(1);
    expect(acks[0]).toMatchObject({ target: 'payments', dedupKey, by: 'Bob B', source: 'system' });
    const loaded = await bot.service.load(inc.id);
    expect(loaded.state.timeline.map((t) => t.text)).toContain(
      'Page to payments acknowledged by Bob B',
    );

    // Other events and other incidents' keys are answered 2xx and ignored.
    const other = signedWebhook(PD_WEBHOOK_SECRET, {
      eventType: 'incident.triggered',
      incidentKey: dedupKey,
      occurredAt: new Date().toISOString(),
    });
    expect(await post(other.body, other.headers)).toBe(202);
    const foreign = signedWebhook(PD_WEBHOOK_SECRET, {
      eventType: 'incident.acknowledged',
      incidentKey: 'someone-elses-key',
      occurredAt: new Date().toISOString(),
    });
    expect(await post(foreign.body, foreign.headers)).toBe(202);
  });
});
