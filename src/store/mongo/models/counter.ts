/**
 * `counters`: atomic sequences, one document per sequence: `incident:<team>` (INC numbers).
 * Incremented with findOneAndUpdate + $inc + upsert. (Event seqs need no counter: they follow
 * from the batch version, see batch.ts.)
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { SCHEMA_VERSION } from './common';

export interface CounterDoc {
  _id: string;
  /** The last value handed out. */
  seq: number;
  schemaVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export const COUNTER_COLLECTION = 'counters';

export const counterSchema = new Schema<CounterDoc>(
  {
    _id: { type: String, required: true },
    // No default: an upsert's $setOnInsert must not clash with its $inc.
    seq: { type: Number, required: true, min: 0 },
    schemaVersion: { type: Number, required: true, default: SCHEMA_VERSION },
  },
  { collection: COUNTER_COLLECTION, timestamps: true, versionKey: false },
);

export function incidentCounterId(team: string): string {
  return `incident:${team}`;
}

export function counterModel(conn: Connection): Model<CounterDoc> {
  return (
    (conn.models.Counter as Model<CounterDoc> | undefined) ??
    conn.model<CounterDoc>('Counter', counterSchema)
  );
}
