import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runImportCommand, type ImportIO } from '../../src/import/cli';
import { openSqliteStore } from '../../src/store/sqlite';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'slack-export');
const CHANNEL = 'inc-search-empty-results';

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('incident-bot import', () => {
  let dir: string;
  let dataDir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'import-cli-'));
    dataDir = path.join(dir, 'data');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
    let out = '';
    let err = '';
    const io: ImportIO = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      env,
    };
    const code = await runImportCommand(args, io);
    return { code, out, err };
  }

  const importArgs = (...extra: string[]) => [
    FIXTURE,
    '--channel',
    CHANNEL,
    '--data-dir',
    dataDir,
    ...extra,
  ];

  async function storedIncidents() {
    const store = openSqliteStore({ dataDir });
    try {
      return await store.listIncidents();
    } finally {
      await store.close();
    }
  }

  test('imports the fixture and says what it did and what to do next', async () => {
    const r = await run(importArgs());
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe(`Imported #${CHANNEL} as INC-1: 37 events recorded, 0 already present.`);
    expect(r.out).toContain(`Stored in SQLite at ${dataDir}/incident-bot.sqlite.`);
    expect(r.out).toContain('Skipped 8 bot or channel messages');
    expect(r.out).toContain(
      'The record now holds 22 messages, 3 hypotheses, 1 escalation, 2 action items, 3 pinned.',
    );
    expect(r.out).toContain('Detected 2025-03-11 23:02 UTC (the first alert, from SearchWatch).');
    expect(r.out).toContain('/incident resolve <time>');
    expect(lines.at(-1)).toBe(
      `Draft postmortem: incident-bot export INC-1 --data-dir ${dataDir} --out INC-1.md`,
    );

    const [record] = await storedIncidents();
    expect(record).toMatchObject({ number: 1, team: 'T07LARK001', severity: 'sev3', zone: 'UTC' });
  });

  test('a second run records nothing new', async () => {
    expect((await run(importArgs())).code).toBe(0);
    const r = await run(importArgs());
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe(
      `Imported #${CHANNEL} as INC-1: 0 events recorded, 34 already present (imported before, in SQLite at ${dataDir}/incident-bot.sqlite; only what is new was added).`,
    );
    expect(await storedIncidents()).toHaveLength(1);
  });

  test('options reach the incident; INCIDENT_DATA_DIR and INCIDENT_TIMEZONE are the defaults', async () => {
    const r = await run(
      [
        FIXTURE,
        '--channel',
        '#inc-search-empty-results',
        '--title',
        'Empty search',
        '--severity',
        'SEV2',
      ],
      { INCIDENT_DATA_DIR: dataDir, INCIDENT_TIMEZONE: 'America/New_York' },
    );
    expect(r.code).toBe(0);
    // The store came from the environment, so the hint needs no --data-dir.
    expect(r.out).toContain('Draft postmortem: incident-bot export INC-1 --out INC-1.md\n');
    const [record] = await storedIncidents();
    expect(record).toMatchObject({
      title: 'Empty search',
      severity: 'sev2',
      zone: 'America/New_York',
    });
    const zoned = await run(importArgs('--zone', 'Asia/Tokyo', '--team', 'T_SECOND'));
    expect(zoned.code).toBe(0);
    const records = await storedIncidents();
    expect(records.find((x) => x.team === 'T_SECOND')).toMatchObject({ zone: 'Asia/Tokyo' });
  });

  test('an unknown channel: exit 1, listing the known channels', async () => {
    const r = await run([FIXTURE, '--channel', 'payments-outage', '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      'incident-bot import: channel "payments-outage" not found in the export (known: general, inc-search-empty-results)\n',
    );
    expect(await storedIncidents()).toEqual([]);
  });

  test('a malformed export: exit 1, naming the file and the problem', async () => {
    const copy = path.join(dir, 'export');
    cpSync(FIXTURE, copy, { recursive: true });
    writeFileSync(path.join(copy, 'channels.json'), '{"oops": true}');
    const r = await run([copy, '--channel', CHANNEL, '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('incident-bot import: channels.json: expected an array, got an object\n');
  });

  test('a missing export: exit 1', async () => {
    const missing = path.join(dir, 'nope.zip');
    const r = await run([missing, '--channel', CHANNEL, '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`incident-bot import: ${missing}: no such file or directory\n`);
  });

  test('bad arguments: exit 2 with a usage hint', async () => {
    const noChannel = await run([FIXTURE, '--data-dir', dataDir]);
    expect(noChannel.code).toBe(2);
    expect(noChannel.err).toContain("error: required option '--channel <name>' not specified");
    expect(noChannel.err).toContain('incident-bot import --help');

    const noSource = await run(['--channel', CHANNEL]);
    expect(noSource.code).toBe(2);
    expect(noSource.err).toContain("error: missing required argument 'export'");

    const badSeverity = await run(importArgs('--severity', 'sev9'));
    expect(badSeverity.code).toBe(2);
    expect(badSeverity.err).toContain('expected sev1, sev2, sev3 or sev4');

    const badZone = await run(importArgs('--zone', 'Mars/Olympus'));
    expect(badZone.code).toBe(2);
    expect(badZone.err).toContain('expected an IANA time zone');

    const unknown = await run(importArgs('--frobnicate'));
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("error: unknown option '--frobnicate'");

    const badEmoji = await run(importArgs(), { INCIDENT_EMOJI: 'sparkle=mag' });
    expect(badEmoji.code).toBe(2);
    expect(badEmoji.err).toContain('INCIDENT_EMOJI: unknown meaning "sparkle"');

    expect(await storedIncidents()).toEqual([]);
  });

  test('--help: exit 0 with the usage on stdout', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: incident-bot import [options] <export>');
    expect(r.out).toContain('--channel <name>');
  });
});
