/**
 * SlackOps over Bolt's WebClient: the only place the command modules' Slack calls are made.
 * Rate limits (HTTP 429 + Retry-After) are retried by WebClient itself (its default retry policy
 * waits the time Slack asks for), so a rate-limited post is delayed, not lost.
 */
import { webApi, type types as SlackTypes } from '@slack/bolt';
import type { SlackOps, SlackUser } from './ports';

type WebClient = webApi.WebClient;
const { ErrorCode } = webApi;
/** Block Kit and views are built by the command modules; ports.ts types them as unknown. */
type Blocks = (SlackTypes.KnownBlock | SlackTypes.Block)[];
type ModalView = SlackTypes.View;

/** Minimal logger shape (pino's), so tests can pass anything with these methods. */
export interface OpsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Every Slack Web API method the bot calls, anywhere (commands, capture, status cards, startup).
 * The manifest test checks the manifest's bot scopes cover SCOPES_FOR_METHOD of each.
 */
export const WEB_API_METHODS_USED: string[] = [
  'auth.test',
  'users.info',
  'conversations.create',
  'conversations.setPurpose',
  'conversations.list',
  'conversations.invite',
  'conversations.history',
  'conversations.replies',
  'usergroups.users.list',
  'chat.postMessage',
  'chat.update',
  'chat.postEphemeral',
  'pins.add',
  'pins.list',
  'files.getUploadURLExternal',
  'files.completeUploadExternal',
  'views.open',
  'chat.getPermalink',
  'views.publish',
  'users.lookupByEmail',
  'conversations.archive',
];

/**
 * Bot scopes each method needs, as this bot uses it (all listed scopes are needed). Methods
 * needing none (auth.test, views.open, chat.getPermalink) map to []. Keys that are not methods
 * describe events the bot subscribes to.
 */
export const SCOPES_FOR_METHOD: Record<string, string[]> = {
  'auth.test': [],
  'users.info': ['users:read'],
  'conversations.create': ['channels:manage'],
  'conversations.setPurpose': ['channels:manage'],
  'conversations.list': ['channels:read'],
  'conversations.invite': ['channels:manage'],
  'conversations.info': ['channels:read'],
  'conversations.members': ['channels:read'],
  'conversations.join': ['channels:join'],
  'conversations.history': ['channels:history', 'groups:history'],
  'conversations.replies': ['channels:history', 'groups:history'],
  'usergroups.users.list': ['usergroups:read'],
  // chat:write.public lets the bot post in public channels it has not joined (the announce
  // channel, the channel a command was typed in).
  'chat.postMessage': ['chat:write', 'chat:write.public'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.getPermalink': [],
  'pins.add': ['pins:write'],
  'pins.remove': ['pins:write'],
  'pins.list': ['pins:read'],
  'reactions.add': ['reactions:write'],
  'files.getUploadURLExternal': ['files:write'],
  'files.completeUploadExternal': ['files:write'],
  'files.info': ['files:read'],
  // Modals are opened with the trigger_id of a slash command or button (the `commands` scope).
  'views.open': [],
  // The App Home tab (needs no scope beyond the bot; the Home tab is enabled in the manifest).
  'views.publish': [],
  'conversations.archive': ['channels:manage'],
  'users.list': ['users:read'],
  // Paging: on-call people are found in Slack by their email, never guessed by name.
  'users.lookupByEmail': ['users:read.email'],
  // Events (subscriptions), for completeness.
  'event:message.channels': ['channels:history'],
  'event:message.groups': ['groups:history'],
  'event:reaction_added': ['reactions:read'],
  'event:reaction_removed': ['reactions:read'],
  'event:member_joined_channel': ['channels:read', 'groups:read'],
  'event:file_shared': ['files:read'],
  'event:pin_added': ['pins:read'],
  'event:pin_removed': ['pins:read'],
  'event:app_home_opened': [],
  'command:/incident': ['commands'],
};

/** Errors from conversations.invite that concern one user, not the call: skipped and logged. */
const PER_USER_INVITE_ERRORS = new Set([
  'already_in_channel',
  'cant_invite_self',
  'cant_invite',
  'user_is_bot',
  'user_is_restricted',
  'user_is_ultra_restricted',
  'user_not_found',
  'user_disabled',
  'ura_max_channels',
  'no_user',
]);

export const MAX_CHANNEL_NAME = 80;

/** The Slack error code of a failed Web API call (`name_taken`, …), if it is one. */
export function slackErrorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && err.code === ErrorCode.PlatformError) {
    const data = (err as { data?: { error?: unknown } }).data;
    return typeof data?.error === 'string' ? data.error : undefined;
  }
  return undefined;
}

/** A short, safe description of a Web API failure for users and logs. */
export function describeSlackError(err: unknown): string {
  const code = slackErrorCode(err);
  if (code) return `Slack answered ${code}`;
  if (err && typeof err === 'object' && 'code' in err) {
    switch (err.code) {
      case ErrorCode.RequestError:
        return 'Slack could not be reached';
      case ErrorCode.HTTPError:
        return `Slack answered HTTP ${(err as { statusCode?: number }).statusCode ?? 'error'}`;
      case ErrorCode.RateLimitedError:
        return 'Slack rate-limited the request';
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * A valid Slack channel name from any text: lowercase letters, digits, - and _ only, at most
 * 80 characters, no leading/trailing/double separators.
 */
export function toChannelName(name: string): string {
  const n = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
  return trimName(n || 'incident', MAX_CHANNEL_NAME);
}

function trimName(name: string, max: number): string {
  return name.length <= max ? name : name.slice(0, max).replace(/[-_]+$/, '') || name.slice(0, max);
}

/** `base-n` within 80 characters (the base is shortened, never the suffix). */
export function suffixedChannelName(base: string, n: number): string {
  const suffix = `-${n}`;
  return `${trimName(base, MAX_CHANNEL_NAME - suffix.length)}${suffix}`;
}

export interface SlackOpsOptions {
  /** How long users.info answers are cached (default 1 hour). */
  userTtlMs?: number;
  /** How many suffixed names createChannel tries after a name_taken (default 50). */
  maxNameAttempts?: number;
  now?: () => number;
}

export function createSlackOps(
  client: WebClient,
  logger: OpsLogger,
  opts: SlackOpsOptions = {},
): SlackOps {
  const ttl = opts.userTtlMs ?? 60 * 60 * 1000;
  const now = opts.now ?? Date.now;
  const users = new Map<string, { at: number; user: Promise<SlackUser> }>();

  async function fetchUser(userId: string): Promise<SlackUser> {
    const res = await client.users.info({ user: userId });
    const u = res.user;
    const name =
      u?.profile?.display_name || u?.real_name || u?.profile?.real_name || u?.name || userId;
    return {
      id: userId,
      name,
      ...(u?.tz ? { tz: u.tz } : {}),
      ...(u?.is_bot ? { isBot: true } : {}),
    };
  }

  async function inviteOne(channel: string, user: string): Promise<void> {
    try {
      await client.conversations.invite({ channel, users: user });
    } catch (err) {
      const code = slackErrorCode(err);
      if (code && PER_USER_INVITE_ERRORS.has(code)) {
        logger.debug({ channel, user, error: code }, 'invite skipped');
        return;
      }
      throw err;
    }
  }

  /** Public channels (not archived) whose purpose contains `marker`: name → id. */
  async function markedChannels(marker: string): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const res = await client.conversations.list({
        types: 'public_channel',
        exclude_archived: true,
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      for (const c of res.channels ?? []) {
        if (c.id && c.name && c.purpose?.value?.includes(marker)) found.set(c.name, c.id);
      }
      cursor = res.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return found;
  }

  return {
    user(userId) {
      const hit = users.get(userId);
      if (hit && now() - hit.at < ttl) return hit.user;
      const user = fetchUser(userId);
      users.set(userId, { at: now(), user });
      // Failures are not cached: the next call asks Slack again.
      user.catch(() => {
        if (users.get(userId)?.user === user) users.delete(userId);
      });
      return user;
    },

    async createChannel(name, o = {}) {
      const base = toChannelName(name);
      const attempts = opts.maxNameAttempts ?? 50;
      let marked: Map<string, string> | undefined;
      for (let i = 1; i <= attempts; i++) {
        const candidate = i === 1 ? base : suffixedChannelName(base, i);
        try {
          const res = await client.conversations.create({ name: candidate, is_private: false });
          const id = res.channel?.id;
          if (!id) throw new Error('conversations.create answered without a channel id');
          if (o.purpose) {
            try {
              await client.conversations.setPurpose({ channel: id, purpose: o.purpose });
            } catch (err) {
              logger.warn({ err, channel: id }, 'could not set the channel purpose');
            }
          }
          return { id, name: res.channel?.name ?? candidate };
        } catch (err) {
          if (slackErrorCode(err) !== 'name_taken') throw err;
          if (o.adopt) {
            marked ??= await markedChannels(o.adopt);
            const id = marked.get(candidate);
            if (id) return { id, name: candidate, adopted: true };
          }
        }
      }
      throw new Error(
        `Could not create a channel named ${base}: that name and ${attempts - 1} numbered variants are taken.`,
      );
    },

    async invite(channel, userIds) {
      const ids = [...new Set(userIds.map((u) => u.trim()).filter(Boolean))];
      if (ids.length === 0) return;
      if (ids.length === 1) return inviteOne(channel, ids[0]);
      try {
        // One call for everyone; Slack fails the whole call if any one user cannot be invited.
        await client.conversations.invite({ channel, users: ids.join(',') });
      } catch (err) {
        const code = slackErrorCode(err);
        if (!code || !PER_USER_INVITE_ERRORS.has(code)) throw err;
        // Fall back to one call per user so one bad user does not keep the others out.
        for (const id of ids) await inviteOne(channel, id);
      }
    },

    async usergroupMembers(groupId) {
      const res = await client.usergroups.users.list({ usergroup: groupId });
      return res.users ?? [];
    },

    async post(channel, text, blocks) {
      const res = await client.chat.postMessage({
        channel,
        text,
        ...(blocks ? { blocks: blocks as Blocks } : {}),
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!res.ts) throw new Error('chat.postMessage answered without a ts');
      return { ts: res.ts };
    },

    async postThread(channel, threadTs, text) {
      await client.chat.postMessage({
        channel,
        thread_ts: threadTs,
        text,
        unfurl_links: false,
        unfurl_media: false,
      });
    },

    async pin(channel, ts) {
      try {
        await client.pins.add({ channel, timestamp: ts });
      } catch (err) {
        if (slackErrorCode(err) === 'already_pinned') return;
        throw err;
      }
    },

    async upload(channel, filename, content, title) {
      const res = await client.filesUploadV2({ channel_id: channel, filename, content, title });
      const id = res.files?.[0]?.files?.[0]?.id;
      if (!id) throw new Error('files.uploadV2 answered without a file id');
      return id;
    },

    async openModal(triggerId, view) {
      await client.views.open({ trigger_id: triggerId, view: view as ModalView });
    },
  };
}
