/**
 * Reads a standard Slack workspace export, from a directory or a `.zip`:
 *
 *   channels.json            [{ id, name, created, members, topic, purpose, … }]
 *   groups.json (optional)   private channels, same shape (Business+ exports)
 *   users.json               [{ id, name, real_name, profile: { display_name }, tz, is_bot, … }]
 *   <channel name>/YYYY-MM-DD.json   one array of messages per day
 *
 * Only what the importer uses is validated, but that is validated strictly: a malformed export
 * fails with a SlackExportError whose message names the file and the problem
 * (`channels.json: expected an array`, `inc-x/2025-03-11.json: message 3 has no "ts"`).
 * Unknown fields are ignored. Nothing is extracted to disk; a zip is read entry by entry.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import yauzl from 'yauzl';
import { slackTime } from '../app/capture';

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
  /** True when it came from groups.json. */
  isPrivate: boolean;
}

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
const SLACK_TS = /^\d{1,12}\.\d{1,6}$/;

/** Opens an export directory or zip and reads users.json and channels.json. */
export async function openSlackExport(source: string): Promise<SlackExport> {
  const files = await openFiles(source);
  try {
    const root = findRoot(files, source);
    const rel = (p: string): string => (root ? `${root}/${p}` : p);
    const has = (p: string): boolean => files.names.has(rel(p));

    const channels = parseChannels(await readJson(files, rel('channels.json'), 'channels.json'));
    if (has('groups.json')) {
      const groups = parseChannels(await readJson(files, rel('groups.json'), 'groups.json'), true);
      channels.push(...groups);
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
    `channel "${want}" not found in channels.json (known: ${known.length ? known.join(', ') : 'none'})`,
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

// ---- validation -----------------------------------------------------------------------------------

type Json = unknown;
type Obj = Record<string, Json>;

function isObj(v: Json): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string')
    return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)})`;
  return `${typeof v === 'number' ? 'a number' : typeof v} (${String(v)})`;
}

/** Field checker for one object, producing `<file>: <what> …` messages. */
class Fields {
  constructor(
    private readonly o: Obj,
    private readonly file: string,
    private readonly what: string,
  ) {}

  fail(problem: string): never {
    throw new SlackExportError(`${this.file}: ${this.what} ${problem}`);
  }

  reqString(key: string): string {
    const v = this.o[key];
    if (v === undefined || v === null) this.fail(`has no "${key}"`);
    if (typeof v !== 'string') this.fail(`has "${key}" that is ${describe(v)}, expected a string`);
    if (v.trim() === '') this.fail(`has an empty "${key}"`);
    return v;
  }

  optString(key: string): string | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(`has "${key}" that is ${describe(v)}, expected a string`);
    return v;
  }

  optNumber(key: string): number | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.fail(`has "${key}" that is ${describe(v)}, expected a number`);
    }
    return v;
  }

  optBool(key: string): boolean | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean')
      this.fail(`has "${key}" that is ${describe(v)}, expected true or false`);
    return v;
  }

  optObject(key: string): Obj | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (!isObj(v)) this.fail(`has "${key}" that is ${describe(v)}, expected an object`);
    return v;
  }

  optArray(key: string): Json[] {
    const v = this.o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(`has "${key}" that is ${describe(v)}, expected an array`);
    return v;
  }

  optStringArray(key: string): string[] {
    const arr = this.optArray(key);
    arr.forEach((x, i) => {
      if (typeof x !== 'string') {
        this.fail(`has "${key}" whose item ${i + 1} is ${describe(x)}, expected a string`);
      }
    });
    return arr as string[];
  }

  /** A nested `{ value }` (channel topic/purpose) or a plain string. */
  optValue(key: string): string | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v || undefined;
    if (!isObj(v)) this.fail(`has "${key}" that is ${describe(v)}, expected an object`);
    const value = new Fields(v, this.file, `${this.what} "${key}"`).optString('value');
    return value?.trim() ? value : undefined;
  }
}

function expectArray(data: Json, file: string): Json[] {
  if (!Array.isArray(data))
    throw new SlackExportError(`${file}: expected an array, got ${describe(data)}`);
  return data;
}

function elementOf(item: Json, file: string, what: string): Obj {
  if (!isObj(item))
    throw new SlackExportError(`${file}: ${what} is ${describe(item)}, expected an object`);
  return item;
}

function parseChannels(data: Json, isPrivate = false): SlackChannel[] {
  const file = isPrivate ? 'groups.json' : 'channels.json';
  const seen = new Map<string, number>();
  return expectArray(data, file).map((item, i) => {
    const what = `channel ${i + 1}`;
    const f = new Fields(elementOf(item, file, what), file, what);
    const id = f.reqString('id');
    const name = f.reqString('name');
    const first = seen.get(id);
    if (first !== undefined) f.fail(`repeats id ${id} (channel ${first})`);
    seen.set(id, i + 1);
    const created = f.optNumber('created');
    return {
      id,
      name,
      ...(created !== undefined ? { created: DateTime.fromSeconds(created, { zone: 'utc' }) } : {}),
      members: f.optStringArray('members'),
      topic: f.optValue('topic'),
      purpose: f.optValue('purpose'),
      isPrivate,
    };
  });
}

function parseUsers(data: Json): SlackUser[] {
  const file = 'users.json';
  return expectArray(data, file).map((item, i) => {
    const what = `user ${i + 1}`;
    const f = new Fields(elementOf(item, file, what), file, what);
    const id = f.reqString('id');
    const profile = f.optObject('profile');
    const pf = profile ? new Fields(profile, file, `${what} "profile"`) : undefined;
    const nonEmpty = (s: string | undefined): string | undefined =>
      s?.trim() ? s.trim() : undefined;
    const realName = nonEmpty(f.optString('real_name')) ?? nonEmpty(pf?.optString('real_name'));
    return {
      id,
      name: nonEmpty(f.optString('name')) ?? id,
      realName,
      displayName: nonEmpty(pf?.optString('display_name')),
      tz: nonEmpty(f.optString('tz')),
      isBot: (f.optBool('is_bot') ?? false) || id === 'USLACKBOT',
      deleted: f.optBool('deleted') ?? false,
      team: nonEmpty(f.optString('team_id')) ?? nonEmpty(pf?.optString('team')),
    };
  });
}

function parseMessages(data: Json, file: string): SlackMessage[] {
  return expectArray(data, file).map((item, i) => {
    const what = `message ${i + 1}`;
    const f = new Fields(elementOf(item, file, what), file, what);
    const ts = f.reqString('ts');
    if (!SLACK_TS.test(ts)) {
      f.fail(
        `has an invalid "ts" (${JSON.stringify(ts)}); expected seconds.micros like "1741704000.000100"`,
      );
    }
    const threadTs = f.optString('thread_ts');
    if (threadTs !== undefined && !SLACK_TS.test(threadTs)) {
      f.fail(`has an invalid "thread_ts" (${JSON.stringify(threadTs)})`);
    }

    const reactions = f.optArray('reactions').map((r, j) => {
      const rw = `${what} reaction ${j + 1}`;
      const rf = new Fields(elementOf(r, file, rw), file, rw);
      const users = rf.optStringArray('users');
      return { name: rf.reqString('name'), users, count: rf.optNumber('count') ?? users.length };
    });

    const editedObj = f.optObject('edited');
    let edited: SlackMessage['edited'];
    if (editedObj) {
      const ef = new Fields(editedObj, file, `${what} "edited"`);
      const ets = ef.reqString('ts');
      if (!SLACK_TS.test(ets)) ef.fail(`has an invalid "ts" (${JSON.stringify(ets)})`);
      edited = { user: ef.optString('user'), ts: ets, at: slackTsToDateTime(ets) };
    }

    const files = f.optArray('files').map((x, j) => {
      const fw = `${what} file ${j + 1}`;
      const ff = new Fields(elementOf(x, file, fw), file, fw);
      const mode = ff.optString('mode');
      const title = ff.optString('title');
      const name =
        ff.optString('name') ??
        title ??
        (mode === 'hidden_by_limit'
          ? 'file hidden by the Slack plan limit'
          : mode === 'tombstone'
            ? 'deleted file'
            : (ff.optString('id') ?? 'unnamed file'));
      return {
        name,
        ...(title !== undefined ? { title } : {}),
        ...(ff.optString('permalink') ? { permalink: ff.optString('permalink') } : {}),
        ...(ff.optString('url_private') ? { urlPrivate: ff.optString('url_private') } : {}),
        ...(mode !== undefined ? { mode } : {}),
      };
    });

    const up = f.optObject('user_profile');
    let userProfile: SlackMessage['userProfile'];
    if (up) {
      const uf = new Fields(up, file, `${what} "user_profile"`);
      userProfile = {
        name: uf.optString('name'),
        realName: uf.optString('real_name'),
        displayName: uf.optString('display_name'),
      };
    }

    const msg: SlackMessage = {
      ts,
      at: slackTsToDateTime(ts),
      text: f.optString('text') ?? '',
      reactions,
      files,
      pinnedTo: f.optStringArray('pinned_to'),
      origin: { file, index: i + 1 },
    };
    const user = f.optString('user');
    if (user) msg.user = user;
    const subtype = f.optString('subtype');
    if (subtype) msg.subtype = subtype;
    const botId = f.optString('bot_id');
    if (botId) msg.botId = botId;
    if (threadTs) msg.threadTs = threadTs;
    if (edited) msg.edited = edited;
    if (userProfile) msg.userProfile = userProfile;
    const team = f.optString('team');
    if (team) msg.team = team;
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

async function readJson(files: ExportFiles, name: string, label: string): Promise<Json> {
  const buf = await files.read(name, label);
  const text = buf.toString('utf8').replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    const { line, column } = lineColumn(text, jsonErrorOffset(text));
    const detail =
      err instanceof Error ? err.message.replace(/,? ".*" is not valid JSON$/s, '') : '';
    throw new SlackExportError(
      `${label}: not valid JSON at line ${line}, column ${column}${detail ? ` (${detail})` : ''}`,
    );
  }
}

/** Line and column (1-based) of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

/**
 * Offset of the first JSON syntax error in `text` (V8's messages do not always carry one).
 * A small recursive-descent scanner; returns text.length for truncated input.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  class Stop {
    constructor(readonly at: number) {}
  }
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const lit = (word: string): void => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) throw new Stop(i);
  };
  const str = (): void => {
    i++; // opening quote
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const n = text[i + 1];
        if (n === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i);
          i += 6;
        } else if (n !== undefined && '"\\/bfnrt'.includes(n)) i += 2;
        else throw new Stop(i);
        continue;
      }
      if (c < ' ') throw new Stop(i);
      i++;
    }
    throw new Stop(i);
  };
  const num = (): void => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) throw new Stop(i);
    i += m[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Stop(i);
        str();
        ws();
        if (text[i] !== ':') throw new Stop(i);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new Stop(i);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new Stop(i);
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true');
    if (c === 'f') return lit('false');
    if (c === 'n') return lit('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num();
    throw new Stop(i);
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (e) {
    if (e instanceof Stop) return e.at;
    throw e;
  }
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
  const candidates = [...files.names]
    .filter((n) => n === 'channels.json' || n.endsWith('/channels.json'))
    .map((n) => n.slice(0, -'channels.json'.length).replace(/\/$/, ''))
    .sort((a, b) => a.split('/').length - b.split('/').length || a.length - b.length);
  if (candidates.length === 0) {
    throw new SlackExportError(
      `${source}: no channels.json found; is this a Slack workspace export (a folder or .zip with channels.json, users.json and one folder per channel)?`,
    );
  }
  const root = candidates[0];
  return root;
}
