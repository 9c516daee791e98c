/**
 * Publishing to GitHub over the REST API (https://docs.github.com/rest): a branch per incident,
 * the draft committed through the contents API, a draft pull request.
 *
 * Idempotent, and safe to retry after a failure at any step:
 * - the branch is looked up first; "Reference already exists" (422) from a concurrent creation
 *   counts as created;
 * - the file is read on the branch first: the same content commits nothing, other content is
 *   committed with the blob `sha` it replaces (a 409 "is at … but expected …" means someone
 *   pushed meanwhile: retryable, re-read next time);
 * - the open pull request from the branch is looked up first; "A pull request already exists"
 *   (422) from a concurrent creation is answered by looking it up again. Never a second PR.
 */
import { RetryableEffectError } from '../../app/effects';
import {
  alreadyExists,
  apiMessage,
  fileText,
  findOrOpenReview,
  requestJson,
  unexpected,
  type FetchLike,
  type HttpAnswer,
  type ReviewRequest,
} from './http';
import type { Publisher, PublishRequest, PublishResult } from './types';

export interface GitHubTarget {
  /** owner/repo */
  repo: string;
  base: string;
  token: string;
  /** Default https://api.github.com */
  apiUrl: string;
}

const enc = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

export class GitHubPublisher implements Publisher {
  readonly provider = 'github' as const;
  private readonly owner: string;

  constructor(
    private readonly t: GitHubTarget,
    private readonly fetchImpl: FetchLike = fetch,
  ) {
    this.owner = t.repo.split('/')[0];
  }

  private call(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    return requestJson(
      this.fetchImpl,
      method,
      `${this.t.apiUrl.replace(/\/+$/, '')}/repos/${enc(this.t.repo)}${path}`,
      {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${this.t.token}`,
        'x-github-api-version': '2022-11-28',
        'user-agent': 'incident-bot',
      },
      body,
    );
  }

  async publish(req: PublishRequest): Promise<PublishResult> {
    await this.ensureBranch(req.branch);
    const committed = await this.commit(req);
    const pr = await this.ensurePullRequest(req);
    return { ...pr, committed };
  }

  private async ensureBranch(branch: string): Promise<void> {
    const got = await this.call('GET', `/git/ref/heads/${enc(branch)}`);
    if (got.status === 200) return;
    if (got.status !== 404) throw unexpected('reading the branch', got);
    const base = await this.call('GET', `/git/ref/heads/${enc(this.t.base)}`);
    if (base.status !== 200) throw unexpected(`reading the base branch ${this.t.base}`, base);
    const sha = (base.body as { object?: { sha?: string } }).object?.sha;
    if (!sha) throw unexpected('reading the base branch (no sha)', base);
    const created = await this.call('POST', '/git/refs', { ref: `refs/heads/${branch}`, sha });
    if (created.status === 201 || alreadyExists(created, 422)) return;
    throw unexpected('creating the branch', created);
  }

  private async commit(req: PublishRequest): Promise<boolean> {
    const path = `/contents/${enc(req.path)}`;
    const got = await this.call('GET', `${path}?ref=${encodeURIComponent(req.branch)}`);
    let sha: string | undefined;
    if (got.status === 200) {
      const file = got.body as { sha?: string; content?: string; encoding?: string };
      sha = file.sha;
      if (fileText(file) === req.content) return false;
    } else if (got.status !== 404) {
      throw unexpected('reading the file', got);
    }
    const put = await this.call('PUT', path, {
      message: req.commitMessage,
      content: Buffer.from(req.content, 'utf8').toString('base64'),
      branch: req.branch,
      ...(sha ? { sha } : {}),
    });
    if (put.status === 200 || put.status === 201) return true;
    if (put.status === 409) {
      // The branch moved between our read and write: a retry reads the new sha.
      throw new RetryableEffectError(`committing the draft: ${apiMessage(put.body) || 'conflict'}`);
    }
    throw unexpected('committing the draft', put);
  }

  private ensurePullRequest(req: PublishRequest): Promise<ReviewRequest & { opened: boolean }> {
    const q = `?state=open&head=${encodeURIComponent(`${this.owner}:${req.branch}`)}&base=${encodeURIComponent(this.t.base)}`;
    return findOrOpenReview({
      what: 'pull request',
      fields: { number: 'number', url: 'html_url' },
      list: () => this.call('GET', `/pulls${q}`),
      open: () =>
        this.call('POST', '/pulls', {
          title: req.title,
          head: req.branch,
          base: this.t.base,
          body: req.body,
          draft: true,
        }),
      lostRace: (a) => alreadyExists(a, 422),
    });
  }
}
