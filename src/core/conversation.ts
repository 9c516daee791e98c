/**
 * The human conversation, for drafts: which channel messages fill the timeline where nothing was
 * curated, and the complete channel log (README "The postmortem draft").
 *
 * The rule, for the timeline:
 * - Curated entries are what people recorded on purpose: `/incident` commands, pinned messages
 *   and emoji captures (every timeline item except the bookkeeping kinds `opened`, `detected`,
 *   `status` and `role`).
 * - A thread is one conversation: its first message (the parent, or the first reply still in the
 *   record when the parent was deleted) stands for it, and its replies are counted ("N replies").
 * - A thread goes on the timeline when no curated entry lies within {@link COVER_MS} of its
 *   first message: that stretch of the incident has no curated entries, so the conversation
 *   tells it.
 * - Consecutive conversation entries (no curated entry between them) form a run; a run longer
 *   than {@link RUN_MAX} keeps its first and last {@link RUN_KEEP} and replaces the middle with
 *   one marker entry saying how many messages were shortened and that the channel log has them.
 *
 * The channel log is every message that is not deleted, threads in the order they started and
 * each thread's replies under it.
 */
import type { DateTime } from 'luxon';
import type { IncidentState, RecordedMessage, TimelineItem } from './fold';

/** A message within this distance of a curated entry is covered by it (5 minutes). */
export const COVER_MS = 5 * 60_000;
/** Longest run of conversation entries shown whole. */
export const RUN_MAX = 8;
/** Entries kept at each end of a shortened run. */
export const RUN_KEEP = 3;

/** Timeline kinds that are bookkeeping, not curated. */
const BOOKKEEPING: ReadonlySet<string> = new Set(['opened', 'detected', 'status', 'role']);

/** A thread: its first message still in the record, and its replies. */
export interface Thread {
  head: RecordedMessage;
  replies: RecordedMessage[];
}

/** One conversation entry for the timeline. */
export type ConversationEntry =
  | { kind: 'message'; at: DateTime; message: RecordedMessage; replies: number }
  | { kind: 'shortened'; at: DateTime; count: number; from: DateTime; to: DateTime };

/** The threads of the channel, in the order their first message was written. */
export function threads(messages: readonly RecordedMessage[]): Thread[] {
  const live = messages
    .filter((m) => !m.deleted)
    .sort((a, b) => a.at.toMillis() - b.at.toMillis() || a.ts.localeCompare(b.ts));
  // Per channel, threads by their thread ts (maps of maps: no key string built per message).
  const byChannel = new Map<string, Map<string, Thread>>();
  const out: Thread[] = [];
  for (const m of live) {
    let byThread = byChannel.get(m.channel);
    if (!byThread) {
      byThread = new Map();
      byChannel.set(m.channel, byThread);
    }
    const key = m.threadTs ?? m.ts;
    const t = byThread.get(key);
    if (t) {
      t.replies.push(m);
    } else {
      const thread: Thread = { head: m, replies: [] };
      byThread.set(key, thread);
      out.push(thread);
    }
  }
  return out;
}

/** Whether a timeline item is curated (see the module comment). */
export function isCurated(item: Pick<TimelineItem, 'kind'>): boolean {
  return !BOOKKEEPING.has(item.kind);
}

/**
 * The conversation entries for the timeline, in time order (see the module comment).
 * `allThreads`: `threads(s.messages)`, when the caller already has them.
 */
export function conversationEntries(
  s: IncidentState,
  allThreads: readonly Thread[] = threads(s.messages),
): ConversationEntry[] {
  const curated = s.timeline
    .filter(isCurated)
    .map((i) => i.at.toMillis())
    .sort((a, b) => a - b);
  const covered = (t: number): boolean => {
    // Binary search for the nearest curated moment.
    let lo = 0;
    let hi = curated.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (curated[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    const near = [curated[lo - 1], curated[lo]].filter((x): x is number => x !== undefined);
    return near.some((c) => Math.abs(c - t) <= COVER_MS);
  };
  const chosen = allThreads.filter((t) => !covered(t.head.at.toMillis()));

  // Runs: consecutive chosen threads with no curated entry between them.
  const out: ConversationEntry[] = [];
  let run: Thread[] = [];
  const flush = (): void => {
    if (run.length > RUN_MAX) {
      const middle = run.slice(RUN_KEEP, run.length - RUN_KEEP);
      const count = middle.reduce((n, t) => n + 1 + t.replies.length, 0);
      out.push(...run.slice(0, RUN_KEEP).map(entry), {
        kind: 'shortened',
        at: middle[0].head.at,
        count,
        from: middle[0].head.at,
        to: middle[middle.length - 1].head.at,
      });
      out.push(...run.slice(run.length - RUN_KEEP).map(entry));
    } else {
      out.push(...run.map(entry));
    }
    run = [];
  };
  let ci = 0;
  for (const t of chosen) {
    const at = t.head.at.toMillis();
    let crossed = false;
    while (ci < curated.length && curated[ci] <= at) {
      ci += 1;
      crossed = true;
    }
    if (crossed) flush();
    run.push(t);
  }
  flush();
  return out;
}

function entry(t: Thread): ConversationEntry {
  return { kind: 'message', at: t.head.at, message: t.head, replies: t.replies.length };
}
