/**
 * The subscriber registry and the effect dispatcher (the outbox's delivery side).
 *
 * - `SubscriberRegistry`: integrations plug in by `register(subscriber)`. The use-cases ask it for
 *   the effects that follow from the events they are about to commit (`effectsFor`), so the
 *   effects are written in the same atomic commit as the events; the dispatcher asks it for the
 *   handler of an effect's kind.
 * - `EffectDispatcher`: claims due effects from the store (with a lease, so several replicas
 *   deliver each once), runs their handlers, and records the outcome: done (with the outcome's
 *   events and follow-up effects), retried with exponential backoff (no earlier than a
 *   RetryableEffectError's `retryAt`, e.g. Slack's Retry-After), or dead with its reason
 *   (PermanentEffectError, unknown kind or too many attempts). It sleeps until the next effect is
 *   due or `wake()` is called after a commit added effects; `stop()` stops claiming and waits for
 *   the deliveries in flight. Unfinished effects stay in the store for the next start.
 */
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { StoredEvent } from '../core/model';
import type { IncidentStore, NewEffect, StoredEffect } from '../store/store';
import {
  PermanentEffectError,
  RetryableEffectError,
  type EffectHandler,
  type EffectOutcome,
  type Subscriber,
} from './effects';
import type { Incident } from './service';

/** The registered subscribers: who turns events into effects, and who delivers each kind. */
export class SubscriberRegistry {
  private readonly subscribers: Subscriber[] = [];
  private readonly handlers = new Map<string, { subscriber: string; handler: EffectHandler }>();

  /** Adds a subscriber. An effect kind has one handler: a second registration of it throws. */
  register(subscriber: Subscriber): this {
    if (this.subscribers.some((s) => s.name === subscriber.name)) {
      throw new Error(`subscriber ${subscriber.name} is already registered`);
    }
    for (const kind of Object.keys(subscriber.handlers ?? {})) {
      const existing = this.handlers.get(kind);
      if (existing) {
        throw new Error(
          `effect kind ${kind} of ${subscriber.name} is already handled by ${existing.subscriber}`,
        );
      }
    }
    this.subscribers.push(subscriber);
    for (const [kind, handler] of Object.entries(subscriber.handlers ?? {})) {
      this.handlers.set(kind, { subscriber: subscriber.name, handler });
    }
    return this;
  }

  list(): readonly Subscriber[] {
    return this.subscribers;
  }

  handler(kind: string): EffectHandler | undefined {
    return this.handlers.get(kind)?.handler;
  }

  /** Every subscriber's effects for events just decided on `incident` (the state after them). */
  effectsFor(incident: Incident, appended: StoredEvent[], now: DateTime): NewEffect[] {
    if (appended.length === 0) return [];
    return this.subscribers.flatMap((s) => s.effectsFor?.(incident, appended, now) ?? []);
  }
}

export interface DispatcherLogger {
  debug(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface BackoffPolicy {
  /** Delay after the first failed attempt; doubled per attempt. Default 1000 ms. */
  baseMs: number;
  /** Longest delay between attempts. Default 5 minutes. */
  maxMs: number;
  /** After this many failed attempts the effect is dead. Default 10. */
  maxAttempts: number;
}

export interface EffectDispatcherOptions {
  store: IncidentStore;
  registry: SubscriberRegistry;
  /** Loads the incident an effect names, for the handler's context. */
  loadIncident?: (incidentId: string) => Promise<Incident | undefined>;
  clock?: () => DateTime;
  /** This replica's name in leases (default `<instanceId>/<random>`, or a random uuid). */
  owner?: string;
  /**
   * This process's stable instance id (INSTANCE_ID): its first claim takes over at once the
   * effects an earlier incarnation of the same id held (killed: it was us), lease or not.
   */
  instanceId?: string;
  /** How long a claim is held; a delivery must finish within it. Default 60 s. */
  leaseMs?: number;
  /** Effects claimed per round. Default 16. */
  batchSize?: number;
  backoff?: Partial<BackoffPolicy>;
  /**
   * How often an idle dispatcher looks for effects added by other replicas (or when the store
   * cannot say when the next one is due). Default 5000 ms.
   */
  idlePollMs?: number;
  logger?: DispatcherLogger;
  /**
   * Told about each delivery round started by `wake()` (tests and shutdown wait for tracked work):
   * the promise settles when the round found nothing more to deliver.
   */
  track?: (p: Promise<unknown>) => void;
}

/** The delay before attempt `attempts + 1` after `attempts` failures. */
export function backoffDelay(attempts: number, policy: BackoffPolicy): number {
  const exp = Math.min(30, Math.max(0, attempts - 1));
  return Math.min(policy.maxMs, policy.baseMs * 2 ** exp);
}

const NOOP_LOGGER: DispatcherLogger = { debug() {}, warn() {}, error() {} };

export class EffectDispatcher {
  readonly owner: string;
  private readonly store: IncidentStore;
  private readonly registry: SubscriberRegistry;
  private readonly clock: () => DateTime;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly backoff: BackoffPolicy;
  private readonly idlePollMs: number;
  private readonly logger: DispatcherLogger;
  private readonly loadIncident?: (incidentId: string) => Promise<Incident | undefined>;

  /** Set until the first claim succeeded: then every lease with the prefix is our own. */
  private takeOverPrefix?: string;
  private running = false;
  private loopDone?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;
  private timer?: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly track?: (p: Promise<unknown>) => void;
  /** Resolved when the loop next finds nothing due (the rounds `wake()` asked for are done). */
  private drained: (() => void)[] = [];

  constructor(opts: EffectDispatcherOptions) {
    this.store = opts.store;
    this.registry = opts.registry;
    this.clock = opts.clock ?? (() => DateTime.utc());
    this.owner =
      opts.owner ?? (opts.instanceId ? `${opts.instanceId}/${randomUUID()}` : randomUUID());
    this.takeOverPrefix = opts.instanceId ? `${opts.instanceId}/` : undefined;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.batchSize = opts.batchSize ?? 16;
    this.backoff = { baseMs: 1000, maxMs: 5 * 60_000, maxAttempts: 10, ...opts.backoff };
    this.idlePollMs = opts.idlePollMs ?? 5000;
    this.logger = opts.logger ?? NOOP_LOGGER;
    this.loadIncident = opts.loadIncident;
    this.track = opts.track;
  }

  /**
   * Claims the effects due now and delivers them (effects of one incident in order, incidents
   * concurrently). Returns how many were claimed. Used by the loop, and directly by tests.
   */
  async runOnce(): Promise<number> {
    const now = this.clock().toUTC();
    const takeOverPrefix = this.takeOverPrefix;
    const claimed = await this.store.claimEffects({
      owner: this.owner,
      now,
      leaseUntil: now.plus({ milliseconds: this.leaseMs }),
      limit: this.batchSize,
      ...(takeOverPrefix ? { takeOverPrefix } : {}),
    });
    // The takeover goes on while rounds come back full (more of the predecessor's may be left).
    if (claimed.length < this.batchSize) this.takeOverPrefix = undefined;
    const lanes = new Map<string, StoredEffect[]>();
    for (const e of claimed) {
      const lane = e.incidentId ?? `effect:${e.id}`;
      lanes.set(lane, [...(lanes.get(lane) ?? []), e]);
    }
    await Promise.all(
      [...lanes.values()].map(async (lane) => {
        for (const e of lane) await this.flight(this.deliver(e));
      }),
    );
    return claimed.length;
  }

  private async flight<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  /** Runs one claimed effect's handler and records what happened. Never throws. */
  private async deliver(effect: StoredEffect): Promise<void> {
    const handler = this.registry.handler(effect.kind);
    const now = this.clock().toUTC();
    try {
      if (!handler) throw new RetryableEffectError(`no handler is registered for ${effect.kind}`);
      const incident =
        effect.incidentId !== undefined && this.loadIncident
          ? await this.loadIncident(effect.incidentId)
          : undefined;
      const outcome = await handler(effect, {
        now,
        attempt: effect.attempts,
        ...(incident ? { incident } : {}),
      });
      await this.store.completeEffect(effect.id, this.owner, outcomeOf(effect, outcome));
    } catch (err) {
      await this.failed(effect, err).catch((storeErr: unknown) =>
        // The lease runs out and the effect is claimed again: delivered at least once.
        this.logger.error(
          { err: storeErr, effect: effect.key },
          'could not record an effect failure',
        ),
      );
    }
  }

  private async failed(effect: StoredEffect, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof PermanentEffectError) {
      this.logger.warn({ effect: effect.key, kind: effect.kind, reason: message }, 'effect dead');
      const outcome = outcomeOf(effect, err.outcome);
      if (outcome.events && outcome.incidentId) {
        await this.store.append(outcome.incidentId, outcome.events);
      }
      if (outcome.effects) await this.store.addEffects(outcome.effects);
      await this.store.failEffect(effect.id, this.owner, { error: message, dead: true });
      return;
    }
    if (effect.attempts >= this.backoff.maxAttempts) {
      const reason = `gave up after ${effect.attempts} attempts: ${message}`;
      this.logger.error({ effect: effect.key, kind: effect.kind, reason }, 'effect dead');
      await this.store.failEffect(effect.id, this.owner, { error: reason, dead: true });
      return;
    }
    const now = this.clock().toUTC();
    let retryAt = now.plus({ milliseconds: backoffDelay(effect.attempts, this.backoff) });
    if (err instanceof RetryableEffectError && err.afterMs !== undefined) {
      // Retry-After counts from the answer, which came just now (not when delivery started).
      retryAt = now.plus({ milliseconds: Math.max(0, err.afterMs) });
    } else if (err instanceof RetryableEffectError && err.retryAt && err.retryAt.isValid) {
      retryAt = err.retryAt.toUTC();
    }
    this.logger.debug(
      { effect: effect.key, kind: effect.kind, err: message, retryAt: retryAt.toISO() },
      'effect will be retried',
    );
    await this.store.failEffect(effect.id, this.owner, { error: message, retryAt });
  }

  /** Starts the delivery loop (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Tells the loop that effects were added (after a commit): it looks now instead of later. */
  wake(): void {
    if (this.running && this.track) {
      this.track(new Promise<void>((resolve) => this.drained.push(resolve)));
    }
    this.woken = true;
    this.wakeUp?.();
  }

  private settleDrained(): void {
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      this.woken = false;
      try {
        claimed = await this.runOnce();
      } catch (err) {
        this.logger.error({ err }, 'effect dispatcher: claiming failed; retrying later');
      }
      if (!this.running) break;
      if (claimed > 0 || this.woken) continue;
      this.settleDrained();
      await this.sleep(await this.idleDelay());
    }
    this.settleDrained();
  }

  private async idleDelay(): Promise<number> {
    if (!this.store.nextEffectDue) return this.idlePollMs;
    try {
      const due = await this.store.nextEffectDue();
      if (!due) return this.idlePollMs;
      const wait = due.toMillis() - this.clock().toMillis();
      return Math.max(0, Math.min(this.idlePollMs, wait + 1));
    } catch {
      return this.idlePollMs;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.wakeUp = undefined;
        resolve();
      };
      this.wakeUp = done;
      this.timer = setTimeout(done, ms);
      this.timer.unref();
    });
  }

  /** Stops claiming; resolves once the deliveries in flight have been recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
  }
}

function outcomeOf(
  effect: StoredEffect,
  outcome: EffectOutcome | void | undefined,
): { incidentId?: string; events?: EffectOutcome['events']; effects?: NewEffect[] } {
  if (!outcome) return {};
  return {
    ...(effect.incidentId !== undefined ? { incidentId: effect.incidentId } : {}),
    ...(outcome.events?.length ? { events: outcome.events } : {}),
    ...(outcome.effects?.length ? { effects: outcome.effects } : {}),
  };
}
