/** `incidents`: one small document per incident (summary for look-ups and listing). */
import { Schema, type Connection, type Model, type Types } from 'mongoose';
import { SEVERITIES, STATUSES, type Severity, type Status } from '../../../core/model';
import { SCHEMA_VERSION, presentString } from './common';

export interface IncidentDoc {
  _id: Types.ObjectId;
  team: string;
  number: number;
  title: string;
  severity: Severity;
  status: Status;
  zone: string;
  channel?: string;
  /** Idempotency key of the incident itself (e.g. an import). */
  key?: string;
  /** The last batch (write version) reflected in this document; see models/batch.ts. */
  appliedV: number;
  schemaVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export const INCIDENT_COLLECTION = 'incidents';
export const INCIDENT_KEY_INDEX = 'incident_key_unique';
export const INCIDENT_NUMBER_INDEX = 'team_number_unique';

export const incidentSchema = new Schema<IncidentDoc>(
  {
    team: { type: String, required: true },
    number: { type: Number, required: true, min: 1, validate: Number.isSafeInteger },
    title: { type: String, required: presentString('title') },
    severity: { type: String, required: true, enum: SEVERITIES },
    status: { type: String, required: true, enum: STATUSES },
    zone: { type: String, required: presentString('zone') },
    channel: { type: String },
    key: { type: String },
    appliedV: { type: Number, required: true, min: 0, default: 0 },
    schemaVersion: { type: Number, required: true, default: SCHEMA_VERSION },
  },
  { collection: INCIDENT_COLLECTION, timestamps: true, strict: 'throw', versionKey: false },
);

// INC-<number> is unique per team; also serves findByNumber and the `listTeams` distinct.
incidentSchema.index({ team: 1, number: 1 }, { unique: true, name: INCIDENT_NUMBER_INDEX });
// findByChannel; sparse: only incidents that have a channel are indexed.
incidentSchema.index({ channel: 1 }, { name: 'channel', sparse: true });
// listIncidents (status filter, per team, newest first).
incidentSchema.index({ status: 1, team: 1, createdAt: -1 }, { name: 'status_team_createdAt' });
// An incident key is recorded once, even when two replicas create it at the same moment.
incidentSchema.index(
  { key: 1 },
  {
    unique: true,
    name: INCIDENT_KEY_INDEX,
    // Sparse: incidents without a key are not indexed (partial indexes are not available on
    // every wire-compatible server; for a field that is absent or a string, both mean the same).
    sparse: true,
  },
);

/** The incidents model on this connection (one per connection; replicas may coexist). */
export function incidentModel(conn: Connection): Model<IncidentDoc> {
  return (
    (conn.models.Incident as Model<IncidentDoc> | undefined) ??
    conn.model<IncidentDoc>('Incident', incidentSchema)
  );
}
