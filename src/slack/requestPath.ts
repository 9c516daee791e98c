/**
 * The request path: receive → inbox → (ack) → per-incident processing.
 *
 * Both receivers (HTTP and Socket Mode) hand every request to `app.processEvent`; this module
 * wraps it, so the guarantee is the same in both modes:
 *
 * 1. A request that can change the record (slash command, event, block action, view submission,
 *    shortcut) is written to the store's inbox, keyed by what Slack gives (`cmd:<trigger_id>`,
 *    `evt:<event_id>`, `act:<trigger_id>`, `view:<view id>:<hash>`, `sc:<trigger_id>`), with the
 *    time it arrived, BEFORE it is acknowledged. A key already in the inbox (a Slack retry) is
 *    acknowledged and not processed again.
 * 2. If that write fails (store down), the request is not acknowledged as done: a command gets
 *    the friendly "nothing was saved" answer in its ack; anything else is answered with an error
 *    (HTTP 500, or no Socket Mode ack), so Slack retries it.
 * 3. After the ack, the stored request is processed through the same Bolt listeners (with a no-op
 *    ack): one at a time per partition (the incident channel; the workspace for `start`), in
 *    arrival order, partitions concurrently. Consecutive `message` events of one partition run
 *    together so the message recorder can write them in one commit, which also marks their inbox
 *    items done (atomically with the messages). Any other item is marked done when its
 *    processing returned, in ONE atomic write with the effects the request owes (its replies,
 *    thread confirmations: `owe` in src/app/requestContext.ts), added only if the item was still
 *    pending — so a request processed twice owes its replies once, and nothing is posted to
 *    Slack before that write. Then the effect dispatcher is woken (`wake`). If that write fails
 *    (store down), the replies are delivered directly as a best effort (the user still hears
 *    that nothing was saved) and the item stays pending, as after a crash.
 * 4. Items not done — the process was killed, or the store failed while processing — are claimed
 *    again once their lease ran out (`leaseMs`), at start and every `pollMs`, by this or another
 *    replica, and processed the same way (`currentRequest().recovered` is then true). Recording is
 *    idempotent by key, so an item processed twice records its facts once. A process restarted
 *    with the same `instanceId` takes over at start, without waiting, the items its killed
 *    predecessor held (leases are owned by `<instanceId>/<random per process>`).
 *
 * Cheap answers that record nothing (an empty or unknown `/incident` subcommand → help) are given
 * in the ack itself and never stored.
 */
import { randomUUID } from 'node:crypto';
import type { App } from '@slack/bolt';
import { DateTime } from 'luxon';
import { runAsRequest, type RequestInfo } from '../app/requestContext';

/** A stored request whose processing keeps failing is given up after this many attempts. */
const MAX_ATTEMPTS = 5;
import type { InboxItem, InboxKind, IncidentStore, NewEffect } from '../store/store';
import type { Logger } from '../logger';

/** Bolt's ReceiverEvent, the part this module uses. */
interface ReceiverEventLike {
  body: Record<string, unknown>;
  ack: (response?: unknown) => Promise<void>;
  retryNum?: number;
  retryReason?: string;
  customProperties?: Record<string, unknown>;
}

export interface Classified {
  key: string;
  kind: InboxKind;
  partition: string;
}

type Body = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const obj = (v: unknown): Body | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Body) : undefined;

/**
 * What a request is, its idempotency key and its partition; undefined for requests that record
 * nothing and need an immediate answer (URL verification, options loads, view_closed …).
 */
export function classifyRequest(body: Body): Classified | undefined {
  const team = str(body.team_id) ?? str(obj(body.team)?.id) ?? str(obj(body.user)?.team_id) ?? '-';
  if (typeof body.command === 'string') {
    const trigger = str(body.trigger_id);
    if (!trigger) return undefined;
    const sub = (str(body.text) ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const channel = str(body.channel_id);
    // `start` creates an incident: serialised per workspace (numbers are per workspace).
    const partition = sub === 'start' || !channel ? `team:${team}` : `ch:${channel}`;
    return { key: `cmd:${trigger}`, kind: 'command', partition };
  }
  const type = str(body.type);
  if (type === 'event_callback') {
    const id = str(body.event_id);
    const ev = obj(body.event);
    if (!id || !ev) return undefined;
    const channel =
      str(ev.channel) ?? str(ev.channel_id) ?? str(obj(ev.item)?.channel) ?? str(obj(ev.channel));
    return {
      key: `evt:${id}`,
      kind: 'event',
      partition: channel ? `ch:${channel}` : `team:${team}`,
    };
  }
  if (type === 'block_actions') {
    const trigger = str(body.trigger_id);
    const actions = Array.isArray(body.actions) ? (body.actions as Body[]) : [];
    const user = str(obj(body.user)?.id) ?? '-';
    const key = trigger ?? (actions[0] ? `${str(actions[0].action_ts)}:${user}` : undefined);
    if (!key) return undefined;
    const channel = str(obj(body.channel)?.id) ?? str(obj(body.container)?.channel_id);
    return {
      key: `act:${key}`,
      kind: 'action',
      partition: channel ? `ch:${channel}` : `team:${team}`,
    };
  }
  if (type === 'view_submission') {
    const view = obj(body.view);
    const id = str(view?.id);
    if (!view || !id) return undefined;
    const channel = channelFromMetadata(str(view.private_metadata));
    return {
      key: `view:${id}:${str(view.hash) ?? ''}`,
      kind: 'view',
      partition: channel ? `ch:${channel}` : `team:${team}`,
    };
  }
  if (type === 'shortcut' || type === 'message_action') {
    const trigger = str(body.trigger_id);
    if (!trigger) return undefined;
    const channel = str(obj(body.channel)?.id);
    return {
      key: `sc:${trigger}`,
      kind: 'shortcut',
      partition: channel ? `ch:${channel}` : `team:${team}`,
    };
  }
  return undefined;
}

function channelFromMetadata(meta: string | undefined): string | undefined {
  if (!meta?.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(meta) as { channel?: unknown };
    return typeof v.channel === 'string' ? v.channel : undefined;
  } catch {
    return undefined;
  }
}

function isMessageEvent(item: InboxItem, body: Body): boolean {
  return item.kind === 'event' && obj(body.event)?.type === 'message';
}

export interface RequestPathOptions {
  store: IncidentStore;
  logger: Logger;
  clock?: () => DateTime;
  /** Tracks the processing started by a request (tests and shutdown wait for it). */
  track: <T>(p: Promise<T>) => Promise<T>;
  /**
   * The immediate answer to a slash command that records nothing (help, unknown subcommand),
   * given in the ack; undefined when the command must be stored and processed.
   */
  immediateAnswer?: (body: Body) => unknown;
  /** The ack of a command that could not be stored. */
  notSavedAnswer: (body: Body, err: unknown) => unknown;
  /** How long a claim on an inbox item holds before another replica may take it. */
  leaseMs?: number;
  /** How often unfinished items of others (or of a previous run) are looked for. */
  pollMs?: number;
  /** This replica's name in leases (default `<instanceId>/<random>`, or random). */
  owner?: string;
  /**
   * This process's stable instance id (INSTANCE_ID): at start, items leased by an earlier
   * incarnation of the same id (killed: it was us) are taken over at once, not after their lease.
   */
  instanceId?: string;
  /** Called after a completion added effects (the app wakes the effect dispatcher). */
  wake?: () => void;
  /** Delivers owed effects without the store, when the completion could not be written. */
  deliverDirectly?: (effects: NewEffect[]) => Promise<void>;
}

export interface RequestPath {
  /** Processes the unfinished items left by earlier runs and starts looking for them regularly. */
  start(): Promise<void>;
  /** Stops taking new items from the lanes; resolves when the items started are done. */
  stop(): Promise<void>;
  /** Items waiting or running in this process. */
  readonly backlog: number;
}

/** Wraps `app.processEvent` with the inbox (see the file comment). */
export function installRequestPath(app: App, opts: RequestPathOptions): RequestPath {
  const { store, logger } = opts;
  const clock = opts.clock ?? (() => DateTime.utc());
  const leaseMs = opts.leaseMs ?? 30_000;
  const pollMs = opts.pollMs ?? 5_000;
  const owner =
    opts.owner ?? (opts.instanceId ? `${opts.instanceId}/${randomUUID()}` : randomUUID());
  // Only at start: once running, every lease with our prefix is this incarnation's own.
  const takeOverPrefix = opts.instanceId ? `${opts.instanceId}/` : undefined;
  const log = logger.child({ component: 'inbox' });
  const process = app.processEvent.bind(app);

  /** Items queued or running here, by inbox id (a recovery claim must not queue them twice). */
  const known = new Set<string>();
  const lanes = new Map<string, { items: InboxItem[]; running: boolean }>();
  const running = new Set<Promise<void>>();
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  /** Parsed bodies of the items queued here. */
  const bodies = new WeakMap<InboxItem, Body | null>();

  app.processEvent = async (event) => {
    const ev = event as unknown as ReceiverEventLike;
    const body = ev.body;
    const c = classifyRequest(body);
    if (!c) return process(event);
    if (c.kind === 'command' && opts.immediateAnswer) {
      const answer = opts.immediateAnswer(body);
      if (answer !== undefined) {
        await ev.ack(answer);
        return;
      }
    }
    const now = clock().toUTC();
    let stored: { item: InboxItem; inserted: boolean };
    try {
      stored = await store.enqueueInbox({
        ...c,
        body: JSON.stringify(body),
        receivedAt: now,
        lease: { owner, until: now.plus({ milliseconds: leaseMs }) },
      });
    } catch (err) {
      log.error({ err, key: c.key, kind: c.kind }, 'could not store a request; not acknowledged');
      if (c.kind === 'command') {
        await ev.ack(opts.notSavedAnswer(body, err));
        return;
      }
      // Not acknowledged: the receiver answers with an error and Slack sends it again.
      throw err;
    }
    try {
      await ev.ack();
    } finally {
      // Stored: processed even when the ack could not be sent (a dropped Socket Mode connection;
      // Slack's redelivery then finds the key and is only acknowledged). The body parsed by the
      // receiver is the one stored: it is replayed as is instead of parsing the stored copy.
      if (stored.inserted) {
        bodies.set(stored.item, body);
        submit(stored.item, false);
      }
    }
  };

  function submit(item: InboxItem, recovered: boolean): void {
    // While stopping, a stored request stays in the inbox for the next start.
    if (stopping || known.has(item.id)) return;
    known.add(item.id);
    let lane = lanes.get(item.partition);
    if (!lane) {
      lane = { items: [], running: false };
      lanes.set(item.partition, lane);
    }
    const l = lane;
    l.items.push(Object.assign(item, { recovered }));
    if (!l.running) {
      l.running = true;
      const p = opts.track(runLane(item.partition, l));
      running.add(p);
      void p.finally(() => running.delete(p));
    }
  }

  async function runLane(
    partition: string,
    lane: { items: InboxItem[]; running: boolean },
  ): Promise<void> {
    try {
      while (lane.items.length > 0 && !stopping) {
        const head = lane.items[0];
        const headBody = parse(head);
        let batch = [head];
        if (headBody && isMessageEvent(head, headBody)) {
          // Consecutive chat messages are processed together (one commit for all of them).
          let n = 1;
          while (n < lane.items.length && n < 200) {
            const b = parse(lane.items[n]);
            if (!b || !isMessageEvent(lane.items[n], b)) break;
            n += 1;
          }
          batch = lane.items.slice(0, n);
        }
        lane.items.splice(0, batch.length);
        await Promise.all(batch.map((item) => handle(item)));
      }
    } finally {
      lane.running = false;
      if (lane.items.length === 0) lanes.delete(partition);
    }
  }

  function parse(item: InboxItem): Body | null {
    let b = bodies.get(item);
    if (b === undefined) {
      try {
        b = obj(JSON.parse(item.body)) ?? null;
      } catch {
        b = null;
      }
      bodies.set(item, b);
    }
    return b;
  }

  async function handle(item: InboxItem & { recovered?: boolean }): Promise<void> {
    const body = parse(item);
    const info: RequestInfo = {
      receivedAt: item.receivedAt,
      recovered: item.recovered === true,
      key: item.key,
      inboxId: item.id,
    };
    try {
      if (!body) {
        log.error({ key: item.key }, 'an inbox item is not valid JSON; dropped');
      } else {
        await runAsRequest(info, () =>
          process({
            body,
            ack: async () => undefined,
            retryNum: undefined,
            retryReason: undefined,
            customProperties: {},
          } as unknown as Parameters<App['processEvent']>[0]),
        );
      }
      if (info.completed) {
        // A chat message's item is completed by the same write that recorded the message.
        if (info.failed !== undefined) {
          log.warn({ key: item.key }, 'a stored request failed after it was recorded; not retried');
        }
        // Chat messages owe no replies; should one owe any, it goes to the outbox now.
        info.sealed = true;
        if (info.owed?.length) {
          await store.addEffects(info.owed);
          opts.wake?.();
        }
        return;
      }
      if (info.failed !== undefined && item.attempts < MAX_ATTEMPTS) {
        // A listener failed (e.g. the store went away mid-way): processed again after the lease.
        log.warn({ key: item.key, attempts: item.attempts }, 'a stored request will be retried');
        return;
      }
      if (info.failed !== undefined) {
        log.error({ key: item.key, attempts: item.attempts }, 'a stored request failed; given up');
      }
      await complete(item, info);
    } catch (err) {
      // Left pending: claimed again when its lease has run out.
      log.error({ err, key: item.key }, 'processing a stored request failed; it will be retried');
    } finally {
      known.delete(item.id);
    }
  }

  /** Marks the item done with the effects it owes (one atomic write), then wakes delivery. */
  async function complete(item: InboxItem, info: RequestInfo): Promise<void> {
    info.sealed = true;
    const owed = info.owed ?? [];
    try {
      await store.completeInbox([item.id], owed);
    } catch (err) {
      if (owed.length > 0 && opts.deliverDirectly) {
        log.warn(
          { err, key: item.key },
          'could not complete a request; delivering its replies now',
        );
        await opts
          .deliverDirectly(owed)
          .catch((e: unknown) =>
            log.error({ err: e, key: item.key }, 'delivering replies directly failed'),
          );
      }
      throw err;
    }
    if (owed.length > 0) opts.wake?.();
  }

  async function recover(atStart = false): Promise<void> {
    if (stopping) return;
    const now = clock().toUTC();
    try {
      for (;;) {
        const items = await store.claimInbox({
          owner,
          now,
          leaseUntil: now.plus({ milliseconds: leaseMs }),
          limit: 200,
          ...(atStart && takeOverPrefix ? { takeOverPrefix } : {}),
        });
        const fresh = items.filter((i) => !known.has(i.id));
        if (fresh.length > 0) log.info({ count: fresh.length }, 'processing unfinished requests');
        for (const item of fresh) submit(item, true);
        if (items.length < 200 || stopping) break;
      }
    } catch (err) {
      log.warn({ err }, 'could not look for unfinished requests; trying again later');
    }
  }

  function schedule(): void {
    if (stopping) return;
    timer = setTimeout(() => {
      void opts.track(recover()).finally(schedule);
    }, pollMs);
    timer.unref();
  }

  return {
    async start() {
      await opts.track(recover(true));
      schedule();
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await Promise.allSettled([...running]);
    },
    get backlog() {
      return known.size;
    },
  };
}
