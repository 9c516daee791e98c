/**
 * Publishing to GitLab over its REST API v4 (https://docs.gitlab.com/api/): a branch per
 * incident, the draft committed with the commits API, a draft merge request ("Draft: " title).
 *
 * Idempotent, and safe to retry after a failure at any step:
 * - the branch is looked up first; "Branch already exists" (400) from a concurrent creation counts
 *   as created;
 * - the file is read on the branch first: the same content commits nothing; otherwise one commit
 *   `create`s or `update`s it (a 400 "A file with this name already exists" from a race is
 *   retried once as an update);
 * - the open merge request from the branch is looked up first; a 409 "Another open merge request
 *   already exists for this source branch" is answered by looking it up again. Never a second MR.
 */
import {
  alreadyExists,
  fileText,
  findOrOpenReview,
  requestJson,
  unexpected,
  type FetchLike,
  type HttpAnswer,
  type ReviewRequest,
} from './http';
import type { Publisher, PublishRequest, PublishResult } from './types';

export interface GitLabTarget {
  /** Project id or full path (group/project). */
  project: string;
  base: string;
  token: string;
  /** Default https://gitlab.com/api/v4 */
  apiUrl: string;
}

export class GitLabPublisher implements Publisher {
  readonly provider = 'gitlab' as const;

  constructor(
    private readonly t: GitLabTarget,
    private readonly fetchImpl: FetchLike = fetch,
  ) {}

  private call(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    return requestJson(
      this.fetchImpl,
      method,
      `${this.t.apiUrl.replace(/\/+$/, '')}/projects/${encodeURIComponent(this.t.project)}${path}`,
      { accept: 'application/json', 'private-token': this.t.token, 'user-agent': 'incident-bot' },
      body,
    );
  }

  async publish(req: PublishRequest): Promise<PublishResult> {
    await this.ensureBranch(req.branch);
    const committed = await this.commit(req);
    const mr = await this.ensureMergeRequest(req);
    return { ...mr, committed };
  }

  private async ensureBranch(branch: string): Promise<void> {
    const got = await this.call('GET', `/repository/branches/${encodeURIComponent(branch)}`);
    if (got.status === 200) return;
    if (got.status !== 404) throw unexpected('reading the branch', got);
    const q = `?branch=${encodeURIComponent(branch)}&ref=${encodeURIComponent(this.t.base)}`;
    const created = await this.call('POST', `/repository/branches${q}`);
    if (created.status === 201 || alreadyExists(created, 400)) return;
    throw unexpected('creating the branch', created);
  }

  private async commit(req: PublishRequest): Promise<boolean> {
    const got = await this.call(
      'GET',
      `/repository/files/${encodeURIComponent(req.path)}?ref=${encodeURIComponent(req.branch)}`,
    );
    let exists = false;
    if (got.status === 200) {
      exists = true;
      if (fileText(got.body as { content?: string; encoding?: string }) === req.content) {
        return false;
      }
    } else if (got.status !== 404) {
      throw unexpected('reading the file', got);
    }
    const post = (action: 'create' | 'update') =>
      this.call('POST', '/repository/commits', {
        branch: req.branch,
        commit_message: req.commitMessage,
        actions: [{ action, file_path: req.path, content: req.content }],
      });
    let r = await post(exists ? 'update' : 'create');
    if (!exists && alreadyExists(r, 400)) {
      r = await post('update');
    }
    if (r.status === 201) return true;
    throw unexpected('committing the draft', r);
  }

  private ensureMergeRequest(req: PublishRequest): Promise<ReviewRequest & { opened: boolean }> {
    const q = `?state=opened&source_branch=${encodeURIComponent(req.branch)}&target_branch=${encodeURIComponent(this.t.base)}`;
    return findOrOpenReview({
      what: 'merge request',
      fields: { number: 'iid', url: 'web_url' },
      list: () => this.call('GET', `/merge_requests${q}`),
      open: () =>
        this.call('POST', '/merge_requests', {
          source_branch: req.branch,
          target_branch: this.t.base,
          title: `Draft: ${req.title}`,
          description: req.body,
        }),
      // 409 "Another open merge request already exists for this source branch".
      lostRace: (a) => a.status === 409,
    });
  }
}
