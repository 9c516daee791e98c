/**
 * A local emulator of the Slack Web API for tests (node:http on 127.0.0.1, a free port).
 *
 * Point WebClient at it with `slackApiUrl: emulator.url` (SLACK_API_URL). It parses form-encoded,
 * JSON and multipart bodies and Bearer tokens, answers like Slack (`{ ok: true, … }` /
 * `{ ok: false, error }`, always HTTP 200 except 429 when rate-limited), and keeps the state the
 * bot changes (channels and members, messages, pins, files, views, ephemeral messages) so tests
 * can assert on it. It also serves the upload URLs of files.uploadV2 and `response_url`s
 * (`/response/<id>`), recording what the app posts there.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';

export interface EmulatedUser {
  id: string;
  name: string;
  tz?: string;
  is_bot?: boolean;
  /** Slack's `name` (handle); defaults to the lower-cased name. */
  handle?: string;
  /** profile.display_name; defaults to `name`. Set '' to test the real_name fallback. */
  displayName?: string;
  deleted?: boolean;
  /** profile.email; users.lookupByEmail finds the user by it (case-insensitive). */
  email?: string;
}

export interface EmulatedChannel {
  id: string;
  name: string;
  is_private: boolean;
  members: Set<string>;
  created: number;
  creator: string;
  topic?: string;
  /** conversations.setPurpose */
  purpose?: string;
}

export interface EmulatedMessage {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown;
  thread_ts?: string;
  user: string;
  files?: string[];
  edited?: boolean;
  /** Message metadata given to chat.postMessage (`{ event_type, event_payload }`). */
  metadata?: { event_type: string; event_payload?: Record<string, unknown> };
}

export interface EmulatedFile {
  id: string;
  name: string;
  title?: string;
  length: number;
  /** The uploaded bytes as UTF-8 text (undefined until uploaded). */
  content?: string;
  bytes?: Buffer;
  /** The channel it was shared to by files.completeUploadExternal (undefined until completed). */
  channel?: string;
  completed: boolean;
}

export interface EmulatorCall {
  method: string;
  params: Record<string, unknown>;
  /** Date.now() when received. */
  at: number;
  token?: string;
  /** What was answered: `ok` (false for errors and 429s) and the error code. */
  ok: boolean;
  error?: string;
  status: number;
}

export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  text: string;
  blocks?: unknown;
  ts: string;
}

export interface SlackEmulatorOptions {
  /** Users known to users.info (the bot user U_BOT is always there). */
  users?: EmulatedUser[];
  /** Channels that exist from the start, e.g. `{ id: 'C_GENERAL', name: 'general' }`. */
  channels?: { id: string; name: string; members?: string[]; is_private?: boolean }[];
  /** Usergroup id → member ids. */
  usergroups?: Record<string, string[]>;
  /** Accepted tokens; default: any token starting with xoxb-. */
  tokens?: string[];
  /**
   * Accepted app-level tokens (xapp-…) for the app-level methods (apps.connections.open);
   * default: any token starting with xapp-. Like Slack, an app-level method called with another
   * kind of token, or another method called with an app-level token, answers
   * `not_allowed_token_type`.
   */
  appTokens?: string[];
  /**
   * The bot's granted scopes: when set, each method answers `missing_scope` unless one of the
   * scopes `scopesFor(method)` lists is granted.
   */
  scopes?: string[];
  scopesFor?: (method: string) => string[] | undefined;
  team?: { id: string; name: string; domain: string };
}

export type MethodHandler = (
  params: Record<string, unknown>,
  call: { token?: string },
) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface SlackEmulator {
  /** Web API base, e.g. http://127.0.0.1:41234/api/ (ends with /api/). */
  url: string;
  /** http://127.0.0.1:41234 */
  baseUrl: string;
  botUserId: string;
  botId: string;
  team: { id: string; name: string; domain: string };
  calls: EmulatorCall[];
  callsTo(method: string): EmulatorCall[];
  users: Map<string, EmulatedUser>;
  channels: Map<string, EmulatedChannel>;
  messages: EmulatedMessage[];
  /** Message ts values pinned, as `channel:ts`. */
  pins: Set<string>;
  /** Channel ids archived with conversations.archive. */
  archived: Set<string>;
  files: EmulatedFile[];
  ephemerals: EphemeralMessage[];
  views: { trigger_id: string; view: unknown; id: string }[];
  responses: ResponseUrlPost[];
  /** What the app posted to `${baseUrl}/response/<id>`. */
  responsesTo(id: string): ResponseUrlPost[];
  /** A fresh response_url for a command or interaction. */
  responseUrl(id: string): string;
  addUser(user: EmulatedUser): void;
  addChannel(c: { id: string; name: string; members?: string[]; is_private?: boolean }): void;
  /**
   * Puts a (human) message in a channel so conversations.history / replies / pins.add find it;
   * returns it (ts defaults to a fresh one). Send the matching `message` event with bot.event().
   */
  addMessage(m: {
    channel: string;
    user: string;
    text: string;
    ts?: string;
    thread_ts?: string;
  }): EmulatedMessage;
  channelByName(name: string): EmulatedChannel | undefined;
  /** The next call to `method` answers `{ ok: false, error }` (queued: call again for more). */
  failNext(method: string, error: string): void;
  /** The next call to `method` answers HTTP 429 with `Retry-After: retryAfterSec`. */
  rateLimitNext(method: string, retryAfterSec: number): void;
  /** Replaces the emulation of one method. */
  setHandler(method: string, handler: MethodHandler): void;
  /** Resolves when `count` calls to `method` have been answered (for waiting on background work). */
  waitForCalls(method: string, count: number, timeoutMs?: number): Promise<EmulatorCall[]>;
  reset(): void;
  close(): Promise<void>;
}

/** Methods that take an app-level token (xapp-…) and no other. */
const APP_LEVEL_METHODS = new Set(['apps.connections.open']);

export const BOT_USER_ID = 'U_BOT';
export const BOT_ID = 'B_BOT';
export const TEST_TEAM = { id: 'T_TEST', name: 'Test Workspace', domain: 'test-workspace' };

class SlackApiError extends Error {
  constructor(
    readonly code: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code);
  }
}

const err = (code: string, extra?: Record<string, unknown>): never => {
  throw new SlackApiError(code, extra);
};

/** Slack channel names: lowercase letters, digits, - and _, at most 80 characters. */
export function slackChannelNameError(name: string): string | undefined {
  if (name === '') return 'invalid_name_required';
  if (name.length > 80) return 'invalid_name_maxlength';
  if (!/^[a-z0-9_-]+$/.test(name)) return 'invalid_name_specials';
  if (/^[-_]+$/.test(name)) return 'invalid_name_punctuation';
  return undefined;
}

export async function startSlackEmulator(opts: SlackEmulatorOptions = {}): Promise<SlackEmulator> {
  const team = opts.team ?? TEST_TEAM;
  const calls: EmulatorCall[] = [];
  const users = new Map<string, EmulatedUser>();
  const channels = new Map<string, EmulatedChannel>();
  const messages: EmulatedMessage[] = [];
  const pins = new Set<string>();
  const files: EmulatedFile[] = [];
  const ephemerals: EphemeralMessage[] = [];
  const views: { trigger_id: string; view: unknown; id: string }[] = [];
  const responses: ResponseUrlPost[] = [];
  const archived = new Set<string>();
  const usergroups = new Map(Object.entries(opts.usergroups ?? {}));
  const failures = new Map<string, string[]>();
  const rateLimits = new Map<string, number[]>();
  const custom = new Map<string, MethodHandler>();
  const waiters: { method: string; count: number; resolve: () => void }[] = [];
  let seq = 0;
  let lastTs = 0;

  const nextId = (prefix: string): string =>
    `${prefix}${(++seq).toString(36).toUpperCase().padStart(6, '0')}`;
  /** Message timestamps: unique and increasing, `<seconds>.<micro>` like Slack's. */
  const nextTs = (): string => {
    const micros = Math.max(Date.now() * 1000, lastTs + 1);
    lastTs = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  };

  const addUser = (u: EmulatedUser): void => {
    users.set(u.id, u);
  };
  addUser({ id: BOT_USER_ID, name: 'incident-bot', is_bot: true, tz: 'UTC' });
  for (const u of opts.users ?? []) addUser(u);

  const addChannel = (c: {
    id: string;
    name: string;
    members?: string[];
    is_private?: boolean;
  }): void => {
    channels.set(c.id, {
      id: c.id,
      name: c.name,
      is_private: c.is_private ?? false,
      members: new Set([BOT_USER_ID, ...(c.members ?? [])]),
      created: Math.floor(Date.now() / 1000),
      creator: BOT_USER_ID,
    });
  };
  for (const c of opts.channels ?? []) addChannel(c);

  const str = (v: unknown): string | undefined =>
    typeof v === 'string'
      ? v
      : typeof v === 'number' || typeof v === 'boolean'
        ? String(v)
        : undefined;
  const required = (params: Record<string, unknown>, key: string): string => {
    const v = str(params[key]);
    if (v === undefined || v === '') return err('invalid_arguments', { missing: key });
    return v;
  };
  /** Params that Slack accepts as JSON strings in form bodies. */
  const json = (v: unknown): unknown => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      return err('invalid_arguments');
    }
  };
  const channelOf = (id: string | undefined): EmulatedChannel => {
    const c = id ? channels.get(id) : undefined;
    return c ?? err('channel_not_found');
  };
  const channelJson = (c: EmulatedChannel): Record<string, unknown> => ({
    id: c.id,
    name: c.name,
    name_normalized: c.name,
    is_channel: !c.is_private,
    is_group: c.is_private,
    is_im: false,
    is_private: c.is_private,
    is_archived: false,
    is_member: c.members.has(BOT_USER_ID),
    created: c.created,
    creator: c.creator,
    num_members: c.members.size,
    topic: { value: c.topic ?? '' },
    purpose: { value: c.purpose ?? '' },
  });
  /** A message as the API shows it; metadata only when asked for (`include_all_metadata`). */
  const messageJson = (m: EmulatedMessage, withMetadata = false): Record<string, unknown> => ({
    type: 'message',
    ts: m.ts,
    text: m.text,
    user: m.user,
    ...(m.user === BOT_USER_ID ? { bot_id: BOT_ID } : {}),
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.files
      ? { files: m.files.map((id) => ({ id, name: files.find((f) => f.id === id)?.name })) }
      : {}),
    ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
  });
  const wantsMetadata = (p: Record<string, unknown>): boolean =>
    str(p.include_all_metadata) === 'true' || str(p.include_all_metadata) === '1';
  const findMessage = (channel: string, ts: string): EmulatedMessage | undefined =>
    messages.find((m) => m.channel === channel && m.ts === ts);

  const handlers: Record<string, MethodHandler> = {
    'api.test': (p) => ({ args: p }),
    'auth.test': () => ({
      url: `https://${team.domain}.slack.com/`,
      team: team.name,
      user: 'incident-bot',
      team_id: team.id,
      user_id: BOT_USER_ID,
      bot_id: BOT_ID,
      is_enterprise_install: false,
    }),
    'users.info': (p) => {
      const u = users.get(required(p, 'user'));
      if (!u) return err('user_not_found');
      const display = u.displayName ?? u.name;
      return {
        user: {
          id: u.id,
          team_id: team.id,
          name: u.handle ?? u.name.toLowerCase().replace(/\s+/g, '.'),
          real_name: u.name,
          deleted: u.deleted ?? false,
          is_bot: u.is_bot ?? false,
          tz: u.tz ?? 'America/Los_Angeles',
          tz_label: u.tz ?? 'Pacific Standard Time',
          profile: { display_name: display, real_name: u.name },
        },
      };
    },
    'users.lookupByEmail': (p) => {
      const email = required(p, 'email').toLowerCase();
      const u = [...users.values()].find((x) => x.email?.toLowerCase() === email && !x.deleted);
      if (!u) return err('users_not_found');
      return {
        user: {
          id: u.id,
          team_id: team.id,
          name: u.handle ?? u.name.toLowerCase().replace(/\s+/g, '.'),
          real_name: u.name,
          deleted: false,
          is_bot: u.is_bot ?? false,
          tz: u.tz ?? 'America/Los_Angeles',
          profile: { display_name: u.displayName ?? u.name, real_name: u.name, email: u.email },
        },
      };
    },
    'conversations.create': (p) => {
      const name = str(p.name) ?? '';
      const problem = slackChannelNameError(name);
      if (problem) return err(problem);
      for (const c of channels.values()) if (c.name === name) return err('name_taken');
      const isPrivate = str(p.is_private) === 'true';
      const id = nextId(isPrivate ? 'G' : 'C');
      addChannel({ id, name, is_private: isPrivate });
      return { channel: channelJson(channels.get(id) as EmulatedChannel) };
    },
    'conversations.info': (p) => ({ channel: channelJson(channelOf(required(p, 'channel'))) }),
    'conversations.setPurpose': (p) => {
      const c = channelOf(required(p, 'channel'));
      if (!c.members.has(BOT_USER_ID)) return err('not_in_channel');
      const purpose = str(p.purpose) ?? '';
      if (purpose.length > 250) return err('too_long');
      c.purpose = purpose;
      return { channel: channelJson(c) };
    },
    // Public channels (and private ones the bot is in), by id order, paged with a cursor.
    'conversations.list': (p) => {
      const limit = Math.min(1000, Number(str(p.limit) ?? 100) || 100);
      const from = Number(str(p.cursor) ?? 0) || 0;
      const all = [...channels.values()]
        .filter((c) => !c.id.startsWith('U') && !c.name.startsWith('dm-'))
        .filter((c) => !(str(p.exclude_archived) === 'true' && archived.has(c.id)))
        .filter((c) => !c.is_private || c.members.has(BOT_USER_ID));
      const page = all.slice(from, from + limit);
      const next = from + limit < all.length ? String(from + limit) : '';
      return { channels: page.map(channelJson), response_metadata: { next_cursor: next } };
    },
    'conversations.history': (p) => {
      const c = channelOf(required(p, 'channel'));
      const inclusive = str(p.inclusive) === 'true' || str(p.inclusive) === '1';
      const latest = str(p.latest);
      const oldest = str(p.oldest);
      const limit = Number(str(p.limit) ?? 100) || 100;
      const inRange = (ts: string): boolean =>
        (latest === undefined || (inclusive ? ts <= latest : ts < latest)) &&
        (oldest === undefined || (inclusive ? ts >= oldest : ts > oldest));
      const list = messages
        .filter((m) => m.channel === c.id && (!m.thread_ts || m.thread_ts === m.ts))
        .filter((m) => inRange(m.ts))
        .sort((a, b) => (a.ts < b.ts ? 1 : -1))
        .slice(0, limit)
        .map((m) => messageJson(m, wantsMetadata(p)));
      return { messages: list, has_more: false };
    },
    'conversations.replies': (p) => {
      const c = channelOf(required(p, 'channel'));
      const ts = required(p, 'ts');
      const parent = findMessage(c.id, ts);
      if (!parent) return err('thread_not_found');
      const root = parent.thread_ts ?? parent.ts;
      const oldest = str(p.oldest);
      const list = messages
        .filter((m) => m.channel === c.id && (m.ts === root || m.thread_ts === root))
        .filter((m) => oldest === undefined || m.ts === root || m.ts >= oldest)
        .sort((a, b) => (a.ts < b.ts ? -1 : 1))
        .map((m) => messageJson(m, wantsMetadata(p)));
      return { messages: list, has_more: false };
    },
    'conversations.members': (p) => ({ members: [...channelOf(required(p, 'channel')).members] }),
    'conversations.join': (p) => {
      const c = channelOf(required(p, 'channel'));
      c.members.add(BOT_USER_ID);
      return { channel: channelJson(c) };
    },
    'conversations.invite': (p) => {
      const c = channelOf(required(p, 'channel'));
      if (!c.members.has(BOT_USER_ID)) return err('not_in_channel');
      const ids = required(p, 'users')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (ids.length === 0) return err('no_user');
      if (ids.length > 1000) return err('too_many_users');
      const force = str(p.force) === 'true';
      const errors: { user: string; ok: false; error: string }[] = [];
      const ok: string[] = [];
      for (const id of ids) {
        const u = users.get(id);
        const problem =
          id === BOT_USER_ID
            ? 'cant_invite_self'
            : !u || u.deleted
              ? 'user_not_found'
              : c.members.has(id)
                ? 'already_in_channel'
                : undefined;
        if (problem) errors.push({ user: id, ok: false, error: problem });
        else ok.push(id);
      }
      // Like Slack: without `force`, any bad user fails the whole call and nobody is added.
      if (errors.length > 0 && !force) return err(errors[0].error, { errors });
      for (const id of ok) c.members.add(id);
      return { channel: channelJson(c), ...(errors.length ? { errors } : {}) };
    },
    'chat.postMessage': (p) => {
      // Like Slack, a user id as channel posts in the app's DM with that user.
      const to = required(p, 'channel');
      if (!channels.has(to) && users.has(to))
        addChannel({ id: to, name: `dm-${to}`, members: [to] });
      const c = channelOf(to);
      const text = str(p.text) ?? '';
      const blocks = p.blocks === undefined ? undefined : json(p.blocks);
      if (!text && !blocks) return err('no_text');
      const ts = nextTs();
      const thread = str(p.thread_ts);
      if (thread && !findMessage(c.id, thread)) return err('thread_not_found');
      const metadata = p.metadata === undefined ? undefined : json(p.metadata);
      if (
        metadata !== undefined &&
        (typeof metadata !== 'object' ||
          metadata === null ||
          typeof (metadata as { event_type?: unknown }).event_type !== 'string')
      ) {
        return err('invalid_metadata_format');
      }
      const m: EmulatedMessage = {
        channel: c.id,
        ts,
        text,
        user: BOT_USER_ID,
        ...(blocks ? { blocks } : {}),
        ...(thread ? { thread_ts: thread } : {}),
        ...(metadata ? { metadata: metadata as EmulatedMessage['metadata'] } : {}),
      };
      messages.push(m);
      return {
        channel: c.id,
        ts,
        message: { type: 'message', text, user: BOT_USER_ID, ts, bot_id: BOT_ID },
      };
    },
    'chat.update': (p) => {
      const c = channelOf(required(p, 'channel'));
      const m = findMessage(c.id, required(p, 'ts'));
      if (!m) return err('message_not_found');
      if (m.user !== BOT_USER_ID) return err('cant_update_message');
      if (p.text !== undefined) m.text = str(p.text) ?? '';
      if (p.blocks !== undefined) m.blocks = json(p.blocks);
      m.edited = true;
      return { channel: c.id, ts: m.ts, text: m.text };
    },
    'chat.postEphemeral': (p) => {
      const c = channelOf(required(p, 'channel'));
      const user = required(p, 'user');
      if (!users.has(user)) return err('user_not_found');
      // Slack answers user_not_in_channel when the user is not a member.
      if (!c.members.has(user)) return err('user_not_in_channel');
      const ts = nextTs();
      ephemerals.push({
        channel: c.id,
        user,
        text: str(p.text) ?? '',
        ...(p.blocks !== undefined ? { blocks: json(p.blocks) } : {}),
        ts,
      });
      return { message_ts: ts };
    },
    'chat.getPermalink': (p) => {
      const c = channelOf(required(p, 'channel'));
      const ts = required(p, 'message_ts');
      if (!findMessage(c.id, ts)) return err('message_not_found');
      return {
        channel: c.id,
        permalink: `https://${team.domain}.slack.com/archives/${c.id}/p${ts.replace('.', '')}`,
      };
    },
    'pins.add': (p) => {
      const c = channelOf(required(p, 'channel'));
      const ts = required(p, 'timestamp');
      if (!findMessage(c.id, ts)) return err('message_not_found');
      const key = `${c.id}:${ts}`;
      if (pins.has(key)) return err('already_pinned');
      pins.add(key);
      return {};
    },
    'pins.list': (p) => {
      const c = channelOf(required(p, 'channel'));
      const items = messages
        .filter((m) => m.channel === c.id && pins.has(`${c.id}:${m.ts}`))
        .map((m) => ({
          type: 'message',
          channel: c.id,
          created_by: BOT_USER_ID,
          message: {
            type: 'message',
            ts: m.ts,
            text: m.text,
            user: m.user,
            ...(m.user === BOT_USER_ID ? { bot_id: BOT_ID } : {}),
            ...(m.blocks ? { blocks: m.blocks } : {}),
          },
        }));
      return { items };
    },
    'pins.remove': (p) => {
      const c = channelOf(required(p, 'channel'));
      const key = `${c.id}:${required(p, 'timestamp')}`;
      if (!pins.delete(key)) return err('no_pin');
      return {};
    },
    'usergroups.users.list': (p) => {
      const g = usergroups.get(required(p, 'usergroup'));
      if (!g) return err('no_such_subteam');
      return { users: [...g] };
    },
    'views.open': (p) => {
      const trigger = required(p, 'trigger_id');
      const view = json(p.view);
      if (!view || typeof view !== 'object') return err('invalid_arguments');
      const id = nextId('V');
      views.push({ trigger_id: trigger, view, id });
      return { view: { id, ...(view as Record<string, unknown>) } };
    },
    'views.publish': (p) => {
      const user = required(p, 'user_id');
      if (!users.has(user)) return err('user_not_found');
      const view = json(p.view) as { type?: unknown; blocks?: unknown } | undefined;
      if (!view || typeof view !== 'object' || view.type !== 'home')
        return err('invalid_arguments');
      // Slack refuses a view of more than 100 blocks.
      if (Array.isArray(view.blocks) && view.blocks.length > 100) return err('invalid_arguments');
      return { view: { id: nextId('V'), ...view } };
    },
    'conversations.archive': (p) => {
      const c = channelOf(required(p, 'channel'));
      if (archived.has(c.id)) return err('already_archived');
      archived.add(c.id);
      return {};
    },
    'files.getUploadURLExternal': (p) => {
      const filename = required(p, 'filename');
      const length = Number(required(p, 'length'));
      if (!Number.isInteger(length) || length < 0) return err('invalid_arguments');
      const id = nextId('F');
      files.push({ id, name: filename, length, completed: false });
      return { upload_url: `${baseUrl}/upload/${id}`, file_id: id };
    },
    'files.completeUploadExternal': (p) => {
      const list = json(p.files);
      if (!Array.isArray(list) || list.length === 0) return err('invalid_arguments');
      const channel = str(p.channel_id);
      if (channel) channelOf(channel);
      const done: Record<string, unknown>[] = [];
      for (const item of list as { id?: string; title?: string }[]) {
        const f = files.find((x) => x.id === item.id);
        if (!f || f.bytes === undefined) return err('file_not_found');
        f.completed = true;
        if (item.title) f.title = item.title;
        if (channel) f.channel = channel;
        done.push({ id: f.id, name: f.name, title: f.title ?? f.name, size: f.length });
      }
      if (channel) {
        messages.push({
          channel,
          ts: nextTs(),
          text: str(p.initial_comment) ?? '',
          user: BOT_USER_ID,
          files: done.map((d) => String(d.id)),
          ...(str(p.thread_ts) ? { thread_ts: str(p.thread_ts) } : {}),
        });
      }
      return { files: done };
    },
  };

  const scopeError = (method: string): string[] | undefined => {
    if (!opts.scopes || !opts.scopesFor) return undefined;
    const needed = opts.scopesFor(method);
    if (!needed || needed.length === 0) return undefined;
    const missing = needed.filter((s) => !opts.scopes?.includes(s));
    return missing.length === 0 ? undefined : missing;
  };

  const record = (c: EmulatorCall): void => {
    calls.push(c);
    for (const w of [...waiters]) {
      if (calls.filter((x) => x.method === w.method).length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };

  const send = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain' : 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  async function handleApi(method: string, req: IncomingMessage, raw: Buffer, res: ServerResponse) {
    const params = await parseBody(req, raw);
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : str(params.token);
    delete params.token;
    const at = Date.now();
    const base = { method, params, at, ...(token ? { token } : {}) };

    const limit = rateLimits.get(method)?.shift();
    if (limit !== undefined) {
      record({ ...base, ok: false, error: 'ratelimited', status: 429 });
      send(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limit) });
      return;
    }
    const answer = (ok: boolean, body: Record<string, unknown>, error?: string): void => {
      record({ ...base, ok, ...(error ? { error } : {}), status: 200 });
      send(res, 200, body);
    };
    if (!token) return answer(false, { ok: false, error: 'not_authed' }, 'not_authed');
    const appLevel = APP_LEVEL_METHODS.has(method);
    if (appLevel !== token.startsWith('xapp-')) {
      return answer(
        false,
        { ok: false, error: 'not_allowed_token_type' },
        'not_allowed_token_type',
      );
    }
    const valid = appLevel
      ? opts.appTokens
        ? opts.appTokens.includes(token)
        : true
      : opts.tokens
        ? opts.tokens.includes(token)
        : token.startsWith('xoxb-');
    if (!valid) return answer(false, { ok: false, error: 'invalid_auth' }, 'invalid_auth');
    const needed = scopeError(method);
    if (needed) {
      return answer(
        false,
        {
          ok: false,
          error: 'missing_scope',
          needed: needed.join(','),
          provided: opts.scopes?.join(','),
        },
        'missing_scope',
      );
    }
    const failure = failures.get(method)?.shift();
    if (failure) return answer(false, { ok: false, error: failure }, failure);
    const handler = custom.get(method) ?? handlers[method];
    if (!handler) return answer(false, { ok: false, error: 'unknown_method' }, 'unknown_method');
    try {
      const result = await handler(params, { token });
      if (result.ok === false) {
        return answer(false, { ...result }, String(result.error ?? 'error'));
      }
      answer(true, { ok: true, ...result });
    } catch (e) {
      if (e instanceof SlackApiError) {
        return answer(false, { ok: false, error: e.code, ...e.extra }, e.code);
      }
      const message = e instanceof Error ? e.message : String(e);
      answer(false, { ok: false, error: 'internal_error', detail: message }, 'internal_error');
    }
  }

  async function handleUpload(id: string, req: IncomingMessage, raw: Buffer, res: ServerResponse) {
    const f = files.find((x) => x.id === id);
    if (!f) return send(res, 404, 'file not found');
    let bytes = raw;
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
      const part = [...form.values()][0];
      bytes = typeof part === 'string' ? Buffer.from(part) : Buffer.from(await part.arrayBuffer());
    }
    f.bytes = bytes;
    f.content = bytes.toString('utf8');
    send(res, 200, `OK - ${bytes.length}`);
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const run = async (): Promise<void> => {
        let m: RegExpExecArray | null;
        if (req.method === 'POST' && (m = /^\/api\/([A-Za-z0-9._]+)$/.exec(path))) {
          return handleApi(m[1], req, raw, res);
        }
        if (req.method === 'POST' && (m = /^\/upload\/([A-Z0-9]+)$/.exec(path))) {
          return handleUpload(m[1], req, raw, res);
        }
        if (req.method === 'POST' && (m = /^\/response\/([^/]+)$/.exec(path))) {
          const body = (await parseBody(req, raw)) as Record<string, unknown>;
          responses.push({ id: decodeURIComponent(m[1]), body, at: Date.now() });
          return send(res, 200, 'ok');
        }
        send(res, 404, 'not found');
      };
      run().catch((e: unknown) => send(res, 500, e instanceof Error ? e.message : String(e)));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: `${baseUrl}/api/`,
    baseUrl,
    botUserId: BOT_USER_ID,
    botId: BOT_ID,
    team,
    calls,
    callsTo: (method) => calls.filter((c) => c.method === method),
    users,
    channels,
    messages,
    pins,
    archived,
    files,
    ephemerals,
    views,
    responses,
    responsesTo: (id) => responses.filter((r) => r.id === id),
    responseUrl: (id) => `${baseUrl}/response/${encodeURIComponent(id)}`,
    addUser,
    addChannel,
    addMessage(m) {
      const msg: EmulatedMessage = {
        channel: m.channel,
        user: m.user,
        text: m.text,
        ts: m.ts ?? nextTs(),
        ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
      };
      messages.push(msg);
      return msg;
    },
    channelByName: (name) => [...channels.values()].find((c) => c.name === name),
    failNext(method, error) {
      const q = failures.get(method) ?? [];
      q.push(error);
      failures.set(method, q);
    },
    rateLimitNext(method, retryAfterSec) {
      const q = rateLimits.get(method) ?? [];
      q.push(retryAfterSec);
      rateLimits.set(method, q);
    },
    setHandler(method, handler) {
      custom.set(method, handler);
    },
    waitForCalls(method, count, timeoutMs = 5000) {
      const have = (): EmulatorCall[] => calls.filter((c) => c.method === method);
      if (have().length >= count) return Promise.resolve(have());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(
            new Error(`timed out waiting for ${count} ${method} call(s); got ${have().length}`),
          );
        }, timeoutMs);
        const w = {
          method,
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(have());
          },
        };
        waiters.push(w);
      });
    },
    reset() {
      calls.length = 0;
      messages.length = 0;
      ephemerals.length = 0;
      views.length = 0;
      responses.length = 0;
      files.length = 0;
      pins.clear();
      failures.clear();
      rateLimits.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

/** Parses a form-encoded, JSON or multipart request body into params. */
async function parseBody(req: IncomingMessage, raw: Buffer): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (raw.length === 0) return {};
  if (type.startsWith('application/json')) {
    const v: unknown = JSON.parse(raw.toString('utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  }
  if (type.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    const out: Record<string, unknown> = {};
    for (const [k, v] of form.entries()) out[k] = typeof v === 'string' ? v : '[file]';
    return out;
  }
  const q = parseQuery(raw.toString('utf8'));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(q)) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}
