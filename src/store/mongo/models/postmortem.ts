/** `postmortems`: every rendered draft, kept (the latest is the one served). */
import { Schema, type Connection, type Model, type Types } from 'mongoose';
import { SCHEMA_VERSION, presentString } from './common';

export interface PostmortemDoc {
  _id: Types.ObjectId;
  incidentId: Types.ObjectId;
  template: string;
  format: 'md' | 'json';
  content: string;
  renderedAt: Date;
  schemaVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export const POSTMORTEM_COLLECTION = 'postmortems';
export const POSTMORTEM_FORMATS = ['md', 'json'] as const;

export const postmortemSchema = new Schema<PostmortemDoc>(
  {
    incidentId: { type: Schema.Types.ObjectId, required: true },
    template: { type: String, required: true },
    format: { type: String, required: true, enum: POSTMORTEM_FORMATS },
    // Empty content is a legitimate render; only its absence is an error.
    content: { type: String, required: presentString('content') },
    renderedAt: { type: Date, required: true },
    schemaVersion: { type: Number, required: true, default: SCHEMA_VERSION },
  },
  { collection: POSTMORTEM_COLLECTION, timestamps: true, strict: 'throw', versionKey: false },
);

// latestPostmortem: newest render of an incident.
postmortemSchema.index({ incidentId: 1, renderedAt: -1 }, { name: 'incident_renderedAt' });

export function postmortemModel(conn: Connection): Model<PostmortemDoc> {
  return (
    (conn.models.Postmortem as Model<PostmortemDoc> | undefined) ??
    conn.model<PostmortemDoc>('Postmortem', postmortemSchema)
  );
}
