/**
 * The seam between the Slack adapter (Bolt wiring, WebClient calls) and the command modules in
 * `commands/`. A command module parses its text, calls one use-case on the service, and returns
 * a reply; it talks to Slack only through `SlackOps`.
 */
import type { DateTime } from 'luxon';
import type { IncidentService, Incident } from '../app/service';
import type { Actor } from '../core/model';
import type { PagingConfig } from '../integrations/paging/config';

export interface SlackUser extends Actor {
  /** IANA zone from users.info (`tz`), when Slack knows it. */
  tz?: string;
  isBot?: boolean;
}

/** Slack Web API operations the commands need (implemented over Bolt's WebClient). */
export interface SlackOps {
  /** users.info, cached. */
  user(userId: string): Promise<SlackUser>;
  /**
   * conversations.create; a taken name gets a suffix (-2, -3, …). Returns the id and final name.
   * `purpose` is set right after creation (conversations.setPurpose). With `adopt`, a taken name
   * whose channel's purpose contains that marker is that channel (`adopted`): a creation done
   * again after a crash finds the channel it created the first time instead of a second one.
   */
  createChannel(
    name: string,
    opts?: { purpose?: string; adopt?: string },
  ): Promise<{ id: string; name: string; adopted?: boolean }>;
  /** conversations.invite; already_in_channel, cant_invite_self and similar are tolerated. */
  invite(channel: string, users: string[]): Promise<void>;
  /** usergroups.users.list */
  usergroupMembers(groupId: string): Promise<string[]>;
  /** chat.postMessage */
  post(channel: string, text: string, blocks?: unknown[]): Promise<{ ts: string }>;
  /** chat.postMessage in a thread */
  postThread(channel: string, threadTs: string, text: string): Promise<void>;
  /** pins.add */
  pin(channel: string, ts: string): Promise<void>;
  /** files.uploadV2 (getUploadURLExternal + upload + completeUploadExternal); returns the file id. */
  upload(channel: string, filename: string, content: string, title: string): Promise<string>;
  /** views.open */
  openModal(triggerId: string, view: unknown): Promise<void>;
}

export interface Settings {
  channelPrefix: string;
  announceChannel?: string;
  /** INCIDENT_TIMEZONE */
  defaultZone: string;
  /** POSTMORTEM_TEMPLATE */
  template: string;
  /** INCIDENT_ADMIN_GROUP: a user group whose members may do every guarded action. */
  adminGroup?: string;
  /** Responder targets and provider settings (`/incident page`); absent: paging is off. */
  paging?: PagingConfig;
  /** INCIDENT_GAP_MINUTES: the close-time review flags a silence longer than this. */
  gapMinutes?: number;
}

export interface CommandContext {
  /** Slack workspace (team) id. */
  team: string;
  /** Channel the command was typed in. */
  channel: string;
  user: SlackUser;
  triggerId?: string;
  /** A per-invocation idempotency key base (e.g. `cmd:<trigger_id>`). */
  key?: string;
  /** Where an answer owed later (an outbox effect) goes while Slack accepts it (30 minutes). */
  responseUrl?: string;
  /**
   * When Slack delivered the request (stored with it in the inbox): an entry without a typed
   * time is recorded at this time, even when it is processed later (after a restart).
   */
  receivedAt?: DateTime;
  /** The incident whose channel this is, if any (resolved by the dispatcher). */
  incident?: Incident;
  service: IncidentService;
  slack: SlackOps;
  settings: Settings;
  now: DateTime;
}

/** What a command answers. */
export interface Reply {
  /** Shown only to the caller. */
  ephemeral?: string;
  /** One short line echoed in the channel so everyone sees the timeline grow. */
  inChannel?: string;
  /** Where `inChannel` goes when not the channel of the request (e.g. the incident's channel). */
  channel?: string;
  /** Block Kit for the ephemeral reply (optional). */
  blocks?: unknown[];
}

export interface CommandModule {
  name: string;
  aliases?: string[];
  /** e.g. `log [time] <text>` (without the `/incident ` prefix). */
  usage: string;
  /** One line for help. */
  summary: string;
  /** Whether it acts on the incident of the current channel. */
  needsIncident: boolean;
  run(args: string, ctx: CommandContext): Promise<Reply>;
  /**
   * Interactive handlers (buttons), by action id. The adapter routes a block action whose
   * `action_id` is `<command name>:<key>` to `actions[key]` with the button's value.
   */
  actions?: Record<string, (value: string, ctx: CommandContext) => Promise<Reply>>;
  /**
   * Modal submissions, by key. The adapter routes a view submission whose `callback_id` is
   * `<command name>:<key>` to `views[key]` with the input values (block_id/action_id flattened
   * to `action_id -> value`) and the view's private_metadata.
   */
  views?: Record<
    string,
    (values: Record<string, string>, privateMetadata: string, ctx: CommandContext) => Promise<Reply>
  >;
}

/** A bad command: the reply says what was wrong and shows the usage line. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
