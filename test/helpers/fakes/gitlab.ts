/**
 * A local fake of the GitLab REST API v4 endpoints the publisher uses, answering with the
 * documented shapes and status codes (docs.gitlab.com/api: branches, repository files, commits,
 * merge requests):
 *   GET  /projects/:id/repository/branches/:branch      200 {name, commit:{id}} | 404
 *   POST /projects/:id/repository/branches?branch&ref   201 | 400 "Branch already exists"
 *   GET  /projects/:id/repository/files/:path?ref=      200 {encoding:"base64", content, blob_id} | 404
 *   POST /projects/:id/repository/commits               201 | 400 "A file with this name already
 *                                                       exists" / "… doesn't exist"
 *   GET  /projects/:id/merge_requests?state&source_branch&target_branch   200 [...]
 *   POST /projects/:id/merge_requests                   201 | 409 "Another open merge request
 *                                                       already exists for this source branch: !n"
 * PRIVATE-TOKEN checked; `:id` is the URL-encoded project path.
 */
import { blobSha, FakeRepo, startFake, type FakeServer } from './common';

export interface FakeMergeRequest {
  iid: number;
  web_url: string;
  title: string;
  description: string;
  draft: boolean;
  state: 'opened' | 'closed' | 'merged';
  source_branch: string;
  target_branch: string;
}

export interface GitLabFake extends FakeServer {
  repo: FakeRepo;
  mergeRequests: FakeMergeRequest[];
}

export async function startGitLabFake(opts: {
  project: string;
  base?: string;
  token: string;
}): Promise<GitLabFake> {
  const base = opts.base ?? 'main';
  const repo = new FakeRepo(base);
  const mrs: FakeMergeRequest[] = [];
  const fake = await startFake(
    '/api/v4',
    (h) => h['private-token'] === opts.token,
    (r) => {
      const pm = /^\/projects\/([^/]+)(\/.*)$/.exec(r.path);
      if (!pm || decodeURIComponent(pm[1]) !== opts.project) return undefined;
      const p = pm[2];
      const body = (r.body ?? {}) as Record<string, unknown>;
      let m: RegExpExecArray | null;
      if (r.method === 'GET' && (m = /^\/repository\/branches\/([^/]+)$/.exec(p))) {
        const branch = decodeURIComponent(m[1]);
        const sha = repo.branches.get(branch);
        return sha
          ? { status: 200, body: { name: branch, commit: { id: sha } } }
          : { status: 404, body: { message: '404 Branch Not Found' } };
      }
      if (r.method === 'POST' && p === '/repository/branches') {
        const branch = r.query.get('branch') ?? '';
        const ref = repo.branches.get(r.query.get('ref') ?? '');
        if (!ref) return { status: 400, body: { message: 'Invalid reference name' } };
        if (repo.branches.has(branch))
          return { status: 400, body: { message: 'Branch already exists' } };
        repo.branches.set(branch, ref);
        return { status: 201, body: { name: branch, commit: { id: ref } } };
      }
      if (r.method === 'GET' && (m = /^\/repository\/files\/([^/]+)$/.exec(p))) {
        const path = decodeURIComponent(m[1]);
        const content = repo.head(r.query.get('ref') ?? base)?.files.get(path);
        if (content === undefined) return { status: 404, body: { message: '404 File Not Found' } };
        return {
          status: 200,
          body: {
            file_name: path.split('/').pop(),
            file_path: path,
            encoding: 'base64',
            content: Buffer.from(content).toString('base64'),
            blob_id: blobSha(content),
            ref: r.query.get('ref'),
          },
        };
      }
      if (r.method === 'POST' && p === '/repository/commits') {
        const branch = String(body.branch ?? '');
        const head = repo.head(branch);
        if (!head)
          return {
            status: 400,
            body: { message: 'You can only create or edit files when you are on a branch' },
          };
        const actions = (body.actions ?? []) as {
          action: string;
          file_path: string;
          content: string;
        }[];
        for (const a of actions) {
          const exists = head.files.has(a.file_path);
          if (a.action === 'create' && exists)
            return { status: 400, body: { message: 'A file with this name already exists' } };
          if (a.action === 'update' && !exists)
            return { status: 400, body: { message: "A file with this name doesn't exist" } };
        }
        let c = head;
        for (const a of actions)
          c = repo.write(branch, a.file_path, a.content, String(body.commit_message ?? ''));
        return {
          status: 201,
          body: {
            id: c.sha,
            short_id: c.sha.slice(0, 8),
            title: c.message.split('\n')[0],
            message: c.message,
          },
        };
      }
      if (r.method === 'GET' && p === '/merge_requests') {
        const state = r.query.get('state') ?? 'all';
        const src = r.query.get('source_branch');
        const tgt = r.query.get('target_branch');
        return {
          status: 200,
          body: mrs.filter(
            (mr) =>
              (state === 'all' || mr.state === state) &&
              (!src || mr.source_branch === src) &&
              (!tgt || mr.target_branch === tgt),
          ),
        };
      }
      if (r.method === 'POST' && p === '/merge_requests') {
        const src = String(body.source_branch ?? '');
        const existing = mrs.find((mr) => mr.state === 'opened' && mr.source_branch === src);
        if (existing) {
          return {
            status: 409,
            body: {
              message: [
                `Another open merge request already exists for this source branch: !${existing.iid}`,
              ],
            },
          };
        }
        const iid = mrs.length + 1;
        const title = String(body.title ?? '');
        const mr: FakeMergeRequest = {
          iid,
          web_url: `https://gitlab.example/${opts.project}/-/merge_requests/${iid}`,
          title,
          description: String(body.description ?? ''),
          draft: /^(draft:|\[draft\]|\(draft\))/i.test(title),
          state: 'opened',
          source_branch: src,
          target_branch: String(body.target_branch ?? base),
        };
        mrs.push(mr);
        return { status: 201, body: mr };
      }
      return undefined;
    },
  );
  return Object.assign(fake, { repo, mergeRequests: mrs });
}
