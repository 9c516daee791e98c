/**
 * The paging subscriber and the provider clients, against local fakes of PagerDuty, JSM /
 * Opsgenie and a webhook receiver. A small loop stands in for the outbox: it asks the subscriber
 * for the effects of recorded events, delivers them through its handlers, and records their
 * outcome events (keyed, so a redelivery records nothing twice), exactly as the dispatcher does.
 */
import { DateTime } from 'luxon';
import {
  PermanentEffectError,
  RetryableEffectError,
  type EffectOutcome,
  type Subscriber,
} from '../../src/app/effects';
import type { Incident } from '../../src/app/service';
import { foldIncident } from '../../src/core/fold';
import { computeMetrics } from '../../src/core/metrics';
import type { Actor, NewEvent, StoredEvent } from '../../src/core/model';
import { createLogger } from '../../src/logger';
import {
  DEFAULT_URLS,
  parseResponders,
  type PagingConfig,
} from '../../src/integrations/paging/config';
import { retryAfter } from '../../src/integrations/paging/http';
import {
  createPagingSubscriber,
  pageDedupKey,
  parseDedupKey,
  type PagingSlack,
} from '../../src/integrations/paging/subscriber';
import { signWebhook, verifyWebhook } from '../../src/integrations/paging/webhook';
import type { NewEffect, StoredEffect } from '../../src/store/store';
import type { FakeJsm } from '../helpers/fakes/jsm';
import type { FakePagerDuty } from '../helpers/fakes/pagerduty';
import type { FakeWebhookReceiver } from '../helpers/fakes/webhookReceiver';
import { IncidentBuilder, people } from '../helpers/incidentBuilder';
import { onCall, startPagingFakes, type PagingFakes } from '../helpers/paging';

const ROUTING_KEY = 'r0ut1ngk3y0000000000000000000001';
const ENV = {
  PD_KEY: ROUTING_KEY,
  PD_TOKEN: 'pd-token-abc',
  JSM_KEY: 'genie-key-123',
  HOOK_SECRET: 'whsec-shared-456',
};

let pd: FakePagerDuty;
let jsm: FakeJsm;
let hook: FakeWebhookReceiver;

let fakes: PagingFakes;

beforeAll(async () => {
  fakes = await startPagingFakes(ENV, [
    onCall('PU1', 'Ravi M', 'ravi@example.com'),
    onCall('PU2', 'Zed Unknown', 'zed@example.com'),
    onCall('PU3', 'Boss', 'lena@example.com', 2),
    onCall('PU4', 'Other', 'dana@example.com', 1, 'POTHER'),
  ]);
  ({ pd, jsm, hook } = fakes);
});
afterAll(async () => {
  await fakes.close();
});

function pagingConfig(over: Partial<PagingConfig> = {}): PagingConfig {
  const targets = parseResponders(
    `
targets:
  - name: payments
    slackGroup: S0PAY
    pager: { kind: pagerduty, routingKeyEnv: PD_KEY }
    oncall: { pagerduty: { tokenEnv: PD_TOKEN, escalationPolicy: PEP1 } }
  - name: dba
    pager: { kind: jsm, apiKeyEnv: JSM_KEY, responders: [{ type: team, name: database }] }
  - name: legacy
    pager: { kind: opsgenie, apiKeyEnv: JSM_KEY }
  - name: hook
    pager: { kind: webhook, url: '${hook.url}/page', secretEnv: HOOK_SECRET }
  - name: wrongkey
    pager: { kind: pagerduty, routingKeyEnv: WRONG }
`,
    { ...ENV, WRONG: 'x'.repeat(32) },
  );
  return {
    ...DEFAULT_URLS,
    targets,
    pagerdutyEventsUrl: pd.url,
    pagerdutyApiUrl: pd.url,
    jsmApiUrl: jsm.url,
    opsgenieApiUrl: jsm.url,
    dryRun: false,
    ...over,
  };
}

/** Slack as the subscriber sees it: emails → users, one user group, invites and posts kept. */
function fakeSlack() {
  const byEmail: Record<string, Actor> = {
    'ravi@example.com': people.ravi,
    'lena@example.com': people.lena,
  };
  const invited: string[][] = [];
  const posts: string[] = [];
  const lookups: string[] = [];
  const slack: PagingSlack = {
    async userByEmail(email) {
      lookups.push(email);
      return byEmail[email];
    },
    async usergroupMembers(g) {
      return g === 'S0PAY' ? ['U0GROUP1'] : [];
    },
    async invite(_channel, users) {
      invited.push(users);
    },
    async post(_channel, text) {
      posts.push(text);
    },
  };
  return { slack, invited, posts, lookups };
}

const silent = createLogger('silent');
const NOW = DateTime.fromISO('2025-03-11T10:20:00Z', { zone: 'utc' });

/** The outbox, reduced to what these tests need. */
class MiniOutbox {
  incident: Incident;
  pending: StoredEffect[] = [];
  dead: { effect: StoredEffect; error: string }[] = [];
  retried: { effect: StoredEffect; retryAt?: DateTime }[] = [];
  private n = 0;
  constructor(
    private readonly sub: Subscriber,
    incident: Incident,
  ) {
    this.incident = incident;
  }
  /** Records events (keyed ones once) and adds the subscriber's effects for them. */
  record(events: NewEvent[]): StoredEvent[] {
    const known = new Set(this.incident.events.map((e) => e.key).filter(Boolean));
    const appended: StoredEvent[] = [];
    for (const e of events) {
      if (e.key && known.has(e.key)) continue;
      if (e.key) known.add(e.key);
      appended.push({
        ...e,
        seq: this.incident.events.length + appended.length + 1,
      } as StoredEvent);
    }
    const all = [...this.incident.events, ...appended];
    this.incident = { ...this.incident, events: all, state: foldIncident(all) };
    this.add(this.sub.effectsFor?.(this.incident, appended, NOW) ?? []);
    return appended;
  }
  add(effects: NewEffect[]): void {
    for (const e of effects) {
      if (this.pending.some((p) => p.key === e.key)) continue;
      this.n += 1;
      this.pending.push({ ...e, id: String(this.n), state: 'pending', attempts: 0 });
    }
  }
  /** Delivers one effect once (attempt = its attempts + 1). */
  async deliver(effect: StoredEffect): Promise<void> {
    const handler = this.sub.handlers?.[effect.kind];
    if (!handler) throw new Error(`no handler for ${effect.kind}`);
    effect.attempts += 1;
    let outcome: EffectOutcome | void;
    try {
      outcome = await handler(effect, {
        now: NOW,
        incident: this.incident,
        attempt: effect.attempts,
      });
    } catch (err) {
      if (err instanceof RetryableEffectError) {
        // As the dispatcher does: a Retry-After counts from the failure (NOW in this box).
        const retryAt =
          err.afterMs !== undefined ? NOW.plus({ milliseconds: err.afterMs }) : err.retryAt;
        this.retried.push({ effect, retryAt });
        return;
      }
      this.pending = this.pending.filter((p) => p !== effect);
      this.dead.push({ effect, error: (err as Error).message });
      if (err instanceof PermanentEffectError && err.outcome) this.apply(err.outcome);
      return;
    }
    this.pending = this.pending.filter((p) => p !== effect);
    if (outcome) this.apply(outcome);
  }
  private apply(o: EffectOutcome): void {
    if (o.events) this.record(o.events);
    if (o.effects) this.add(o.effects);
  }
  /** Delivers until nothing is pending (or only retries remain after `rounds`). */
  async drain(rounds = 10): Promise<void> {
    for (let i = 0; i < rounds && this.pending.length; i += 1) {
      for (const e of [...this.pending]) await this.deliver(e);
    }
  }
  types(): string[] {
    return this.incident.events.map((e) => e.type);
  }
}

function incident(severity: 'sev1' | 'sev2' | 'sev3' = 'sev2'): Incident {
  return new IncidentBuilder({ date: '2025-03-11' })
    .opened('10:02', 'Checkout failing', severity)
    .detected('10:00')
    .channel('10:02', 'C0INC1', 'inc-1-checkout')
    .incident({ id: 'inc-1', team: 'T0TEAM' });
}

function pageRequested(
  target: string,
  pager: NewEvent<'page.requested'>['pager'],
  key = 'cmd:1',
  reason?: string,
): NewEvent {
  return {
    type: 'page.requested',
    target,
    pager,
    dedupKey: pageDedupKey('inc-1', target),
    ...(reason ? { reason } : {}),
    occurredAt: NOW,
    recordedAt: NOW,
    actor: people.dana,
    source: 'command',
    key: `${key}:page`,
  } as NewEvent;
}

function resolvedEvent(): NewEvent {
  return {
    type: 'resolved',
    occurredAt: NOW,
    recordedAt: NOW,
    actor: people.dana,
    source: 'command',
  } as NewEvent;
}

describe('paging subscriber against PagerDuty', () => {
  test('a page triggers one alert with the documented body, invites the on-call people found by email, and resolving resolves it', async () => {
    const s = fakeSlack();
    const box = new MiniOutbox(
      createPagingSubscriber({ config: pagingConfig(), slack: s.slack, logger: silent }),
      incident('sev2'),
    );
    const before = pd.requests.length;
    box.record([pageRequested('payments', 'pagerduty', 'cmd:a', 'card payments failing')]);
    expect(box.pending.map((e) => e.kind)).toEqual(['page.trigger']);
    await box.drain();

    const alert = pd.openAlert(pageDedupKey('inc-1', 'payments'));
    expect(alert).toMatchObject({ triggers: 1, severity: 'error', status: 'triggered' });
    expect(alert?.summary).toBe('INC-1 [SEV2] Checkout failing — card payments failing');
    expect(alert?.body).toMatchObject({
      event_action: 'trigger',
      dedup_key: 'incident-bot:inc-1:payments',
      client: 'incident-bot',
      client_url: 'https://app.slack.com/client/T0TEAM/C0INC1',
      payload: {
        source: 'incident-bot',
        component: 'payments',
        custom_details: { incident: 'INC-1', requested_by: 'Dana Okafor' },
      },
    });
    // On call: first escalation level only; emails looked up; nobody guessed by name.
    const oncallReq = pd.requests.slice(before).find((r) => r.path === '/oncalls');
    expect(oncallReq?.query.getAll('escalation_policy_ids[]')).toEqual(['PEP1']);
    expect(oncallReq?.query.getAll('include[]')).toEqual(['users']);
    expect(s.lookups).toEqual(['ravi@example.com', 'zed@example.com']);
    expect(s.invited).toEqual([['U0GROUP1', people.ravi.id]]);
    expect(box.types().slice(-3)).toEqual(['page.requested', 'page.sent', 'page.oncall']);
    const page = box.incident.state.pages[0];
    expect(page).toMatchObject({ target: 'payments', status: 'sent', unmatched: ['Zed Unknown'] });
    expect(page.oncall.map((u) => u.id)).toEqual(['U0GROUP1', people.ravi.id]);
    expect(s.posts.join('\n')).toContain('PagerDuty accepted the page to *payments*');
    expect(s.posts.join('\n')).toContain('not found in Slack by email: Zed Unknown');
    const tl = box.incident.state.timeline.filter((t) => t.kind === 'page').map((t) => t.text);
    expect(tl).toEqual([
      'Paged payments (PagerDuty): card payments failing',
      'Page to payments accepted by PagerDuty',
      'On call for payments: U0GROUP1, Ravi Menon invited (no Slack account for Zed Unknown)',
    ]);
    expect(computeMetrics(box.incident.state).find((m) => m.key === 'time_to_page')?.ms).toBe(
      20 * 60_000,
    );

    box.record([resolvedEvent()]);
    expect(box.pending.map((e) => e.kind)).toEqual(['page.resolve']);
    await box.drain();
    expect(pd.openAlert(pageDedupKey('inc-1', 'payments'))).toBeUndefined();
    expect(alert?.status).toBe('resolved');
    expect(box.incident.state.pages[0].status).toBe('resolved');
    expect(box.types().at(-1)).toBe('page.resolved');
  });

  test('a redelivered trigger and a second page land on the same alert, and record nothing twice', async () => {
    const s = fakeSlack();
    const box = new MiniOutbox(
      createPagingSubscriber({ config: pagingConfig(), slack: s.slack, logger: silent }),
      incident(),
    );
    const alertsBefore = pd.alerts.length;
    box.record([pageRequested('payments', 'pagerduty', 'cmd:b')]);
    const effect = box.pending[0];
    await box.deliver(effect);
    // The same effect delivered again (e.g. the process died before marking it done).
    const again = { ...effect, attempts: 1 };
    box.pending.push(again);
    await box.deliver(again);
    expect(box.types().filter((t) => t === 'page.sent')).toHaveLength(1);
    // And a second /incident page for the same target.
    box.record([pageRequested('payments', 'pagerduty', 'cmd:c', 'still down')]);
    await box.drain();
    expect(pd.alerts.length - alertsBefore).toBe(1);
    expect(pd.openAlert(pageDedupKey('inc-1', 'payments'))?.triggers).toBe(3);
    expect(box.incident.state.pages).toHaveLength(1);
    expect(box.incident.state.pages[0].requests).toBe(2);
    box.record([resolvedEvent()]);
    await box.drain();
  });

  test('a 4xx is final: page.failed with the provider reason, shown in the channel; no retry', async () => {
    const s = fakeSlack();
    const box = new MiniOutbox(
      createPagingSubscriber({ config: pagingConfig(), slack: s.slack, logger: silent }),
      incident(),
    );
    box.record([pageRequested('wrongkey', 'pagerduty')]);
    await box.drain();
    expect(box.retried).toHaveLength(0);
    expect(box.dead).toHaveLength(1);
    const failed = box.incident.events.find(
      (e) => e.type === 'page.failed',
    ) as StoredEvent<'page.failed'>;
    expect(failed).toMatchObject({
      status: 400,
      reason: 'PagerDuty answered 400: Event object is invalid: Invalid routing key',
    });
    expect(s.posts).toEqual([
      `⚠️ <@${people.dana.id}> Paging *wrongkey* failed: PagerDuty answered 400: Event object is invalid: Invalid routing key`,
    ]);
    expect(box.incident.state.pages[0].status).toBe('failed');
    // Nothing was accepted, so resolving has nothing to resolve.
    box.record([resolvedEvent()]);
    expect(box.pending).toHaveLength(0);
  });

  test('429 and 5xx are retried (Retry-After kept), then succeed; after maxAttempts they are final', async () => {
    const s = fakeSlack();
    const sub = createPagingSubscriber({
      config: pagingConfig(),
      slack: s.slack,
      logger: silent,
      maxAttempts: 3,
    });
    const box = new MiniOutbox(sub, incident());
    pd.failNext(1, {
      status: 429,
      body: {
        status: 'throttle event',
        message: 'Requests for this service are arriving too quickly.',
      },
      headers: { 'retry-after': '30' },
    });
    pd.failNext(1, { status: 503, body: {} });
    box.record([pageRequested('payments', 'pagerduty', 'cmd:d')]);
    const trigger = box.pending[0];
    await box.deliver(trigger);
    await box.deliver(trigger);
    expect(box.retried.map((r) => r.retryAt?.toISO())).toEqual([
      '2025-03-11T10:20:30.000Z',
      undefined,
    ]);
    await box.deliver(trigger);
    expect(box.types()).toContain('page.sent');
    expect(box.types()).not.toContain('page.failed');
    await box.drain();
    box.record([resolvedEvent()]);
    await box.drain();

    const box2 = new MiniOutbox(sub, incident());
    pd.failNext(3, { status: 502, body: {} });
    box2.record([pageRequested('payments', 'pagerduty', 'cmd:e')]);
    await box2.drain(3);
    expect(box2.retried).toHaveLength(2);
    const failed = box2.incident.events.find(
      (e) => e.type === 'page.failed',
    ) as StoredEvent<'page.failed'>;
    expect(failed.reason).toMatch(/^PagerDuty answered 502: .* \(gave up after 3 attempts\)$/);
  });

  test('PAGING_DRY_RUN records and logs without calling the provider', async () => {
    const s = fakeSlack();
    const box = new MiniOutbox(
      createPagingSubscriber({
        config: pagingConfig({ dryRun: true }),
        slack: s.slack,
        logger: silent,
      }),
      incident(),
    );
    const before = pd.requests.length;
    box.record([pageRequested('payments', 'pagerduty', 'cmd:f')]);
    await box.drain();
    box.record([resolvedEvent()]);
    await box.drain();
    expect(pd.requests.length).toBe(before);
    expect(box.types().filter((t) => t.startsWith('page.'))).toEqual([
      'page.requested',
      'page.sent',
      'page.oncall',
      'page.resolved',
    ]);
    expect(box.incident.state.pages[0].dryRun).toBe(true);
    // A dry run is not a page: no time to page.
    expect(computeMetrics(box.incident.state).find((m) => m.key === 'time_to_page')?.missing).toBe(
      'no page was accepted by a pager',
    );
  });
});

describe('paging subscriber against JSM, Opsgenie and a webhook', () => {
  test('JSM: an alert with the dedup key as alias, priority from severity, responders; closed on resolve', async () => {
    const box = new MiniOutbox(
      createPagingSubscriber({ config: pagingConfig(), slack: fakeSlack().slack, logger: silent }),
      incident('sev1'),
    );
    box.record([pageRequested('dba', 'jsm', 'cmd:g', 'replica lag')]);
    await box.drain();
    box.record([pageRequested('dba', 'jsm', 'cmd:h')]);
    await box.drain();
    const alerts = jsm.alerts.filter((a) => a.alias === pageDedupKey('inc-1', 'dba'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      api: 'jsm',
      count: 2,
      priority: 'P1',
      message: 'INC-1 [SEV1] Checkout failing',
      responders: [{ type: 'team', name: 'database' }],
      open: true,
    });
    expect(String(alerts[0].body.description)).toContain('Why: replica lag');
    const req = jsm.requests.find((r) => r.path === '/jsm/ops/integration/v2/alerts');
    expect(req?.headers.authorization).toBe(`GenieKey ${ENV.JSM_KEY}`);
    box.record([resolvedEvent()]);
    await box.drain();
    expect(alerts[0].open).toBe(false);
    expect(box.incident.state.pages[0].status).toBe('resolved');
  });

  test('Opsgenie uses its own path; a 422 is final with the field errors as the reason', async () => {
    const box = new MiniOutbox(
      createPagingSubscriber({ config: pagingConfig(), slack: fakeSlack().slack, logger: silent }),
      incident('sev3'),
    );
    box.record([pageRequested('legacy', 'opsgenie', 'cmd:i')]);
    await box.drain();
    expect(jsm.alerts.find((a) => a.alias === pageDedupKey('inc-1', 'legacy'))).toMatchObject({
      api: 'opsgenie',
      priority: 'P3',
    });

    jsm.failNext(1, {
      status: 422,
      body: {
        message: 'Request body is not processable. Please check the errors.',
        errors: { message: 'Message can not be empty.' },
        took: 0.1,
        requestId: 'r1',
      },
    });
    const box2 = new MiniOutbox(
      createPagingSubscriber({ config: pagingConfig(), slack: fakeSlack().slack, logger: silent }),
      incident(),
    );
    box2.record([pageRequested('legacy', 'opsgenie', 'cmd:j')]);
    await box2.drain();
    const failed = box2.incident.events.find(
      (e) => e.type === 'page.failed',
    ) as StoredEvent<'page.failed'>;
    expect(failed.reason).toBe(
      'Opsgenie answered 422: Request body is not processable. Please check the errors.; message: Message can not be empty.',
    );
  });

  test('webhook: signed body the receiver verifies; trigger then resolve; a wrong secret is refused (401, final)', async () => {
    const box = new MiniOutbox(
      createPagingSubscriber({ config: pagingConfig(), slack: fakeSlack().slack, logger: silent }),
      incident(),
    );
    box.record([pageRequested('hook', 'webhook', 'cmd:k', 'customers see errors')]);
    await box.drain();
    const page = hook.pages.find((p) => p.dedupKey === pageDedupKey('inc-1', 'hook'));
    expect(page?.body).toMatchObject({
      version: 1,
      action: 'trigger',
      target: 'hook',
      reason: 'customers see errors',
      incident: {
        id: 'inc-1',
        number: 1,
        label: 'INC-1',
        title: 'Checkout failing',
        severity: 'sev2',
        channel: 'C0INC1',
      },
      requestedBy: people.dana,
    });
    expect(box.incident.events.find((e) => e.type === 'page.sent')).toMatchObject({
      providerRef: expect.stringMatching(/^hook-/),
    });
    box.record([resolvedEvent()]);
    await box.drain();
    expect(page?.open).toBe(false);

    const wrong = pagingConfig();
    const t = wrong.targets.find((x) => x.name === 'hook');
    if (t?.pager.kind === 'webhook')
      t.pager.secret = { env: 'HOOK_SECRET', value: 'not-the-secret' };
    const refusedBefore = hook.refused;
    const box2 = new MiniOutbox(
      createPagingSubscriber({ config: wrong, slack: fakeSlack().slack, logger: silent }),
      incident(),
    );
    box2.record([pageRequested('hook', 'webhook', 'cmd:l')]);
    await box2.drain();
    expect(hook.refused).toBe(refusedBefore + 1);
    const failed = box2.incident.events.find(
      (e) => e.type === 'page.failed',
    ) as StoredEvent<'page.failed'>;
    expect(failed).toMatchObject({
      status: 401,
      reason: 'the webhook answered 401: bad signature',
    });
    // The secret never appears in what is recorded.
    expect(JSON.stringify(box2.incident.events)).not.toContain('not-the-secret');
  });
});

describe('paging helpers', () => {
  test('dedup keys round-trip; signatures verify only with the right secret and body', () => {
    expect(parseDedupKey(pageDedupKey('01HXYZ', 'payments'))).toEqual({
      incidentId: '01HXYZ',
      target: 'payments',
    });
    expect(parseDedupKey('something-else')).toBeUndefined();
    const sig = signWebhook('s3cret', '1700000000', '{"a":1}');
    expect(sig).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhook('s3cret', '1700000000', '{"a":1}', sig)).toBe(true);
    expect(verifyWebhook('s3cret', '1700000000', '{"a":2}', sig)).toBe(false);
    expect(verifyWebhook('other', '1700000000', '{"a":1}', sig)).toBe(false);
    expect(verifyWebhook('s3cret', '1700000001', '{"a":1}', sig)).toBe(false);
  });

  test('Retry-After as seconds or an HTTP date', () => {
    expect(retryAfter('12', NOW)?.toISO()).toBe('2025-03-11T10:20:12.000Z');
    expect(retryAfter('Tue, 11 Mar 2025 10:25:00 GMT', NOW)?.toISO()).toBe(
      '2025-03-11T10:25:00.000Z',
    );
    expect(retryAfter('soon', NOW)).toBeUndefined();
    expect(retryAfter(null, NOW)).toBeUndefined();
  });

  test('pages fold per target; acknowledgement gives time to acknowledge', () => {
    const b = new IncidentBuilder({ date: '2025-03-11' })
      .opened('10:02', 'x', 'sev1')
      .detected('10:00');
    const dk = pageDedupKey('inc-1', 'payments');
    b.add('page.requested', '10:05', { target: 'payments', pager: 'pagerduty', dedupKey: dk });
    b.add('page.sent', '10:06', { target: 'payments', pager: 'pagerduty', dedupKey: dk });
    b.add(
      'page.acknowledged',
      '10:09',
      { target: 'payments', dedupKey: dk, by: 'Ravi M' },
      { source: 'system' },
    );
    const s = foldIncident(b.events());
    expect(s.pages[0]).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'Ravi M' });
    const m = computeMetrics(s);
    expect(m.find((x) => x.key === 'time_to_page')?.ms).toBe(6 * 60_000);
    expect(m.find((x) => x.key === 'time_to_acknowledge')?.ms).toBe(3 * 60_000);
    // Incidents that paged nobody keep their metrics as they were.
    const none = foldIncident(new IncidentBuilder().opened('10:00', 'y').events());
    expect(computeMetrics(none).map((x) => x.key)).not.toContain('time_to_page');
  });
});
