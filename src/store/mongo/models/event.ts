/**
 * `events`: the append-only log, one document per event (an incident with tens of thousands of
 * events stays far from the 16 MB document limit). Common fields are typed columns; the
 * type-specific fields are kept in `payload`, exactly as in the JSON export.
 */
import { Schema, type Connection, type Model, type Types } from 'mongoose';
import { EVENT_TYPES, SOURCES, type EventType, type Source } from '../../../core/model';
import { SCHEMA_VERSION, presentString } from './common';

export interface EventDoc {
  _id: Types.ObjectId;
  incidentId: Types.ObjectId;
  /** Record order within the incident: strictly increasing (gaps only after lost races). */
  seq: number;
  type: EventType;
  /** BSON Date: millisecond precision, UTC. */
  occurredAt: Date;
  recordedAt: Date;
  actor: { id: string; name: string };
  source: Source;
  /** Idempotency key: unique across all incidents when present. */
  key?: string;
  /** Type-specific fields (see EventPayloads in core/model.ts). */
  payload: Record<string, unknown>;
  schemaVersion: number;
  createdAt: Date;
}

export const EVENT_COLLECTION = 'events';
export const EVENT_KEY_INDEX = 'event_key_unique';
export const EVENT_SEQ_INDEX = 'incident_seq_unique';

export const eventSchema = new Schema<EventDoc>(
  {
    incidentId: { type: Schema.Types.ObjectId, required: true },
    seq: { type: Number, required: true, min: 1, validate: Number.isSafeInteger },
    type: { type: String, required: true, enum: EVENT_TYPES },
    occurredAt: { type: Date, required: true },
    recordedAt: { type: Date, required: true },
    actor: {
      id: { type: String, required: true },
      name: { type: String, required: presentString('actor.name') },
    },
    source: { type: String, required: true, enum: SOURCES },
    key: { type: String },
    // Mixed: stored as given (no casting), so ISO strings in payloads stay strings.
    payload: { type: Schema.Types.Mixed, default: () => ({}) },
    schemaVersion: { type: Number, required: true, default: SCHEMA_VERSION },
  },
  {
    collection: EVENT_COLLECTION,
    // Events are never updated: only createdAt (server-side insert time, for audits).
    timestamps: { createdAt: true, updatedAt: false },
    strict: 'throw',
    versionKey: false,
    // Keep an empty payload as {} rather than dropping it.
    minimize: false,
  },
);

// Record order is unique within an incident (the seq counter hands out disjoint blocks).
eventSchema.index({ incidentId: 1, seq: 1 }, { unique: true, name: EVENT_SEQ_INDEX });
// loadEvents: timeline order.
eventSchema.index({ incidentId: 1, occurredAt: 1, seq: 1 }, { name: 'incident_occurredAt_seq' });
// Idempotency: a retried Slack event is recorded once, even when two replicas receive it.
eventSchema.index(
  { key: 1 },
  { unique: true, name: EVENT_KEY_INDEX, partialFilterExpression: { key: { $exists: true } } },
);

export function eventModel(conn: Connection): Model<EventDoc> {
  return (
    (conn.models.Event as Model<EventDoc> | undefined) ?? conn.model<EventDoc>('Event', eventSchema)
  );
}
