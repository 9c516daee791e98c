/**
 * Ticks the reminders: on each tick (every `intervalMs`, clock injectable), loads the incidents,
 * asks the pure `dueReminders` what is due, and for each one appends its keyed claim event
 * (`reminder.sent`, key = the reminder's key). Only when that append recorded the event (it was
 * not a duplicate) is the reminder delivered: the store records a key once, so with several
 * replicas on one store each reminder is sent once. A delivery that fails after its claim is
 * logged and not retried (at most once); the next due instant of the same kind is claimed anew.
 */
import type { DateTime } from 'luxon';
import { dueReminders, type DueReminder, type ReminderSettings } from '../core/reminders';
import type { NewEvent } from '../core/model';
import type { Incident, IncidentService } from './service';

export interface ReminderSchedulerOptions {
  service: IncidentService;
  settings: ReminderSettings;
  clock: () => DateTime;
  /** Sends one claimed reminder (a DM, a channel notice, the archive itself). */
  deliver(reminder: DueReminder, incident: Incident): Promise<void>;
  /** 0 disables the timer (tests call `tick()` themselves). */
  intervalMs: number;
  logger: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
  /** Tracks a tick as background work (so shutdown and tests can wait for it). */
  track?<T>(p: Promise<T>): Promise<T>;
}

export interface TickResult {
  due: number;
  /** Reminders this process claimed and delivered (or tried to). */
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

  /** One pass: claim and deliver everything due now. Concurrent calls share one pass. */
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
    const { service, settings } = this.opts;
    const now = this.opts.clock().toUTC();
    const records = await service.list();
    const sent: DueReminder[] = [];
    let due = 0;
    for (const record of records) {
      let incident: Incident;
      try {
        incident = await service.load(record.id);
      } catch (err) {
        this.opts.logger.warn({ err, incident: record.id }, 'reminders: could not load');
        continue;
      }
      for (const r of dueReminders([incident], now, settings)) {
        due += 1;
        if (!(await this.claim(r, now))) continue;
        sent.push(r);
        try {
          await this.opts.deliver(r, incident);
        } catch (err) {
          this.opts.logger.warn({ err, key: r.key }, 'reminder claimed but not delivered');
        }
      }
    }
    return { due, sent };
  }

  /** Appends the keyed claim; true when this call recorded it (this process sends). */
  private async claim(r: DueReminder, now: DateTime): Promise<boolean> {
    const event: NewEvent<'reminder.sent'> = {
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
    const res = await this.opts.service.store.append(r.incidentId, [event]);
    return res.appended.length === 1;
  }
}
