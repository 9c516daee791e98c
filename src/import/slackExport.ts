/**
 * Reads a Slack export, from a directory or a `.zip`: Slack's workspace exports of every era
 * (2014 to today) and the same layout written by export tools (slackdump and others):
 *
 *   channels.json            public channels [{ id, name, created, members, topic, purpose, … }]
 *   groups.json (optional)   private channels, same shape
 *   mpims.json (optional)    group DMs, same shape (folder by name, `mpdm-a--b-1`)
 *   dms.json (optional)      DMs [{ id, created, members }] (folder by id, `D…`)
 *   users.json               [{ id, name, real_name, profile: { display_name }, tz, is_bot, … }]
 *   <folder>/YYYY-MM-DD.json one array of messages per day
 *
 * Validation (exportSchema.ts, zod) covers only what the importer reads, and tolerates the odd:
 * unknown fields are ignored, odd values of optional fields are coerced or ignored. A real error
 * (not JSON, not an array, a message without `ts`) is a SlackExportError naming the file and the
 * problem (`inc-x/2025-03-11.json: message 3 has no "ts"`). Nothing is extracted to disk; a zip
 * is read entry by entry.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import yauzl from 'yauzl';
import { slackTime } from '../app/capture';
import { attachmentsText, blocksText } from './blocks';
import { channelSchema, messageSchema, parseArray, userSchema, type RawFile } from './exportSchema';

/** A malformed or unreadable export; the message names the file and the problem. */
export class SlackExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlackExportError';
  }
}

export interface SlackUser {
  id: string;
  /** The handle (`name`). */
  name: string;
  realName?: string;
  displayName?: string;
  tz?: string;
  isBot: boolean;
  deleted: boolean;
  /** Workspace id, when the export has it. */
  team?: string;
}

export interface SlackChannel {
  id: string;
  name: string;
  /** Creation time, when present. */
  created?: DateTime;
  members: string[];
  topic?: string;
  purpose?: string;
  /** True unless it came from channels.json. */
  isPrivate: boolean;
  /** Which list it came from: channels.json, groups.json, mpims.json or dms.json. */
  kind: ChannelKind;
}

export type ChannelKind = 'channel' | 'private' | 'mpim' | 'dm';

/** The conversation lists of an export, in the order they are read. */
const CONVERSATION_FILES: readonly [string, ChannelKind][] = [
  ['channels.json', 'channel'],
  ['groups.json', 'private'],
  ['mpims.json', 'mpim'],
  ['dms.json', 'dm'],
];

export interface SlackReaction {
  name: string;
  users: string[];
  count: number;
}

export interface SlackFile {
  name: string;
  title?: string;
  permalink?: string;
  urlPrivate?: string;
  /** e.g. `hidden_by_limit`, `tombstone` (the file is not available). */
  mode?: string;
}

export interface SlackMessage {
  ts: string;
  /** The ts as a UTC time (millisecond precision). */
  at: DateTime;
  user?: string;
  text: string;
  subtype?: string;
  botId?: string;
  /** The bot's or integration's name (`bot_profile.name`, `username`), for bot posts. */
  botName?: string;
  /** Slack marks some system messages hidden. */
  hidden?: boolean;
  /** Set on thread parents (equal to ts) and replies (the parent's ts). */
  threadTs?: string;
  reactions: SlackReaction[];
  edited?: { user?: string; ts: string; at: DateTime };
  files: SlackFile[];
  /** Channels the message is pinned to. */
  pinnedTo: string[];
  /** The author's names as embedded in the message (newer exports). */
  userProfile?: { name?: string; realName?: string; displayName?: string };
  team?: string;
  /** Where it was read from: `<folder>/<day>.json` and its 1-based position in that file. */
  origin: { file: string; index: number };
}

export interface ChannelHistory {
  channel: SlackChannel;
  /** In ts order (duplicates of the same ts dropped). */
  messages: SlackMessage[];
  /** The day files read, in order. */
  files: string[];
  /** Things that were skipped or looked odd, for the user. */
  warnings: string[];
}

export interface SlackExport {
  /** The directory or zip path given. */
  source: string;
  users: SlackUser[];
  channels: SlackChannel[];
  /** The workspace id, when users.json names one (the most common `team_id`). */
  team?: string;
  /** Finds a channel by id or name (`#` optional, names case-insensitive) or throws. */
  findChannel(nameOrId: string): SlackChannel;
  /** Reads one channel's day files. */
  readChannel(channel: SlackChannel): Promise<ChannelHistory>;
  close(): Promise<void>;
}

/** Largest single file read from an export (guards against zip bombs and stray blobs). */
export const MAX_EXPORT_FILE_BYTES = 64 * 1024 * 1024;

const DAY_FILE = /^\d{4}-\d{2}-\d{2}\.json$/;

/** Opens an export directory or zip and reads users.json and channels.json. */
export async function openSlackExport(source: string): Promise<SlackExport> {
  const files = await openFiles(source);
  try {
    const root = findRoot(files, source);
    const rel = (p: string): string => (root ? `${root}/${p}` : p);
    const has = (p: string): boolean => files.names.has(rel(p));

    const channels: SlackChannel[] = [];
    const seen = new Set<string>();
    for (const [file, kind] of CONVERSATION_FILES) {
      if (!has(file)) continue;
      // A conversation listed twice (some tools repeat DMs) is read once.
      for (const c of parseChannels(await readJson(files, rel(file), file), file, kind)) {
        if (seen.has(c.id)) continue;
        seen.add(c.id);
        channels.push(c);
      }
    }
    if (!has('users.json')) {
      throw new SlackExportError(`${source}: no users.json beside channels.json`);
    }
    const users = parseUsers(await readJson(files, rel('users.json'), 'users.json'));
    const team = mostCommon(users.map((u) => u.team));

    return {
      source,
      users,
      channels,
      team,
      findChannel: (nameOrId) => findChannel(channels, nameOrId),
      readChannel: (channel) => readChannel(files, root, channel),
      close: () => files.close(),
    };
  } catch (err) {
    await files.close();
    throw err;
  }
}

/** Reads users, channels and one channel's history, then closes the export. */
export async function readSlackExport(
  source: string,
  channel: string,
): Promise<{ export: SlackExport; history: ChannelHistory }> {
  const exp = await openSlackExport(source);
  try {
    const history = await exp.readChannel(exp.findChannel(channel));
    return { export: exp, history };
  } finally {
    await exp.close();
  }
}

/**
 * Slack ts (`1741704000.000100`) → UTC DateTime, whole milliseconds: the live bot's `slackTime`,
 * so an imported message lands at exactly the time the live bot would have recorded.
 */
export function slackTsToDateTime(ts: string): DateTime {
  return slackTime(ts);
}

/** Orders Slack ts strings numerically (they are not always the same width). */
export function compareSlackTs(a: string, b: string): number {
  const [as, af = ''] = a.split('.');
  const [bs, bf = ''] = b.split('.');
  const d = Number(as) - Number(bs);
  if (d !== 0) return d;
  const fa = af.padEnd(6, '0');
  const fb = bf.padEnd(6, '0');
  return fa < fb ? -1 : fa > fb ? 1 : 0;
}

// ---- channels -----------------------------------------------------------------------------------

function findChannel(channels: SlackChannel[], nameOrId: string): SlackChannel {
  const want = nameOrId.trim().replace(/^#/, '');
  const found =
    channels.find((c) => c.id === want) ??
    channels.find((c) => c.name === want) ??
    channels.find((c) => c.name.toLowerCase() === want.toLowerCase());
  if (found) return found;
  const known = channels.map((c) => c.name).sort();
  throw new SlackExportError(
    `channel "${want}" not found in the export (known: ${known.length ? known.join(', ') : 'none'})`,
  );
}

async function readChannel(
  files: ExportFiles,
  root: string,
  channel: SlackChannel,
): Promise<ChannelHistory> {
  const prefix = (folder: string): string => (root ? `${root}/${folder}/` : `${folder}/`);
  // Public and private channels are exported under their name; older exports and DMs by id.
  const folder = [channel.name, channel.id].find((f) =>
    [...files.names].some((n) => n.startsWith(prefix(f))),
  );
  if (!folder) {
    throw new SlackExportError(
      `channel "${channel.name}" (${channel.id}) has no folder "${channel.name}/" in the export, so it has no messages to import`,
    );
  }
  const warnings: string[] = [];
  const dayFiles: string[] = [];
  for (const name of [...files.names].sort()) {
    if (!name.startsWith(prefix(folder))) continue;
    const base = name.slice(prefix(folder).length);
    if (base === '' || base.endsWith('/')) continue;
    if (DAY_FILE.test(base)) dayFiles.push(base);
    else warnings.push(`${folder}/${base}: not a day file (YYYY-MM-DD.json); ignored`);
  }
  if (dayFiles.length === 0) {
    throw new SlackExportError(`${folder}/: no day files (YYYY-MM-DD.json) in the folder`);
  }

  const byTs = new Map<string, SlackMessage>();
  for (const day of dayFiles) {
    const label = `${folder}/${day}`;
    const data = await readJson(files, prefix(folder) + day, label);
    for (const m of parseMessages(data, label)) {
      const prev = byTs.get(m.ts);
      if (prev) {
        warnings.push(
          `${label}: message ${m.origin.index} repeats ts ${m.ts} (also in ${prev.origin.file}); kept the first`,
        );
        continue;
      }
      byTs.set(m.ts, m);
    }
  }
  const messages = [...byTs.values()].sort((a, b) => compareSlackTs(a.ts, b.ts));
  return { channel, messages, files: dayFiles.map((d) => `${folder}/${d}`), warnings };
}

// ---- parsing (schemas in exportSchema.ts) ----------------------------------------------------------

const fail = (message: string): Error => new SlackExportError(message);

function parseChannels(data: unknown, file: string, kind: ChannelKind): SlackChannel[] {
  return parseArray(data, file, 'channel', channelSchema, fail).map((c) => ({
    id: c.id,
    // DMs have no name: they are found (and foldered) by id.
    name: c.name || c.id,
    ...(c.created !== undefined
      ? { created: DateTime.fromSeconds(c.created, { zone: 'utc' }) }
      : {}),
    members: c.members.length ? c.members : c.user ? [c.user] : [],
    topic: c.topic,
    purpose: c.purpose,
    isPrivate: kind !== 'channel',
    kind,
  }));
}

function parseUsers(data: unknown): SlackUser[] {
  return parseArray(data, 'users.json', 'user', userSchema, fail).map((u) => ({
    id: u.id,
    name: u.name || u.id,
    realName: u.real_name || u.profile?.real_name || undefined,
    displayName: u.profile?.display_name || undefined,
    tz: u.tz || undefined,
    isBot: (u.is_bot ?? false) || u.id === 'USLACKBOT',
    deleted: u.deleted ?? false,
    team: u.team_id || u.profile?.team || undefined,
  }));
}

function fileOf(f: RawFile): SlackFile {
  const name =
    f.name ||
    f.title ||
    (f.mode === 'hidden_by_limit'
      ? 'file hidden by the Slack plan limit'
      : f.mode === 'tombstone'
        ? 'deleted file'
        : f.id || 'unnamed file');
  return {
    name,
    ...(f.title !== undefined ? { title: f.title } : {}),
    ...(f.permalink ? { permalink: f.permalink } : {}),
    ...(f.url_private ? { urlPrivate: f.url_private } : {}),
    ...(f.mode !== undefined ? { mode: f.mode } : {}),
  };
}

function parseMessages(data: unknown, file: string): SlackMessage[] {
  return parseArray(data, file, 'message', messageSchema, fail).map((m, i) => {
    const isComment = m.subtype === 'file_comment';
    // The text: `text`, else the rich_text blocks, else the attachments (alerts, shares).
    const text =
      (isComment ? m.comment?.comment : undefined) ||
      (m.text && m.text.trim() !== '' ? m.text : '') ||
      blocksText(m.blocks) ||
      attachmentsText(m.attachments);
    const files = [...m.files, ...(m.file && !isComment ? [m.file] : [])].map(fileOf);
    const msg: SlackMessage = {
      ts: m.ts,
      at: slackTsToDateTime(m.ts),
      text,
      reactions: m.reactions.map((r) => ({
        name: r.name,
        users: r.users,
        count: r.count ?? r.users.length,
      })),
      files,
      pinnedTo: m.pinned_to,
      origin: { file, index: i + 1 },
    };
    // file_comment (2014–2018): the author is the comment's, not the file's owner.
    const user = (isComment ? m.comment?.user : undefined) || m.user;
    if (user) msg.user = user;
    if (m.subtype) msg.subtype = m.subtype;
    if (m.bot_id) msg.botId = m.bot_id;
    const botName = m.bot_profile?.name || m.username;
    if (botName && (m.bot_id || m.subtype === 'bot_message')) msg.botName = botName;
    if (m.thread_ts) msg.threadTs = m.thread_ts;
    if (m.hidden) msg.hidden = true;
    if (m.edited) {
      msg.edited = { user: m.edited.user, ts: m.edited.ts, at: slackTsToDateTime(m.edited.ts) };
    }
    if (m.user_profile) {
      msg.userProfile = {
        name: m.user_profile.name,
        realName: m.user_profile.real_name,
        displayName: m.user_profile.display_name,
      };
    }
    if (m.team) msg.team = m.team;
    return msg;
  });
}

function mostCommon(values: (string | undefined)[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  let bestN = 0;
  for (const [v, n] of counts) {
    if (n > bestN) {
      best = v;
      bestN = n;
    }
  }
  return best;
}

// ---- JSON with positions ----------------------------------------------------------------------------

async function readJson(files: ExportFiles, name: string, label: string): Promise<unknown> {
  const buf = await files.read(name, label);
  const text = buf.toString('utf8').replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    // V8 names the position ("… in JSON at position 42"), except at an unexpected end.
    const pos = /at position (\d+)/.exec(detail);
    const { line, column } = lineColumn(text, pos ? Number(pos[1]) : text.length);
    const reason = detail
      .replace(/,? ".*" is not valid JSON$/s, '')
      .replace(/ in JSON at position \d+.*$/s, '');
    throw new SlackExportError(
      `${label}: not valid JSON at line ${line}, column ${column}${reason ? ` (${reason})` : ''}`,
    );
  }
}

/** Line and column (1-based) of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

// ---- directory and zip access -------------------------------------------------------------------------

interface ExportFiles {
  /** Relative paths with `/`, files only. */
  names: Set<string>;
  read(name: string, label: string): Promise<Buffer>;
  close(): Promise<void>;
}

async function openFiles(source: string): Promise<ExportFiles> {
  let stat;
  try {
    stat = await fs.stat(source);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SlackExportError(
      code === 'ENOENT'
        ? `${source}: no such file or directory`
        : `${source}: cannot read (${(err as Error).message})`,
    );
  }
  if (stat.isDirectory()) return openDir(source);
  if (stat.isFile()) return openZip(source);
  throw new SlackExportError(`${source}: not a directory or a .zip file`);
}

async function openDir(dir: string): Promise<ExportFiles> {
  const names = new Set<string>();
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > 3) return;
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile()) names.add(p);
    }
  };
  try {
    await walk('', 0);
  } catch (err) {
    throw new SlackExportError(`${dir}: cannot list the directory (${(err as Error).message})`);
  }
  return {
    names,
    async read(name, label) {
      const full = path.join(dir, ...name.split('/'));
      try {
        const st = await fs.stat(full);
        if (st.size > MAX_EXPORT_FILE_BYTES) {
          throw new SlackExportError(
            `${label}: ${st.size} bytes is more than the ${MAX_EXPORT_FILE_BYTES}-byte limit`,
          );
        }
        return await fs.readFile(full);
      } catch (err) {
        if (err instanceof SlackExportError) throw err;
        throw new SlackExportError(`${label}: cannot read (${(err as Error).message})`);
      }
    },
    close: async () => undefined,
  };
}

async function openZip(file: string): Promise<ExportFiles> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new SlackExportError(
      `${file}: not a directory or a readable .zip (${(err as Error).message})`,
    );
  }
  const entries = new Map<string, yauzl.Entry>();
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      if (entry.fileName.startsWith('__MACOSX/')) continue;
      entries.set(entry.fileName, entry);
    }
  } catch (err) {
    zip.close();
    throw new SlackExportError(`${file}: the zip is damaged (${(err as Error).message})`);
  }
  let closed = false;
  return {
    names: new Set(entries.keys()),
    async read(name, label) {
      const entry = entries.get(name);
      if (!entry) throw new SlackExportError(`${label}: not in the zip`);
      if (entry.uncompressedSize > MAX_EXPORT_FILE_BYTES) {
        throw new SlackExportError(
          `${label}: ${entry.uncompressedSize} bytes is more than the ${MAX_EXPORT_FILE_BYTES}-byte limit`,
        );
      }
      try {
        const stream = await zip.openReadStreamPromise(entry);
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      } catch (err) {
        throw new SlackExportError(
          `${label}: cannot read from the zip (${(err as Error).message})`,
        );
      }
    },
    async close() {
      if (!closed) {
        closed = true;
        zip.close();
      }
    },
  };
}

/**
 * The folder holding channels.json: the export root, or the one folder a zip tool wrapped it in
 * (`Acme Slack export Mar 11 2025/channels.json`).
 */
function findRoot(files: ExportFiles, source: string): string {
  const lists = CONVERSATION_FILES.map(([f]) => f);
  const candidates = [...files.names]
    .flatMap((n) =>
      lists.filter((f) => n === f || n.endsWith(`/${f}`)).map((f) => n.slice(0, -f.length)),
    )
    .map((dir) => dir.replace(/\/$/, ''))
    .sort((a, b) => a.split('/').length - b.split('/').length || a.length - b.length);
  if (candidates.length === 0) {
    throw new SlackExportError(
      `${source}: no channels.json found; is this a Slack export (a folder or .zip with channels.json, users.json and one folder per channel)?`,
    );
  }
  const root = candidates[0];
  return root;
}
