/**
 * The `/incident` command handler, and the router for the command modules' buttons and modals.
 *
 * These listeners run on a request already stored in the inbox and acknowledged (see
 * requestPath.ts): their `ack` is a no-op then. Only cheap answers that record nothing ride in the
 * ack body: an empty command (help) and an unknown subcommand (`immediateAnswer`, given by the
 * request path before storing). Everything else: resolve the user and the channel's incident, run
 * the module, and owe its reply (or the error's ephemeral answer) as outbox effects
 * (src/slack/replies.ts): written with the request's inbox completion, then delivered — the
 * in-channel line with chat.postMessage, the ephemeral answer through the command's response_url
 * while Slack accepts it (30 minutes), else chat.postEphemeral — retried, and never posted twice.
 */
import type { App, SlashCommand, BlockAction, ViewSubmitAction } from '@slack/bolt';
import { registry as defaultModules, helpText } from '../../commands';
import { IncidentError } from '../app/errors';
import { currentRequest } from '../app/requestContext';
import type { Incident } from '../app/service';
import { OPEN_STATUSES, formatIncidentNumber } from '../core/model';
import { StoreUnavailableError } from '../store/store';
import type { SlackDeps } from './app';
import type { CommandContext, CommandModule, Reply, SlackUser } from './ports';
import { UsageError } from './ports';
import { replyEffects, oweEffects, RESPONSE_URL_TTL_MS, type ReplyTarget } from './replies';
import { describeSlackError } from './webOps';

/** The slash command this app registers. */
export const COMMAND = '/incident';

/** `<command name>:<key>`: action ids of buttons and callback ids of modals owned by modules. */
const ROUTED_ID = /^([a-z][a-z0-9_-]*):(.+)$/;

export interface Registry {
  modules: CommandModule[];
  find(name: string): CommandModule | undefined;
  help(): string;
}

/** First word (the subcommand, lower-cased) and the rest of the text, as typed. */
export function splitCommand(text: string): { name: string; args: string } {
  const t = text.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(t);
  if (!m) return { name: '', args: '' };
  return { name: m[1].toLowerCase(), args: m[2] };
}

/** A registry over a list of modules: names and aliases, case-insensitive. */
export function makeRegistry(modules: CommandModule[], help?: () => string): Registry {
  const byName = new Map<string, CommandModule>();
  for (const m of modules) {
    for (const n of [m.name, ...(m.aliases ?? [])]) {
      const key = n.toLowerCase();
      if (!byName.has(key)) byName.set(key, m);
    }
  }
  return {
    modules,
    find: (name) => byName.get(name.toLowerCase()),
    help: help ?? (() => defaultHelp(modules)),
  };
}

function defaultHelp(modules: CommandModule[]): string {
  const lines = modules.map((m) => `• \`${COMMAND} ${m.usage}\` — ${m.summary}`);
  return `*${COMMAND}* subcommands:\n${lines.join('\n')}`;
}

/** The registry of commands/ (modules, aliases, generated help). */
export function defaultRegistry(): Registry {
  return makeRegistry(defaultModules, helpText);
}

export { RESPONSE_URL_TTL_MS };

/**
 * The answer given in the ack to a command that records nothing (empty: help; unknown
 * subcommand), or undefined when the command must be stored and run.
 */
export function immediateAnswer(registry: Registry, text: string): object | undefined {
  const { name } = splitCommand(text);
  if (!name) return { response_type: 'ephemeral', text: registry.help() };
  if (!registry.find(name)) {
    return {
      response_type: 'ephemeral',
      text: `I don't know \`${COMMAND} ${clipInline(name, 40).replace(/`/g, "'")}\`.\n\n${registry.help()}`,
    };
  }
  return undefined;
}

/** Registers `/incident`, the module buttons (`<command>:<key>`) and modal submissions. */
export function registerDispatcher(
  app: App,
  deps: SlackDeps,
  modules?: CommandModule[] | Registry,
): Registry {
  const registry = !modules
    ? defaultRegistry()
    : Array.isArray(modules)
      ? makeRegistry(modules)
      : modules;

  app.command(COMMAND, async ({ command, ack }) => {
    const { name, args } = splitCommand(command.text ?? '');
    const immediate = immediateAnswer(registry, command.text ?? '');
    const mod = registry.find(name);
    if (immediate || !mod) {
      await ack(immediate);
      return;
    }
    await ack();
    await runCommand(deps, mod, args, command);
  });

  app.action<BlockAction>(ROUTED_ID, async ({ ack, body, action }) => {
    await ack();
    const m = ROUTED_ID.exec(action.action_id);
    if (!m) return;
    const mod = registry.modules.find((x) => x.name === m[1]);
    const handler = mod?.actions?.[m[2]];
    if (!mod || !handler) {
      deps.logger.warn({ actionId: action.action_id }, 'no handler for this button');
      return;
    }
    const value = actionValue(action);
    const channel = body.channel?.id ?? body.container?.channel_id ?? '';
    await runInteraction(deps, {
      label: `the ${mod.name} button`,
      mod,
      team: body.team?.id ?? body.user.team_id ?? '',
      channel,
      userId: body.user.id,
      userName: body.user.name ?? body.user.username,
      triggerId: body.trigger_id,
      key: `act:${body.trigger_id ?? `${action.action_ts}:${body.user.id}`}`,
      responseUrl: body.response_url,
      // Buttons on an ephemeral answer (e.g. "Close anyway"): the reply replaces them.
      replaceOriginal: body.container?.is_ephemeral === true,
      run: (ctx) => handler(value, ctx),
    });
  });

  app.view<ViewSubmitAction>(
    { callback_id: ROUTED_ID, type: 'view_submission' },
    async ({ ack, body, view }) => {
      // Close the modal right away; the reply goes to the user as a message.
      await ack();
      const m = ROUTED_ID.exec(view.callback_id);
      if (!m) return;
      const mod = registry.modules.find((x) => x.name === m[1]);
      const handler = mod?.views?.[m[2]];
      if (!mod || !handler) {
        deps.logger.warn({ callbackId: view.callback_id }, 'no handler for this modal');
        return;
      }
      const values = flattenViewValues(view.state?.values ?? {});
      const meta = view.private_metadata ?? '';
      const responseUrl = body.response_urls?.[0]?.response_url;
      await runInteraction(deps, {
        label: `the ${mod.name} form`,
        mod,
        team: body.team?.id ?? body.user.team_id ?? '',
        channel: channelFromMetadata(meta) ?? body.response_urls?.[0]?.channel_id ?? '',
        userId: body.user.id,
        userName: body.user.name,
        triggerId: body.trigger_id,
        key: `view:${view.id}`,
        responseUrl,
        run: (ctx) => handler(values, meta, ctx),
      });
    },
  );

  return registry;
}

// ---- slash command ---------------------------------------------------------------------------

async function runCommand(
  deps: SlackDeps,
  mod: CommandModule,
  args: string,
  command: SlashCommand,
): Promise<void> {
  const typed = `${COMMAND} ${command.text.trim()}`;
  const where = { command: mod.name, channel: command.channel_id, user: command.user_id };
  const target: ReplyTarget = {
    channel: command.channel_id,
    user: command.user_id,
    responseUrl: command.response_url,
  };
  let reply: Reply;
  try {
    const user = await resolveUser(deps, command.user_id, command.user_name);
    let incident: Incident | undefined;
    if (mod.needsIncident) {
      incident = await deps.service.findByChannel(command.channel_id);
      if (!incident) {
        await answer(deps, target, {
          ephemeral: await howToReach(deps, command.team_id, mod.name),
        });
        return;
      }
    }
    if (incident) target.incidentId = incident.record.id;
    const ctx = buildContext(deps, {
      team: command.team_id,
      channel: command.channel_id,
      user,
      triggerId: command.trigger_id,
      key: `cmd:${command.trigger_id}`,
      responseUrl: command.response_url,
      incident,
    });
    reply = await mod.run(args, ctx);
  } catch (err) {
    reply = { ephemeral: errorText(deps, err, mod, typed, where) };
  }
  await answer(deps, target, reply);
}

// ---- buttons and modals ----------------------------------------------------------------------

interface Interaction {
  label: string;
  mod: CommandModule;
  team: string;
  channel: string;
  userId: string;
  userName?: string;
  triggerId?: string;
  key: string;
  responseUrl?: string;
  replaceOriginal?: boolean;
  run(ctx: CommandContext): Promise<Reply>;
}

async function runInteraction(deps: SlackDeps, i: Interaction): Promise<void> {
  const where = { command: i.mod.name, channel: i.channel, user: i.userId, via: i.label };
  const target: ReplyTarget = {
    channel: i.channel,
    user: i.userId,
    ...(i.responseUrl ? { responseUrl: i.responseUrl } : {}),
    ...(i.replaceOriginal ? { replaceOriginal: true } : {}),
  };
  let reply: Reply;
  try {
    const user = await resolveUser(deps, i.userId, i.userName);
    let incident: Incident | undefined;
    if (i.channel) incident = await deps.service.findByChannel(i.channel);
    if (i.mod.needsIncident && !incident) {
      await answer(deps, target, { ephemeral: await howToReach(deps, i.team, i.mod.name) });
      return;
    }
    if (incident) target.incidentId = incident.record.id;
    const ctx = buildContext(deps, {
      team: i.team,
      channel: i.channel,
      user,
      triggerId: i.triggerId,
      key: i.key,
      ...(i.responseUrl ? { responseUrl: i.responseUrl } : {}),
      incident,
    });
    reply = await i.run(ctx);
  } catch (err) {
    reply = { ephemeral: errorText(deps, err, i.mod, i.label, where) };
  }
  await answer(deps, target, reply);
}

/** Input values of a submitted modal, flattened to `action_id → value`. */
export function flattenViewValues(
  state: Record<string, Record<string, ViewInput>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const block of Object.values(state)) {
    for (const [actionId, v] of Object.entries(block)) {
      const value =
        v.value ??
        v.selected_option?.value ??
        v.selected_date ??
        v.selected_time ??
        v.selected_date_time?.toString() ??
        v.selected_user ??
        v.selected_channel ??
        v.selected_conversation ??
        v.selected_users?.join(',') ??
        v.selected_channels?.join(',') ??
        v.selected_conversations?.join(',') ??
        v.selected_options?.map((o) => o.value).join(',') ??
        undefined;
      if (value !== undefined && value !== null) out[actionId] = String(value);
    }
  }
  return out;
}

interface ViewInput {
  value?: string | null;
  selected_option?: { value: string } | null;
  selected_options?: { value: string }[];
  selected_date?: string | null;
  selected_time?: string | null;
  selected_date_time?: number | null;
  selected_user?: string | null;
  selected_users?: string[];
  selected_channel?: string | null;
  selected_channels?: string[];
  selected_conversation?: string | null;
  selected_conversations?: string[];
}

/** Modules may keep the channel in private_metadata as JSON `{ "channel": "C…" }`. */
function channelFromMetadata(meta: string): string | undefined {
  if (!meta.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(meta) as { channel?: unknown };
    return typeof v.channel === 'string' ? v.channel : undefined;
  } catch {
    return undefined;
  }
}

function actionValue(action: BlockAction['actions'][number]): string {
  const a = action as {
    value?: string;
    selected_option?: { value: string } | null;
    selected_user?: string;
    selected_date?: string;
  };
  return a.value ?? a.selected_option?.value ?? a.selected_user ?? a.selected_date ?? '';
}

// ---- shared ----------------------------------------------------------------------------------

function buildContext(
  deps: SlackDeps,
  c: Pick<
    CommandContext,
    'team' | 'channel' | 'user' | 'triggerId' | 'key' | 'incident' | 'responseUrl'
  >,
): CommandContext {
  const received = currentRequest()?.receivedAt;
  return {
    ...c,
    ...(received ? { receivedAt: received } : {}),
    service: deps.service,
    slack: deps.slack,
    settings: deps.settings,
    now: (deps.clock ? deps.clock() : deps.service.now()).toUTC(),
  };
}

/** The caller as a SlackUser (users.info, cached); the command's user_name if Slack fails. */
async function resolveUser(deps: SlackDeps, id: string, fallbackName?: string): Promise<SlackUser> {
  try {
    return await deps.slack.user(id);
  } catch (err) {
    deps.logger.warn({ err, user: id }, 'users.info failed; using the name Slack sent');
    return { id, name: fallbackName || id };
  }
}

/** Answers "this is not an incident channel": where the open incidents are. */
async function howToReach(deps: SlackDeps, team: string, command: string): Promise<string> {
  const head = `\`${COMMAND} ${command}\` works in an incident's channel, and this channel is not one.`;
  const open = await deps.service.list({ team, status: OPEN_STATUSES });
  if (open.length === 0) {
    return `${head}\nThere are no open incidents. Start one with \`${COMMAND} start <title>\`.`;
  }
  const lines = open
    .slice(0, 10)
    .map(
      (r) =>
        `• ${formatIncidentNumber(r.number)} ${r.title} (${r.severity}, ${r.status}) — ${
          r.channel ? `<#${r.channel}>` : 'no channel'
        }`,
    );
  const more = open.length > 10 ? `\n…and ${open.length - 10} more (\`${COMMAND} list\`).` : '';
  return `${head}\nOpen incidents — type the command in its channel:\n${lines.join('\n')}${more}`;
}

/**
 * Owes the reply as outbox effects (written with the request's completion, delivered by
 * src/slack/replies.ts): the in-channel line, then the ephemeral answer.
 */
async function answer(deps: SlackDeps, target: ReplyTarget, reply: Reply): Promise<void> {
  const now = (deps.clock ? deps.clock() : deps.service.now()).toUTC();
  await oweEffects(deps, replyEffects(reply, target, now));
}

/** The ephemeral answer to a failure: usage, a friendly IncidentError, or "something went wrong". */
function errorText(
  deps: SlackDeps,
  err: unknown,
  mod: CommandModule,
  typed: string,
  where: Record<string, unknown>,
): string {
  const retry = typed.startsWith(COMMAND)
    ? `\nNothing you typed is lost — here it is to try again:\n> ${clipInline(typed, 2900)}`
    : '';
  if (err instanceof UsageError) {
    return `${err.message}\nUsage: \`${COMMAND} ${err.usage ?? mod.usage}\``;
  }
  if (err instanceof IncidentError) {
    if (err.code === 'store_unavailable') {
      deps.logger.error({ ...where, err }, 'store unavailable');
      return `${err.message}${retry}`;
    }
    return err.message;
  }
  if (err instanceof StoreUnavailableError) {
    deps.logger.error({ ...where, err }, 'store unavailable');
    return `The incident store is not reachable right now, so \`${COMMAND} ${mod.name}\` was not recorded (${err.message}). Please try again in a moment.${retry}`;
  }
  deps.logger.error({ ...where, err }, 'command failed');
  const what = typed.startsWith(COMMAND)
    ? `\`${COMMAND} ${mod.name}\` did not finish`
    : `${typed} did not finish`;
  return `Something went wrong: ${what}; nothing was lost — ${describeSlackError(err)}. Anything recorded before the failure is kept; check with \`${COMMAND} timeline\`.${retry}`;
}

function clipInline(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
