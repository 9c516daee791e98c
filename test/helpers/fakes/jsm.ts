/**
 * A local Jira Service Management Operations alert API (and Opsgenie's, which it kept), written
 * from the public reference: `POST {base}/jsm/ops/integration/v2/alerts` (Opsgenie:
 * `POST {base}/v2/alerts`) with `Authorization: GenieKey <key>`; `message` required (≤ 130),
 * `alias` (≤ 512; an open alert with the same alias is not duplicated, its count goes up),
 * `priority` P1…P5, `responders` of type team | user | escalation | schedule, each with an id,
 * a name or a username. Answers 202 `{ result: "Request will be processed", took, requestId }`;
 * 422 `{ message, errors: { field: why }, took, requestId }` for a bad body; 401 for a bad key.
 * Close: `POST …/alerts/{alias}/close?identifierType=alias`, 202.
 */
import { randomUUID } from 'node:crypto';
import { startFakeServer, type FakeAnswer, type FakeRequest, type FakeServer } from './server';

export interface FakeJsmAlert {
  alias: string;
  message: string;
  priority?: string;
  responders: unknown[];
  open: boolean;
  /** Creates received while open (dedup by alias). */
  count: number;
  /** Which API received it. */
  api: 'jsm' | 'opsgenie';
  body: Record<string, unknown>;
}

export interface FakeJsm extends FakeServer {
  alerts: FakeJsmAlert[];
}

const PRIORITIES = ['P1', 'P2', 'P3', 'P4', 'P5'];
const RESPONDER_TYPES = ['team', 'user', 'escalation', 'schedule'];

export async function startFakeJsm(opts: { apiKeys: string[] }): Promise<FakeJsm> {
  const alerts: FakeJsmAlert[] = [];
  const meta = () => ({ took: 0.01, requestId: randomUUID() });
  const authed = (req: FakeRequest): FakeAnswer | undefined => {
    const key = /^GenieKey (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    return key && opts.apiKeys.includes(key)
      ? undefined
      : { status: 401, body: { message: 'Could not authenticate', ...meta() } };
  };
  const create =
    (api: 'jsm' | 'opsgenie') =>
    (req: FakeRequest): FakeAnswer => {
      const denied = authed(req);
      if (denied) return denied;
      const b = req.json as Record<string, unknown> | undefined;
      const errors: Record<string, string> = {};
      if (!b || typeof b.message !== 'string' || !b.message.trim())
        errors.message = 'Message can not be empty.';
      else if (b.message.length > 130)
        errors.message = 'Message can not be longer than 130 characters.';
      if (b?.alias !== undefined && (typeof b.alias !== 'string' || b.alias.length > 512)) {
        errors.alias = 'Alias can not be longer than 512 characters.';
      }
      if (b?.priority !== undefined && !PRIORITIES.includes(b.priority as string)) {
        errors.priority = 'Priority should be one of [P1, P2, P3, P4, P5]';
      }
      for (const r of (b?.responders as Record<string, unknown>[] | undefined) ?? []) {
        if (!RESPONDER_TYPES.includes(r.type as string) || !(r.id || r.name || r.username)) {
          errors.responders = 'Responder type and one of id, name or username are required.';
        }
      }
      if (!b || Object.keys(errors).length) {
        return {
          status: 422,
          body: {
            message: 'Request body is not processable. Please check the errors.',
            errors,
            ...meta(),
          },
        };
      }
      const alias = typeof b.alias === 'string' ? b.alias : randomUUID();
      const open = alerts.find((a) => a.alias === alias && a.open);
      if (open) open.count += 1;
      else
        alerts.push({
          alias,
          message: String(b.message),
          priority: b.priority as string | undefined,
          responders: (b.responders as unknown[] | undefined) ?? [],
          open: true,
          count: 1,
          api,
          body: b,
        });
      return { status: 202, body: { result: 'Request will be processed', ...meta() } };
    };
  const close = (req: FakeRequest, [id]: string[]): FakeAnswer => {
    const denied = authed(req);
    if (denied) return denied;
    if (req.query.get('identifierType') !== 'alias') {
      return { status: 422, body: { message: 'this fake only closes by alias', ...meta() } };
    }
    const a = alerts.find((x) => x.alias === decodeURIComponent(id) && x.open);
    if (a) a.open = false;
    return { status: 202, body: { result: 'Request will be processed', ...meta() } };
  };
  const server = await startFakeServer([
    { method: 'POST', path: /^\/jsm\/ops\/integration\/v2\/alerts$/, handle: create('jsm') },
    {
      method: 'POST',
      path: /^\/jsm\/ops\/integration\/v2\/alerts\/([^/]+)\/close$/,
      handle: close,
    },
    { method: 'POST', path: /^\/v2\/alerts$/, handle: create('opsgenie') },
    { method: 'POST', path: /^\/v2\/alerts\/([^/]+)\/close$/, handle: close },
  ]);
  return Object.assign(server, { alerts });
}
