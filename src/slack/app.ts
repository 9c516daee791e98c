/**
 * The Slack app: Bolt wiring (HTTP receiver with /healthz, or Socket Mode), the shared
 * dependencies every Slack handler gets (`SlackDeps`), and the tracker of background work so
 * tests and shutdown can wait for it.
 */
import type { AddressInfo } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import { App, HTTPReceiver, type Receiver, webApi } from '@slack/bolt';
import type { DateTime } from 'luxon';
import type { AppConfig } from '../config';
import type { IncidentService } from '../app/service';
import { toBoltLogger, type Logger } from '../logger';
import type { CommandModule, Settings, SlackOps, StatusCards } from './ports';
import { createSlackOps } from './webOps';
import { registerDispatcher } from './dispatcher';
import { createStatusCards } from './statusCard';
import { registerCapture } from './capture';
import { createInsightsRoutes } from '../web/routes';
import { registerPublishing } from '../integrations/publish';
import { registerShortcuts } from './shortcuts';
import { registerHome } from './home';
import { ManagedSocketModeReceiver, type SocketModeOptions } from './socketMode';
import { createPagerDutyWebhookRoute } from '../integrations/paging/pagerdutyWebhook';
import { ReminderScheduler } from '../app/reminderScheduler';
import { createReminderDelivery, registerReminderButtons } from './reminders';

export interface SlackDeps {
  config: AppConfig;
  service: IncidentService;
  logger: Logger;
  /** The app's WebClient (bot token; SLACK_API_URL when set). */
  client: webApi.WebClient;
  slack: SlackOps;
  settings: Settings;
  work: WorkTracker;
  /** The pinned status cards (set by createSlackApp once the card keeper exists). */
  cards: StatusCards;
  clock?: () => DateTime;
}

/**
 * Tracks in-flight asynchronous work (everything started by a Slack request, which keeps
 * running after the request is acknowledged), so tests and shutdown can `await work.idle()`.
 *
 * It also gives acknowledging requests priority over background work: work that calls
 * `yieldToRequests()` after its ack waits until no request is being received and acknowledged
 * (at most `maxWaitMs`), so a burst of commands is acknowledged as fast as by a bare app even
 * though each command then does several milliseconds of synchronous store work.
 */
export class WorkTracker {
  private readonly inflight = new Set<Promise<unknown>>();
  private receiving = 0;
  private lastRequestAt = -Infinity;
  private readonly queue: { resolve: () => void; until: number }[] = [];
  private pumping = false;
  private wake: (() => void) | undefined;

  /**
   * @param quietMs how long without a new request counts as quiet (see yieldToRequests).
   * @param maxWaitMs the longest a caller of yieldToRequests waits.
   */
  constructor(
    private readonly quietMs = 5,
    private readonly maxWaitMs = 2000,
  ) {}

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

  /** The receiver got a request; call the returned function once it is answered. */
  requestStarted(): () => void {
    this.receiving += 1;
    this.lastRequestAt = Date.now();
    let finished = false;
    return () => {
      if (finished) return;
      finished = true;
      this.receiving -= 1;
      if (this.receiving === 0) this.wake?.();
    };
  }

  /**
   * Lets requests be acknowledged first. Callers queue up; the queue is released one caller at
   * a time, each when no request is in progress and none arrived in the last `quietMs` (after
   * letting the event loop deliver the responses already written), or when the caller has
   * waited `maxWaitMs`. Releasing one at a time, with turns of the event loop in between, means a
   * request arriving meanwhile waits for at most one piece of work's synchronous part. Replies go
   * out through response_url or the Web API, so these milliseconds cost users nothing.
   */
  yieldToRequests(opts: { maxWaitMs?: number } = {}): Promise<void> {
    return new Promise<void>((resolve) => {
      this.queue.push({ resolve, until: Date.now() + (opts.maxWaitMs ?? this.maxWaitMs) });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        // Three turns of the event loop: written responses are flushed and new requests read.
        await nextTurn();
        await nextTurn();
        await nextTurn();
        const head = this.queue[0];
        const now = Date.now();
        const overdueIn = head.until - now;
        const quietIn = this.lastRequestAt + this.quietMs - now;
        if (overdueIn <= 0 || (this.receiving === 0 && quietIn <= 0)) {
          this.queue.shift()?.resolve();
          continue;
        }
        const wait = this.receiving === 0 ? Math.min(quietIn, overdueIn) : overdueIn;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.wake = undefined;
            resolve();
          }, wait);
          this.wake = () => {
            this.wake = undefined;
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      this.pumping = false;
    }
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

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
  /** Stops receiving, waits for in-flight work, stops the status cards. */
  stop(): Promise<void>;
  /** The reminder scheduler (started with the app; `tick()` runs one pass now). */
  reminders: ReminderScheduler;
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

  // Publishing drafts as pull/merge requests (src/integrations/publish), found through the service.
  registerPublishing(service, {
    targets: config.publishTargets ?? [],
    template: config.postmortemTemplate,
    ...(config.postmortemTemplateDir ? { templateDir: config.postmortemTemplateDir } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });

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

  // Every request the receiver hands to Bolt is tracked from the moment it arrives (before the
  // ack), including everything its listeners await, so `work.idle()` covers it.
  const processEvent = app.processEvent.bind(app);
  app.processEvent = (event) => work.track(processEvent(event));

  app.error(async (err) => {
    logger.error({ err }, 'unhandled error in a Slack listener');
  });

  const settings: Settings = {
    channelPrefix: config.channelPrefix,
    ...(config.announceChannel ? { announceChannel: config.announceChannel } : {}),
    defaultZone: config.timezone,
    template: config.postmortemTemplate,
    ...(config.adminGroup ? { adminGroup: config.adminGroup } : {}),
    ...(config.paging.targets.length ? { paging: config.paging } : {}),
  };
  const noCards: StatusCards = {
    create: async () => undefined,
    refresh: () => undefined,
  };
  const deps: SlackDeps = {
    config,
    service,
    logger,
    client: app.client,
    slack: opts.slack ?? createSlackOps(app.client, logger.child({ component: 'slack' })),
    settings,
    work,
    cards: noCards,
    ...(opts.clock ? { clock: opts.clock } : {}),
  };

  const cards = createStatusCards(deps);
  deps.cards = cards;
  registerDispatcher(app, deps, opts.registry);
  registerCapture(app, deps);
  registerShortcuts(app, deps);
  const home = registerHome(app, deps, config.homeDebounceMs);
  registerReminderButtons(app, deps, config.reminders);
  const reminders = new ReminderScheduler({
    service,
    settings: config.reminders,
    clock: () => (opts.clock ? opts.clock() : service.now()),
    deliver: createReminderDelivery(deps, config.reminders),
    intervalMs: config.reminderIntervalMs,
    logger: logger.child({ component: 'reminders' }),
    track: (p) => work.track(p),
  });

  return {
    app,
    deps,
    reminders,
    async start() {
      await app.init();
      if (receiver instanceof HTTPReceiver) {
        const server = (await app.start(config.port)) as Server;
        // Count requests being received and answered, so background work can let them go first.
        server.prependListener('request', (_req, res: ServerResponse) => {
          const done = work.requestStarted();
          res.once('finish', done);
          res.once('close', done);
        });
        started = true;
        reminders.start();
        return { port: (server.address() as AddressInfo).port };
      }
      await app.start();
      started = true;
      reminders.start();
      return { port: socket?.port ?? config.port, connected: socket?.health().connected };
    },
    async stop() {
      const wasStarted = started;
      started = false;
      if (wasStarted) {
        try {
          await app.stop();
        } catch (err) {
          logger.warn({ err }, 'stopping the Slack receiver failed');
        }
      }
      await work.idle(30_000).catch((err: unknown) => {
        logger.warn({ err, inFlight: work.size }, 'shutdown: some work did not finish');
      });
      await reminders.stop();
      home.stop();
      cards.stop();
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
