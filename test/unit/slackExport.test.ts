import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  SlackExportError,
  compareSlackTs,
  lineColumn,
  openSlackExport,
  readSlackExport,
  slackTsToDateTime,
} from '../../src/import/slackExport';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'slack-export');
const CHANNEL = 'inc-search-empty-results';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'slack-export-test-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A copy of the fixture with some files replaced (string content) or removed (null). */
function variant(changes: Record<string, string | null> = {}): string {
  const dir = path.join(tmp, 'export');
  cpSync(FIXTURE, dir, { recursive: true });
  for (const [file, content] of Object.entries(changes)) {
    const full = path.join(dir, file);
    if (content === null) rmSync(full, { recursive: true, force: true });
    else {
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }
  return dir;
}

function fixtureJson<T = unknown>(file: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURE, file), 'utf8')) as T;
}

async function failure(source: string, channel = CHANNEL): Promise<string> {
  try {
    await readSlackExport(source, channel);
  } catch (err) {
    expect(err).toBeInstanceOf(SlackExportError);
    return (err as Error).message;
  }
  throw new Error('expected the export to be rejected');
}

// ---- a tiny zip writer (deflate), so the zip tests need no binary fixture ---------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function writeZip(file: string, entries: { name: string; data: Buffer }[]): void {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const dosDate = ((2025 - 1980) << 9) | (3 << 5) | 12;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = zlib.deflateRawSync(e.data);
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(dosDate, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(cd, name);
    offset += local.length + name.length + body.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(file, Buffer.concat([...parts, cdBuf, end]));
}

/** Every file under dir, as zip entries under `prefix`. */
function entriesOf(dir: string, prefix = ''): { name: string; data: Buffer }[] {
  const out: { name: string; data: Buffer }[] = [];
  const walk = (rel: string): void => {
    for (const n of readdirSync(path.join(dir, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      if (statSync(path.join(dir, r)).isDirectory()) walk(r);
      else out.push({ name: prefix + r, data: readFileSync(path.join(dir, r)) });
    }
  };
  walk('');
  return out;
}

// ---- reading ---------------------------------------------------------------------------------

describe('reading the fixture directory', () => {
  it('reads users, channels and the team', async () => {
    const exp = await openSlackExport(FIXTURE);
    try {
      expect(exp.team).toBe('T07LARK001');
      expect(exp.channels.map((c) => [c.id, c.name])).toEqual([
        ['C07GENR0001', 'general'],
        ['C07SRCH0001', CHANNEL],
      ]);
      const inc = exp.channels[1];
      expect(inc.purpose).toBe('Search results empty after the products index alias swap');
      expect(inc.members).toContain('U07ELIF005');
      expect(inc.created?.toISO()).toBe('2025-03-11T23:02:00.000Z');
      const ben = exp.users.find((u) => u.id === 'U07BENJI02');
      expect(ben).toMatchObject({ name: 'ben.hollis', realName: 'Ben Hollis', isBot: false });
      expect(ben?.displayName).toBeUndefined(); // "" in the export
      expect(exp.users.find((u) => u.id === 'U07ALERT06')?.isBot).toBe(true);
      expect(exp.users.find((u) => u.id === 'USLACKBOT')?.isBot).toBe(true);
    } finally {
      await exp.close();
    }
  });

  it('finds a channel by name, #name, id or any case', async () => {
    const exp = await openSlackExport(FIXTURE);
    try {
      for (const q of [CHANNEL, `#${CHANNEL}`, 'C07SRCH0001', 'INC-Search-Empty-Results']) {
        expect(exp.findChannel(q).id).toBe('C07SRCH0001');
      }
    } finally {
      await exp.close();
    }
  });

  it("reads a channel's day files in ts order, across midnight", async () => {
    const { history } = await readSlackExport(FIXTURE, CHANNEL);
    expect(history.files).toEqual([`${CHANNEL}/2025-03-11.json`, `${CHANNEL}/2025-03-12.json`]);
    expect(history.messages).toHaveLength(30);
    expect(history.warnings).toEqual([]);
    const ts = history.messages.map((m) => m.ts);
    expect([...ts].sort(compareSlackTs)).toEqual(ts);
    expect(history.messages[0].at.toISO()).toBe('2025-03-11T23:02:10.000Z');
    expect(history.messages.at(-1)?.at.toISO()).toBe('2025-03-12T00:30:10.000Z');
    expect(history.messages.at(-1)?.origin).toEqual({
      file: `${CHANNEL}/2025-03-12.json`,
      index: 10,
    });

    const alert = history.messages[1];
    expect(alert).toMatchObject({ subtype: 'bot_message', botId: 'B07WATCH01' });
    expect(alert.user).toBeUndefined();

    const edited = history.messages.find((m) => m.edited);
    expect(edited?.edited).toMatchObject({ user: 'U07CHIDI03', ts: '1741735570.000000' });
    expect(edited?.edited?.at.toISO()).toBe('2025-03-11T23:26:10.000Z');

    const withFile = history.messages.find((m) => m.files.length > 0);
    expect(withFile?.files).toEqual([
      {
        name: 'reindex-2025-03-11.log',
        title: 'reindex-2025-03-11.log',
        permalink: 'https://larkspur.slack.com/files/U07DANA004/F07LOG0001/reindex-2025-03-11.log',
        urlPrivate:
          'https://files.slack.com/files-pri/T07LARK001-F07LOG0001/reindex-2025-03-11.log',
      },
    ]);
    expect(withFile?.threadTs).toBe('1741735022.000100');

    const hypothesis = history.messages.find((m) => m.ts === '1741735022.000100');
    expect(hypothesis?.reactions).toEqual([
      { name: 'mag', users: ['U07BENJI02', 'U07DANA004'], count: 2 },
      { name: 'white_check_mark', users: ['U07AMARA01'], count: 1 },
      { name: 'thinking_face', users: ['U07ELIF005'], count: 1 },
    ]);
    expect(history.messages[2].pinnedTo).toEqual(['C07SRCH0001']);
    expect(history.messages[2].userProfile).toMatchObject({ displayName: 'Amara' });
  });

  it('warns about stray files and repeated messages, and keeps the first copy', async () => {
    const day2 = fixtureJson<unknown[]>(`${CHANNEL}/2025-03-12.json`);
    const dir = variant({
      [`${CHANNEL}/notes.txt`]: 'scratch',
      [`${CHANNEL}/2025-03-13.json`]: JSON.stringify([{ ...(day2[0] as object), text: 'copy' }]),
    });
    const { history } = await readSlackExport(dir, CHANNEL);
    expect(history.messages).toHaveLength(30);
    expect(history.messages.find((m) => m.text === 'copy')).toBeUndefined();
    expect(history.warnings).toEqual([
      `${CHANNEL}/notes.txt: not a day file (YYYY-MM-DD.json); ignored`,
      `${CHANNEL}/2025-03-13.json: message 1 repeats ts 1741737820.000100 (also in ${CHANNEL}/2025-03-12.json); kept the first`,
    ]);
  });
});

describe('reading a zip', () => {
  it('reads the same export from a .zip as from the directory', async () => {
    const zip = path.join(tmp, 'export.zip');
    writeZip(zip, entriesOf(FIXTURE));
    const fromZip = await readSlackExport(zip, CHANNEL);
    const fromDir = await readSlackExport(FIXTURE, CHANNEL);
    expect(fromZip.export.team).toBe('T07LARK001');
    expect(fromZip.export.users).toEqual(fromDir.export.users);
    expect(fromZip.history.files).toEqual(fromDir.history.files);
    expect(fromZip.history.messages.map((m) => [m.ts, m.text])).toEqual(
      fromDir.history.messages.map((m) => [m.ts, m.text]),
    );
  });

  it('finds the export inside the one folder a zip tool wrapped it in', async () => {
    const zip = path.join(tmp, 'wrapped.zip');
    writeZip(zip, [
      { name: '__MACOSX/._channels.json', data: Buffer.from('junk') },
      ...entriesOf(FIXTURE, 'Larkspur Slack export Mar 11 2025 - Mar 12 2025/'),
    ]);
    const { history } = await readSlackExport(zip, '#general');
    expect(history.messages.map((m) => m.user)).toEqual(['U07DANA004', 'U07AMARA01']);
  });

  it('names the file inside the zip when it is malformed', async () => {
    const zip = path.join(tmp, 'bad.zip');
    const entries = entriesOf(FIXTURE).map((e) =>
      e.name === 'users.json' ? { ...e, data: Buffer.from('{"users": []}') } : e,
    );
    writeZip(zip, entries);
    expect(await failure(zip)).toBe('users.json: expected an array, got an object');
  });

  it('rejects a file that is neither a directory nor a zip', async () => {
    const file = path.join(tmp, 'export.zip');
    writeFileSync(file, 'this is not a zip');
    expect(await failure(file)).toMatch(/^.*export\.zip: not a directory or a readable \.zip \(/);
  });
});

// ---- validation errors -----------------------------------------------------------------------------

describe('malformed exports name the file and the problem', () => {
  const day1 = (): Record<string, unknown>[] =>
    fixtureJson<Record<string, unknown>[]>(`${CHANNEL}/2025-03-11.json`);
  const withDay1 = (mutate: (msgs: Record<string, unknown>[]) => void): string => {
    const msgs = day1();
    mutate(msgs);
    return variant({ [`${CHANNEL}/2025-03-11.json`]: JSON.stringify(msgs, null, 2) });
  };

  it('a missing source', async () => {
    const missing = path.join(tmp, 'nope');
    expect(await failure(missing)).toBe(`${missing}: no such file or directory`);
  });

  it('no channels.json', async () => {
    const dir = variant({ 'channels.json': null });
    expect(await failure(dir)).toMatch(/: no channels\.json found; is this a Slack export/);
  });

  it('no users.json', async () => {
    const dir = variant({ 'users.json': null });
    expect(await failure(dir)).toBe(`${dir}: no users.json beside channels.json`);
  });

  it('channels.json that is not an array', async () => {
    expect(await failure(variant({ 'channels.json': '{"channels": []}' }))).toBe(
      'channels.json: expected an array, got an object',
    );
  });

  it('a channel without an id is an error; an odd name, a string "created" or a repeat is not', async () => {
    const channels = fixtureJson<Record<string, unknown>[]>('channels.json');
    const noId = channels.map((c, i) => (i === 1 ? { ...c, id: undefined } : c));
    expect(await failure(variant({ 'channels.json': JSON.stringify(noId) }))).toBe(
      'channels.json: channel 2 has no "id"',
    );
    expect(await failure(variant({ 'channels.json': '[1]' }))).toBe(
      'channels.json: channel 1 is a number (1), expected an object',
    );
    // 2016-era numbers as strings, an odd name (read as the id), a repeated entry (read once).
    const odd = [
      { ...channels[0], name: 7, created: '1452837318' },
      { ...channels[1], created: '1741734120', members: 'everyone' },
      channels[1],
    ];
    const exp = await openSlackExport(variant({ 'channels.json': JSON.stringify(odd) }));
    try {
      expect(exp.channels.map((c) => [c.id, c.name, c.created?.toSeconds()])).toEqual([
        ['C07GENR0001', 'C07GENR0001', 1452837318],
        ['C07SRCH0001', 'inc-search-empty-results', 1741734120],
      ]);
      expect(exp.channels[1].members).toEqual([]);
    } finally {
      await exp.close();
    }
  });

  it('users.json that is not valid JSON, with the line and column', async () => {
    const text = '[\n  {"id": "U1", "name": "a"},\n  {"id": "U2" "name": "b"}\n]\n';
    expect(await failure(variant({ 'users.json': text }))).toMatch(
      /^users\.json: not valid JSON at line 3, column 15/,
    );
  });

  it('a truncated day file points at its end', async () => {
    const text = '[\n  {"ts": "1741734130.000100",\n   "text": "cut';
    const msg = await failure(variant({ [`${CHANNEL}/2025-03-11.json`]: text }));
    expect(msg).toMatch(
      new RegExp(`^${CHANNEL}/2025-03-11\\.json: not valid JSON at line 3, column 16`),
    );
  });

  it('a user whose profile is not an object is read without it', async () => {
    const users = fixtureJson<Record<string, unknown>[]>('users.json');
    users[2] = { ...users[2], profile: 'Chidi', is_bot: 'false' };
    const exp = await openSlackExport(variant({ 'users.json': JSON.stringify(users) }));
    try {
      expect(exp.users[2]).toMatchObject({ id: users[2].id, isBot: false });
      expect(exp.users[2].displayName).toBeUndefined();
    } finally {
      await exp.close();
    }
    users[1] = { ...users[1], id: 42 };
    expect(await failure(variant({ 'users.json': JSON.stringify(users) }))).toBe(
      'users.json: user 2 has "id" that is a number (42), expected a string',
    );
  });

  it('a message without ts', async () => {
    const dir = withDay1((m) => delete m[2].ts);
    expect(await failure(dir)).toBe(`${CHANNEL}/2025-03-11.json: message 3 has no "ts"`);
  });

  it('a message with a ts that is not a Slack ts', async () => {
    const dir = withDay1((m) => (m[4].ts = '2025-03-11T23:06:15Z'));
    expect(await failure(dir)).toBe(
      `${CHANNEL}/2025-03-11.json: message 5 has an invalid "ts" ("2025-03-11T23:06:15Z"); expected seconds.micros like "1741704000.000100"`,
    );
  });

  it('odd reactions, edits and text are ignored, not refused', async () => {
    const dir = withDay1((m) => {
      m[5].reactions = [{ name: 'mag', users: [42, 'U07BENJI02'], count: '2' }, { users: ['U1'] }];
      m[6].reactions = { mag: 1 };
      m[11].edited = { user: 'U07CHIDI03' };
      m[4].text = ['a'];
      m[3].thread_ts = 'yesterday';
    });
    const { history } = await readSlackExport(dir, CHANNEL);
    const day1 = history.messages.filter((m) => m.origin.file.endsWith('2025-03-11.json'));
    const at = (i: number) => day1.find((m) => m.origin.index === i + 1);
    expect(at(5)?.reactions).toEqual([{ name: 'mag', users: ['U07BENJI02'], count: 2 }]);
    expect(at(6)?.reactions).toEqual([]);
    expect(at(11)?.edited).toBeUndefined();
    expect(at(4)?.text).toBe('');
    expect(at(3)?.threadTs).toBeUndefined();
  });

  it('a day file that is not an array is an error', async () => {
    const dir = variant({ [`${CHANNEL}/2025-03-12.json`]: '{}' });
    expect(await failure(dir)).toBe(`${CHANNEL}/2025-03-12.json: expected an array, got an object`);
  });

  it('an unknown channel lists the known ones', async () => {
    expect(await failure(FIXTURE, 'payments-outage')).toBe(
      'channel "payments-outage" not found in the export (known: general, inc-search-empty-results)',
    );
  });

  it('a channel with no folder, or no day files', async () => {
    let dir = variant({ general: null });
    expect(await failure(dir, 'general')).toBe(
      'channel "general" (C07GENR0001) has no folder "general/" in the export, so it has no messages to import',
    );
    rmSync(dir, { recursive: true });
    dir = variant({
      'general/2025-03-11.json': null,
      'general/2025-03-12.json': null,
      'general/readme.txt': 'x',
    });
    expect(await failure(dir, 'general')).toBe(
      'general/: no day files (YYYY-MM-DD.json) in the folder',
    );
  });
});

describe('helpers', () => {
  it('slackTsToDateTime keeps milliseconds, in UTC', () => {
    const t = slackTsToDateTime('1741734130.123456');
    expect(t.toISO()).toBe('2025-03-11T23:02:10.123Z');
    expect(t.zoneName).toBe('UTC');
  });

  it('compareSlackTs orders numerically, not as text', () => {
    expect(['1741734130.2', '999999999.9', '1741734130.000100'].sort(compareSlackTs)).toEqual([
      '999999999.9',
      '1741734130.000100',
      '1741734130.2',
    ]);
  });

  it('lineColumn is 1-based', () => {
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumn('ab', 0)).toEqual({ line: 1, column: 1 });
  });
});
