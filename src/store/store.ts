/**
 * The store: one interface, two adapters (embedded SQLite, MongoDB). The store knows nothing of
 * Slack; it keeps incidents (with a small summary used for look-ups and listing) and their
 * append-only event logs.
 */
import type { DateTime } from 'luxon';
import type { NewEvent, Severity, Status, StoredEvent } from '../core/model';

/** Fields kept beside the log for look-ups and listing; derived from the events by the app. */
export interface IncidentSummary {
  title: string;
  severity: Severity;
  status: Status;
  zone: string;
  channel?: string;
}

export interface IncidentRecord extends IncidentSummary {
  /** Store-assigned opaque id. */
  id: string;
  /** Slack workspace (team) id; numbers are allocated per team. */
  team: string;
  /** 1, 2, … per team: INC-<number>. */
  number: number;
  createdAt: DateTime;
  updatedAt: DateTime;
}

export interface CreateIncidentInput {
  team: string;
  summary: IncidentSummary;
  /** The opening events (e.g. incident.opened, incident.detected). */
  events: NewEvent[];
  /**
   * Optional idempotency key for the incident itself (e.g. an import of the same export): when
   * an incident with this key exists, it is returned unchanged and `created` is false.
   */
  key?: string;
  /**
   * Use this number instead of the team's next one (`incident-bot migrate`). When the team
   * already has an incident with it, the call fails and nothing is written.
   */
  number?: number;
  /** The incident's creation time (`incident-bot migrate`); default now. */
  createdAt?: DateTime;
}

export interface CreateIncidentResult {
  incident: IncidentRecord;
  created: boolean;
  /** The appended opening events (empty when `created` is false). */
  events: StoredEvent[];
}

export interface AppendResult {
  /** Events recorded by this call, with their `seq`. */
  appended: StoredEvent[];
  /** Events skipped because their key was already recorded (or repeated within the call). */
  duplicates: NewEvent[];
}

export interface RenderedPostmortem {
  incidentId: string;
  template: string;
  format: 'md' | 'json';
  content: string;
  renderedAt: DateTime;
}

export interface ListFilter {
  team?: string;
  status?: readonly Status[];
}

// ---- the request path: inbox, conditional commit, outbox (see README "Architecture") ----------

/** What kind of Slack request an inbox item holds. */
export type InboxKind = 'command' | 'event' | 'action' | 'view' | 'shortcut';

export interface NewInboxItem {
  /**
   * Idempotency key derived from what Slack gives: `cmd:<trigger_id>`, `evt:<event_id>`,
   * `act:<trigger_id>`, `view:<view id>:<hash>`, `sc:<trigger_id>`. Enqueueing an existing key
   * is a no-op (a Slack retry).
   */
  key: string;
  kind: InboxKind;
  /** Serialization lane: items of one partition are processed one at a time, in order. */
  partition: string;
  /** The Slack payload as received (JSON), replayed through the same handlers after a crash. */
  body: string;
  /** When Slack delivered it: untimed entries are stamped with this time. */
  receivedAt: DateTime;
  /**
   * Claimed at once by the replica that received it (it processes the item right after the
   * ack), so no other replica takes it before the lease ends.
   */
  lease?: { owner: string; until: DateTime };
}

export interface InboxItem extends Omit<NewInboxItem, 'lease'> {
  id: string;
  state: 'pending' | 'done';
  attempts: number;
}

/** A side effect to deliver after the write that decided it (reply, card, upload, page …). */
export interface NewEffect {
  /**
   * Unique while pending: adding an effect whose key is already pending adds no row (that is how
   * the status card coalesces: key `card:<incident id>`); the pending one takes the newest
   * payload, and when it is being delivered at that moment (claimed, lease live) it is marked to
   * be delivered once more after this delivery completes, so nothing that happened meanwhile is
   * missed. Keys derived from the inbox key make a re-run of the same request add nothing twice.
   * (MongoDB: a unique partial index on `key` where state is pending.)
   */
  key: string;
  /** Which handler delivers it, e.g. `slack.reply`, `card.refresh`, `page.trigger`. */
  kind: string;
  incidentId?: string;
  /** JSON-serialisable input for the handler. */
  payload: unknown;
  /** Not delivered before this instant (coalescing windows, Retry-After, reminders). */
  notBefore?: DateTime;
  /**
   * At most one delivery of this key per `spacingMs`: a new effect is not due before the last
   * completed delivery of the same key + spacingMs (the status card: 3000). Best effort across
   * replicas; it is a rate limit, not a correctness guarantee.
   */
  spacingMs?: number;
}

export interface StoredEffect extends NewEffect {
  id: string;
  state: 'pending' | 'done' | 'dead';
  attempts: number;
  lastError?: string;
}

/** What `completeInbox` did. */
export interface InboxCompletion {
  /** The items this call moved from pending to done (the others were done already). */
  done: string[];
  /** The effects added as new rows (none when no item moved; coalesced ones not listed). */
  effects: StoredEffect[];
}

export interface CommitInput {
  incidentId: string;
  /**
   * The record version (the highest seq) the use-case decided on. When set and the log has
   * moved past it, nothing is written and `ConflictError` is thrown (re-run on fresh state).
   */
  expectedSeq?: number;
  // (The highest seq is the record version: `expectedSeq` N means "the next event gets seq N+1";
  // MongoDB enforces it with the unique (incident, seq) index, no multi-document transaction.)
  /**
   * When true, nothing is written and `IncidentClosedError` is thrown if the incident is closed
   * (checked inside the same atomic write).
   */
  requireOpen: boolean;
  events: NewEvent[];
  summary?: Partial<IncidentSummary>;
  effects?: NewEffect[];
  /** Inbox items this write completes (marked done atomically with the events). */
  inboxDone?: string[];
}

export interface CommitResult extends AppendResult {
  /** The effects added as new rows (coalesced ones, whose key was pending, are not listed). */
  effects: StoredEffect[];
}

export interface PruneOptions {
  inboxBefore: DateTime;
  effectsBefore: DateTime;
  deadEffectsBefore: DateTime;
}

/** How many rows `pruneDone` deleted. */
export interface PruneResult {
  inbox: number;
  effects: number;
  deadEffects: number;
}

/** What `claimInbox` claims, for whom and until when. */
export interface ClaimInboxOptions {
  owner: string;
  now: DateTime;
  leaseUntil: DateTime;
  limit: number;
  ids?: string[];
  /**
   * Also claims items whose lease is held by an owner starting with this prefix (other than
   * `owner`), however long that lease still runs: the instance's own earlier incarnation,
   * which is dead (see INSTANCE_ID). Undefined: only items no live lease holds. Not used
   * together with `ids` (ignored then).
   */
  takeOverPrefix?: string;
}

/** What `claimEffects` claims, for whom and until when. */
export interface ClaimEffectsOptions {
  owner: string;
  now: DateTime;
  leaseUntil: DateTime;
  limit: number;
  /** As in `claimInbox`: also takes over due effects leased by a dead earlier incarnation. */
  takeOverPrefix?: string;
}

export interface IncidentStore {
  /** Which adapter this is, for logs and /healthz. */
  readonly kind: 'sqlite' | 'mongodb';

  /** Creates an incident, allocating the next number for its team atomically. */
  createIncident(input: CreateIncidentInput): Promise<CreateIncidentResult>;

  /**
   * Appends events to an incident's log, durably, skipping any whose key is already recorded.
   * Optionally updates the summary in the same write.
   */
  append(
    incidentId: string,
    events: NewEvent[],
    summary?: Partial<IncidentSummary>,
  ): Promise<AppendResult>;

  /** Updates the summary only. */
  updateSummary(incidentId: string, summary: Partial<IncidentSummary>): Promise<void>;

  getIncident(incidentId: string): Promise<IncidentRecord | undefined>;
  findByNumber(team: string, number: number): Promise<IncidentRecord | undefined>;
  findByChannel(channel: string): Promise<IncidentRecord | undefined>;
  /** The incident created with this idempotency key (CreateIncidentInput.key), if any. */
  findByKey(key: string): Promise<IncidentRecord | undefined>;
  /** Newest first. */
  listIncidents(filter?: ListFilter): Promise<IncidentRecord[]>;
  /** Distinct team ids that have incidents (for the CLI). */
  listTeams(): Promise<string[]>;

  /** The incident's events, ordered by occurredAt, then record order (seq). */
  loadEvents(incidentId: string): Promise<StoredEvent[]>;
  /** True when an event with this idempotency key is recorded (any incident). */
  hasEventKey(key: string): Promise<boolean>;

  // ---- the request path (inbox, conditional commit, outbox) ----------------------------------

  /** Durably records a received Slack request before it is acknowledged; a known key is a no-op. */
  enqueueInbox(item: NewInboxItem): Promise<{ item: InboxItem; inserted: boolean }>;
  /**
   * Claims pending inbox items (oldest first) that no live lease holds, for `owner` until
   * `leaseUntil`; `ids` restricts the claim to those items (the replica that received them).
   */
  claimInbox(opts: ClaimInboxOptions): Promise<InboxItem[]>;
  /**
   * Marks inbox items done (their processing returned) and, in the SAME atomic write, adds the
   * effects it owes (its replies, thread confirmations …). The effects are added only when this
   * call moved at least one of the items from pending to done: a second completion of the same
   * item (a re-run after a crash that had completed it, two replicas after a lease expiry) adds
   * nothing. Callers pass one request's effects with that request's item(s). MongoDB: the effects
   * ride in the inbox document's pending→done update (fixed ids) and are applied to the outbox
   * right after it, or by the sweeper if the process died in between.
   */
  completeInbox(ids: string[], effects?: NewEffect[]): Promise<InboxCompletion>;

  /**
   * One atomic, conditional write: events (keyed ones recorded once), the summary, the outbox
   * effects, and the inbox items it completes. Throws ConflictError / IncidentClosedError, and
   * then writes nothing.
   */
  commit(input: CommitInput): Promise<CommitResult>;

  /** Adds effects not tied to a commit (keys pending already are skipped). */
  addEffects(effects: NewEffect[]): Promise<StoredEffect[]>;
  /**
   * Claims due pending effects (notBefore <= now) no live lease holds, earliest due first, for
   * `owner` until `leaseUntil` (attempts + 1). A claim whose lease ran out (a crashed replica)
   * is claimable again, so an effect is delivered at least once, and once when handlers finish
   * within their lease.
   */
  claimEffects(opts: ClaimEffectsOptions): Promise<StoredEffect[]>;
  /**
   * When the next pending effect becomes due (notBefore, or the end of a live lease), or
   * undefined when none is pending. Optional: the dispatcher polls when an adapter lacks it.
   */
  nextEffectDue?(): Promise<DateTime | undefined>;
  /**
   * Completes a claimed effect, recording its outcome's events and follow-up effects with it.
   * Ignored when `owner` no longer holds the lease (another replica took it over). Outcome
   * events go to `outcome.incidentId`, else the effect's incident.
   */
  completeEffect(
    id: string,
    owner: string,
    outcome?: { incidentId?: string; events?: NewEvent[]; effects?: NewEffect[] },
  ): Promise<void>;
  /**
   * A failed delivery: retried from `retryAt` (now when absent), or dead (never retried, the
   * error kept as the reason) when `dead` is set. Ignored when `owner` lost the lease.
   */
  failEffect(
    id: string,
    owner: string,
    failure: { error: string; retryAt?: DateTime; dead?: boolean },
  ): Promise<void>;

  /**
   * Housekeeping: deletes inbox items done before `inboxBefore`, effects done before
   * `effectsBefore` and dead effects before `deadEffectsBefore`. Pending items and effects are
   * never deleted, nor events (the record). Idempotent (several replicas may run it). A deleted
   * inbox key no longer de-duplicates a Slack retry of it: keep `inboxBefore` far behind Slack's
   * retry window (minutes).
   */
  pruneDone(opts: PruneOptions): Promise<PruneResult>;

  savePostmortem(p: RenderedPostmortem): Promise<void>;
  latestPostmortem(incidentId: string): Promise<RenderedPostmortem | undefined>;

  /** Throws when the store is not reachable (used by /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The record moved past the version a use-case decided on: re-run it on fresh state. */
export class ConflictError extends Error {
  constructor(message = 'the incident record changed while this was being decided') {
    super(message);
    this.name = 'ConflictError';
  }
}

/** A conditional write found the incident closed. */
export class IncidentClosedError extends Error {
  constructor(message = 'the incident is closed') {
    super(message);
    this.name = 'IncidentClosedError';
  }
}

/** A store error the app reports to users as "the record could not be saved". */
export class StoreUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreUnavailableError';
  }
}
