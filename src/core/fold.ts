/**
 * The incident's current state is a pure fold over its events.
 *
 * Two orders matter:
 * - record order (`seq`) decides "what is true now": the latest recorded status, severity, role,
 *   impact; ids H1, H2 … and A1, A2 … in order of recording (stable, never renumbered);
 *   retractions undo the latest matching capture recorded before them.
 * - `occurredAt` orders the timeline (a backdated entry lands where it happened).
 */
import type { DateTime } from 'luxon';
import {
  OPEN_STATUSES,
  type Actor,
  type EventType,
  type FileRef,
  type MessageRef,
  type PagerKind,
  type Severity,
  type Source,
  type Status,
  type StoredEvent,
} from './model';
import { compareEvents, fromIsoUtc } from './serialize';
import { shortTitle } from './summary';

export type HypothesisOutcome = 'open' | 'ruled_out' | 'confirmed';

export interface Hypothesis {
  id: string;
  text: string;
  raisedAt: DateTime;
  raisedBy: Actor;
  source: Source;
  ref?: MessageRef;
  outcome: HypothesisOutcome;
  outcomeAt?: DateTime;
  outcomeBy?: Actor;
  evidence?: string;
  /** Raised -> ruled out / confirmed, in milliseconds (undefined while open). */
  timeSpentMs?: number;
}

export interface Escalation {
  at: DateTime;
  by: Actor;
  to: string;
  reason?: string;
  users: string[];
  groups: string[];
  ref?: MessageRef;
}

/** One responder target paged in this incident (all pages of a target share one dedup key). */
export interface Page {
  target: string;
  pager: PagerKind;
  dedupKey: string;
  /** The first request. */
  requestedAt: DateTime;
  requestedBy: Actor;
  reason?: string;
  /** How many times it was requested (all on the same provider alert). */
  requests: number;
  status: 'requested' | 'sent' | 'failed' | 'acknowledged' | 'resolved';
  /** The first time the provider accepted it. */
  sentAt?: DateTime;
  dryRun?: boolean;
  providerRef?: string;
  failedAt?: DateTime;
  failure?: { status?: number; reason: string };
  /** On-call people invited (Slack users), and names found with no Slack match. */
  oncall: Actor[];
  unmatched: string[];
  acknowledgedAt?: DateTime;
  acknowledgedBy?: string;
  resolvedAt?: DateTime;
}

export interface ActionItem {
  id: string;
  text: string;
  owner?: Actor;
  /** YYYY-MM-DD */
  due?: string;
  addedAt: DateTime;
  addedBy: Actor;
  done: boolean;
  completedAt?: DateTime;
  ref?: MessageRef;
}

export interface RecordedMessage {
  channel: string;
  ts: string;
  at: DateTime;
  user: string;
  userName?: string;
  text: string;
  threadTs?: string;
  files: FileRef[];
  edited: boolean;
  deleted: boolean;
  pinned: boolean;
  pinnedBy?: Actor;
}

export type TimelineKind =
  | 'opened'
  | 'detected'
  | 'impact_started'
  | 'entry'
  | 'pinned'
  | 'hypothesis'
  | 'ruled_out'
  | 'confirmed'
  | 'root_cause'
  | 'escalation'
  | 'page'
  | 'severity'
  | 'status'
  | 'role'
  | 'impact'
  | 'resolved';

export type TimelineLabel =
  | 'Detection'
  | 'Impact start'
  | 'Misleading path'
  | 'Root cause'
  | 'Escalation'
  | 'Resolution';

export interface TimelineItem {
  at: DateTime;
  kind: TimelineKind;
  label?: TimelineLabel;
  text: string;
  actor: Actor;
  source: Source;
  seq: number;
  hypothesis?: string;
}

export interface RootCause {
  text: string;
  at: DateTime;
  by: Actor;
  /** The confirmed hypothesis it came from, if any. */
  hypothesis?: string;
  evidence?: string;
}

export interface IncidentState {
  title: string;
  description?: string;
  severity: Severity;
  status: Status;
  zone: string;
  channel?: string;
  channelName?: string;
  /** The pinned status card's message (the latest `status_card.posted`). */
  statusCard?: { channel: string; ts: string };
  openedAt?: DateTime;
  openedBy?: Actor;
  detectedAt?: DateTime;
  impactStartedAt?: DateTime;
  impact?: string;
  resolvedAt?: DateTime;
  resolvedBy?: Actor;
  resolution?: string;
  closedAt?: DateTime;
  roles: Record<string, Actor>;
  hypotheses: Hypothesis[];
  rootCause?: RootCause;
  escalations: Escalation[];
  /** Paged responder targets, in the order first requested. */
  pages: Page[];
  actions: ActionItem[];
  severityHistory: { at: DateTime; severity: Severity; reason?: string; by: Actor }[];
  messages: RecordedMessage[];
  timeline: TimelineItem[];
  participants: Actor[];
  postmortemsRendered: number;
  /** occurredAt of the latest event (for "last activity"). */
  lastEventAt?: DateTime;
  eventCount: number;
}

export function isOpenStatus(s: Status): boolean {
  return OPEN_STATUSES.includes(s);
}

const msgKey = (r: MessageRef): string => `${r.channel}:${r.ts}`;
const sameRef = (a: MessageRef | undefined, b: MessageRef): boolean =>
  !!a && a.channel === b.channel && a.ts === b.ts;

/** How each pager kind is named to people. */
export const PAGER_NAMES: Record<PagerKind, string> = {
  pagerduty: 'PagerDuty',
  jsm: 'Jira Service Management',
  opsgenie: 'Opsgenie',
  webhook: 'webhook',
};

const SYSTEM_ACTOR_IDS = new Set(['system', 'cli', 'import']);

/** Folds events (any order) into the incident's state. */
export function foldIncident(events: readonly StoredEvent[]): IncidentState {
  const byRecord = [...events].sort((a, b) => a.seq - b.seq);
  const s: IncidentState = {
    title: '',
    severity: 'sev3',
    status: 'investigating',
    zone: 'UTC',
    roles: {},
    hypotheses: [],
    escalations: [],
    pages: [],
    actions: [],
    severityHistory: [],
    messages: [],
    timeline: [],
    participants: [],
    postmortemsRendered: 0,
    eventCount: events.length,
  };
  const hyp = new Map<string, Hypothesis>();
  const retractedHyp = new Set<string>();
  const retractedActions = new Set<string>();
  const messages = new Map<string, RecordedMessage>();
  const participants = new Map<string, Actor>();
  /** seq of events whose effect was retracted (they are left out of the timeline). */
  const retractedSeq = new Set<number>();
  /** seq of the outcome event currently in force, per hypothesis. */
  const outcomeSeq = new Map<string, number>();
  const escalationSeq = new Map<number, Escalation>();
  const pages = new Map<string, Page>();
  let hCount = 0;
  let aCount = 0;
  let rootCauseSeq: number | undefined;
  const hypothesisIdBySeq = new Map<number, string>();

  for (const e of byRecord) {
    if (!SYSTEM_ACTOR_IDS.has(e.actor.id) && e.source !== 'system') {
      participants.set(e.actor.id, e.actor);
    }
    if (!s.lastEventAt || e.occurredAt > s.lastEventAt) s.lastEventAt = e.occurredAt;
    switch (e.type) {
      case 'incident.opened':
        s.title = e.title;
        s.severity = e.severity;
        s.zone = e.zone;
        s.description = e.description;
        s.openedAt = e.occurredAt;
        s.openedBy = e.actor;
        s.severityHistory.push({ at: e.occurredAt, severity: e.severity, by: e.actor });
        break;
      case 'incident.channel_set':
        s.channel = e.channel;
        s.channelName = e.channelName;
        break;
      case 'status_card.posted':
        s.statusCard = { channel: e.channel, ts: e.ts };
        break;
      case 'incident.detected':
        s.detectedAt = e.occurredAt;
        break;
      case 'incident.title_changed':
        s.title = e.title;
        break;
      case 'timeline.entry':
        break;
      case 'chat.message':
        messages.set(msgKey(e), {
          channel: e.channel,
          ts: e.ts,
          at: e.occurredAt,
          user: e.user,
          userName: e.userName,
          text: e.text,
          threadTs: e.threadTs,
          files: e.files ?? [],
          edited: false,
          deleted: false,
          pinned: messages.get(msgKey(e))?.pinned ?? false,
        });
        break;
      case 'chat.message_edited': {
        const m = messages.get(msgKey(e));
        if (m) {
          m.text = e.text;
          m.edited = true;
        }
        break;
      }
      case 'chat.message_deleted': {
        const m = messages.get(msgKey(e));
        if (m) m.deleted = true;
        break;
      }
      case 'message.pinned': {
        const m = messages.get(msgKey(e));
        if (m) {
          m.pinned = true;
          m.pinnedBy = e.actor;
        }
        break;
      }
      case 'message.unpinned': {
        const m = messages.get(msgKey(e));
        if (m) m.pinned = false;
        break;
      }
      case 'hypothesis.raised': {
        hCount += 1;
        const h: Hypothesis = {
          id: `H${hCount}`,
          text: e.text,
          raisedAt: e.occurredAt,
          raisedBy: e.actor,
          source: e.source,
          ref: e.ref,
          outcome: 'open',
        };
        hyp.set(h.id, h);
        hypothesisIdBySeq.set(e.seq, h.id);
        break;
      }
      case 'hypothesis.ruled_out':
      case 'hypothesis.confirmed': {
        const h = hyp.get(e.hypothesis.toUpperCase());
        if (!h || retractedHyp.has(h.id)) {
          retractedSeq.add(e.seq);
          break;
        }
        const prev = outcomeSeq.get(h.id);
        if (prev !== undefined) retractedSeq.add(prev);
        outcomeSeq.set(h.id, e.seq);
        h.outcome = e.type === 'hypothesis.confirmed' ? 'confirmed' : 'ruled_out';
        h.outcomeAt = e.occurredAt;
        h.outcomeBy = e.actor;
        h.evidence = e.evidence;
        h.timeSpentMs = Math.max(0, e.occurredAt.toMillis() - h.raisedAt.toMillis());
        hypothesisIdBySeq.set(e.seq, h.id);
        if (e.type === 'hypothesis.confirmed') {
          s.rootCause = {
            text: h.text,
            at: e.occurredAt,
            by: e.actor,
            hypothesis: h.id,
            evidence: e.evidence,
          };
          rootCauseSeq = e.seq;
        } else if (s.rootCause?.hypothesis === h.id) {
          s.rootCause = undefined;
        }
        break;
      }
      case 'capture.retracted':
        retract(e.ref, e.retracts);
        break;
      case 'root_cause.set':
        s.rootCause = { text: e.text, at: e.occurredAt, by: e.actor };
        rootCauseSeq = e.seq;
        break;
      case 'escalated': {
        const esc: Escalation = {
          at: e.occurredAt,
          by: e.actor,
          to: e.to,
          reason: e.reason,
          users: e.users ?? [],
          groups: e.groups ?? [],
          ref: e.ref,
        };
        s.escalations.push(esc);
        escalationSeq.set(e.seq, esc);
        break;
      }
      case 'severity.changed':
        s.severity = e.severity;
        s.severityHistory.push({
          at: e.occurredAt,
          severity: e.severity,
          reason: e.reason,
          by: e.actor,
        });
        break;
      case 'status.changed':
        if (s.status === 'closed') break;
        // A status backfilled to before the resolution is history, not a reopening.
        if (s.resolvedAt && e.occurredAt < s.resolvedAt) break;
        s.status = e.status;
        if (isOpenStatus(e.status)) {
          s.resolvedAt = undefined;
          s.resolvedBy = undefined;
        }
        break;
      case 'role.assigned':
        s.roles[e.role] = e.user;
        participants.set(e.user.id, e.user);
        break;
      case 'impact.set':
        s.impact = e.text;
        s.impactStartedAt = e.startedAt ? parseIso(e.startedAt) : s.impactStartedAt;
        break;
      case 'action.added': {
        aCount += 1;
        s.actions.push({
          id: `A${aCount}`,
          text: e.text,
          owner: e.owner,
          due: e.due,
          addedAt: e.occurredAt,
          addedBy: e.actor,
          done: false,
          ref: e.ref,
        });
        break;
      }
      case 'action.completed': {
        const a = s.actions.find((x) => x.id === e.action.toUpperCase());
        if (a) {
          a.done = true;
          a.completedAt = e.occurredAt;
        }
        break;
      }
      case 'resolved':
        if (s.status !== 'closed') s.status = 'resolved';
        s.resolvedAt = e.occurredAt;
        s.resolvedBy = e.actor;
        if (e.how) s.resolution = e.how;
        break;
      case 'closed':
        s.status = 'closed';
        s.closedAt = e.occurredAt;
        break;
      case 'postmortem.rendered':
        s.postmortemsRendered += 1;
        break;
      case 'page.requested': {
        const p = pages.get(e.dedupKey);
        if (p) {
          p.requests += 1;
          // A new request after a resolution or a failure pages again (same alert key).
          if (p.status === 'resolved' || p.status === 'failed') p.status = 'requested';
        } else {
          pages.set(e.dedupKey, {
            target: e.target,
            pager: e.pager,
            dedupKey: e.dedupKey,
            requestedAt: e.occurredAt,
            requestedBy: e.actor,
            reason: e.reason,
            requests: 1,
            status: 'requested',
            oncall: [],
            unmatched: [],
          });
        }
        break;
      }
      case 'page.sent': {
        const p = pages.get(e.dedupKey);
        if (!p) break;
        p.sentAt ??= e.occurredAt;
        p.dryRun = e.dryRun;
        p.providerRef = e.providerRef ?? p.providerRef;
        if (p.status === 'requested' || p.status === 'failed') p.status = 'sent';
        break;
      }
      case 'page.failed': {
        const p = pages.get(e.dedupKey);
        if (!p) break;
        p.failedAt = e.occurredAt;
        p.failure = { status: e.status, reason: e.reason };
        if (p.status === 'requested') p.status = 'failed';
        break;
      }
      case 'page.oncall': {
        const p = pages.get(e.dedupKey);
        if (!p) break;
        for (const u of e.users) if (!p.oncall.some((x) => x.id === u.id)) p.oncall.push(u);
        for (const n of e.unmatched ?? []) if (!p.unmatched.includes(n)) p.unmatched.push(n);
        break;
      }
      case 'page.acknowledged': {
        const p = pages.get(e.dedupKey);
        if (!p) break;
        p.acknowledgedAt ??= e.occurredAt;
        p.acknowledgedBy ??= e.by;
        if (p.status !== 'resolved') p.status = 'acknowledged';
        break;
      }
      case 'page.resolved': {
        const p = pages.get(e.dedupKey);
        if (!p) break;
        p.resolvedAt = e.occurredAt;
        p.status = 'resolved';
        break;
      }
    }
  }

  function retract(ref: MessageRef, type: EventType): void {
    switch (type) {
      case 'hypothesis.raised': {
        for (const h of [...hyp.values()].reverse()) {
          if (sameRef(h.ref, ref) && !retractedHyp.has(h.id)) {
            retractedHyp.add(h.id);
            if (s.rootCause?.hypothesis === h.id) s.rootCause = undefined;
            return;
          }
        }
        return;
      }
      case 'hypothesis.ruled_out':
      case 'hypothesis.confirmed': {
        const want = type === 'hypothesis.confirmed' ? 'confirmed' : 'ruled_out';
        for (const h of [...hyp.values()].reverse()) {
          if (sameRef(h.ref, ref) && h.outcome === want) {
            const os = outcomeSeq.get(h.id);
            if (os !== undefined) retractedSeq.add(os);
            outcomeSeq.delete(h.id);
            h.outcome = 'open';
            h.outcomeAt = h.outcomeBy = h.evidence = h.timeSpentMs = undefined;
            if (s.rootCause?.hypothesis === h.id) s.rootCause = undefined;
            return;
          }
        }
        return;
      }
      case 'escalated': {
        for (const [eseq, esc] of [...escalationSeq.entries()].reverse()) {
          if (sameRef(esc.ref, ref)) {
            escalationSeq.delete(eseq);
            retractedSeq.add(eseq);
            s.escalations = s.escalations.filter((x) => x !== esc);
            return;
          }
        }
        return;
      }
      case 'action.added': {
        for (const a of [...s.actions].reverse()) {
          if (sameRef(a.ref, ref) && !retractedActions.has(a.id)) {
            retractedActions.add(a.id);
            return;
          }
        }
        return;
      }
      case 'message.pinned': {
        const m = messages.get(msgKey(ref));
        if (m) m.pinned = false;
        return;
      }
      default:
        return;
    }
  }

  s.hypotheses = [...hyp.values()].filter((h) => !retractedHyp.has(h.id));
  s.actions = s.actions.filter((a) => !retractedActions.has(a.id));
  s.messages = [...messages.values()];
  s.pages = [...pages.values()];
  s.participants = [...participants.values()];
  s.timeline = buildTimeline(events, s, {
    retractedSeq,
    hypothesisIdBySeq,
    rootCauseSeq,
    escalationSeqs: new Set(escalationSeq.keys()),
    messages,
  });
  return s;
}

function parseIso(iso: string): DateTime | undefined {
  try {
    return fromIsoUtc(iso);
  } catch {
    return undefined;
  }
}

interface TimelineContext {
  retractedSeq: Set<number>;
  hypothesisIdBySeq: Map<number, string>;
  rootCauseSeq?: number;
  escalationSeqs: Set<number>;
  messages: Map<string, RecordedMessage>;
}

const SAME_MOMENT_MS = 60_000;

function buildTimeline(
  events: readonly StoredEvent[],
  s: IncidentState,
  ctx: TimelineContext,
): TimelineItem[] {
  const items: TimelineItem[] = [];
  const hById = new Map(s.hypotheses.map((h) => [h.id, h]));
  const push = (e: StoredEvent, item: Omit<TimelineItem, 'at' | 'actor' | 'source' | 'seq'>) =>
    items.push({ at: e.occurredAt, actor: e.actor, source: e.source, seq: e.seq, ...item });
  // The latest recorded detection / resolution is the one in force.
  const lastSeqOf = (type: EventType): number | undefined =>
    events.reduce<number | undefined>(
      (m, e) => (e.type === type && (m === undefined || e.seq > m) ? e.seq : m),
      undefined,
    );
  const detectedSeq = lastSeqOf('incident.detected');
  const resolvedSeq = s.resolvedAt ? lastSeqOf('resolved') : undefined;
  const pinnedSeen = new Set<string>();

  for (const e of [...events].sort(compareEvents)) {
    if (ctx.retractedSeq.has(e.seq)) continue;
    switch (e.type) {
      case 'incident.opened':
        // An imported record was not opened in Slack; a same-moment opening repeats detection.
        if (e.source === 'import') break;
        if (
          s.detectedAt &&
          Math.abs(s.detectedAt.toMillis() - e.occurredAt.toMillis()) < SAME_MOMENT_MS
        )
          break;
        push(e, { kind: 'opened', text: `Incident opened in Slack: ${e.title}` });
        break;
      case 'incident.detected':
        if (e.seq !== detectedSeq) break;
        push(e, {
          kind: 'detected',
          label: 'Detection',
          text: `Issue detected: ${s.description ?? s.title}`,
        });
        break;
      case 'timeline.entry':
        push(e, { kind: 'entry', text: e.text });
        break;
      case 'message.pinned': {
        const key = msgKey(e);
        const m = ctx.messages.get(key);
        if (!m || !m.pinned || m.deleted || pinnedSeen.has(key)) break;
        pinnedSeen.add(key);
        items.push({
          at: m.at,
          actor: { id: m.user, name: m.userName ?? m.user },
          source: e.source,
          seq: e.seq,
          kind: 'pinned',
          text: m.text,
        });
        break;
      }
      case 'hypothesis.raised': {
        const id = ctx.hypothesisIdBySeq.get(e.seq);
        const h = id ? hById.get(id) : undefined;
        if (!h) break;
        push(e, {
          kind: 'hypothesis',
          hypothesis: h.id,
          label: h.outcome === 'ruled_out' ? 'Misleading path' : undefined,
          text: `Hypothesis ${h.id} raised: ${shortTitle(h.text)}`,
        });
        break;
      }
      case 'hypothesis.ruled_out': {
        const id = ctx.hypothesisIdBySeq.get(e.seq);
        const h = id ? hById.get(id) : undefined;
        if (!h) break;
        push(e, {
          kind: 'ruled_out',
          hypothesis: h.id,
          label: 'Misleading path',
          text: `${h.id} ruled out (${shortTitle(h.text)}): ${e.evidence}`,
        });
        break;
      }
      case 'hypothesis.confirmed': {
        const id = ctx.hypothesisIdBySeq.get(e.seq);
        const h = id ? hById.get(id) : undefined;
        if (!h) break;
        push(e, {
          kind: 'confirmed',
          hypothesis: h.id,
          label: 'Root cause',
          text: `${h.id} confirmed as root cause (${shortTitle(h.text)})${e.evidence ? `: ${e.evidence}` : ''}`,
        });
        break;
      }
      case 'root_cause.set':
        push(e, { kind: 'root_cause', label: 'Root cause', text: `Root cause: ${e.text}` });
        break;
      case 'escalated':
        if (!ctx.escalationSeqs.has(e.seq)) break;
        push(e, {
          kind: 'escalation',
          label: 'Escalation',
          text: `Escalated to ${e.to}${e.reason ? `: ${e.reason}` : ''}`,
        });
        break;
      case 'page.requested':
        push(e, {
          kind: 'page',
          label: 'Escalation',
          text: `Paged ${e.target} (${PAGER_NAMES[e.pager]})${e.reason ? `: ${e.reason}` : ''}`,
        });
        break;
      case 'page.sent':
        push(e, {
          kind: 'page',
          text: e.dryRun
            ? `Page to ${e.target} recorded but not sent (PAGING_DRY_RUN)`
            : `Page to ${e.target} accepted by ${PAGER_NAMES[e.pager]}`,
        });
        break;
      case 'page.failed':
        push(e, {
          kind: 'page',
          text: `Page to ${e.target} failed${e.status ? ` (${e.status})` : ''}: ${e.reason}`,
        });
        break;
      case 'page.oncall':
        push(e, {
          kind: 'page',
          text: `On call for ${e.target}: ${
            e.users.length
              ? `${e.users.map((u) => u.name).join(', ')} invited`
              : 'nobody found in Slack'
          }${e.unmatched?.length ? ` (no Slack account for ${e.unmatched.join(', ')})` : ''}`,
        });
        break;
      case 'page.acknowledged':
        push(e, {
          kind: 'page',
          text: `Page to ${e.target} acknowledged${e.by ? ` by ${e.by}` : ''}`,
        });
        break;
      case 'page.resolved':
        push(e, { kind: 'page', text: `Page to ${e.target} resolved` });
        break;
      case 'severity.changed':
        push(e, {
          kind: 'severity',
          text: `Severity changed to ${e.severity.toUpperCase()}${e.reason ? `: ${e.reason}` : ''}`,
        });
        break;
      case 'status.changed':
        push(e, { kind: 'status', text: `Status changed to ${e.status}` });
        break;
      case 'role.assigned':
        push(e, { kind: 'role', text: `${e.user.name} is now ${e.role}` });
        break;
      case 'impact.set':
        if (e.startedAt) {
          const at = parseIso(e.startedAt);
          if (at)
            items.push({
              at,
              actor: e.actor,
              source: e.source,
              seq: e.seq,
              kind: 'impact_started',
              label: 'Impact start',
              text: `Impact began: ${e.text}`,
            });
        } else {
          push(e, { kind: 'impact', text: `Impact assessed: ${e.text}` });
        }
        break;
      case 'resolved':
        if (e.seq !== resolvedSeq) break;
        push(e, {
          kind: 'resolved',
          label: 'Resolution',
          text: e.how ? `Service restored: ${e.how}` : 'Service restored',
        });
        break;
      default:
        break;
    }
  }
  return items.sort((a, b) => a.at.toMillis() - b.at.toMillis() || a.seq - b.seq);
}
