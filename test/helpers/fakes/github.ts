/**
 * A local fake of the GitHub REST API endpoints the publisher uses, answering with the documented
 * shapes and status codes (docs.github.com/rest: git refs, repository contents, pulls):
 *   GET  /repos/{o}/{r}/git/ref/heads/{branch}   200 {ref, object:{sha}} | 404
 *   POST /repos/{o}/{r}/git/refs                 201 | 422 "Reference already exists"
 *   GET  /repos/{o}/{r}/contents/{path}?ref=     200 {type, encoding:"base64", content, sha} | 404
 *   PUT  /repos/{o}/{r}/contents/{path}          201 created | 200 updated | 422 no sha for an
 *                                                existing file | 409 sha does not match
 *   GET  /repos/{o}/{r}/pulls?state&head&base    200 [...]
 *   POST /repos/{o}/{r}/pulls                    201 | 422 "A pull request already exists for …"
 * Bearer token checked; anything else is 404.
 */
import { blobSha, FakeRepo, startFake, type FakeServer } from './common';

export interface FakePull {
  number: number;
  html_url: string;
  title: string;
  body: string;
  draft: boolean;
  state: 'open' | 'closed';
  head: { ref: string; label: string };
  base: { ref: string };
}

export interface GitHubFake extends FakeServer {
  repo: FakeRepo;
  pulls: FakePull[];
}

export async function startGitHubFake(opts: {
  repo: string;
  base?: string;
  token: string;
}): Promise<GitHubFake> {
  const base = opts.base ?? 'main';
  const repo = new FakeRepo(base);
  const pulls: FakePull[] = [];
  const [owner] = opts.repo.split('/');
  const prefix = `/repos/${opts.repo}`;
  const fake = await startFake(
    '',
    (h) => h.authorization === `Bearer ${opts.token}`,
    (r) => {
      if (!r.path.startsWith(`${prefix}/`)) return undefined;
      const p = r.path.slice(prefix.length);
      const body = (r.body ?? {}) as Record<string, unknown>;
      let m: RegExpExecArray | null;
      if (r.method === 'GET' && (m = /^\/git\/ref\/heads\/(.+)$/.exec(p))) {
        const branch = decodeURIComponent(m[1]);
        const sha = repo.branches.get(branch);
        return sha
          ? { status: 200, body: { ref: `refs/heads/${branch}`, object: { sha, type: 'commit' } } }
          : { status: 404, body: { message: 'Not Found' } };
      }
      if (r.method === 'POST' && p === '/git/refs') {
        const ref = String(body.ref ?? '');
        const sha = String(body.sha ?? '');
        if (!ref.startsWith('refs/heads/') || !repo.commits.has(sha)) {
          return { status: 422, body: { message: 'Invalid request.' } };
        }
        const branch = ref.slice('refs/heads/'.length);
        if (repo.branches.has(branch)) {
          return { status: 422, body: { message: 'Reference already exists' } };
        }
        repo.branches.set(branch, sha);
        return { status: 201, body: { ref, object: { sha, type: 'commit' } } };
      }
      if ((m = /^\/contents\/(.+)$/.exec(p))) {
        const path = m[1].split('/').map(decodeURIComponent).join('/');
        if (r.method === 'GET') {
          const head = repo.head(r.query.get('ref') ?? base);
          const content = head?.files.get(path);
          if (content === undefined) return { status: 404, body: { message: 'Not Found' } };
          return {
            status: 200,
            body: {
              type: 'file',
              encoding: 'base64',
              path,
              sha: blobSha(content),
              // GitHub wraps base64 at 60 characters.
              content: Buffer.from(content)
                .toString('base64')
                .replace(/(.{60})/g, '$1\n'),
            },
          };
        }
        if (r.method === 'PUT') {
          const branch = String(body.branch ?? base);
          const head = repo.head(branch);
          if (!head) return { status: 404, body: { message: 'Branch not found' } };
          const current = head.files.get(path);
          if (current !== undefined && body.sha === undefined) {
            return {
              status: 422,
              body: { message: 'Invalid request.\n\n"sha" wasn\'t supplied.' },
            };
          }
          if (current !== undefined && body.sha !== blobSha(current)) {
            return { status: 409, body: { message: `${path} does not match ${String(body.sha)}` } };
          }
          const content = Buffer.from(String(body.content ?? ''), 'base64').toString('utf8');
          const c = repo.write(branch, path, content, String(body.message ?? ''));
          return {
            status: current === undefined ? 201 : 200,
            body: { content: { path, sha: blobSha(content) }, commit: { sha: c.sha } },
          };
        }
      }
      if (r.method === 'GET' && p === '/pulls') {
        const state = r.query.get('state') ?? 'open';
        const head = r.query.get('head');
        const baseRef = r.query.get('base');
        return {
          status: 200,
          body: pulls.filter(
            (pr) =>
              (state === 'all' || pr.state === state) &&
              (!head || pr.head.label === head) &&
              (!baseRef || pr.base.ref === baseRef),
          ),
        };
      }
      if (r.method === 'POST' && p === '/pulls') {
        const head = String(body.head ?? '');
        if (!repo.branches.has(head)) {
          return {
            status: 422,
            body: {
              message: 'Validation Failed',
              errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }],
            },
          };
        }
        if (pulls.some((pr) => pr.state === 'open' && pr.head.ref === head)) {
          return {
            status: 422,
            body: {
              message: 'Validation Failed',
              errors: [
                {
                  resource: 'PullRequest',
                  code: 'custom',
                  message: `A pull request already exists for ${owner}:${head}.`,
                },
              ],
            },
          };
        }
        const number = pulls.length + 1;
        const pr: FakePull = {
          number,
          html_url: `https://github.example/${opts.repo}/pull/${number}`,
          title: String(body.title ?? ''),
          body: String(body.body ?? ''),
          draft: body.draft === true,
          state: 'open',
          head: { ref: head, label: `${owner}:${head}` },
          base: { ref: String(body.base ?? base) },
        };
        pulls.push(pr);
        return { status: 201, body: pr };
      }
      return undefined;
    },
  );
  return Object.assign(fake, { repo, pulls });
}
