/** What a publisher is asked to do, and what it did. */
export interface PublishRequest {
  /** The branch that carries this incident's postmortem (one per incident and target). */
  branch: string;
  /** The file's path in the repository. */
  path: string;
  content: string;
  commitMessage: string;
  /** Pull/merge request title and body (Markdown). */
  title: string;
  body: string;
}

export interface PublishResult {
  /** The pull/merge request's web address. */
  url: string;
  /** GitHub `number`, GitLab `iid`. */
  number: number;
  /** True when this call opened the pull/merge request (false: it existed already). */
  opened: boolean;
  /** True when this call committed a change (false: the file already had this content). */
  committed: boolean;
}

export interface Publisher {
  readonly provider: 'github' | 'gitlab';
  publish(req: PublishRequest): Promise<PublishResult>;
}
