/** Errors a user can act on. `message` is friendly and safe to show in Slack or the CLI. */
export type IncidentErrorCode =
  | 'not_found'
  | 'closed'
  | 'not_resolved'
  | 'unknown_hypothesis'
  | 'unknown_action'
  | 'invalid'
  | 'forbidden'
  | 'store_unavailable'
  | 'busy';

export class IncidentError extends Error {
  constructor(
    readonly code: IncidentErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IncidentError';
  }
}
