/**
 * Plain-JSON form of events: the storage format of both adapters and the JSON export.
 * Times are ISO-8601 UTC strings; every other field is kept as is.
 */
import { DateTime } from 'luxon';
import { EVENT_TYPES, type EventType, type NewEvent, type StoredEvent } from './model';

export interface EventJSON {
  type: EventType;
  occurredAt: string;
  recordedAt: string;
  actor: { id: string; name: string };
  source: string;
  key?: string;
  seq?: number;
  [field: string]: unknown;
}

export function toIsoUtc(t: DateTime): string {
  const iso = t.toUTC().toISO();
  if (!iso) throw new Error(`invalid time: ${t.invalidExplanation ?? 'unknown'}`);
  return iso;
}

export function fromIsoUtc(s: string): DateTime {
  const t = DateTime.fromISO(s, { zone: 'utc' });
  if (!t.isValid) throw new Error(`invalid stored time ${JSON.stringify(s)}`);
  return t;
}

export function eventToJSON(e: NewEvent | StoredEvent): EventJSON {
  const { occurredAt, recordedAt, ...rest } = e;
  const out: EventJSON = {
    ...rest,
    occurredAt: toIsoUtc(occurredAt),
    recordedAt: toIsoUtc(recordedAt),
  };
  if (out.key === undefined) delete out.key;
  return out;
}

/** Type-specific fields only (what adapters store beside the indexed common columns). */
export function eventPayload(e: NewEvent): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { type, occurredAt, recordedAt, actor, source, key, ...payload } = e as NewEvent & {
    seq?: number;
  };
  delete (payload as { seq?: number }).seq;
  return payload;
}

export function eventFromJSON(j: EventJSON): NewEvent {
  if (!EVENT_TYPES.includes(j.type))
    throw new Error(`unknown event type ${JSON.stringify(j.type)}`);
  const { occurredAt, recordedAt, seq, ...rest } = j;
  const e = {
    ...rest,
    occurredAt: fromIsoUtc(occurredAt),
    recordedAt: fromIsoUtc(recordedAt),
  } as unknown as NewEvent;
  if (typeof seq === 'number') (e as StoredEvent).seq = seq;
  return e;
}

export function storedEventFromJSON(j: EventJSON & { seq: number }): StoredEvent {
  return eventFromJSON(j) as StoredEvent;
}

/** Order used everywhere: occurredAt, then record order. */
export function compareEvents(a: StoredEvent, b: StoredEvent): number {
  const d = a.occurredAt.toMillis() - b.occurredAt.toMillis();
  return d !== 0 ? d : a.seq - b.seq;
}
