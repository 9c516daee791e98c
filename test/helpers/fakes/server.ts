/**
 * A tiny JSON HTTP server on 127.0.0.1 for the pager fakes: routes, recorded requests, and
 * failure injection (the next N requests answered with a given status, e.g. 503 or 429).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  raw: string;
  json: unknown;
}

export interface FakeAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Route = (req: FakeRequest, params: string[]) => FakeAnswer;

export interface FakeServer {
  url: string;
  requests: FakeRequest[];
  /** The next `count` requests (any route) get this answer instead. */
  failNext(count: number, answer: FakeAnswer): void;
  close(): Promise<void>;
}

export async function startFakeServer(
  routes: { method: string; path: RegExp; handle: Route }[],
): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const failures: FakeAnswer[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      let json: unknown;
      try {
        json = raw ? JSON.parse(raw) : undefined;
      } catch {
        json = undefined;
      }
      const fr: FakeRequest = {
        method: req.method ?? 'GET',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        raw,
        json,
      };
      requests.push(fr);
      let answer: FakeAnswer;
      const injected = failures.shift();
      if (injected) {
        answer = injected;
      } else {
        const route = routes.find((r) => r.method === fr.method && r.path.test(fr.path));
        const m = route ? route.path.exec(fr.path) : null;
        answer =
          route && m
            ? route.handle(fr, m.slice(1))
            : { status: 404, body: { message: 'not found' } };
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(count, answer) {
      for (let i = 0; i < count; i += 1) failures.push(answer);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
