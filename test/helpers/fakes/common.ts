/**
 * A tiny in-memory Git hosting model shared by the GitHub and GitLab fakes: branches pointing at
 * commits, each commit a full snapshot of files. Enough to check what a publisher did (which
 * branch, how many commits, what content) without a real server.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeCommit {
  sha: string;
  message: string;
  files: Map<string, string>;
  parent?: string;
}

export class FakeRepo {
  readonly commits = new Map<string, FakeCommit>();
  readonly branches = new Map<string, string>();

  constructor(base: string) {
    const root = this.addCommit('initial commit', new Map([['README.md', '# postmortems\n']]));
    this.branches.set(base, root.sha);
  }

  addCommit(message: string, files: Map<string, string>, parent?: string): FakeCommit {
    const sha = createHash('sha1')
      .update(`${parent ?? ''}\n${message}\n${[...files].join('\n')}\n${this.commits.size}`)
      .digest('hex');
    const c = { sha, message, files, ...(parent ? { parent } : {}) };
    this.commits.set(sha, c);
    return c;
  }

  head(branch: string): FakeCommit | undefined {
    const sha = this.branches.get(branch);
    return sha ? this.commits.get(sha) : undefined;
  }

  /** Commits a file change on a branch; returns the new commit. */
  write(branch: string, path: string, content: string, message: string): FakeCommit {
    const head = this.head(branch);
    if (!head) throw new Error(`no branch ${branch}`);
    const files = new Map(head.files);
    files.set(path, content);
    const c = this.addCommit(message, files, head.sha);
    this.branches.set(branch, c.sha);
    return c;
  }

  /** Commits on `branch` not on `base`, newest first. */
  commitsSince(branch: string, base: string): FakeCommit[] {
    const stop = this.branches.get(base);
    const out: FakeCommit[] = [];
    let c = this.head(branch);
    while (c && c.sha !== stop) {
      out.push(c);
      c = c.parent ? this.commits.get(c.parent) : undefined;
    }
    return out;
  }
}

/** Git's blob id of a text (what GitHub's contents API calls `sha`). */
export function blobSha(content: string): string {
  const buf = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');
}

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: IncomingMessage['headers'];
}

export interface Injected {
  method: string;
  path: RegExp;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeServer {
  url: string;
  requests: Recorded[];
  /** The next request matching answers this instead (once). */
  failNext(f: Injected): void;
  close(): Promise<void>;
}

export type Route = (r: Recorded) => { status: number; body: unknown } | undefined;

export async function startFake(
  prefix: string,
  auth: (h: IncomingMessage['headers']) => boolean,
  route: Route,
): Promise<FakeServer> {
  const requests: Recorded[] = [];
  const injected: Injected[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const path = url.pathname.startsWith(prefix)
        ? url.pathname.slice(prefix.length)
        : url.pathname;
      const rec: Recorded = {
        method: req.method ?? 'GET',
        path,
        query: url.searchParams,
        body,
        headers: req.headers,
      };
      requests.push(rec);
      const send = (
        status: number,
        payload: unknown,
        headers: Record<string, string> = {},
      ): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(payload === undefined ? '' : JSON.stringify(payload));
      };
      const k = injected.findIndex((f) => f.method === rec.method && f.path.test(path));
      if (k >= 0) {
        const [f] = injected.splice(k, 1);
        send(f.status, f.body, f.headers);
        return;
      }
      if (!auth(req.headers)) {
        send(401, { message: 'Bad credentials' });
        return;
      }
      const out = route(rec);
      if (!out) send(404, { message: 'Not Found' });
      else send(out.status, out.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    requests,
    failNext: (f) => injected.push(f),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
