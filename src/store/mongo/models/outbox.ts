/**
 * `effects` (the outbox) and `inbox`: the request path's queues (see README "Architecture").
 *
 * - An effect key is unique while the effect is pending: `pendingKey` holds the key while the
 *   state is `pending` and is removed when it is done or dead; the unique index on it is sparse.
 * - Claims are leases (`owner`, `leaseUntil`), taken with one findOneAndUpdate each, so two
 *   replicas never hold the same live claim.
 */
import { Schema, type Connection, type Model, type Types } from 'mongoose';
import { effectSubSchema, type BatchEffectDoc } from './batch';
import { SCHEMA_VERSION } from './common';

export interface EffectDoc {
  _id: Types.ObjectId;
  key: string;
  /** = key while pending; absent once done or dead. */
  pendingKey?: string;
  kind: string;
  incidentId?: Types.ObjectId;
  /** JSON text. */
  payload: string;
  notBefore: Date;
  spacingMs: number;
  state: 'pending' | 'done' | 'dead';
  attempts: number;
  owner?: string;
  leaseUntil?: Date;
  lastError?: string;
  /** Delivered once more after the current delivery (a coalesced add arrived meanwhile). */
  redo: boolean;
  doneAt?: Date;
  schemaVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface InboxDoc {
  _id: Types.ObjectId;
  key: string;
  kind: string;
  partition: string;
  body: string;
  receivedAt: Date;
  state: 'pending' | 'done';
  attempts: number;
  owner?: string;
  leaseUntil?: Date;
  doneAt?: Date;
  /**
   * The effects the request owes (its replies …), written in the same single-document update
   * that marks it done, with their outbox ids fixed, then inserted into `effects` (idempotent).
   */
  effects?: BatchEffectDoc[];
  /** true while `effects` are not yet in the outbox (the sweeper applies them); else absent. */
  effectsPending?: boolean;
  schemaVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export const EFFECT_COLLECTION = 'effects';
export const EFFECT_PENDING_KEY_INDEX = 'effect_pending_key_unique';
export const INBOX_COLLECTION = 'inbox';
export const INBOX_KEY_INDEX = 'inbox_key_unique';

export const effectSchema = new Schema<EffectDoc>(
  {
    key: { type: String, required: true },
    pendingKey: { type: String },
    kind: { type: String, required: true },
    incidentId: { type: Schema.Types.ObjectId },
    payload: { type: String, required: true },
    notBefore: { type: Date, required: true },
    spacingMs: { type: Number, required: true, min: 0, default: 0 },
    state: { type: String, required: true, enum: ['pending', 'done', 'dead'] },
    attempts: { type: Number, required: true, min: 0, default: 0 },
    owner: { type: String },
    leaseUntil: { type: Date },
    lastError: { type: String },
    redo: { type: Boolean, required: true, default: false },
    doneAt: { type: Date },
    schemaVersion: { type: Number, required: true, default: SCHEMA_VERSION },
  },
  { collection: EFFECT_COLLECTION, timestamps: true, strict: 'throw', versionKey: false },
);
effectSchema.index(
  { pendingKey: 1 },
  { unique: true, sparse: true, name: EFFECT_PENDING_KEY_INDEX },
);
effectSchema.index({ state: 1, notBefore: 1 }, { name: 'state_notBefore' });
effectSchema.index({ key: 1, doneAt: -1 }, { name: 'key_doneAt' });
// Housekeeping (pruneDone): done / dead effects finished before a cut-off.
effectSchema.index({ state: 1, doneAt: 1 }, { name: 'state_doneAt' });

export const inboxSchema = new Schema<InboxDoc>(
  {
    key: { type: String, required: true },
    kind: {
      type: String,
      required: true,
      enum: ['command', 'event', 'action', 'view', 'shortcut'],
    },
    partition: { type: String, required: true },
    body: { type: String, required: true },
    receivedAt: { type: Date, required: true },
    state: { type: String, required: true, enum: ['pending', 'done'] },
    attempts: { type: Number, required: true, min: 0, default: 0 },
    owner: { type: String },
    leaseUntil: { type: Date },
    doneAt: { type: Date },
    // No defaults: absent unless a completion carried effects (keeps the sparse index small).
    effects: { type: [effectSubSchema], default: undefined },
    effectsPending: { type: Boolean },
    schemaVersion: { type: Number, required: true, default: SCHEMA_VERSION },
  },
  { collection: INBOX_COLLECTION, timestamps: true, strict: 'throw', versionKey: false },
);
inboxSchema.index({ key: 1 }, { unique: true, name: INBOX_KEY_INDEX });
inboxSchema.index({ state: 1, _id: 1 }, { name: 'state_id' });
// The sweeper: completed requests whose owed effects are not in the outbox yet.
inboxSchema.index({ effectsPending: 1 }, { sparse: true, name: 'effects_pending' });
// Housekeeping (pruneDone): done items finished before a cut-off.
inboxSchema.index({ state: 1, doneAt: 1 }, { name: 'state_doneAt' });

export function effectModel(conn: Connection): Model<EffectDoc> {
  return (
    (conn.models.Effect as Model<EffectDoc> | undefined) ??
    conn.model<EffectDoc>('Effect', effectSchema)
  );
}

export function inboxModel(conn: Connection): Model<InboxDoc> {
  return (
    (conn.models.Inbox as Model<InboxDoc> | undefined) ?? conn.model<InboxDoc>('Inbox', inboxSchema)
  );
}
