/**
 * Use-cases over the incident core. Slack handlers, the CLI and the importer each parse their
 * input, call one method here, and format the result. Nothing here knows about Slack's API.
 */
import { DateTime } from 'luxon';
import { foldIncident, isOpenStatus, type Hypothesis, type IncidentState } from '../core/fold';
import {
  formatIncidentNumber,
  type Actor,
  type EventPayloads,
  type EventType,
  type MessageRef,
  type NewEvent,
  type Severity,
  type Source,
  type Status,
  type StoredEvent,
} from '../core/model';
import {
  ConflictError,
  IncidentClosedError,
  StoreUnavailableError,
  type CommitResult,
  type NewEffect,
  type AppendResult,
  type IncidentRecord,
  type IncidentStore,
  type IncidentSummary,
  type ListFilter,
} from '../store/store';
import { IncidentError } from './errors';
import type { SubscriberRegistry } from './outbox';

/** An incident as the app sees it: its record, its log, and the state folded from the log. */
export interface Incident {
  record: IncidentRecord;
  events: StoredEvent[];
  state: IncidentState;
}

/**
 * An incident id, or an incident the caller has just loaded (the Slack dispatcher resolves the
 * channel's incident before the command runs): passing it saves reading and folding the log again.
 */
export type IncidentRef = string | Incident;

/** Who did it, through what, and when (defaults to now), with an optional idempotency key. */
export interface Ctx {
  actor: Actor;
  source: Source;
  at?: DateTime;
  key?: string;
}

/** Renders a postmortem for an incident with a template (name or path). */
export type PostmortemRenderer = (incident: Incident, template: string) => string;

export interface ServiceOptions {
  store: IncidentStore;
  render: PostmortemRenderer;
  /** Default template name (POSTMORTEM_TEMPLATE). */
  defaultTemplate?: string;
  clock?: () => DateTime;
}

export interface RecordResult {
  incident: Incident;
  /** False when the event was a duplicate (same idempotency key) and nothing changed. */
  recorded: boolean;
  events: StoredEvent[];
}

export interface StartInput {
  team: string;
  title: string;
  severity: Severity;
  zone: string;
  /** Detection time (backdatable); defaults to now. */
  detectedAt?: DateTime;
  description?: string;
  /** Idempotency key for the incident itself. */
  key?: string;
}

type Payload<T extends EventType> = EventPayloads[T];

/** Maximum stored length of one piece of user text (Slack's block text limit). */
export const MAX_TEXT = 3000;

export class IncidentService {
  readonly store: IncidentStore;
  private readonly render: PostmortemRenderer;
  readonly defaultTemplate: string;
  private readonly clock: () => DateTime;

  constructor(opts: ServiceOptions) {
    this.store = opts.store;
    this.render = opts.render;
    this.defaultTemplate = opts.defaultTemplate ?? 'default';
    this.clock = opts.clock ?? (() => DateTime.utc());
  }

  now(): DateTime {
    return this.clock().toUTC();
  }

  private subscribers?: SubscriberRegistry;
  private onEffects?: () => void;

  /**
   * The subscribers whose effects are committed with the events they follow from, and a
   * callback told when a commit added effects (the dispatcher's wake-up).
   */
  useSubscribers(registry: SubscriberRegistry, onEffects?: () => void): void {
    this.subscribers = registry;
    this.onEffects = onEffects;
  }

  /**
   * The one conditional write of a use-case: `events` decided on `incident` as loaded, committed
   * only if the record is still at that version (else ConflictError: re-run on fresh state) and,
   * with `requireOpen`, only if the incident is not closed (else IncidentClosedError) — both
   * checked atomically in the store. The subscribers' effects for these events, and `effects`,
   * are written in the same commit.
   */
  async commitDecided(
    incident: Incident,
    events: NewEvent[],
    opts: {
      summary?: Partial<IncidentSummary>;
      requireOpen: boolean;
      effects?: NewEffect[];
    },
  ): Promise<CommitResult> {
    const expectedSeq = incident.events.reduce((m, e) => Math.max(m, e.seq), 0);
    const effects = [...(opts.effects ?? [])];
    if (this.subscribers && this.subscribers.list().length > 0 && events.length > 0) {
      // The state after these events, with the seqs they get if the commit succeeds.
      const provisional = events.map(
        (e, i) => ({ ...e, seq: expectedSeq + i + 1 }) as unknown as StoredEvent,
      );
      const all = [...incident.events, ...provisional];
      const after = lazyIncident({ ...incident.record, ...(opts.summary ?? {}) }, all);
      effects.push(...this.subscribers.effectsFor(after, provisional, this.now()));
    }
    const res = await guard(() =>
      this.store.commit({
        incidentId: incident.record.id,
        expectedSeq,
        requireOpen: opts.requireOpen,
        events,
        ...(opts.summary ? { summary: opts.summary } : {}),
        ...(effects.length ? { effects } : {}),
      }),
    );
    if (res.effects.length > 0) this.onEffects?.();
    return res;
  }

  /**
   * The subscribers' effects for `events` about to be appended to the incident as it is now
   * (no version check: message changes are recorded whatever the state, like before). Events
   * already recorded under their key add nothing.
   */
  private async subscriberEffects(incidentId: string, events: NewEvent[]): Promise<NewEffect[]> {
    if (!this.subscribers || this.subscribers.list().length === 0) return [];
    const incident = await this.load(incidentId);
    const keys = new Set(incident.events.flatMap((e) => (e.key ? [e.key] : [])));
    const fresh = events.filter((e) => e.key === undefined || !keys.has(e.key));
    if (fresh.length === 0) return [];
    const last = incident.events.reduce((m, e) => Math.max(m, e.seq), 0);
    const provisional = fresh.map(
      (e, i) => ({ ...e, seq: last + i + 1 }) as unknown as StoredEvent,
    );
    const all = [...incident.events, ...provisional];
    const after = lazyIncident(incident.record, all);
    return this.subscribers.effectsFor(after, provisional, this.now());
  }

  /**
   * Owes effects not tied to a commit (e.g. the Slack work after an incident is created); an
   * effect whose key is pending already is not added again.
   */
  async addEffects(effects: NewEffect[]): Promise<void> {
    if (effects.length === 0) return;
    const added = await guard(() => this.store.addEffects(effects));
    if (added.length > 0) this.onEffects?.();
  }

  // ---- queries -------------------------------------------------------------------------------

  async load(incidentId: string): Promise<Incident> {
    const record = await guard(() => this.store.getIncident(incidentId));
    if (!record) throw new IncidentError('not_found', `No incident with id ${incidentId}.`);
    return this.hydrate(record);
  }

  async findByChannel(channel: string): Promise<Incident | undefined> {
    const record = await guard(() => this.store.findByChannel(channel));
    return record ? this.hydrate(record) : undefined;
  }

  /** The record only (no events): cheap, for the hot message path. */
  async recordByChannel(channel: string): Promise<IncidentRecord | undefined> {
    return guard(() => this.store.findByChannel(channel));
  }

  async findByNumber(team: string, number: number): Promise<Incident | undefined> {
    const record = await guard(() => this.store.findByNumber(team, number));
    return record ? this.hydrate(record) : undefined;
  }

  async list(filter?: ListFilter): Promise<IncidentRecord[]> {
    return guard(() => this.store.listIncidents(filter));
  }

  /** The incident itself when given one, otherwise loaded by id. */
  async resolveIncident(ref: IncidentRef): Promise<Incident> {
    return typeof ref === 'string' ? this.load(ref) : ref;
  }

  private async hydrate(record: IncidentRecord): Promise<Incident> {
    const events = await guard(() => this.store.loadEvents(record.id));
    return { record, events, state: foldIncident(events) };
  }

  // ---- opening ---------------------------------------------------------------------------------

  async start(input: StartInput, ctx: Ctx): Promise<{ incident: Incident; created: boolean }> {
    const title = requireText(input.title, 'a title');
    const now = this.now();
    const detectedAt = (input.detectedAt ?? ctx.at ?? now).toUTC();
    const base = { actor: ctx.actor, source: ctx.source, recordedAt: now };
    const events: NewEvent[] = [
      {
        ...base,
        type: 'incident.opened',
        occurredAt: now < detectedAt ? detectedAt : now,
        title,
        severity: input.severity,
        zone: input.zone,
        ...(input.description ? { description: clip(input.description) } : {}),
        ...(ctx.key ? { key: `${ctx.key}:opened` } : {}),
      },
      {
        ...base,
        type: 'incident.detected',
        occurredAt: detectedAt,
        ...(ctx.key ? { key: `${ctx.key}:detected` } : {}),
      },
    ];
    const summary: IncidentSummary = {
      title,
      severity: input.severity,
      status: 'investigating',
      zone: input.zone,
    };
    const res = await guard(() =>
      this.store.createIncident({ team: input.team, summary, events, key: input.key }),
    );
    return { incident: await this.hydrate(res.incident), created: res.created };
  }

  /**
   * Attaches the Slack channel created for the incident. `effects` (e.g. what follows the
   * channel's creation: invite, status card, announcements) are committed with the event, so
   * they are owed exactly when the channel is recorded.
   */
  async attachChannel(
    incident: IncidentRef,
    channel: string,
    channelName: string | undefined,
    ctx: Ctx,
    opts: { effects?: NewEffect[] } = {},
  ): Promise<RecordResult> {
    return this.record(
      incident,
      ctx,
      'incident.channel_set',
      { channel, channelName },
      { allowClosed: true, ...(opts.effects ? { effects: opts.effects } : {}) },
    );
  }

  // ---- the generic recorder --------------------------------------------------------------------

  /**
   * Appends one event after checking the incident is open, and returns the new state.
   * A duplicate (same key) is not an error: `recorded` is false and nothing changes.
   */
  async record<T extends EventType>(
    ref: IncidentRef,
    ctx: Ctx,
    type: T,
    payload: Payload<T>,
    opts: { allowClosed?: boolean; check?: (i: Incident) => void; effects?: NewEffect[] } = {},
  ): Promise<RecordResult> {
    let incident = await this.resolveIncident(ref);
    for (let run = 1; ; run++) {
      if (!opts.allowClosed) assertOpen(incident);
      opts.check?.(incident);
      const event = this.event(ctx, type, payload);
      const summary = summaryAfter(event);
      let res: CommitResult;
      try {
        res = await this.commitDecided(incident, [event], {
          ...(summary ? { summary } : {}),
          requireOpen: !opts.allowClosed,
          ...(opts.effects ? { effects: opts.effects } : {}),
        });
      } catch (err) {
        // Decided on a state that is no longer current: decide again on the fresh record.
        if (err instanceof IncidentClosedError || err instanceof ConflictError) {
          if (run >= MAX_RERUNS) throw busy(incident);
          await pause(run);
          incident = await this.load(incident.record.id);
          continue;
        }
        throw err;
      }
      if (res.appended.length === 0) {
        // Already recorded under this key (the same request processed again after a restart):
        // the events it recorded then, so the answer can name them.
        const key = event.key;
        const earlier = key === undefined ? [] : incident.events.filter((e) => e.key === key);
        return { incident, recorded: false, events: earlier };
      }
      const events = [...incident.events, ...res.appended];
      const record = { ...incident.record, ...summary };
      return {
        incident: { record, events, state: foldIncident(events) },
        recorded: true,
        events: res.appended,
      };
    }
  }

  private event<T extends EventType>(ctx: Ctx, type: T, payload: Payload<T>): NewEvent {
    const now = this.now();
    return {
      ...payload,
      type,
      occurredAt: (ctx.at ?? now).toUTC(),
      recordedAt: now,
      actor: ctx.actor,
      source: ctx.source,
      ...(ctx.key ? { key: ctx.key } : {}),
    } as unknown as NewEvent;
  }

  // ---- timeline --------------------------------------------------------------------------------

  async log(incident: IncidentRef, text: string, ctx: Ctx): Promise<RecordResult> {
    return this.record(incident, ctx, 'timeline.entry', { text: requireText(text, 'the entry') });
  }

  // ---- hypotheses ------------------------------------------------------------------------------

  async raiseHypothesis(
    incident: IncidentRef,
    text: string,
    ctx: Ctx,
    ref?: MessageRef,
  ): Promise<RecordResult & { hypothesis?: Hypothesis }> {
    const res = await this.record(incident, ctx, 'hypothesis.raised', {
      text: requireText(text, 'the hypothesis'),
      ...(ref ? { ref } : {}),
    });
    return { ...res, hypothesis: findRaised(res) };
  }

  async ruleOut(
    incident: IncidentRef,
    hypothesisId: string,
    evidence: string,
    ctx: Ctx,
  ): Promise<RecordResult & { hypothesis: Hypothesis }> {
    const id = hypothesisId.toUpperCase();
    const res = await this.record(
      incident,
      ctx,
      'hypothesis.ruled_out',
      { hypothesis: id, evidence: requireText(evidence, 'the evidence that rules it out') },
      { check: (i) => requireHypothesis(i, id) },
    );
    return { ...res, hypothesis: requireHypothesis(res.incident, id) };
  }

  async confirm(
    incident: IncidentRef,
    hypothesisId: string,
    evidence: string | undefined,
    ctx: Ctx,
  ): Promise<RecordResult & { hypothesis: Hypothesis }> {
    const id = hypothesisId.toUpperCase();
    const ev = evidence?.trim();
    const res = await this.record(
      incident,
      ctx,
      'hypothesis.confirmed',
      { hypothesis: id, ...(ev ? { evidence: clip(ev) } : {}) },
      { check: (i) => requireHypothesis(i, id) },
    );
    return { ...res, hypothesis: requireHypothesis(res.incident, id) };
  }

  async setRootCause(incident: IncidentRef, text: string, ctx: Ctx): Promise<RecordResult> {
    return this.record(incident, ctx, 'root_cause.set', {
      text: requireText(text, 'the root cause'),
    });
  }

  /** Withdraws an earlier capture made from a message (e.g. a reaction removed). */
  async retract(
    incident: IncidentRef,
    ref: MessageRef,
    retracts: EventType,
    ctx: Ctx,
  ): Promise<RecordResult> {
    return this.record(incident, ctx, 'capture.retracted', { ref, retracts });
  }

  // ---- escalation, severity, status, roles, impact ----------------------------------------------

  async escalate(
    incident: IncidentRef,
    input: { to: string; reason?: string; users?: string[]; groups?: string[]; ref?: MessageRef },
    ctx: Ctx,
  ): Promise<RecordResult> {
    const payload: Payload<'escalated'> = { to: requireText(input.to, 'who it is escalated to') };
    if (input.reason?.trim()) payload.reason = clip(input.reason.trim());
    if (input.users?.length) payload.users = input.users;
    if (input.groups?.length) payload.groups = input.groups;
    if (input.ref) payload.ref = input.ref;
    return this.record(incident, ctx, 'escalated', payload);
  }

  async changeSeverity(
    incident: IncidentRef,
    severity: Severity,
    reason: string | undefined,
    ctx: Ctx,
  ): Promise<RecordResult> {
    const r = reason?.trim();
    return this.record(incident, ctx, 'severity.changed', {
      severity,
      ...(r ? { reason: clip(r) } : {}),
    });
  }

  async changeStatus(incident: IncidentRef, status: Status, ctx: Ctx): Promise<RecordResult> {
    if (!isOpenStatus(status)) {
      throw new IncidentError(
        'invalid',
        `Status can be investigating, identified or monitoring; use \`resolve\` and \`close\` for the rest.`,
      );
    }
    return this.record(incident, ctx, 'status.changed', { status });
  }

  async assignRole(
    incident: IncidentRef,
    role: string,
    user: Actor,
    ctx: Ctx,
  ): Promise<RecordResult> {
    const r = role.trim().toLowerCase();
    if (!/^[a-z][a-z0-9_-]{0,29}$/.test(r)) {
      throw new IncidentError(
        'invalid',
        `A role name is a word of up to 30 letters, digits, - or _ (got "${role}").`,
      );
    }
    return this.record(incident, ctx, 'role.assigned', { role: r, user });
  }

  async setImpact(
    incident: IncidentRef,
    text: string,
    ctx: Ctx,
    startedAt?: DateTime,
  ): Promise<RecordResult> {
    return this.record(incident, ctx, 'impact.set', {
      text: requireText(text, 'the impact'),
      ...(startedAt ? { startedAt: startedAt.toUTC().toISO() ?? undefined } : {}),
    });
  }

  // ---- action items ----------------------------------------------------------------------------

  async addAction(
    incident: IncidentRef,
    input: { text: string; owner?: Actor; due?: string; ref?: MessageRef },
    ctx: Ctx,
  ): Promise<RecordResult & { action?: IncidentState['actions'][number] }> {
    if (input.due && !DateTime.fromISO(input.due, { zone: 'utc' }).isValid) {
      throw new IncidentError('invalid', `"${input.due}" is not a date; write it as YYYY-MM-DD.`);
    }
    const payload: Payload<'action.added'> = { text: requireText(input.text, 'the action item') };
    if (input.owner) payload.owner = input.owner;
    if (input.due) payload.due = input.due;
    if (input.ref) payload.ref = input.ref;
    const res = await this.record(incident, ctx, 'action.added', payload, { allowClosed: true });
    const action = res.recorded ? res.incident.state.actions.at(-1) : undefined;
    return { ...res, action };
  }

  async completeAction(incident: IncidentRef, actionId: string, ctx: Ctx): Promise<RecordResult> {
    const id = actionId.toUpperCase();
    return this.record(
      incident,
      ctx,
      'action.completed',
      { action: id },
      {
        allowClosed: true,
        check: (i) => {
          if (!i.state.actions.some((a) => a.id === id)) {
            throw new IncidentError('unknown_action', `There is no action item ${id}.`);
          }
        },
      },
    );
  }

  // ---- chat capture ----------------------------------------------------------------------------

  /** The `chat.message` event for a channel message, keyed `msg:<channel>:<ts>` by default. */
  messageEvent(msg: Payload<'chat.message'>, ctx: Ctx): NewEvent<'chat.message'> {
    return this.event(
      { ...ctx, key: ctx.key ?? `msg:${msg.channel}:${msg.ts}` },
      'chat.message',
      msg,
    ) as NewEvent<'chat.message'>;
  }

  /** Records a channel message. Cheap: no fold; the key (channel+ts) makes retries harmless. */
  async recordMessage(
    record: IncidentRecord,
    msg: Payload<'chat.message'>,
    ctx: Ctx,
  ): Promise<{ recorded: boolean; events: StoredEvent[] }> {
    if (record.status === 'closed') return { recorded: false, events: [] };
    const res = await this.appendMessages(record.id, [this.messageEvent(msg, ctx)]);
    return { recorded: !!res && res.appended.length > 0, events: res?.appended ?? [] };
  }

  /**
   * Appends a batch of message events in one durable write, unless the incident is closed (read
   * fresh: another replica may have closed it). Returns undefined when nothing was written.
   *
   * Plain messages (`chat.message`) skip the subscribers: the hot path does one write and no
   * read, and no subscriber acts on chat capture. Edits, deletes, pins and unpins (rare) may
   * change what subscribers show (a pinned message is on the status card): for those the
   * incident is read and the subscribers' effects are written in the same commit.
   *
   * `inboxDone`: inbox items the same write marks done (the stored requests these messages came
   * from); nothing is marked when nothing is written.
   */
  async appendMessages(
    incidentId: string,
    events: NewEvent[],
    inboxDone: string[] = [],
  ): Promise<AppendResult | undefined> {
    try {
      if (this.subscribers && events.some((e) => e.type !== 'chat.message')) {
        const effects = await this.subscriberEffects(incidentId, events);
        const res = await guard(() =>
          this.store.commit({
            incidentId,
            requireOpen: true,
            events,
            ...(effects.length ? { effects } : {}),
            ...(inboxDone.length ? { inboxDone } : {}),
          }),
        );
        if (res.effects.length > 0) this.onEffects?.();
        return res;
      }
      // "Open" is checked by the store in the same atomic write.
      return await guard(() =>
        this.store.commit({
          incidentId,
          requireOpen: true,
          events,
          ...(inboxDone.length ? { inboxDone } : {}),
        }),
      );
    } catch (err) {
      if (err instanceof IncidentClosedError) return undefined;
      throw err;
    }
  }

  /** Records a message edit, delete, pin or unpin (no fold on this path either). */
  async recordMessageChange<
    T extends
      | 'chat.message_edited'
      | 'chat.message_deleted'
      | 'message.pinned'
      | 'message.unpinned',
  >(
    record: IncidentRecord,
    type: T,
    payload: Payload<T>,
    ctx: Ctx,
  ): Promise<{ recorded: boolean; events: StoredEvent[] }> {
    if (record.status === 'closed') return { recorded: false, events: [] };
    const res = await this.appendMessages(record.id, [this.event(ctx, type, payload)]);
    return { recorded: !!res && res.appended.length > 0, events: res?.appended ?? [] };
  }

  // ---- resolution and close --------------------------------------------------------------------

  async resolve(incident: IncidentRef, how: string | undefined, ctx: Ctx): Promise<RecordResult> {
    const h = how?.trim();
    return this.record(incident, ctx, 'resolved', h ? { how: clip(h) } : {});
  }

  /** Renders the draft now, without closing. */
  async draftPostmortem(
    incident: IncidentRef,
    template?: string,
  ): Promise<{ incident: Incident; markdown: string; template: string }> {
    const loaded = await this.resolveIncident(incident);
    const t = template ?? this.defaultTemplate;
    return { incident: loaded, markdown: this.render(loaded, t), template: t };
  }

  /**
   * Closes a resolved incident, once: renders the postmortem, stores it, and commits
   * `postmortem.rendered` + `closed` conditionally (on the version it decided on, only if still
   * open). That commit is the claim: of concurrent closers exactly one wins; the others are
   * re-run on the fresh record and told it is closed. `effects(markdown, incident)` (e.g. the
   * upload of the draft) are written in the same commit, so they are owed exactly once.
   */
  async close(
    ref: IncidentRef,
    ctx: Ctx,
    opts: {
      template?: string;
      effects?: (markdown: string, incident: Incident) => NewEffect[];
    } = {},
  ): Promise<{ incident: Incident; markdown: string }> {
    let incident = await this.resolveIncident(ref);
    for (let run = 1; ; run++) {
      assertOpen(incident);
      if (!incident.state.resolvedAt) {
        throw new IncidentError(
          'not_resolved',
          `${formatIncidentNumber(incident.record.number)} is not resolved yet. Record when service was restored first: \`/incident resolve [time] [how it was resolved]\`, then \`/incident close\`.`,
        );
      }
      const template = opts.template ?? this.defaultTemplate;
      const markdown = this.render(incident, template);
      const now = this.now();
      const base = { actor: ctx.actor, source: ctx.source, recordedAt: now, occurredAt: now };
      const events: NewEvent[] = [
        { ...base, type: 'postmortem.rendered', template, format: 'md' },
        { ...base, type: 'closed' },
      ];
      let res: CommitResult;
      try {
        res = await this.commitDecided(incident, events, {
          summary: { status: 'closed' },
          requireOpen: true,
          effects: opts.effects?.(markdown, incident) ?? [],
        });
      } catch (err) {
        if (err instanceof IncidentClosedError || err instanceof ConflictError) {
          if (run >= MAX_RERUNS) throw busy(incident);
          await pause(run);
          incident = await this.load(incident.record.id);
          continue;
        }
        throw err;
      }
      // Kept beside the record for exports; a failed save loses nothing (it can be rendered again).
      await guard(() =>
        this.store.savePostmortem({
          incidentId: incident.record.id,
          template,
          format: 'md',
          content: markdown,
          renderedAt: now,
        }),
      );
      const all = [...incident.events, ...res.appended];
      return {
        incident: {
          record: { ...incident.record, status: 'closed' },
          events: all,
          state: foldIncident(all),
        },
        markdown,
      };
    }
  }
}

// ---- helpers -----------------------------------------------------------------------------------

function summaryAfter(e: NewEvent): Partial<IncidentSummary> | undefined {
  switch (e.type) {
    case 'severity.changed':
      return { severity: e.severity };
    case 'status.changed':
      return { status: e.status };
    case 'resolved':
      return { status: 'resolved' };
    case 'closed':
      return { status: 'closed' };
    case 'incident.channel_set':
      return { channel: e.channel };
    case 'incident.title_changed':
      return { title: e.title };
    default:
      return undefined;
  }
}

/** How many times a use-case is decided again after its record changed underneath it. */
const MAX_RERUNS = 30;

/** A short random pause before deciding again, so contending writers spread out. */
function pause(run: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(run, 10) * 2));
}

function busy(incident: Incident): IncidentError {
  return new IncidentError(
    'busy',
    `${formatIncidentNumber(incident.record.number)} changed too often while this was being recorded, so nothing was saved. Please try again.`,
  );
}

function assertOpen(incident: Incident): void {
  if (incident.state.status === 'closed' || incident.record.status === 'closed') {
    throw new IncidentError(
      'closed',
      `${formatIncidentNumber(incident.record.number)} is closed; its postmortem has been drafted. Start a new incident with \`/incident start <title>\`.`,
    );
  }
}

function requireHypothesis(incident: Incident, id: string): Hypothesis {
  const h = incident.state.hypotheses.find((x) => x.id === id);
  if (!h) {
    const known = incident.state.hypotheses.map((x) => x.id);
    throw new IncidentError(
      'unknown_hypothesis',
      known.length
        ? `There is no hypothesis ${id} in ${formatIncidentNumber(incident.record.number)}; known: ${known.join(', ')}.`
        : `There is no hypothesis ${id}: ${formatIncidentNumber(incident.record.number)} has no hypotheses yet (raise one with \`/incident hypothesis <text>\`).`,
    );
  }
  return h;
}

function findRaised(res: RecordResult): Hypothesis | undefined {
  const e = res.events.find((x) => x.type === 'hypothesis.raised');
  if (!e) return undefined;
  // Ids follow record order, so the newest raised hypothesis is the highest id.
  const raised = res.incident.events
    .filter((x) => x.type === 'hypothesis.raised')
    .sort((a, b) => a.seq - b.seq);
  const id = `H${raised.findIndex((x) => x.seq === e.seq) + 1}`;
  return res.incident.state.hypotheses.find((h) => h.id === id);
}

function requireText(text: string | undefined, what: string): string {
  const t = text?.trim();
  if (!t) throw new IncidentError('invalid', `Missing ${what}.`);
  if (t.length > MAX_TEXT) {
    throw new IncidentError(
      'invalid',
      `${capitalize(what)} is ${t.length} characters; the limit is ${MAX_TEXT}. Shorten it or split it into several entries.`,
    );
  }
  return t;
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Store failures become a user-facing "not saved" error; everything else passes through. */
/**
 * An incident whose state is folded from `events` when first read: the subscribers asked for the
 * effects of a commit mostly look at the new events only, and a fold reads the whole log.
 */
function lazyIncident(record: IncidentRecord, events: StoredEvent[]): Incident {
  let state: IncidentState | undefined;
  return {
    record,
    events,
    get state(): IncidentState {
      return (state ??= foldIncident(events));
    },
  };
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StoreUnavailableError) {
      throw new IncidentError(
        'store_unavailable',
        `The incident store is not reachable right now, so nothing was saved (${err.message}). Please try again in a moment.`,
      );
    }
    throw err;
  }
}
