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
  /** Newest first. */
  listIncidents(filter?: ListFilter): Promise<IncidentRecord[]>;
  /** Distinct team ids that have incidents (for the CLI). */
  listTeams(): Promise<string[]>;

  /** The incident's events, ordered by occurredAt, then record order (seq). */
  loadEvents(incidentId: string): Promise<StoredEvent[]>;
  /** True when an event with this idempotency key is recorded (any incident). */
  hasEventKey(key: string): Promise<boolean>;

  savePostmortem(p: RenderedPostmortem): Promise<void>;
  latestPostmortem(incidentId: string): Promise<RenderedPostmortem | undefined>;

  /** Throws when the store is not reachable (used by /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A store error the app reports to users as "the record could not be saved". */
export class StoreUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreUnavailableError';
  }
}
