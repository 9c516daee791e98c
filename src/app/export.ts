/**
 * The JSON export: the full incident, documented in the README.
 * `{ incident: { number, title, severity, status, zone, channel, detectedAt, resolvedAt, … },
 *    events: [ { type, occurredAt, recordedAt, actor, source, key, seq, …type-specific } ] }`
 * All times are ISO-8601 UTC.
 */
import type { DateTime } from 'luxon';
import { computeMetrics } from '../core/metrics';
import { formatIncidentNumber } from '../core/model';
import { eventToJSON, toIsoUtc, type EventJSON } from '../core/serialize';
import type { Incident } from './service';

export interface IncidentExport {
  incident: Record<string, unknown>;
  events: EventJSON[];
}

const iso = (t: DateTime | undefined): string | null => (t ? toIsoUtc(t) : null);

export function exportIncident(incident: Incident): IncidentExport {
  const { record, state } = incident;
  return {
    incident: {
      id: record.id,
      team: record.team,
      number: record.number,
      ref: formatIncidentNumber(record.number),
      title: state.title || record.title,
      description: state.description ?? null,
      severity: state.severity,
      status: state.status,
      zone: state.zone,
      channel: state.channel ?? record.channel ?? null,
      channelName: state.channelName ?? null,
      openedAt: iso(state.openedAt),
      detectedAt: iso(state.detectedAt),
      impactStartedAt: iso(state.impactStartedAt),
      resolvedAt: iso(state.resolvedAt),
      closedAt: iso(state.closedAt),
      impact: state.impact ?? null,
      rootCause: state.rootCause
        ? {
            text: state.rootCause.text,
            at: iso(state.rootCause.at),
            by: state.rootCause.by,
            hypothesis: state.rootCause.hypothesis ?? null,
          }
        : null,
      resolution: state.resolution ?? null,
      roles: state.roles,
      hypotheses: state.hypotheses.map((h) => ({
        id: h.id,
        text: h.text,
        raisedAt: iso(h.raisedAt),
        raisedBy: h.raisedBy,
        outcome: h.outcome,
        outcomeAt: iso(h.outcomeAt),
        evidence: h.evidence ?? null,
        timeSpentMs: h.timeSpentMs ?? null,
      })),
      escalations: state.escalations.map((e) => ({
        at: iso(e.at),
        by: e.by,
        to: e.to,
        reason: e.reason ?? null,
        users: e.users,
        groups: e.groups,
      })),
      actions: state.actions.map((a) => ({
        id: a.id,
        text: a.text,
        owner: a.owner ?? null,
        due: a.due ?? null,
        done: a.done,
        addedAt: iso(a.addedAt),
      })),
      metrics: computeMetrics(state).map((m) => ({
        key: m.key,
        name: m.name,
        formula: m.formula,
        ms: m.ms ?? null,
        missing: m.missing ?? null,
      })),
      createdAt: iso(record.createdAt),
      updatedAt: iso(record.updatedAt),
    },
    events: incident.events.map((e) => eventToJSON(e)),
  };
}
