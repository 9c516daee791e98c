/**
 * Ticks the reminders: on each tick (every `intervalMs`, clock injectable), loads the incidents
 * and asks the pure `dueReminders` what is due. Each due reminder is claimed and owed in ONE
 * conditional commit: its keyed claim event (`reminder.sent`, key = the reminder's key) and its
 * delivery as an outbox effect (`reminder.deliver`, same key), decided on the record as loaded.
 * If the record moved meanwhile (another replica claimed it, or anything else was recorded), the
 * commit writes nothing and the incident is looked at again on the fresh record, where a claimed
 * reminder is no longer due: with several replicas on one store each reminder is claimed, and
 * owed, once. The effect dispatcher delivers it (src/slack/reminders.ts), retried with backoff
 * when Slack fails, and resumed after a restart.
 */
import type { DateTime } from 'luxon';
import { dueReminders, type DueReminder, type ReminderSettings } from '../core/reminders';
import type { Actor, NewEvent } from '../core/model';
import { ConflictError, type NewEffect } from '../store/store';
import type { Incident, IncidentService } from './service';

/** The effect kind of a claimed reminder's delivery. */
export const REMINDER_EFFECT = 'reminder.deliver';

/** A claimed reminder as an effect's payload (JSON: times as ISO strings). */
export interface ReminderPayload {
  kind: DueReminder['kind'];
  incidentId: string;
  due: string;
  key: string;
  to?: Actor;
  action?: string;
  channel?: string;
  archiveAt?: string;
}

/** The delivery owed for a claimed reminder: keyed by the claim, so it is owed once. */
export function reminderEffect(r: DueReminder): NewEffect {
  const payload: ReminderPayload = {
    kind: r.kind,
    incidentId: r.incidentId,
    due: r.due.toUTC().toISO() ?? '',
    key: r.key,
    ...(r.to ? { to: r.to } : {}),
    ...(r.action ? { action: r.action } : {}),
    ...(r.channel ? { channel: r.channel } : {}),
    ...(r.archiveAt ? { archiveAt: r.archiveAt.toUTC().toISO() ?? '' } : {}),
  };
  return { key: r.key, kind: REMINDER_EFFECT, incidentId: r.incidentId, payload };
}

/** Attempts per incident and tick when the record keeps moving under the decision. */
const MAX_RUNS = 5;

export interface ReminderSchedulerOptions {
  service: IncidentService;
  settings: ReminderSettings;
  clock: () => DateTime;
  /** 0 disables the timer (tests call `tick()` themselves). */
  intervalMs: number;
  logger: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
  /** Tracks a tick as background work (so shutdown and tests can wait for it). */
  track?<T>(p: Promise<T>): Promise<T>;
}

export interface TickResult {
  due: number;
  /** Reminders this process claimed (their delivery is owed in the outbox). */
  sent: DueReminder[];
}

export class ReminderScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<TickResult>;
  private stopped = false;

  constructor(private readonly opts: ReminderSchedulerOptions) {}

  start(): void {
    if (this.opts.intervalMs <= 0 || this.timer) return;
    this.stopped = false;
    const loop = (): void => {
      this.timer = setTimeout(() => {
        void this.tick()
          .catch((err: unknown) => this.opts.logger.warn({ err }, 'reminder tick failed'))
          .finally(() => {
            if (!this.stopped) loop();
          });
      }, this.opts.intervalMs);
      this.timer.unref?.();
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass: claim everything due now. Concurrent calls share one pass. */
  tick(): Promise<TickResult> {
    if (!this.running) {
      const p = this.pass().finally(() => {
        this.running = undefined;
      });
      this.running = this.opts.track ? this.opts.track(p) : p;
    }
    return this.running;
  }

  private async pass(): Promise<TickResult> {
    const { service } = this.opts;
    const now = this.opts.clock().toUTC();
    const records = await service.list();
    const result: TickResult = { due: 0, sent: [] };
    for (const record of records) {
      try {
        await this.claimDue(record.id, now, result);
      } catch (err) {
        this.opts.logger.warn({ err, incident: record.id }, 'reminders: could not claim');
      }
    }
    return result;
  }

  /** Claims what is due for one incident, deciding again on the fresh record after a conflict. */
  private async claimDue(incidentId: string, now: DateTime, result: TickResult): Promise<void> {
    const { service, settings } = this.opts;
    for (let run = 1; run <= MAX_RUNS; run++) {
      const incident: Incident = await service.load(incidentId);
      const due = dueReminders([incident], now, settings);
      if (run === 1) result.due += due.length;
      if (due.length === 0) return;
      try {
        await service.commitDecided(
          incident,
          due.map((r) => claimEvent(r, now)),
          { requireOpen: false, effects: due.map(reminderEffect) },
        );
        result.sent.push(...due);
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    this.opts.logger.warn({ incident: incidentId }, 'reminders: the record kept moving; next tick');
  }
}

function claimEvent(r: DueReminder, now: DateTime): NewEvent<'reminder.sent'> {
  return {
    type: 'reminder.sent',
    occurredAt: now,
    recordedAt: now,
    actor: { id: 'system', name: 'incident-bot' },
    source: 'system',
    key: r.key,
    kind: r.kind,
    due: r.due.toUTC().toISO() ?? '',
    ...(r.to ? { to: r.to.id } : {}),
    ...(r.action ? { action: r.action } : {}),
  };
}
