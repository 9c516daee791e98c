/** What a pager is asked to do: the same facts for every provider. */
import type { Severity } from '../../core/model';

export interface PageFacts {
  /** Stable per incident and target: every page of this target for this incident is one alert. */
  dedupKey: string;
  target: string;
  incidentId: string;
  /** "INC-4" */
  incidentLabel: string;
  incidentNumber: number;
  title: string;
  severity: Severity;
  reason?: string;
  requestedBy: { id: string; name: string };
  /** Slack channel id of the incident, and a link to it when the team is known. */
  channel?: string;
  channelUrl?: string;
  /** ISO UTC */
  at: string;
}

export interface TriggerResult {
  /** The provider's reference (PagerDuty dedup key, JSM request id, webhook's `ref`). */
  providerRef?: string;
}

/** An on-call person as a provider lists them (email is used to find them in Slack). */
export interface OncallPerson {
  name: string;
  email?: string;
}
