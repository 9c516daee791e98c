/**
 * The incident model: an incident is an append-only log of timestamped facts (events).
 * Everything here is pure data. Times are luxon DateTimes in UTC.
 */
import type { DateTime } from 'luxon';

export const SEVERITIES = ['sev1', 'sev2', 'sev3', 'sev4'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Lifecycle, in order. `resolved` ends the duration; `closed` means the postmortem was drafted. */
export const STATUSES = [
  'investigating',
  'identified',
  'monitoring',
  'resolved',
  'closed',
] as const;
export type Status = (typeof STATUSES)[number];
/** Statuses a user may set with `/incident status`. */
export const SETTABLE_STATUSES = ['investigating', 'identified', 'monitoring'] as const;
export const OPEN_STATUSES: readonly Status[] = ['investigating', 'identified', 'monitoring'];

export const SOURCES = ['command', 'message', 'reaction', 'import', 'system'] as const;
export type Source = (typeof SOURCES)[number];

export const STANDARD_ROLES = ['commander', 'comms', 'scribe'] as const;

export interface Actor {
  /** Slack user id (or `system`, `cli`). */
  id: string;
  /** Display name at the time of the event. */
  name: string;
}

/** A Slack message, by channel and ts. */
export interface MessageRef {
  channel: string;
  ts: string;
}

export interface FileRef {
  name: string;
  url?: string;
}

/** An event with no type-specific fields. */
export type Empty = Record<never, never>;

/**
 * Type-specific fields of each event, flat beside the common ones (the JSON export has the
 * same shape). Field names never clash with the common fields.
 */
export interface EventPayloads {
  /** The incident was opened (recorded). `occurredAt` is when it was opened. */
  'incident.opened': {
    title: string;
    severity: Severity;
    zone: string;
    description?: string;
  };
  /** The incident's Slack channel was created or attached. */
  'incident.channel_set': { channel: string; channelName?: string };
  /** Detection: `occurredAt` is when the problem was detected (backdatable). */
  'incident.detected': Empty;
  'incident.title_changed': { title: string };
  /** A slash-command timeline entry. */
  'timeline.entry': { text: string };
  /** A human message in the incident channel. `occurredAt` is the message ts. */
  'chat.message': {
    channel: string;
    ts: string;
    user: string;
    userName?: string;
    text: string;
    threadTs?: string;
    files?: FileRef[];
  };
  'chat.message_edited': { channel: string; ts: string; text: string };
  'chat.message_deleted': { channel: string; ts: string };
  /** A message promoted to the timeline (📌 reaction or Slack pin). */
  'message.pinned': { channel: string; ts: string };
  'message.unpinned': { channel: string; ts: string };
  /**
   * A hypothesis. Ids (H1, H2 …) are assigned by the fold in record order, so they are stable
   * and never collide, even when two replicas record at the same moment.
   */
  'hypothesis.raised': { text: string; ref?: MessageRef };
  'hypothesis.ruled_out': { hypothesis: string; evidence: string };
  'hypothesis.confirmed': { hypothesis: string; evidence?: string };
  /** An earlier capture (by message ref and event type) is withdrawn, e.g. a reaction removed. */
  'capture.retracted': { ref: MessageRef; retracts: EventType; hypothesis?: string };
  'root_cause.set': { text: string };
  /** `to` is the human text (names, not markup); users/groups are Slack ids that were invited. */
  escalated: { to: string; reason?: string; users?: string[]; groups?: string[]; ref?: MessageRef };
  'severity.changed': { severity: Severity; reason?: string };
  'status.changed': { status: Status };
  'role.assigned': { role: string; user: Actor };
  /** Impact text; `startedAt` (ISO UTC) when the user gave the time impact began. */
  'impact.set': { text: string; startedAt?: string };
  /** Ids (A1, A2 …) are assigned by the fold in record order. */
  'action.added': { text: string; owner?: Actor; due?: string; ref?: MessageRef };
  'action.completed': { action: string };
  /** Service restored: `occurredAt` ends the incident's duration. */
  resolved: { how?: string };
  closed: Empty;
  'postmortem.rendered': { template: string; format: 'md' | 'json'; fileId?: string };
  /**
   * A reminder was claimed for sending (src/core/reminders.ts). Keyed
   * `reminder:<kind>:<incident>[:<action>]:<due>`: recorded once, so it is sent once.
   */
  'reminder.sent': { kind: string; due: string; to?: string; action?: string };
  /** Snooze on a reminder: none of that kind (for that action) before `until` (ISO UTC). */
  'reminder.snoozed': { kind: string; until: string; action?: string };
  /** Dismiss on a reminder: no more of that kind (for that action) for this incident. */
  'reminder.dismissed': { kind: string; action?: string };
  /** The incident's channel was archived (auto-archive after close). */
  'channel.archived': { channel: string };
  /** What the incident was: a real one, or a drill or test (left out of insights by default). */
  'incident.kind_set': { kind: 'real' | 'drill' | 'test' };
  /** Someone asked to publish the draft for review on a target (delivered by the outbox). */
  'postmortem.publish_requested': { target: string };
  /** The draft was published for review: a pull/merge request on a configured target. */
  'postmortem.published': {
    target: string;
    provider: 'github' | 'gitlab';
    url: string;
    branch: string;
    path: string;
    /** Pull/merge request number (GitHub `number`, GitLab `iid`). */
    number: number;
    /** What this publish did: opened the request, added a commit, or found the draft unchanged. */
    change: 'opened' | 'updated' | 'unchanged';
  };
  /**
   * Paging (src/integrations/paging). `target` is a responder target's name from the responders
   * file; `dedupKey` is stable per incident and target, so every page of one target for one
   * incident lands on the same provider alert. `requested` is recorded by `/incident page` or
   * `/incident escalate`; the other steps are recorded by the paging subscriber as the provider
   * answers.
   */
  'page.requested': { target: string; pager: PagerKind; dedupKey: string; reason?: string };
  /** The provider accepted the page (`dryRun`: recorded and logged, nothing sent). */
  'page.sent': {
    target: string;
    pager: PagerKind;
    dedupKey: string;
    /** The provider's reference for the alert, when it gives one. */
    providerRef?: string;
    dryRun?: boolean;
  };
  /** The provider refused (4xx) or kept failing (429/5xx); `reason` is its answer. */
  'page.failed': { target: string; dedupKey: string; status?: number; reason: string };
  /**
   * On-call people found for the target, matched to Slack users by email and invited;
   * `unmatched` are the provider's names of people with no Slack account under that email.
   */
  'page.oncall': { target: string; dedupKey: string; users: Actor[]; unmatched?: string[] };
  /** The provider told us (signed webhook) that someone acknowledged the page. */
  'page.acknowledged': { target: string; dedupKey: string; by?: string };
  /** The page's alert was resolved because the incident was resolved. */
  'page.resolved': { target: string; dedupKey: string };
  /**
   * The pinned status card was posted (or found pinned after a restart) in `channel` at `ts`:
   * every replica and every restart updates that message (src/slack/statusCard.ts).
   */
  'status_card.posted': { channel: string; ts: string };
}

/** The kinds of pager a responder target can use. */
export const PAGER_KINDS = ['pagerduty', 'jsm', 'opsgenie', 'webhook'] as const;
export type PagerKind = (typeof PAGER_KINDS)[number];

export type EventType = keyof EventPayloads;
export const EVENT_TYPES: readonly EventType[] = [
  'incident.opened',
  'incident.channel_set',
  'incident.detected',
  'incident.title_changed',
  'timeline.entry',
  'chat.message',
  'chat.message_edited',
  'chat.message_deleted',
  'message.pinned',
  'message.unpinned',
  'hypothesis.raised',
  'hypothesis.ruled_out',
  'hypothesis.confirmed',
  'capture.retracted',
  'root_cause.set',
  'escalated',
  'severity.changed',
  'status.changed',
  'role.assigned',
  'impact.set',
  'action.added',
  'action.completed',
  'resolved',
  'closed',
  'postmortem.rendered',
  'incident.kind_set',
  'postmortem.published',
  'page.requested',
  'page.sent',
  'page.failed',
  'page.oncall',
  'page.acknowledged',
  'page.resolved',
  'reminder.sent',
  'reminder.snoozed',
  'reminder.dismissed',
  'channel.archived',
  'postmortem.publish_requested',
  'status_card.posted',
];

export interface EventCommon {
  /** When it happened (may be backdated). UTC. */
  occurredAt: DateTime;
  /** When the bot recorded it. UTC. */
  recordedAt: DateTime;
  actor: Actor;
  source: Source;
  /** Idempotency key (Slack event_id, channel+ts, …): the same key is recorded once. */
  key?: string;
}

/** An event not yet stored. */
export type NewEvent<T extends EventType = EventType> = {
  [K in T]: EventCommon & { type: K } & EventPayloads[K];
}[T];

/** An event as stored: `seq` is its record order within the incident (1, 2, …). */
export type StoredEvent<T extends EventType = EventType> = NewEvent<T> & { seq: number };

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

export function isStatus(s: string): s is Status {
  return (STATUSES as readonly string[]).includes(s);
}

export function formatIncidentNumber(n: number): string {
  return `INC-${n}`;
}

/** Parses `INC-7`, `inc-7`, `#7` or `7`. */
export function parseIncidentNumber(s: string): number | undefined {
  const m = /^(?:inc-?|#)?(\d+)$/i.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
