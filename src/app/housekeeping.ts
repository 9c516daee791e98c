/**
 * Housekeeping: the inbox and the outbox keep their finished rows (done requests, delivered and
 * dead effects), so without this they grow forever. Every `intervalMinutes` (clock injectable)
 * the store deletes:
 *
 * - inbox items done more than `inboxHours` ago. An inbox key de-duplicates Slack's retries of a
 *   request only while its row exists; Slack retries within minutes, so a retention of hours
 *   (at least 1, default 72) keeps every retry a no-op.
 * - effects delivered more than `effectHours` ago;
 * - dead effects (the reason something was not delivered) after `deadEffectDays`, longer.
 *
 * Pending items and effects are never deleted, nor the record (events). Deletes are idempotent,
 * so every replica may run this: no coordination is needed.
 */
import type { DateTime } from 'luxon';
import type { IncidentStore, PruneResult } from '../store/store';

export interface RetentionSettings {
  inboxHours: number;
  effectHours: number;
  deadEffectDays: number;
  /** 0: never runs. */
  intervalMinutes: number;
}

export interface HousekeepingOptions {
  store: Pick<IncidentStore, 'pruneDone'>;
  retention: RetentionSettings;
  clock: () => DateTime;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Tracks a run as background work (so shutdown and tests can wait for it). */
  track?<T>(p: Promise<T>): Promise<T>;
}

export class Housekeeping {
  private timer?: NodeJS.Timeout;
  private running?: Promise<PruneResult>;
  private stopped = true;

  constructor(private readonly opts: HousekeepingOptions) {}

  /** Runs once now, then every `intervalMinutes` (nothing when 0). */
  start(): void {
    const every = this.opts.retention.intervalMinutes * 60_000;
    if (every <= 0 || !this.stopped) return;
    this.stopped = false;
    const loop = (delay: number): void => {
      this.timer = setTimeout(() => {
        void this.runOnce()
          .catch(() => undefined)
          .finally(() => {
            if (!this.stopped) loop(every);
          });
      }, delay);
      this.timer.unref();
    };
    loop(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass with the cut-offs of the clock's now; concurrent calls share it. */
  runOnce(): Promise<PruneResult> {
    if (!this.running) {
      const p = this.pass().finally(() => {
        this.running = undefined;
      });
      this.running = this.opts.track ? this.opts.track(p) : p;
    }
    return this.running;
  }

  private async pass(): Promise<PruneResult> {
    const { retention: r, store, logger } = this.opts;
    const now = this.opts.clock().toUTC();
    try {
      const res = await store.pruneDone({
        inboxBefore: now.minus({ hours: r.inboxHours }),
        effectsBefore: now.minus({ hours: r.effectHours }),
        deadEffectsBefore: now.minus({ days: r.deadEffectDays }),
      });
      if (res.inbox + res.effects + res.deadEffects > 0) {
        logger.info({ deleted: res }, 'housekeeping: deleted finished inbox items and effects');
      }
      return res;
    } catch (err) {
      logger.warn({ err }, 'housekeeping failed; trying again at the next interval');
      throw err;
    }
  }
}
