/**
 * The seam between recording and doing: effects (outbox entries) and the subscribers that add and
 * deliver them. A use-case decides events; the subscribers turn the events just recorded into
 * effects, which are written in the same atomic commit as the events (the outbox) and delivered
 * afterwards by the effect dispatcher: retried with backoff, Retry-After respected, claimed so
 * that several replicas deliver each once, and resumed after a restart.
 *
 * An integration (status card, paging, publishing, reminders …) is one `Subscriber` plus its own
 * configuration; nothing in `commands/` or the Slack listeners changes to add one.
 */
import type { DateTime } from 'luxon';
import type { NewEvent, StoredEvent } from '../core/model';
import type { NewEffect, StoredEffect } from '../store/store';
import type { Incident } from './service';

/** What delivering an effect produced: facts to record, and follow-up effects. */
export interface EffectOutcome {
  /** Recorded in the incident's log (e.g. `page.sent`), keyed so a redelivery adds nothing. */
  events?: NewEvent[];
  /** Further effects (e.g. after `slack.create_channel`: invite, card, announce, reply). */
  effects?: NewEffect[];
}

/** A delivery that must not be retried (a 4xx answer): the effect is dead, the reason kept. */
export class PermanentEffectError extends Error {
  constructor(
    message: string,
    readonly outcome?: EffectOutcome,
  ) {
    super(message);
    this.name = 'PermanentEffectError';
  }
}

/**
 * A delivery to retry later (429, 5xx, network): no earlier than `retryAt` when given (an
 * instant), or no earlier than `afterMs` after the failure is recorded (a Retry-After: it counts
 * from when the answer came, not from when the delivery started), else after the backoff.
 */
export class RetryableEffectError extends Error {
  readonly retryAt?: DateTime;
  readonly afterMs?: number;

  constructor(message: string, when?: DateTime | { afterMs: number }) {
    super(message);
    this.name = 'RetryableEffectError';
    if (when && 'afterMs' in when) this.afterMs = when.afterMs;
    else if (when) this.retryAt = when;
  }
}

export interface EffectContext {
  now: DateTime;
  /** The incident as recorded now, when the effect names one. */
  incident?: Incident;
  attempt: number;
}

/** Delivers one kind of effect. Throws the errors above to steer retries. */
export type EffectHandler = (
  effect: StoredEffect,
  ctx: EffectContext,
) => Promise<EffectOutcome | void>;

export interface Subscriber {
  name: string;
  /**
   * Pure: the effects that follow from events just recorded (`appended`), given the incident
   * as it is after them. Called inside the commit path, so these effects are written in the
   * same atomic write as the events.
   */
  effectsFor?(incident: Incident, appended: StoredEvent[], now: DateTime): NewEffect[];
  /** Handlers for the effect kinds this subscriber owns. */
  handlers?: Record<string, EffectHandler>;
}
