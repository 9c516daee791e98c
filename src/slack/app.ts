/**
 * The Slack app: Bolt wiring (HTTP receiver with /healthz, or Socket Mode), the request path
 * (every request stored in the inbox before its ack, then processed per incident: requestPath.ts),
 * the effect dispatcher and its subscriber registry (outbox.ts), the shared dependencies every
 * Slack handler gets (`SlackDeps`), and the tracker of background work so tests and shutdown can
 * wait for it.
 */
import type { AddressInfo } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import { App, HTTPReceiver, type Receiver, webApi } from '@slack/bolt';
import type { DateTime } from 'luxon';
import type { AppConfig } from '../config';
import type { IncidentService } from '../app/service';
import { toBoltLogger, type Logger } from '../logger';
import type { CommandModule, Settings, SlackOps } from './ports';
import { createSlackOps } from './webOps';
import { COMMAND, RESPONSE_URL_TTL_MS, immediateAnswer, registerDispatcher } from './dispatcher';
import { installRequestPath } from './requestPath';
import { postmortemUploadSubscriber } from './postmortemUpload';
import { deliverDirectly, replySubscriber } from './replies';
import { EffectDispatcher, SubscriberRegistry } from '../app/outbox';
import { currentRequest } from '../app/requestContext';
import { statusCardSubscriber } from './statusCard';
import { startFlowSubscriber } from './startFlow';
import { registerCapture } from './capture';
import { createInsightsRoutes } from '../web/routes';
import { registerPublishing } from '../integrations/publish';
import { registerShortcuts } from './shortcuts';
import { registerHome } from './home';
import { ManagedSocketModeReceiver, type SocketModeOptions } from './socketMode';
import { createPagerDutyWebhookRoute } from '../integrations/paging/pagerdutyWebhook';
import { pagingSubscriber } from '../integrations/paging';
import { ReminderScheduler } from '../app/reminderScheduler';
import { registerReminderButtons, reminderSubscriber } from './reminders';
import { Housekeeping } from '../app/housekeeping';

export interface SlackDeps {
  config: AppConfig;
  service: IncidentService;
  logger: Logger;
  /** The app's WebClient (bot token; SLACK_API_URL when set). */
  client: webApi.WebClient;
  slack: SlackOps;
  settings: Settings;
  work: WorkTracker;
  /**
   * The subscribers to recorded events (status card, paging, publishing …): register one here
   * before `start()`; its effects are written with the events and delivered by `effects`.
   */
  subscribers: SubscriberRegistry;
  /** Delivers the outbox (set by createSlackApp). */
  effects?: EffectDispatcher;
  clock?: () => DateTime;
}

/**
 * Tracks in-flight asynchronous work (the processing of stored requests, effect deliveries), so
 * tests and shutdown can `await work.idle()`.
 */
export class WorkTracker {
  private readonly inflight = new Set<Promise<unknown>>();

  /** Number of pieces of work in flight. */
  get size(): number {
    return this.inflight.size;
  }

  /** Tracks a promise until it settles; returns the same promise. */
  track<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.inflight.add(settled);
    void settled.then(() => this.inflight.delete(settled));
    return p;
  }

  /** Runs `fn` as tracked work. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.track(Promise.resolve().then(fn));
  }

  /** Marks work as started now; call the returned function when it is done. */
  begin(): () => void {
    let done!: () => void;
    this.track(new Promise<void>((resolve) => (done = resolve)));
    return done;
  }

  /** Resolves when no work is in flight (including work started while waiting). */
  async idle(timeoutMs?: number): Promise<void> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    while (this.inflight.size > 0) {
      const all = Promise.all([...this.inflight]);
      if (deadline === undefined) {
        await all;
      } else {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`work still in flight after ${timeoutMs} ms`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          all,
          new Promise<void>((resolve) => (timer = setTimeout(resolve, left))),
        ]);
        clearTimeout(timer);
      }
    }
  }
}

export interface CreateSlackAppOptions {
  config: AppConfig;
  service: IncidentService;
  logger: Logger;
  clock?: () => DateTime;
  /** The /incident subcommands (default: the registry in commands/). */
  registry?: CommandModule[];
  /** Replace the SlackOps over WebClient (tests). */
  slack?: SlackOps;
  /** Socket Mode tuning (reconnect backoff, listen host), for tests. */
  socketMode?: Pick<SocketModeOptions, 'backoff' | 'host' | 'openTimeoutMs'>;
}

export interface SlackAppHandle {
  app: App;
  deps: SlackDeps;
  /**
   * Verifies the token (auth.test) and starts receiving; reports the bound HTTP port. In Socket
   * Mode it resolves after the first connection attempt, `connected` saying how it went (when
   * it failed, the reason is logged and retries go on; /healthz answers 503 meanwhile).
   */
  start(): Promise<{ port?: number; connected?: boolean }>;
  /** Stops receiving, waits for in-flight work and deliveries. */
  stop(): Promise<void>;
  /** The reminder scheduler (started with the app; `tick()` runs one pass now). */
  reminders: ReminderScheduler;
  /** Deletes finished inbox items and effects past their retention (`runOnce()` runs now). */
  housekeeping: Housekeeping;
}

export function createSlackApp(opts: CreateSlackAppOptions): SlackAppHandle {
  const { config, service, logger } = opts;
  const boltLogger = toBoltLogger(logger, 'bolt');
  const work = new WorkTracker();
  let started = false;

  const healthz = (_req: unknown, res: ServerResponse): void => {
    void healthStatus().then(({ status, body }) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    });
  };

  async function healthStatus(): Promise<{ status: number; body: Record<string, unknown> }> {
    const store = service.store.kind;
    if (!started) return { status: 503, body: { ok: false, store, error: 'not started' } };
    // In Socket Mode the socket's state is part of the answer: no connection, no requests.
    const sock = socket?.health();
    const shown = sock ? { socket: sock.state } : {};
    const errors: string[] = [];
    try {
      await withTimeout(service.store.ping(), 3000, 'store ping timed out after 3000 ms');
    } catch (err) {
      errors.push(`store unavailable: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (sock && !sock.connected) errors.push(sock.reason ?? sock.state);
    if (errors.length === 0) return { status: 200, body: { ok: true, store, ...shown } };
    return { status: 503, body: { ok: false, store, ...shown, error: errors.join('; ') } };
  }

  const customRoutes = [
    { path: '/healthz', method: ['GET'], handler: healthz },
    ...createInsightsRoutes({
      config,
      service,
      logger,
      ...(opts.clock ? { clock: opts.clock } : {}),
    }),
    // PagerDuty v3 webhooks (acknowledgements), only when their signing secret is set.
    ...(config.paging.pagerdutyWebhookSecret
      ? [
          createPagerDutyWebhookRoute({
            secret: config.paging.pagerdutyWebhookSecret,
            service,
            logger,
            track: (p) => work.track(p),
          }),
        ]
      : []),
  ];
  const clientOptions: webApi.WebClientOptions = config.slackApiUrl
    ? { slackApiUrl: config.slackApiUrl }
    : {};

  let receiver: Receiver;
  // Socket Mode: the same Web API options (SLACK_API_URL …) for apps.connections.open too.
  let socket: ManagedSocketModeReceiver | undefined;
  if (config.mode === 'socket' && config.appToken) {
    socket = new ManagedSocketModeReceiver({
      appToken: config.appToken,
      clientOptions,
      logger,
      boltLogger,
      routes: customRoutes,
      port: config.port,
      ...opts.socketMode,
    });
    receiver = socket;
  } else {
    if (!config.signingSecret) throw new Error('SLACK_SIGNING_SECRET is required in HTTP mode');
    receiver = new HTTPReceiver({
      signingSecret: config.signingSecret,
      endpoints: '/slack/events',
      port: config.port,
      customRoutes,
      logger: boltLogger,
      processBeforeResponse: false,
    });
  }

  const app = new App({
    token: config.botToken,
    receiver,
    logger: boltLogger,
    clientOptions,
    // auth.test runs in start(), where a bad token fails loudly, not in the constructor.
    deferInitialization: true,
  });

  app.error(async (err) => {
    logger.error({ err }, 'unhandled error in a Slack listener');
    // The stored request being processed is left in the inbox, to be processed again.
    const req = currentRequest();
    if (req) req.failed = err;
  });

  const settings: Settings = {
    channelPrefix: config.channelPrefix,
    ...(config.announceChannel ? { announceChannel: config.announceChannel } : {}),
    defaultZone: config.timezone,
    template: config.postmortemTemplate,
    gapMinutes: config.gapMinutes,
    ...(config.adminGroup ? { adminGroup: config.adminGroup } : {}),
    ...(config.paging.targets.length ? { paging: config.paging } : {}),
  };
  const deps: SlackDeps = {
    config,
    service,
    logger,
    client: app.client,
    slack: opts.slack ?? createSlackOps(app.client, logger.child({ component: 'slack' })),
    settings,
    work,
    subscribers: new SubscriberRegistry(),
    ...(opts.clock ? { clock: opts.clock } : {}),
  };

  const commands = registerDispatcher(app, deps, opts.registry);
  registerCapture(app, deps);
  registerShortcuts(app, deps);
  const home = registerHome(app, deps, config.homeDebounceMs);
  registerReminderButtons(app, deps, config.reminders);
  const reminders = new ReminderScheduler({
    service,
    settings: config.reminders,
    clock: () => (opts.clock ? opts.clock() : service.now()),
    intervalMs: config.reminderIntervalMs,
    logger: logger.child({ component: 'reminders' }),
    track: (p) => work.track(p),
  });

  // Integrations register Subscribers here; their effects are committed with the events they
  // follow from and delivered by the effect dispatcher (src/app/outbox.ts).
  const effects = new EffectDispatcher({
    store: service.store,
    registry: deps.subscribers,
    loadIncident: (id) => service.load(id),
    ...(opts.clock ? { clock: opts.clock } : {}),
    idlePollMs: config.inboxPollMs,
    instanceId: config.instanceId,
    // As documented for INBOX_LEASE_MS: an effect claimed by a replica that died (a pending card
    // update, a step of a start) is taken up again once this has passed.
    leaseMs: config.inboxLeaseMs,
    logger: logger.child({ component: 'effects' }),
    track: (p) => work.track(p),
  });
  deps.effects = effects;
  // The pinned status card (src/slack/statusCard.ts): every commit that changes what it shows
  // owes a coalesced `card.refresh`. Its client rejects rate-limited calls, so Retry-After is
  // waited for by the dispatcher (a retry at that time), not inside a delivery.
  const effectClient = new webApi.WebClient(config.botToken, {
    ...clientOptions,
    logger: boltLogger,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
  });
  deps.subscribers.register(
    statusCardSubscriber({
      client: effectClient,
      slack: deps.slack,
      logger: logger.child({ component: 'status-card' }),
      config,
      onRefresh: () => home.changed(),
    }),
  );
  // `/incident start`'s Slack work: channel, invite, card, announcements, answer (startFlow.ts).
  deps.subscribers.register(
    startFlowSubscriber({
      service,
      slack: deps.slack,
      client: app.client,
      logger: logger.child({ component: 'start' }),
      responseUrlTtlMs: RESPONSE_URL_TTL_MS,
    }),
  );
  // Replies, ephemerals and thread confirmations (src/slack/replies.ts): owed by the request,
  // written with its inbox completion, delivered here.
  deps.subscribers.register(
    replySubscriber({
      config: {
        botToken: config.botToken,
        ...(config.slackApiUrl ? { slackApiUrl: config.slackApiUrl } : {}),
      },
      logger,
    }),
  );
  deps.subscribers.register(postmortemUploadSubscriber(deps));
  // Publishing drafts as pull/merge requests (src/integrations/publish): an outbox subscriber.
  deps.subscribers.register(
    registerPublishing(service, {
      targets: config.publishTargets ?? [],
      template: config.postmortemTemplate,
      ...(config.postmortemTemplateDir ? { templateDir: config.postmortemTemplateDir } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
      post: (channel, text) => deps.slack.post(channel, text),
      log: logger.child({ component: 'publish' }),
    }).subscriber,
  );
  // Paging (src/integrations/paging): page.requested → page.trigger effects → the provider.
  const paging = pagingSubscriber({
    config: config.paging,
    client: app.client,
    slack: deps.slack,
    logger: logger.child({ component: 'paging' }),
  });
  if (paging) deps.subscribers.register(paging);
  // Reminders: a claimed reminder's delivery is a `reminder.deliver` effect (src/slack/reminders).
  deps.subscribers.register(reminderSubscriber(deps, config.reminders));
  service.useSubscribers(deps.subscribers, () => effects.wake());

  // Receive → inbox → ack → per-partition processing (requestPath.ts). Installed after the
  // listeners: it replays stored requests through them.
  const requestPath = installRequestPath(app, {
    store: service.store,
    logger,
    ...(opts.clock ? { clock: opts.clock } : {}),
    track: (p) => work.track(p),
    immediateAnswer: (body) =>
      immediateAnswer(commands, typeof body.text === 'string' ? body.text : ''),
    notSavedAnswer: (body, err) => ({
      response_type: 'ephemeral',
      text: notSavedText(typeof body.text === 'string' ? body.text : '', err),
    }),
    leaseMs: config.inboxLeaseMs,
    pollMs: config.inboxPollMs,
    instanceId: config.instanceId,
    wake: () => effects.wake(),
    deliverDirectly: (owed) => deliverDirectly(deps.subscribers, owed, logger, opts.clock),
  });
  const housekeeping = new Housekeeping({
    store: service.store,
    retention: config.retention,
    clock: () => (opts.clock ? opts.clock() : service.now()),
    logger: logger.child({ component: 'housekeeping' }),
    track: (p) => work.track(p),
  });

  return {
    app,
    deps,
    reminders,
    housekeeping,
    async start() {
      await app.init();
      let port = config.port;
      if (receiver instanceof HTTPReceiver) {
        const server = (await app.start(config.port)) as Server;
        port = (server.address() as AddressInfo).port;
      } else {
        await app.start();
      }
      started = true;
      reminders.start();
      // Requests stored but not processed by an earlier run (a crash), then effects still owed.
      await requestPath.start();
      effects.start();
      housekeeping.start();
      if (receiver instanceof HTTPReceiver) return { port };
      return { port: socket?.port ?? config.port, connected: socket?.health().connected };
    },
    async stop() {
      const wasStarted = started;
      started = false;
      // 1. Stop accepting requests; 2. finish the stored requests already started (the others
      // stay in the inbox); 3. let the deliveries in flight finish (the others stay owed).
      if (wasStarted) {
        try {
          await app.stop();
        } catch (err) {
          logger.warn({ err }, 'stopping the Slack receiver failed');
        }
      }
      await requestPath.stop();
      await effects.stop();
      await work.idle(30_000).catch((err: unknown) => {
        logger.warn({ err, inFlight: work.size }, 'shutdown: some work did not finish');
      });
      await reminders.stop();
      await housekeeping.stop();
      home.stop();
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The ack of a command whose request could not be stored: nothing was saved, here it is again. */
function notSavedText(typed: string, err: unknown): string {
  const why = err instanceof Error ? ` (${err.message})` : '';
  const line = `${COMMAND} ${typed}`.replace(/\s+/g, ' ').trim();
  const clipped = line.length > 2900 ? `${line.slice(0, 2899)}…` : line;
  return `The incident store is not reachable right now, so nothing was saved${why}. Please try again in a moment.\nNothing you typed is lost — here it is to try again:\n> ${clipped}`;
}
