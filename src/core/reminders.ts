/**
 * Reminders, nudges and auto-archive, computed from the record: a pure function of the folded
 * incidents (with their events) and `now` gives the reminders due. Nothing is kept in memory, so
 * they survive restarts, and a reminder is sent once across replicas because sending starts by
 * appending its keyed claim event (`reminder.sent`, key `reminder:<kind>:<incident>:<due>`): the
 * store records a key once, and only the replica whose append recorded it sends.
 *
 * Kinds (each can be snoozed or dismissed; both are recorded events):
 * - `update`: the commander is reminded to post an update when the incident (not yet resolved)
 *   has had no timeline activity for N minutes (per severity); again every N minutes of silence.
 * - `action_due`: an action item's owner, at `actionHour` (incident zone) on its due date.
 * - `close_nudge`: the commander, when the incident has been resolved for N hours without close;
 *   again every N hours.
 * - `archive_warning` one day before, then `archive`: a closed incident's channel is archived
 *   N days after close.
 */
import { DateTime } from 'luxon';
import type { Incident } from '../app/service';
import type { Actor, Severity, StoredEvent } from './model';

export const REMINDER_KINDS = [
  'update',
  'action_due',
  'close_nudge',
  'archive_warning',
  'archive',
] as const;
export type ReminderKind = (typeof REMINDER_KINDS)[number];

export function isReminderKind(s: string): s is ReminderKind {
  return (REMINDER_KINDS as readonly string[]).includes(s);
}

export interface ReminderSettings {
  /** Minutes of timeline silence before an update reminder, per severity (0: never). */
  updateMinutes: Record<Severity, number>;
  /** Hours resolved without close before a nudge (0: never). */
  closeNudgeHours: number;
  /** Days after close before the channel is archived (0: never). */
  archiveDays: number;
  /** Hour of the day (incident zone) at which a due date's reminder is sent. */
  actionHour: number;
}

export const DEFAULT_REMINDER_SETTINGS: ReminderSettings = {
  updateMinutes: { sev1: 15, sev2: 30, sev3: 60, sev4: 120 },
  closeNudgeHours: 24,
  archiveDays: 0,
  actionHour: 9,
};

export interface DueReminder {
  kind: ReminderKind;
  incidentId: string;
  /** When it became due (part of its key: one send per due instant). */
  due: DateTime;
  /** The claim key: `reminder:<kind>:<incident>[:<action>]:<due ISO>`. */
  key: string;
  /** Whom it is for (DM); absent for channel notices (archive warning, archive). */
  to?: Actor;
  /** The action item (action_due). */
  action?: string;
  /** For the archive kinds: the channel, and when it will be (was) archived. */
  channel?: string;
  archiveAt?: DateTime;
}

/** Event types that are not timeline activity (conversation, reminders themselves, bookkeeping). */
const NOT_ACTIVITY = new Set<string>([
  'chat.message',
  'chat.message_edited',
  'chat.message_deleted',
  'reminder.sent',
  'reminder.snoozed',
  'reminder.dismissed',
  'channel.archived',
  'postmortem.rendered',
]);

interface ControlState {
  snoozedUntil?: DateTime;
  dismissed: boolean;
}

/** Snoozes and dismissals in force, per `<kind>` or `<kind>:<action>`, latest recorded wins. */
export function reminderControls(events: readonly StoredEvent[]): Map<string, ControlState> {
  const out = new Map<string, ControlState>();
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
    if (e.type !== 'reminder.snoozed' && e.type !== 'reminder.dismissed') continue;
    const id = e.action ? `${e.kind}:${e.action}` : e.kind;
    const cur = out.get(id) ?? { dismissed: false };
    if (e.type === 'reminder.dismissed') cur.dismissed = true;
    else {
      const until = DateTime.fromISO(e.until, { zone: 'utc' });
      if (until.isValid) cur.snoozedUntil = until;
      cur.dismissed = false;
    }
    out.set(id, cur);
  }
  return out;
}

export function reminderKey(
  kind: ReminderKind,
  incidentId: string,
  due: DateTime,
  action?: string,
): string {
  const at = due.toUTC().toISO({ suppressMilliseconds: true }) ?? String(due.toMillis());
  return `reminder:${kind}:${incidentId}:${action ? `${action}:` : ''}${at}`;
}

/** The commander in force: the `commander` role, else the opener (as for permissions). */
function commanderOf(i: Incident): Actor | undefined {
  const s = i.state;
  if (s.roles.commander) return s.roles.commander;
  return s.openedBy && !['system', 'cli', 'import'].includes(s.openedBy.id)
    ? s.openedBy
    : undefined;
}

/** The latest `base + k·period` (k ≥ 1) not after `now`, or undefined when none is. */
function latestDue(base: DateTime, periodMs: number, now: DateTime): DateTime | undefined {
  if (periodMs <= 0) return undefined;
  const elapsed = now.toMillis() - base.toMillis();
  if (elapsed < periodMs) return undefined;
  const k = Math.floor(elapsed / periodMs);
  return base.plus({ milliseconds: k * periodMs });
}

/** Every reminder due at `now` for these incidents (pure). Already-sent ones are listed too: the
 * claim key makes sending them again a no-op, and `alreadySent` lets callers skip them early. */
export function dueReminders(
  incidents: readonly Incident[],
  now: DateTime,
  settings: ReminderSettings,
): DueReminder[] {
  const out: DueReminder[] = [];
  for (const i of incidents) out.push(...dueFor(i, now, settings));
  return out;
}

export function dueFor(i: Incident, now: DateTime, settings: ReminderSettings): DueReminder[] {
  const s = i.state;
  const id = i.record.id;
  const controls = reminderControls(i.events);
  const sent = new Set(i.events.filter((e) => e.type === 'reminder.sent').map((e) => e.key ?? ''));
  const out: DueReminder[] = [];
  const push = (r: Omit<DueReminder, 'key' | 'incidentId'>): void => {
    const key = reminderKey(r.kind, id, r.due, r.action);
    if (!sent.has(key)) out.push({ ...r, incidentId: id, key });
  };
  /** Shifts `base` so the first due after a snooze is the snooze's end. */
  const afterSnooze = (control: ControlState | undefined, base: DateTime, periodMs: number) =>
    control?.snoozedUntil && control.snoozedUntil.minus({ milliseconds: periodMs }) > base
      ? control.snoozedUntil.minus({ milliseconds: periodMs })
      : base;
  const closed = s.status === 'closed' || i.record.status === 'closed';
  const commander = commanderOf(i);

  // Update reminder: open, not resolved.
  const updateMin = settings.updateMinutes[s.severity] ?? 0;
  const update = controls.get('update');
  if (!closed && s.status !== 'resolved' && updateMin > 0 && commander && !update?.dismissed) {
    const activity = i.events
      .filter((e) => !NOT_ACTIVITY.has(e.type))
      .reduce<
        DateTime | undefined
      >((m, e) => (!m || e.recordedAt > m ? e.recordedAt : m), undefined);
    if (activity) {
      const period = updateMin * 60_000;
      const due = latestDue(afterSnooze(update, activity, period), period, now);
      if (due && !(update?.snoozedUntil && now < update.snoozedUntil)) {
        push({ kind: 'update', due, to: commander });
      }
    }
  }

  // Close nudge: resolved, not closed.
  const nudge = controls.get('close_nudge');
  if (
    !closed &&
    s.status === 'resolved' &&
    s.resolvedAt &&
    settings.closeNudgeHours > 0 &&
    commander &&
    !nudge?.dismissed
  ) {
    const period = settings.closeNudgeHours * 3_600_000;
    const resolvedRecorded =
      [...i.events].reverse().find((e) => e.type === 'resolved')?.recordedAt ?? s.resolvedAt;
    const due = latestDue(afterSnooze(nudge, resolvedRecorded, period), period, now);
    if (due && !(nudge?.snoozedUntil && now < nudge.snoozedUntil)) {
      push({ kind: 'close_nudge', due, to: commander });
    }
  }

  // Action items due.
  for (const a of s.actions) {
    if (a.done || !a.owner || !a.due) continue;
    const control = controls.get(`action_due:${a.id}`);
    if (control?.dismissed) continue;
    const day = DateTime.fromISO(a.due, { zone: s.zone || 'UTC' });
    if (!day.isValid) continue;
    let due = day.set({ hour: settings.actionHour, minute: 0, second: 0, millisecond: 0 }).toUTC();
    if (control?.snoozedUntil && control.snoozedUntil > due) due = control.snoozedUntil;
    if (due <= now) push({ kind: 'action_due', due, to: a.owner, action: a.id });
  }

  // Archive (and its warning a day before).
  const archived = i.events.some((e) => e.type === 'channel.archived');
  const archive = controls.get('archive');
  const channel = s.channel ?? i.record.channel;
  if (
    closed &&
    channel &&
    s.closedAt &&
    settings.archiveDays > 0 &&
    !archived &&
    !archive?.dismissed
  ) {
    let at = s.closedAt.plus({ days: settings.archiveDays });
    if (archive?.snoozedUntil && archive.snoozedUntil > at) at = archive.snoozedUntil;
    const warnAt = at.minus({ days: 1 });
    if (now >= at) push({ kind: 'archive', due: at, channel, archiveAt: at });
    else if (now >= warnAt) push({ kind: 'archive_warning', due: warnAt, channel, archiveAt: at });
  }
  return out;
}

/** How long Snooze postpones each kind. */
export function snoozeFor(kind: ReminderKind, settings: ReminderSettings, severity: Severity) {
  switch (kind) {
    case 'update':
      return { minutes: Math.max(1, settings.updateMinutes[severity] || 30) };
    case 'close_nudge':
      return { hours: Math.max(1, settings.closeNudgeHours || 24) };
    case 'action_due':
      return { days: 1 };
    case 'archive_warning':
    case 'archive':
      return { days: 7 };
  }
}
