/**
 * What the code handling one stored request may need to know about it, without threading it
 * through every call: when Slack delivered it (untimed entries are stamped with that time, not
 * with the moment the work ran) and whether it is being processed again after a restart.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DateTime } from 'luxon';

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
