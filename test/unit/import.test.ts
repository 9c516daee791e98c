import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { IncidentService } from '../../src/app/service';
import { parseEmojiConfig } from '../../src/app/capture';
import { IncidentError } from '../../src/app/errors';
import { importSlackExport, reactionTimes } from '../../src/import/importer';
import { SlackExportError, readSlackExport } from '../../src/import/slackExport';
import { openSqliteStore } from '../../src/store/sqlite';
import { runDemo } from '../../src/demo';
import type { IncidentStore } from '../../src/store/store';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'slack-export');
const CHANNEL = 'inc-search-empty-results';
const CID = 'C07SRCH0001';
const NOW = DateTime.fromISO('2025-03-13T09:00:00Z', { zone: 'utc' });
const utc = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });
/** ts of fixture messages by time of day (all have micros 000100). */
const TS = {
  firstHuman: '1741734210.000100', // 23:03:30 Amara, pinned_to
  synonyms: '1741734460.000100', // 23:07:40 Chidi, :mag: Amara, :x: Chidi
  aliasSwap: '1741735022.000100', // 23:17:02 Chidi, :mag: Ben + Dana, :white_check_mark: Amara
  edited: '1741735485.000100', // 23:24:45 Chidi, edited at 23:26:10
  fileShare: '1741735600.000100', // 23:26:40 Dana, file
  escalation: '1741735755.000100', // 23:29:15 Amara, :rotating_light:
  repoint: '1741736000.000100', // 23:33:20 Elif, :pushpin:
};

describe('importSlackExport', () => {
  let dir: string;
  let store: IncidentStore;
  let service: IncidentService;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'import-test-'));
    store = openSqliteStore({ dataDir: dir });
    service = new IncidentService({ store, render: () => '# draft\n', clock: () => NOW });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the fixture whose incident-channel day file(s) are changed by `mutate`. */
  const variant = (
    mutate: (day1: Record<string, unknown>[], day2: Record<string, unknown>[]) => void,
  ): string => {
    const copy = path.join(dir, 'export');
    cpSync(FIXTURE, copy, { recursive: true });
    const files = ['2025-03-11.json', '2025-03-12.json'].map((f) => path.join(copy, CHANNEL, f));
    const [d1, d2] = files.map(
      (f) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>[],
    );
    mutate(d1, d2);
    writeFileSync(files[0], JSON.stringify(d1));
    writeFileSync(files[1], JSON.stringify(d2));
    return copy;
  };

  const importFixture = (
    source = FIXTURE,
    extra: Partial<Parameters<typeof importSlackExport>[1]> = {},
  ) => importSlackExport(service, { source, channel: CHANNEL, ...extra });

  test('builds the incident: record, detection, channel', async () => {
    const r = await importFixture();
    expect(r.created).toBe(true);
    expect(r.warnings).toEqual([]);
    expect(r.channel).toEqual({ id: CID, name: CHANNEL });
    expect(r.incident.record).toMatchObject({
      team: 'T07LARK001', // from users.json team_id
      number: 1,
      title: 'Search results empty after the products index alias swap', // channel purpose
      severity: 'sev3',
      zone: 'UTC',
      channel: CID,
    });
    const s = r.incident.state;
    // Detection is the first message that is not a channel event: the bot's alert.
    expect(s.detectedAt?.toISO()).toBe('2025-03-11T23:02:40.000Z');
    expect(s.channelName).toBe(CHANNEL);
    // Resolution is not invented.
    expect(s.resolvedAt).toBeUndefined();
    expect(s.status).toBe('investigating');
    // opened + detected + channel + 22 messages + 1 edit + 1 pin + 10 reaction captures
    expect(r.recorded).toBe(37);
    expect(r.incident.events).toHaveLength(37);
    expect(r.alreadyPresent).toBe(0);
    expect(new Set(r.incident.events.map((e) => e.source))).toEqual(new Set(['import']));
  });

  test('records human messages only, with decoded text, threads, files and the final edit', async () => {
    const { incident, skipped } = await importFixture();
    const msgs = incident.state.messages;
    expect(msgs).toHaveLength(22);
    // 2 joins, 1 leave, 1 topic, 1 pinned_item, 2 bot alerts, 1 Slackbot
    expect(skipped).toBe(8);
    const users = new Set(msgs.map((m) => m.user));
    expect(users.has('U07ALERT06')).toBe(false);
    expect(users.has('USLACKBOT')).toBe(false);
    expect(
      msgs.some((m) => /has joined|has left|FIRING|RESOLVED|set the channel topic/.test(m.text)),
    ).toBe(false);

    const byTs = new Map(msgs.map((m) => [m.ts, m]));
    const first = byTs.get(TS.firstHuman);
    expect(first).toMatchObject({
      userName: 'Amara',
      text: 'Taking IC. Customers in #general report that search returns nothing for common queries such as "rain jacket". Reproduced on web & iOS.',
      pinned: true,
    });
    expect(first?.at.toISO()).toBe('2025-03-11T23:03:30.000Z');
    // Mentions of users and groups become names; entities become characters; links keep their URL.
    expect(msgs.find((m) => m.text.startsWith('Other idea'))?.text).toBe(
      "Other idea: the nightly reindex job. @Chidi (search) did tonight's run finish?",
    );
    expect(msgs.find((m) => m.text.startsWith('Checked web'))?.text).toBe(
      'Checked web & iOS: rain jacket search (https://shop.larkspur.example/search?q=rain+jacket) shows results again.',
    );
    expect(msgs.find((m) => m.text.startsWith('All clear'))?.text).toBe(
      'All clear from my side. Postmortem draft tomorrow; thanks all <3',
    );
    // Display name, else real name.
    expect(msgs.find((m) => m.user === 'U07BENJI02')?.userName).toBe('Ben Hollis');

    const edited = byTs.get(TS.edited);
    expect(edited).toMatchObject({
      edited: true,
      threadTs: TS.aliasSwap,
      text: 'Confirmed: `products` -> `products_v2025_03_11`, and that index has 0 documents. The bulk load failed but the swap ran anyway.',
    });
    const edit = incident.events.find((e) => e.type === 'chat.message_edited');
    expect(edit?.occurredAt.toISO()).toBe('2025-03-11T23:26:10.000Z');
    expect(edit?.actor).toEqual({ id: 'U07CHIDI03', name: 'Chidi (search)' });
    expect(msgs.filter((m) => m.edited)).toHaveLength(1);

    expect(byTs.get(TS.fileShare)).toMatchObject({
      threadTs: TS.aliasSwap,
      files: [
        {
          name: 'reindex-2025-03-11.log',
          url: 'https://larkspur.slack.com/files/U07DANA004/F07LOG0001/reindex-2025-03-11.log',
        },
      ],
    });
    // Thread parents carry no threadTs; replies carry their parent's.
    expect(byTs.get(TS.aliasSwap)?.threadTs).toBeUndefined();
    expect(msgs.filter((m) => m.threadTs)).toHaveLength(6);
  });

  test('reactions follow the capture rules: hypotheses, outcomes, escalation, actions, pins', async () => {
    const { incident } = await importFixture();
    const s = incident.state;
    expect(s.hypotheses.map((h) => [h.id, h.outcome, h.raisedBy.name, h.ref?.ts])).toEqual([
      ['H1', 'ruled_out', 'Amara', TS.synonyms],
      ['H2', 'confirmed', 'Ben Hollis', TS.aliasSwap], // Dana's second :mag: changes nothing
      ['H3', 'open', 'dana', '1741735230.000100'],
    ]);
    const [h1, h2] = s.hypotheses;
    expect(h1.text).toBe(
      'Could the synonym file deployed this afternoon have broken the query analyzer? It went out at 17:30.',
    );
    // Raised at the message's time; outcomes at the last message of the hypothesis's thread.
    expect(h1.raisedAt.toISO()).toBe('2025-03-11T23:07:40.000Z');
    expect(h1.outcomeAt?.toISO()).toBe('2025-03-11T23:13:30.000Z');
    expect(h1.outcomeBy?.name).toBe('Chidi (search)');
    expect(h1.evidence).toBe('Ruled out by Chidi (search) with :x:');
    expect(h2.outcomeAt?.toISO()).toBe('2025-03-11T23:26:40.000Z');
    expect(s.rootCause).toMatchObject({ hypothesis: 'H2', text: h2.text });

    expect(s.escalations).toHaveLength(1);
    expect(s.escalations[0]).toMatchObject({
      to: '@search-oncall paging @Elif',
      reason: 'we need someone who can repoint the alias safely.',
      by: { id: 'U07AMARA01', name: 'Amara' },
      ref: { channel: CID, ts: TS.escalation },
    });
    expect(s.escalations[0].at.toISO()).toBe('2025-03-11T23:29:15.000Z');

    expect(s.actions.map((a) => [a.id, a.addedBy.name, a.text])).toEqual([
      [
        'A1',
        'Amara',
        "The swap step must refuse to run when the new index has fewer documents than the live one. I'll add that guard.",
      ],
      [
        'A2',
        'Elif',
        'Also alert on the document count of the live index, not only on query errors.',
      ],
    ]);

    // pinned_to (by the import) and :pushpin: reactions (by the reacting user)
    const pinned = s.messages.filter((m) => m.pinned);
    expect(pinned.map((m) => [m.ts, m.pinnedBy?.name])).toEqual([
      [TS.firstHuman, 'Slack export import'],
      [TS.repoint, 'Elif'],
      ['1741736165.000100', 'Amara'],
    ]);
    // Ordinary reactions (:eyes:, :+1:, :thinking_face:) record nothing.
    expect(incident.events.filter((e) => e.key?.includes(':eyes:'))).toEqual([]);

    const timeline = s.timeline.map((t) =>
      `${t.at.toFormat('HH:mm')} ${t.kind} ${t.label ?? ''}`.trim(),
    );
    expect(timeline.slice(0, 10)).toEqual([
      '23:02 detected Detection',
      '23:03 pinned',
      '23:07 hypothesis Misleading path',
      '23:13 ruled_out Misleading path',
      '23:17 hypothesis',
      '23:20 hypothesis',
      '23:26 confirmed Root cause',
      '23:29 escalation Escalation',
      '23:33 pinned',
      '23:36 pinned',
    ]);
  });

  test('every fact has an import key', async () => {
    const { incident } = await importFixture();
    const keys = incident.events.map((e) => e.key);
    expect(keys).toContain(`import:T07LARK001:${CID}:opened`);
    expect(keys).toContain(`import:${CID}:${TS.firstHuman}`);
    expect(keys).toContain(`import:${CID}:${TS.firstHuman}:pinned`);
    expect(keys).toContain(`import:${CID}:${TS.edited}:edited:1741735570.000000`);
    expect(keys).toContain(`import:${CID}:${TS.synonyms}:mag:U07AMARA01`);
    expect(keys).toContain(`import:${CID}:${TS.synonyms}:x:U07CHIDI03`);
    expect(keys.every((k) => k?.startsWith('import:'))).toBe(true);
  });

  test('importing the same export again records nothing new', async () => {
    const first = await importFixture();
    const again = await importFixture(FIXTURE, { title: 'ignored on a re-import' });
    expect(again.created).toBe(false);
    expect(again.recorded).toBe(0);
    // 22 messages + 1 edit + 1 pin + 10 reactions with an effect
    expect(again.alreadyPresent).toBe(34);
    expect(again.incident.record.id).toBe(first.incident.record.id);
    expect(again.incident.record.title).toBe(first.incident.record.title);
    expect(again.incident.events).toHaveLength(first.incident.events.length);
    expect(await service.list()).toHaveLength(1);
  });

  test('a later export of the same channel adds only what is new', async () => {
    await importFixture();
    const later = variant((_d1, d2) => {
      d2.push({
        type: 'message',
        ts: '1741740000.000100',
        user: 'U07AMARA01',
        text: 'Follow-up: reindex job paused until the guard ships.',
      });
      // A new :dart: (by Dana) on an existing message.
      const msg = d2.find((m) => m.ts === '1741737820.000100'); // 00:03:40 Dana
      msg!.reactions = [{ name: 'dart', users: ['U07DANA004'], count: 1 }];
    });
    const r = await importFixture(later);
    expect(r.created).toBe(false);
    expect(r.recorded).toBe(2);
    expect(r.incident.state.messages).toHaveLength(23);
    expect(r.incident.state.actions.map((a) => a.id)).toEqual(['A1', 'A2', 'A3']);
    expect(r.incident.state.actions[2].text).toBe(
      'Edge cache TTL is 15 minutes, so everything served now is fresh.',
    );
    expect(r.incident.state.actions[2].addedBy.name).toBe('dana');
  });

  test('an unknown channel is an error that lists the known channels', async () => {
    await expect(
      importSlackExport(service, { source: FIXTURE, channel: 'payments-outage' }),
    ).rejects.toThrow(
      new SlackExportError(
        'channel "payments-outage" not found in the export (known: general, inc-search-empty-results)',
      ),
    );
    expect(await service.list()).toEqual([]);
  });

  test('options: title, severity, zone, team; #name or id', async () => {
    const r = await importSlackExport(service, {
      source: FIXTURE,
      channel: CID,
      title: 'Empty search results',
      severity: 'sev2',
      zone: 'Europe/Berlin',
      team: 'T_OTHER',
    });
    expect(r.incident.record).toMatchObject({
      team: 'T_OTHER',
      title: 'Empty search results',
      severity: 'sev2',
      zone: 'Europe/Berlin',
    });
    await expect(
      importSlackExport(service, { source: FIXTURE, channel: `#${CHANNEL}`, zone: 'Mars/Olympus' }),
    ).rejects.toThrow(IncidentError);
  });

  test('without team_id in users.json the team is T_IMPORT', async () => {
    const copy = path.join(dir, 'export');
    cpSync(FIXTURE, copy, { recursive: true });
    const usersFile = path.join(copy, 'users.json');
    const users = JSON.parse(readFileSync(usersFile, 'utf8')) as Record<string, unknown>[];
    writeFileSync(usersFile, JSON.stringify(users.map(({ team_id: _t, ...u }) => u)));
    const r = await importFixture(copy);
    expect(r.incident.record.team).toBe('T_IMPORT');
    expect(r.incident.events.map((e) => e.key)).toContain(`import:T_IMPORT:${CID}:opened`);
  });

  test('custom emoji (INCIDENT_EMOJI) apply to imports too', async () => {
    const r = await importFixture(FIXTURE, {
      emoji: parseEmojiConfig('hypothesis=thinking_face;action='),
    });
    // :thinking_face: (Elif) on the alias-swap message is now the only hypothesis emoji.
    expect(r.incident.state.hypotheses.map((h) => [h.ref?.ts, h.raisedBy.name])).toEqual([
      [TS.aliasSwap, 'Elif'],
    ]);
    expect(r.incident.state.actions).toEqual([]);
    // :x: on a message that is not a hypothesis is a warning, not a failure.
    expect(r.warnings).toContain(
      `${CHANNEL}/2025-03-11.json message 6 (ts ${TS.synonyms}): :x: by Chidi (search): That message is not a hypothesis yet: react with :thinking_face: first.`,
    );
  });

  test('users missing from users.json are shown by their embedded profile, else by id', async () => {
    const copy = variant((d1) => {
      const m = d1.find((x) => x.ts === TS.firstHuman)!;
      m.user = 'U0GUEST01';
      m.user_profile = { display_name: 'Guest Gina', name: 'gina' };
      const other = d1.find((x) => x.ts === '1741734375.000100')!; // 23:06:15 Ben
      other.user = 'U0GUEST02';
    });
    const r = await importFixture(copy);
    const byUser = new Map(r.incident.state.messages.map((m) => [m.user, m.userName]));
    expect(byUser.get('U0GUEST01')).toBe('Guest Gina');
    expect(byUser.get('U0GUEST02')).toBe('U0GUEST02');
    expect(r.warnings).toEqual(['Not in users.json, shown by id: U0GUEST02.']);
  });

  test('a reaction whose user list the export truncated is imported for the users listed', async () => {
    const copy = variant((d1) => {
      const m = d1.find((x) => x.ts === TS.escalation)!;
      m.reactions = [{ name: 'rotating_light', users: ['U07BENJI02'], count: 4 }];
    });
    const r = await importFixture(copy);
    expect(r.incident.state.escalations.map((e) => e.by.name)).toEqual(['Ben Hollis']);
    expect(r.warnings).toEqual([
      `${CHANNEL}/2025-03-11.json message 14 (ts ${TS.escalation}): :rotating_light: has 4 reactions but the export lists only 1 of the users; those were imported.`,
    ]);
  });

  test('a channel the live bot already owns: a separate incident, not attached', async () => {
    const live = await service.start(
      { team: 'T07LARK001', title: 'Live', severity: 'sev2', zone: 'UTC' },
      { actor: { id: 'U07AMARA01', name: 'Amara' }, source: 'command' },
    );
    await service.attachChannel(live.incident.record.id, CID, CHANNEL, {
      actor: { id: 'system', name: 'system' },
      source: 'system',
    });
    const r = await importFixture();
    expect(r.incident.record.number).toBe(2);
    expect(r.incident.record.channel).toBeUndefined();
    expect(r.warnings).toEqual([
      `#${CHANNEL} already belongs to INC-1; the import is a separate incident and is not attached to the channel.`,
    ]);
    expect((await service.findByChannel(CID))?.record.number).toBe(1);
    expect(r.incident.state.messages).toHaveLength(22);
  });

  test('re-importing into a closed incident adds nothing and says so', async () => {
    const first = await importFixture();
    const id = first.incident.record.id;
    const ctx = { actor: { id: 'U07AMARA01', name: 'Amara' }, source: 'command' as const };
    await service.resolve(id, 'alias repointed', { ...ctx, at: utc('2025-03-11T23:36:05Z') });
    await service.close(id, ctx);
    const later = variant((_d1, d2) => {
      d2.push({ type: 'message', ts: '1741740000.000100', user: 'U07AMARA01', text: 'late note' });
    });
    const r = await importFixture(later);
    expect(r.recorded).toBe(0);
    expect(r.warnings).toEqual([
      `INC-1 (imported from #${CHANNEL} before) is closed, so its record no longer changes; nothing was added.`,
    ]);
    expect(r.incident.state.messages.some((m) => m.text === 'late note')).toBe(false);
  });

  test('a channel with only bot and channel messages is an error', async () => {
    await expect(
      importSlackExport(service, {
        source: variant((d1, d2) => {
          d1.splice(0, d1.length, ...d1.filter((m) => m.subtype));
          d2.splice(0, d2.length, ...d2.filter((m) => m.subtype));
        }),
        channel: CHANNEL,
      }),
    ).rejects.toThrow(/has no messages from people in this export/);
  });
});

describe('reactionTimes', () => {
  test('outcomes at the last message of the thread, everything else at the message time', async () => {
    const { history } = await readSlackExport(FIXTURE, CHANNEL);
    const timeOf = reactionTimes(history);
    const msg = (ts: string) => history.messages.find((m) => m.ts === ts)!;
    expect(timeOf(msg(TS.synonyms), 'ruleOut').toISO()).toBe('2025-03-11T23:13:30.000Z');
    expect(timeOf(msg(TS.synonyms), 'hypothesis').toISO()).toBe('2025-03-11T23:07:40.000Z');
    expect(timeOf(msg(TS.escalation), 'escalate').toISO()).toBe('2025-03-11T23:29:15.000Z');
    // No thread: the message's own time.
    expect(timeOf(msg('1741735230.000100'), 'confirm').toISO()).toBe('2025-03-11T23:20:30.000Z');
  });
});

describe('npm run demo', () => {
  test('imports the sample, resolves it, writes the draft and prints its start', async () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'demo-test-'));
    let out = '';
    try {
      const r = await runDemo({ workDir, out: { write: (s: string) => (out += s) } });
      expect(r.file).toBe(path.join(workDir, 'INC-1-postmortem.md'));
      expect(readFileSync(r.file, 'utf8')).toBe(r.markdown);
      expect(r.markdown).toMatch(
        /^# INC-1: Search results empty after the products index alias swap/,
      );
      expect(r.markdown).toContain('2025-03-11 23:36 UTC');
      expect(r.markdown).toContain('H1: Could the synonym file deployed this afternoon');
      expect(out).toContain(`Draft postmortem (default template) written to ${r.file}`);
      expect(out).toContain(
        'Resolved at 2025-03-11 23:36 UTC (the last pinned message: "Alias repointed.',
      );
      // The first 30 lines of the draft are printed, then how many more there are.
      const preview = r.markdown.split('\n').slice(0, 30).join('\n');
      expect(out).toContain(preview);
      expect(out).toMatch(/… \d+ more lines in /);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
