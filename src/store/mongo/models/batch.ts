/**
 * `batches`: the append-only log, one document per write (commit). A batch holds the events of
 * one commit, with their seqs, plus everything else that commit decided: summary changes, the
 * incident's status after it, the effects to deliver and the inbox items it completes.
 *
 * Why one document per write: MongoDB writes ONE document atomically on every server and
 * topology (standalone, replica set, sharded, wire-compatible servers), with no multi-document
 * transaction. So a commit is all-or-nothing by construction — a crash leaves either the whole
 * batch or nothing — and two guarantees rest on unique indexes of this collection alone:
 *
 * - `{incidentId, v}` unique: `v` is the incident's write version (1, 2, 3 … without gaps). A
 *   writer reads the head batch (highest v), decides, and inserts v+1; a racing writer that
 *   inserted v+1 first makes the insert fail, so the loser re-reads (optimistic lock). Seqs
 *   follow from it: a batch's events get head.last+1 … head.last+n, so record order is gap-free.
 * - `keys` unique, sparse (multikey): an idempotency key is recorded in at most one batch, across
 *   incidents and replicas. Batches without keyed events omit the field (sparse), so they never
 *   collide; duplicates within one call are removed before the insert.
 *
 * The incident document (summary, listing) is a projection of its batches, brought up to date
 * after each insert (`appliedV`), and by any later writer or the effect sweeper if a process died
 * in between. The same goes for the outbox rows and inbox completions a batch carries: they are
 * applied idempotently (effect ids are fixed in the batch).
 */
import { Schema, type Connection, type Model, type Types } from 'mongoose';
import {
  EVENT_TYPES,
  SOURCES,
  STATUSES,
  type EventType,
  type Source,
  type Status,
} from '../../../core/model';
import { SCHEMA_VERSION, presentString } from './common';

/** One event inside a batch. */
export interface BatchEventDoc {
  seq: number;
  type: EventType;
  /** BSON Date: millisecond precision, UTC. */
  occurredAt: Date;
  recordedAt: Date;
  actor: { id: string; name: string };
  source: Source;
  key?: string;
  /** Type-specific fields (see EventPayloads in core/model.ts), with JSON semantics. */
  payload: Record<string, unknown>;
}

/** An effect decided by the batch, with its outbox id fixed in advance (idempotent apply). */
export interface BatchEffectDoc {
  _id: Types.ObjectId;
  key: string;
  kind: string;
  incidentId?: Types.ObjectId;
  /** JSON text of the handler's input. */
  payload: string;
  notBefore: Date;
  spacingMs: number;
}

export interface BatchDoc {
  _id: Types.ObjectId;
  incidentId: Types.ObjectId;
  /** Write version of the incident: 1, 2, 3 … (unique per incident). */
  v: number;
  /** Seq of the first event (= previous batch's last + 1); `last` = first - 1 when empty. */
  first: number;
  last: number;
  events: BatchEventDoc[];
  /** The keys of `events` (absent when none: the unique index is sparse). */
  keys?: string[];
  /** The incident's status after this batch (checked by `requireOpen` writers). */
  status: Status;
  /** Summary fields this batch changes. */
  summary: Record<string, unknown>;
  effects: BatchEffectDoc[];
  inboxDone: Types.ObjectId[];
  /** True once the incident projection, effects and inbox completions are applied. */
  applied: boolean;
  schemaVersion: number;
  createdAt: Date;
}

export const BATCH_COLLECTION = 'batches';
export const BATCH_VERSION_INDEX = 'incident_v_unique';
export const EVENT_KEY_INDEX = 'event_key_unique';

const eventSubSchema = new Schema<BatchEventDoc>(
  {
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
    payload: { type: Schema.Types.Mixed, default: () => ({}) },
  },
  { _id: false, strict: 'throw', minimize: false },
);

/** Also embedded in inbox documents (effects owed by a completed request). */
export const effectSubSchema = new Schema<BatchEffectDoc>(
  {
    _id: { type: Schema.Types.ObjectId, required: true },
    key: { type: String, required: true },
    kind: { type: String, required: true },
    incidentId: { type: Schema.Types.ObjectId },
    payload: { type: String, required: true },
    notBefore: { type: Date, required: true },
    spacingMs: { type: Number, required: true, min: 0 },
  },
  { strict: 'throw' },
);

export const batchSchema = new Schema<BatchDoc>(
  {
    incidentId: { type: Schema.Types.ObjectId, required: true },
    v: { type: Number, required: true, min: 1, validate: Number.isSafeInteger },
    first: { type: Number, required: true, min: 1, validate: Number.isSafeInteger },
    last: { type: Number, required: true, min: 0, validate: Number.isSafeInteger },
    events: { type: [eventSubSchema], default: () => [] },
    // No default: an absent field keeps batches without keys out of the sparse unique index.
    keys: { type: [String], default: undefined },
    status: { type: String, required: true, enum: STATUSES },
    summary: { type: Schema.Types.Mixed, default: () => ({}) },
    effects: { type: [effectSubSchema], default: () => [] },
    inboxDone: { type: [Schema.Types.ObjectId], default: () => [] },
    applied: { type: Boolean, required: true, default: false },
    schemaVersion: { type: Number, required: true, default: SCHEMA_VERSION },
  },
  {
    collection: BATCH_COLLECTION,
    timestamps: { createdAt: true, updatedAt: false },
    strict: 'throw',
    versionKey: false,
    minimize: false,
  },
);

// The optimistic lock and record order (see the file comment).
batchSchema.index({ incidentId: 1, v: 1 }, { unique: true, name: BATCH_VERSION_INDEX });
// Idempotency keys, global across incidents. Sparse rather than partial: same meaning here (the
// field is absent or a non-empty array), and supported by every wire-compatible server.
batchSchema.index({ keys: 1 }, { unique: true, sparse: true, name: EVENT_KEY_INDEX });
// The sweeper: batches whose projection is not applied yet (a writer died in between).
batchSchema.index({ applied: 1, createdAt: 1 }, { name: 'applied_createdAt' });

export function batchModel(conn: Connection): Model<BatchDoc> {
  return (
    (conn.models.Batch as Model<BatchDoc> | undefined) ?? conn.model<BatchDoc>('Batch', batchSchema)
  );
}
