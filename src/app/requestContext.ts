/**
 * What the code handling one stored request may need to know about it, without threading it
 * through every call: when Slack delivered it (untimed entries are stamped with that time, not
 * with the moment the work ran), whether it is being processed again after a restart, and the
 * effects it owes (its replies), which the request path writes with the inbox completion.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DateTime } from 'luxon';
import type { NewEffect } from '../store/store';

export interface RequestInfo {
  /** When the receiver got the request from Slack (stored with it in the inbox). */
  receivedAt: DateTime;
  /** True when the request is processed after a restart (or another replica gave it up). */
  recovered: boolean;
  /** The inbox key (`cmd:<trigger_id>`, `evt:<event_id>` …). */
  key: string;
  /** The inbox item's id, for a write that completes the item with what it records. */
  inboxId?: string;
  /**
   * Set once a commit marked the inbox item done together with what the request recorded (the
   * chat recorder does this: `CommitInput.inboxDone`); the request path then skips its own
   * completion write.
   */
  completed?: boolean;
  /**
   * Set when a listener failed while processing it (reported through the app's error handler):
   * the request is then left in the inbox to be processed again.
   */
  failed?: unknown;
  /**
   * Effects the request owes (replies, thread confirmations …), collected by `owe` and written
   * by the request path in the same atomic write that completes the inbox item.
   */
  owed?: NewEffect[];
  /** Set once the completion is being written: later `owe` calls are refused. */
  sealed?: boolean;
}

const storage = new AsyncLocalStorage<RequestInfo>();

/** Runs `fn` as the processing of one stored request. */
export function runAsRequest<T>(info: RequestInfo, fn: () => Promise<T>): Promise<T> {
  return storage.run(info, fn);
}

/** The stored request being processed, if any. */
export function currentRequest(): RequestInfo | undefined {
  return storage.getStore();
}

/**
 * Adds an effect to those the current stored request owes. Returns false when there is no
 * request to carry it (outside one, or after its completion was written): the caller adds it to
 * the outbox itself. A key owed twice by one request gets a suffix (`#2` …), in call order, so a
 * re-run of the request owes the same keys.
 */
export function owe(effect: NewEffect): boolean {
  const req = storage.getStore();
  if (!req || req.sealed) return false;
  const owed = (req.owed ??= []);
  let key = effect.key;
  for (let n = 2; owed.some((e) => e.key === key); n++) key = `${effect.key}#${n}`;
  owed.push(key === effect.key ? effect : { ...effect, key });
  return true;
}
