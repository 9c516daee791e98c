/**
 * A fluent builder of incident event logs for tests and benchmarks (no jest dependency).
 *
 *   const inc = new IncidentBuilder({ date: '2025-03-11', zone: 'UTC' })
 *     .opened('14:02', 'Order queue backlog', 'sev3')
 *     .detected('14:00')
 *     .log('14:05', 'Consumer lag alarms on orders-eu', { recordedAt: '14:20' })
 *     .hypothesis('14:10', 'Broker disk full')
 *     .ruleOut('H1', '14:25', 'Disk at 41%')
 *     .resolve('15:00', 'Rolled back the config')
 *     .incident();
 *
 * Times are `HH:mm` on the builder's date, `YYYY-MM-DD HH:mm`, or `+Nd HH:mm` (N days after the
 * date), all read in the builder's zone; or a luxon DateTime. Events get `seq` in call order
 * (record order); `recordedAt` defaults to occurredAt, or is given explicitly for backdated
 * entries.
 */
import { DateTime } from 'luxon';
import type { Incident } from '../../src/app/service';
import { foldIncident } from '../../src/core/fold';
import type {
  Actor,
  EventPayloads,
  EventType,
  MessageRef,
  NewEvent,
  Severity,
  Source,
  Status,
  StoredEvent,
} from '../../src/core/model';
import type { IncidentRecord } from '../../src/store/store';

export type TimeInput = string | DateTime;

export interface EventOptions {
  /** Who did it (default: the builder's current actor). */
  by?: Actor;
  /** When it was recorded (default: occurredAt). */
  recordedAt?: TimeInput;
  source?: Source;
  key?: string;
}

export interface BuilderOptions {
  /** The day `HH:mm` times fall on (YYYY-MM-DD, in `zone`). Default 2025-03-11. */
  date?: string;
  /** Zone times are read in, and the incident's zone. Default UTC. */
  zone?: string;
  /** Default actor. */
  actor?: Actor;
  /** Incident number (INC-n). Default 1. */
  number?: number;
  team?: string;
}

export const people = {
  dana: { id: 'U0DANA', name: 'Dana Okafor' },
  ravi: { id: 'U0RAVI', name: 'Ravi Menon' },
  lena: { id: 'U0LENA', name: 'Lena Park' },
  tom: { id: 'U0TOM', name: 'Tom Becker' },
  bot: { id: 'system', name: 'incident-bot' },
} satisfies Record<string, Actor>;

export class IncidentBuilder {
  readonly date: string;
  readonly zone: string;
  private actor: Actor;
  private readonly number: number;
  private readonly team: string;
  private readonly stored: StoredEvent[] = [];
  private msgCounter = 0;

  constructor(opts: BuilderOptions = {}) {
    this.date = opts.date ?? '2025-03-11';
    this.zone = opts.zone ?? 'UTC';
    this.actor = opts.actor ?? people.dana;
    this.number = opts.number ?? 1;
    this.team = opts.team ?? 'T0TEAM';
  }

  /** Parses a builder time (see the file comment) to UTC. */
  time(t: TimeInput): DateTime {
    if (DateTime.isDateTime(t)) return t.toUTC();
    const s = t.trim();
    let m = /^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)$/.exec(s);
    let date = this.date;
    let clock = s;
    if (m) {
      date = m[1];
      clock = m[2];
    } else if ((m = /^\+(\d+)d\s+(\d{1,2}:\d{2}(?::\d{2})?)$/.exec(s))) {
      date =
        DateTime.fromISO(this.date)
          .plus({ days: Number(m[1]) })
          .toISODate() ?? this.date;
      clock = m[2];
    }
    const fmt = clock.length > 5 ? 'yyyy-MM-dd H:mm:ss' : 'yyyy-MM-dd H:mm';
    const dt = DateTime.fromFormat(`${date} ${clock}`, fmt, { zone: this.zone });
    if (!dt.isValid) throw new Error(`IncidentBuilder: bad time ${JSON.stringify(t)}`);
    return dt.toUTC();
  }

  /** Subsequent events are done by `actor`. */
  as(actor: Actor): this {
    this.actor = actor;
    return this;
  }

  /** Appends any event. */
  add<T extends EventType>(
    type: T,
    at: TimeInput,
    payload: EventPayloads[T],
    opts: EventOptions = {},
  ): this {
    const occurredAt = this.time(at);
    const recordedAt = opts.recordedAt !== undefined ? this.time(opts.recordedAt) : occurredAt;
    const event = {
      ...payload,
      type,
      occurredAt,
      recordedAt,
      actor: opts.by ?? this.actor,
      source: opts.source ?? 'command',
      ...(opts.key ? { key: opts.key } : {}),
      seq: this.stored.length + 1,
    } as unknown as StoredEvent;
    this.stored.push(event);
    return this;
  }

  opened(
    at: TimeInput,
    title: string,
    severity: Severity = 'sev3',
    opts: EventOptions & { description?: string } = {},
  ): this {
    const { description, ...rest } = opts;
    return this.add(
      'incident.opened',
      at,
      { title, severity, zone: this.zone, ...(description ? { description } : {}) },
      rest,
    );
  }

  channel(at: TimeInput, channel: string, channelName?: string): this {
    return this.add('incident.channel_set', at, {
      channel,
      ...(channelName ? { channelName } : {}),
    });
  }

  detected(at: TimeInput, opts: EventOptions = {}): this {
    return this.add('incident.detected', at, {}, opts);
  }

  title(at: TimeInput, title: string, opts: EventOptions = {}): this {
    return this.add('incident.title_changed', at, { title }, opts);
  }

  log(at: TimeInput, text: string, opts: EventOptions = {}): this {
    return this.add('timeline.entry', at, { text }, opts);
  }

  /** A chat message in the incident channel; returns its ref through `onRef`. */
  message(
    at: TimeInput,
    text: string,
    opts: EventOptions & { channel?: string; onRef?: (ref: MessageRef) => void } = {},
  ): this {
    this.msgCounter += 1;
    const occurred = this.time(at);
    const channel = opts.channel ?? 'C0INC';
    const ts = `${Math.floor(occurred.toSeconds())}.${String(this.msgCounter).padStart(6, '0')}`;
    const by = opts.by ?? this.actor;
    opts.onRef?.({ channel, ts });
    return this.add(
      'chat.message',
      at,
      { channel, ts, user: by.id, userName: by.name, text },
      { ...opts, by, source: 'message' },
    );
  }

  pin(at: TimeInput, ref: MessageRef, opts: EventOptions = {}): this {
    return this.add('message.pinned', at, { ...ref }, { source: 'reaction', ...opts });
  }

  hypothesis(at: TimeInput, text: string, opts: EventOptions & { ref?: MessageRef } = {}): this {
    const { ref, ...rest } = opts;
    return this.add('hypothesis.raised', at, { text, ...(ref ? { ref } : {}) }, rest);
  }

  ruleOut(id: string, at: TimeInput, evidence: string, opts: EventOptions = {}): this {
    return this.add('hypothesis.ruled_out', at, { hypothesis: id, evidence }, opts);
  }

  confirm(id: string, at: TimeInput, evidence?: string, opts: EventOptions = {}): this {
    return this.add(
      'hypothesis.confirmed',
      at,
      { hypothesis: id, ...(evidence ? { evidence } : {}) },
      opts,
    );
  }

  rootCause(at: TimeInput, text: string, opts: EventOptions = {}): this {
    return this.add('root_cause.set', at, { text }, opts);
  }

  escalate(
    at: TimeInput,
    to: string,
    opts: EventOptions & { reason?: string; users?: string[]; groups?: string[] } = {},
  ): this {
    const { reason, users, groups, ...rest } = opts;
    return this.add(
      'escalated',
      at,
      {
        to,
        ...(reason ? { reason } : {}),
        ...(users ? { users } : {}),
        ...(groups ? { groups } : {}),
      },
      rest,
    );
  }

  severity(at: TimeInput, severity: Severity, reason?: string, opts: EventOptions = {}): this {
    return this.add('severity.changed', at, { severity, ...(reason ? { reason } : {}) }, opts);
  }

  status(at: TimeInput, status: Status, opts: EventOptions = {}): this {
    return this.add('status.changed', at, { status }, opts);
  }

  role(at: TimeInput, role: string, user: Actor, opts: EventOptions = {}): this {
    return this.add('role.assigned', at, { role, user }, opts);
  }

  /** Impact text; `startedAt` (a builder time) when impact began. */
  impact(at: TimeInput, text: string, opts: EventOptions & { startedAt?: TimeInput } = {}): this {
    const { startedAt, ...rest } = opts;
    const started = startedAt !== undefined ? this.time(startedAt).toISO() : undefined;
    return this.add('impact.set', at, { text, ...(started ? { startedAt: started } : {}) }, rest);
  }

  action(
    at: TimeInput,
    text: string,
    opts: EventOptions & { owner?: Actor; due?: string } = {},
  ): this {
    const { owner, due, ...rest } = opts;
    return this.add(
      'action.added',
      at,
      { text, ...(owner ? { owner } : {}), ...(due ? { due } : {}) },
      rest,
    );
  }

  completeAction(id: string, at: TimeInput, opts: EventOptions = {}): this {
    return this.add('action.completed', at, { action: id }, opts);
  }

  resolve(at: TimeInput, how?: string, opts: EventOptions = {}): this {
    return this.add('resolved', at, how ? { how } : {}, opts);
  }

  close(at: TimeInput, opts: EventOptions = {}): this {
    return this.add('closed', at, {}, opts);
  }

  /** The log so far, in record order (a copy). */
  events(): StoredEvent[] {
    return [...this.stored];
  }

  /** The log without `seq`, e.g. for a store's append. */
  newEvents(): NewEvent[] {
    return this.stored.map((e) => {
      const { seq: _seq, ...rest } = e;
      void _seq;
      return rest as NewEvent;
    });
  }

  /** An Incident (record, events, folded state) as the app's service would load it. */
  incident(record: Partial<IncidentRecord> = {}): Incident {
    const events = this.events();
    const state = foldIncident(events);
    const first = events[0]?.recordedAt ?? this.time('00:00');
    const last = events[events.length - 1]?.recordedAt ?? first;
    return {
      record: {
        id: `inc-${this.number}`,
        team: this.team,
        number: this.number,
        createdAt: first,
        updatedAt: last,
        title: state.title,
        severity: state.severity,
        status: state.status,
        zone: state.zone,
        ...(state.channel ? { channel: state.channel } : {}),
        ...record,
      },
      events,
      state,
    };
  }
}

export const extraPeople = {
  priya: { id: 'U0PRIYA', name: 'Priya Shah' },
} satisfies Record<string, Actor>;

/**
 * A complete fictional incident (INC-7, 2025-03-11, UTC): an order-queue backlog after a consumer
 * config push. Detection, a backdated entry, two ruled-out hypotheses, a confirmed one and an
 * open one, escalations to a person and a team, a severity change, roles, impact with a start
 * time, a pinned message, action items with and without owner/due, and resolution.
 */
export function queueBacklogIncident(opts: BuilderOptions = {}): IncidentBuilder {
  const { dana, ravi, lena, tom } = people;
  const { priya } = extraPeople;
  let pinned: MessageRef | undefined;
  const b = new IncidentBuilder({ number: 7, date: '2025-03-11', zone: 'UTC', ...opts });
  b.as(dana)
    .opened('14:02', 'Order queue backlog on orders-eu', 'sev3', {
      description: 'Consumer lag alarm: orders-eu queue depth above 50k and rising',
    })
    .detected('14:00', { recordedAt: '14:02' })
    .channel('14:02', 'C0INC7', 'inc-7-orders-eu-backlog')
    .role('14:03', 'commander', dana)
    .role('14:04', 'scribe', lena)
    .as(lena)
    .log('14:06', 'Queue depth on orders-eu at 62k and growing by about 3k per minute')
    .as(ravi)
    .hypothesis('14:09', 'Broker node eu-2 is throttling producers because of disk pressure')
    .as(dana)
    .impact(
      '14:12',
      'Order confirmations delayed by up to 40 minutes for EU customers; about 18% of EU orders affected, none lost',
      { startedAt: '13:41' },
    )
    .severity(
      '14:15',
      'sev2',
      'Customers are noticing: support tickets about missing confirmations',
    )
    .as(tom)
    .hypothesis('14:18', 'Traffic spike from the spring promo campaign')
    .log('14:20', 'Consumer pods were restarted twice by the autoscaler; lag unchanged', {
      recordedAt: '14:40',
    })
    .as(ravi)
    .ruleOut('H1', '14:24', 'Broker disks at 41% on every node; no throttling in broker logs')
    .message('14:27', 'Lag graph: every partition of orders-eu stalled at the same moment, 13:41', {
      onRef: (r) => (pinned = r),
    });
  if (pinned) b.pin('14:28', pinned, { by: dana });
  return b
    .as(dana)
    .escalate('14:31', 'Priya Shah (Kafka platform on-call)', {
      reason: 'Need broker-side consumer group metrics',
      users: [priya.id],
    })
    .as(tom)
    .ruleOut('H2', '14:38', 'Inbound order rate 1,150/min, inside the normal weekday band')
    .as(priya)
    .hypothesis('14:41', 'The 13:40 config push lowered `max.poll.records` from 500 to 5')
    .as(dana)
    .escalate('14:44', 'payments-platform team', {
      reason: 'They own the consumer config pipeline; need approval to roll back',
      groups: ['S0PAYPLAT'],
    })
    .as(priya)
    .confirm(
      'H3',
      '14:52',
      'Config diff shows the change; lag began 60 s after the push reached EU consumers',
    )
    .as(dana)
    .status('14:53', 'identified')
    .as(tom)
    .hypothesis('14:55', 'The config validator accepted the value because it only checks types')
    .as(priya)
    .log('15:02', 'Rolled back consumer config to revision 41 and scaled consumers to 12 pods')
    .as(dana)
    .status('15:10', 'monitoring')
    .as(lena)
    .log('15:34', 'Queue depth back under 1k; confirmations flowing normally')
    .as(dana)
    .resolve(
      '15:36',
      'Rolled back the consumer config to revision 41 and drained the backlog with 12 consumer pods',
    )
    .action('15:40', 'Add a range check for max.poll.records to the config validator', {
      owner: lena,
      due: '2025-03-21',
    })
    .action('15:41', 'Alert on queue depth growth rate, not only absolute depth', { owner: ravi })
    .action('15:42', 'Require a canary stage for consumer config pushes')
    .action('15:43', 'Post a customer update about delayed confirmations', {
      owner: dana,
      due: '2025-03-11',
    })
    .completeAction('A4', '15:50');
}
