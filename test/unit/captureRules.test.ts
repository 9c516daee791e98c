import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import {
  DEFAULT_EMOJI,
  EmojiConfigError,
  applyReaction,
  createMessageRecorder,
  fileRefs,
  isHumanMessage,
  parseEmojiConfig,
  reactionMeaning,
  slackTime,
  type ReactionInput,
} from '../../src/app/capture';
import { IncidentService } from '../../src/app/service';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite';
import { StoreUnavailableError } from '../../src/store/store';

const ALICE = { id: 'U_ALICE', name: 'Alice' };
const BOB = { id: 'U_BOB', name: 'Bob' };
const CAROL = { id: 'U_CAROL', name: 'Carol' };
const T0 = DateTime.fromISO('2025-03-04T10:00:00Z', { zone: 'utc' });

describe('parseEmojiConfig', () => {
  it('gives the defaults for an empty or missing value', () => {
    expect(parseEmojiConfig()).toEqual(DEFAULT_EMOJI);
    expect(parseEmojiConfig('  ')).toEqual(DEFAULT_EMOJI);
    expect(DEFAULT_EMOJI.pin).toEqual(['pushpin', 'round_pushpin']);
  });

  it('overrides each listed meaning and keeps the others', () => {
    const c = parseEmojiConfig('hypothesis=mag,thinking_face;ruleOut=x');
    expect(c.hypothesis).toEqual(['mag', 'thinking_face']);
    expect(c.ruleOut).toEqual(['x']);
    expect(c.confirm).toEqual(['white_check_mark']);
    expect(c.action).toEqual(['dart']);
  });

  it('accepts colons, spaces, case and rule_out-style meaning names', () => {
    const c = parseEmojiConfig(' rule_out = :no_entry: , :X: ; Action-Item=memo ;');
    expect(c.ruleOut).toEqual(['no_entry', 'x']);
    expect(c.action).toEqual(['memo']);
  });

  it('moves an explicitly given emoji away from other defaults, and `meaning=` turns it off', () => {
    const c = parseEmojiConfig('hypothesis=x;action=');
    expect(c.hypothesis).toEqual(['x']);
    expect(c.ruleOut).toEqual([]);
    expect(c.action).toEqual([]);
    expect(reactionMeaning('x', c)).toBe('hypothesis');
    expect(reactionMeaning('dart', c)).toBeUndefined();
  });

  it('refuses unknown meanings, duplicates and malformed parts with a clear message', () => {
    expect(() => parseEmojiConfig('hypotesis=mag')).toThrow(EmojiConfigError);
    expect(() => parseEmojiConfig('hypotesis=mag')).toThrow(
      /unknown meaning "hypotesis"; the meanings are pin, hypothesis, ruleOut, confirm, escalate, action/,
    );
    expect(() => parseEmojiConfig('hypothesis=eyes;confirm=eyes')).toThrow(
      /:eyes: is listed for both hypothesis and confirm/,
    );
    expect(() => parseEmojiConfig('pin=pushpin;pin=x')).toThrow(/"pin" is listed twice/);
    expect(() => parseEmojiConfig('mag')).toThrow(/is not meaning=emoji/);
    expect(() => parseEmojiConfig('pin=two words')).toThrow(/not an emoji name/);
  });
});

describe('reactionMeaning', () => {
  it('maps the default emoji, ignoring colons and skin tones', () => {
    expect(reactionMeaning('pushpin')).toBe('pin');
    expect(reactionMeaning('round_pushpin')).toBe('pin');
    expect(reactionMeaning(':mag:')).toBe('hypothesis');
    expect(reactionMeaning('x')).toBe('ruleOut');
    expect(reactionMeaning('white_check_mark')).toBe('confirm');
    expect(reactionMeaning('rotating_light')).toBe('escalate');
    expect(reactionMeaning('dart::skin-tone-3')).toBe('action');
    expect(reactionMeaning('thumbsup')).toBeUndefined();
  });
});

describe('isHumanMessage and fileRefs', () => {
  it('keeps people talking and drops bots and system subtypes', () => {
    expect(isHumanMessage({ user: 'U1' })).toBe(true);
    expect(isHumanMessage({ user: 'U1', subtype: 'file_share' })).toBe(true);
    expect(isHumanMessage({ user: 'U1', subtype: 'thread_broadcast' })).toBe(true);
    expect(isHumanMessage({ user: 'U1', bot_id: 'B1' })).toBe(false);
    expect(isHumanMessage({ subtype: 'bot_message' })).toBe(false);
    for (const subtype of [
      'channel_join',
      'channel_leave',
      'channel_topic',
      'channel_purpose',
      'pinned_item',
      'message_changed',
      'message_deleted',
    ]) {
      expect(isHumanMessage({ user: 'U1', subtype })).toBe(false);
    }
    expect(isHumanMessage({})).toBe(false);
  });

  it('takes file names and permalinks', () => {
    expect(
      fileRefs([
        { name: 'graph.png', permalink: 'https://x.slack.com/files/U1/F1/graph.png' },
        { name: null, title: 'Snippet' },
      ]),
    ).toEqual([
      { name: 'graph.png', url: 'https://x.slack.com/files/U1/F1/graph.png' },
      { name: 'Snippet' },
    ]);
    expect(fileRefs(undefined)).toEqual([]);
  });
});

describe('applyReaction', () => {
  let dir: string;
  let store: SqliteStore;
  let service: IncidentService;
  let now: DateTime;
  let incidentId: string;
  let n = 0;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-capture-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    n += 1;
    store = openSqliteStore({ dataDir: path.join(dir, `s${n}`) });
    now = T0.plus({ minutes: 30 });
    service = new IncidentService({ store, render: () => '', clock: () => now });
    const { incident } = await service.start(
      { team: 'T1', title: 'Checkout down', severity: 'sev2', zone: 'America/Los_Angeles' },
      { actor: ALICE, source: 'command', at: T0 },
    );
    incidentId = incident.record.id;
    await service.attachChannel(incidentId, 'C_INC', 'inc-1-checkout', {
      actor: ALICE,
      source: 'command',
    });
  });
  afterEach(async () => store.close());

  const msgAt = T0.plus({ minutes: 5 });
  const message = (ts = '1741082700.000100', text = 'maybe the DB pool is exhausted') => ({
    channel: 'C_INC',
    ts,
    text,
    user: ALICE.id,
    userName: ALICE.name,
    at: msgAt,
  });
  let keyN = 0;
  const react = (
    emoji: string,
    over: Partial<ReactionInput> = {},
  ): ReactionInput & { key: string } => ({
    message: message(),
    emoji,
    added: true,
    actor: BOB,
    at: T0.plus({ minutes: 20 }),
    source: 'reaction',
    key: `rx:Ev${++keyN}`,
    ...over,
  });
  const apply = (input: ReactionInput) => applyReaction(service, incidentId, input);
  const state = async () => (await service.load(incidentId)).state;
  const eventCount = async () => (await service.load(incidentId)).events.length;

  it(':mag: raises the message as a hypothesis at the message time, ref = the message', async () => {
    const res = await apply(react('mag'));
    expect(res).toEqual({ effect: 'H1 raised' });
    const s = await state();
    expect(s.hypotheses).toHaveLength(1);
    const h = s.hypotheses[0]!;
    expect(h).toMatchObject({
      id: 'H1',
      text: 'maybe the DB pool is exhausted',
      outcome: 'open',
      source: 'reaction',
      raisedBy: BOB,
      ref: { channel: 'C_INC', ts: '1741082700.000100' },
    });
    expect(h.raisedAt.toISO()).toBe(msgAt.toISO());
  });

  it('records a retried event or a second person reacting once', async () => {
    const first = react('mag');
    await apply(first);
    const count = await eventCount();
    expect(await apply(first)).toEqual({});
    expect(await apply(react('mag', { actor: CAROL }))).toEqual({});
    expect(await eventCount()).toBe(count);
    expect((await state()).hypotheses).toHaveLength(1);
  });

  it(':x: and ✅ on a message that is not a hypothesis say to react with :mag: first', async () => {
    const before = await eventCount();
    expect((await apply(react('x'))).error).toMatch(/not a hypothesis yet: react with :mag: first/);
    expect((await apply(react('white_check_mark'))).error).toMatch(/react with :mag: first/);
    expect(await eventCount()).toBe(before);
  });

  it(':x: rules out at the reaction time with a self-standing note; removing it reopens', async () => {
    await apply(react('mag', { actor: ALICE }));
    const at = T0.plus({ minutes: 42 });
    expect(await apply(react('x', { at }))).toEqual({ effect: 'H1 ruled out' });
    let h = (await state()).hypotheses[0]!;
    expect(h.outcome).toBe('ruled_out');
    expect(h.outcomeAt?.toISO()).toBe(at.toISO());
    expect(h.outcomeBy).toEqual(BOB);
    expect(h.evidence).toBe('Ruled out by Bob with :x:');
    expect(h.timeSpentMs).toBe(37 * 60_000);
    const tl = (await state()).timeline.find((t) => t.kind === 'ruled_out');
    expect(tl?.label).toBe('Misleading path');

    // Someone else removing an :x: they did not add changes nothing.
    expect(await apply(react('x', { added: false, actor: CAROL }))).toEqual({});
    expect(await apply(react('x', { added: false }))).toEqual({
      effect: 'H1 no longer ruled out',
    });
    h = (await state()).hypotheses[0]!;
    expect(h.outcome).toBe('open');
    expect(h.evidence).toBeUndefined();
    expect((await state()).timeline.some((t) => t.kind === 'ruled_out')).toBe(false);
  });

  it('✅ confirms the hypothesis as root cause; removing it clears the root cause', async () => {
    await apply(react('mag'));
    expect(await apply(react('white_check_mark', { actor: CAROL }))).toEqual({
      effect: 'H1 confirmed as root cause',
    });
    let s = await state();
    expect(s.hypotheses[0]!.outcome).toBe('confirmed');
    expect(s.rootCause).toMatchObject({
      text: 'maybe the DB pool is exhausted',
      hypothesis: 'H1',
      by: CAROL,
      evidence: 'Confirmed by Carol with :white_check_mark:',
    });
    expect(await apply(react('white_check_mark', { actor: CAROL, added: false }))).toEqual({
      effect: 'H1 no longer the root cause',
    });
    s = await state();
    expect(s.hypotheses[0]!.outcome).toBe('open');
    expect(s.rootCause).toBeUndefined();
  });

  it('removing :mag: withdraws the hypothesis; a late retry of the add does not bring it back', async () => {
    const add = react('mag');
    await apply(add);
    expect(await apply(react('mag', { added: false, actor: CAROL }))).toEqual({});
    expect(await apply(react('mag', { added: false }))).toEqual({ effect: 'H1 withdrawn' });
    expect((await state()).hypotheses).toEqual([]);
    expect(await apply(add)).toEqual({});
    expect((await state()).hypotheses).toEqual([]);
    // A new reaction (new event) raises it again, under a new id.
    expect(await apply(react('mag'))).toEqual({ effect: 'H2 raised' });
  });

  it(':rotating_light: records an escalation to the message text; removal withdraws it', async () => {
    const m = message('1741082800.000200', 'paging the DBA on-call (Dana)');
    expect(await apply(react('rotating_light', { message: m }))).toEqual({
      effect: 'Escalation recorded',
    });
    let s = await state();
    expect(s.escalations).toHaveLength(1);
    expect(s.escalations[0]).toMatchObject({
      to: 'paging the DBA on-call (Dana)',
      by: BOB,
      ref: { channel: 'C_INC', ts: '1741082800.000200' },
    });
    expect(s.timeline.find((t) => t.kind === 'escalation')?.text).toBe(
      'Escalated to paging the DBA on-call (Dana)',
    );
    expect(await apply(react('rotating_light', { message: m, added: false }))).toEqual({
      effect: 'Escalation withdrawn',
    });
    s = await state();
    expect(s.escalations).toEqual([]);
    expect(s.timeline.some((t) => t.kind === 'escalation')).toBe(false);
  });

  it(':dart: records an action item with the message text; removal withdraws it', async () => {
    const m = message('1741082900.000300', 'add an alert on pool saturation');
    expect(await apply(react('dart', { message: m }))).toEqual({ effect: 'A1 added' });
    let s = await state();
    expect(s.actions).toHaveLength(1);
    expect(s.actions[0]).toMatchObject({
      id: 'A1',
      text: 'add an alert on pool saturation',
      addedBy: BOB,
      done: false,
    });
    expect(await apply(react('dart', { message: m, added: false }))).toEqual({
      effect: 'A1 withdrawn',
    });
    s = await state();
    expect(s.actions).toEqual([]);
  });

  it(':pushpin: promotes a recorded message to the timeline at its own time; removal demotes', async () => {
    const inc = await service.load(incidentId);
    await service.recordMessage(
      inc.record,
      {
        channel: 'C_INC',
        ts: '1741082700.000100',
        user: ALICE.id,
        userName: 'Alice',
        text: 'p99 at 4s',
      },
      { actor: ALICE, source: 'message', at: msgAt },
    );
    expect(await apply(react('pushpin'))).toEqual({ effect: 'Pinned to the timeline' });
    let s = await state();
    const pinned = s.timeline.filter((t) => t.kind === 'pinned');
    expect(pinned).toHaveLength(1);
    expect(pinned[0]!.text).toBe('p99 at 4s');
    expect(pinned[0]!.at.toISO()).toBe(msgAt.toISO());
    expect(s.messages[0]!.pinnedBy).toEqual(BOB);
    // round_pushpin means the same thing: already pinned, so nothing to do.
    expect(await apply(react('round_pushpin', { actor: CAROL }))).toEqual({});

    expect(await apply(react('pushpin', { added: false }))).toEqual({
      effect: 'Removed from the timeline',
    });
    s = await state();
    expect(s.timeline.some((t) => t.kind === 'pinned')).toBe(false);
    expect(s.messages[0]!.pinned).toBe(false);
  });

  it(':pushpin: on a message the bot never recorded records it first, then pins it', async () => {
    expect(await apply(react('pushpin'))).toEqual({ effect: 'Pinned to the timeline' });
    const s = await state();
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]).toMatchObject({ ts: '1741082700.000100', pinned: true, user: ALICE.id });
    expect(s.timeline.find((t) => t.kind === 'pinned')?.text).toBe(
      'maybe the DB pool is exhausted',
    );
  });

  it('ignores ordinary emoji without touching the record', async () => {
    const before = await eventCount();
    expect(await apply(react('thumbsup'))).toEqual({});
    expect(await eventCount()).toBe(before);
  });

  it('follows a custom emoji config', async () => {
    const config = parseEmojiConfig('hypothesis=thinking_face');
    expect(await applyReaction(service, incidentId, react('mag'), config)).toEqual({});
    expect(await applyReaction(service, incidentId, react('thinking_face'), config)).toEqual({
      effect: 'H1 raised',
    });
    expect(
      (await applyReaction(service, incidentId, react('x', { message: message('1.2') }), config))
        .error,
    ).toMatch(/react with :thinking_face: first/);
  });

  it('answers an error, not a throw, once the incident is closed (action items still allowed)', async () => {
    await apply(react('mag'));
    await service.resolve(incidentId, 'pool resized', { actor: ALICE, source: 'command' });
    await service.close(incidentId, { actor: ALICE, source: 'command' });
    const before = await eventCount();
    expect((await apply(react('pushpin'))).error).toMatch(/closed/);
    expect((await apply(react('x'))).error).toMatch(/closed/);
    expect((await apply(react('mag', { message: message('1.3') }))).error).toMatch(/closed/);
    expect(await eventCount()).toBe(before);
    expect(await apply(react('dart', { message: message('1.4', 'write a runbook') }))).toEqual({
      effect: 'A1 added',
    });
  });

  it('import source: deterministic keys make a re-import a no-op', async () => {
    const input = react('mag', { source: 'import', key: 'import:C_INC:1741082700.000100:mag' });
    expect(await apply(input)).toEqual({ effect: 'H1 raised' });
    const count = await eventCount();
    expect(await apply(input)).toEqual({});
    expect(await eventCount()).toBe(count);
    expect((await state()).hypotheses[0]!.source).toBe('import');
  });
});

describe('slackTime', () => {
  it('reads a Slack ts as UTC with whole milliseconds, without float rounding', () => {
    expect(slackTime('1741082700.000100').toISO()).toBe('2025-03-04T10:05:00.000Z');
    expect(slackTime('1741082700.999999').toMillis()).toBe(1741082700999);
    expect(slackTime('1741082700.5').toMillis()).toBe(1741082700500);
    expect(slackTime('1741082700').toMillis()).toBe(1741082700000);
    expect(slackTime('1741082700.000100').zoneName).toBe('UTC');
    expect(slackTime('nope').isValid).toBe(false);
  });
});

describe('createMessageRecorder (group commit)', () => {
  let dir: string;
  let store: SqliteStore;
  let service: IncidentService;
  let n = 0;
  const now = T0.plus({ minutes: 30 });

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-recorder-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    n += 1;
    store = openSqliteStore({ dataDir: path.join(dir, `r${n}`) });
    service = new IncidentService({ store, render: () => '', clock: () => now });
  });
  afterEach(async () => store.close());

  const open = async (title = 'Checkout down') => {
    const { incident } = await service.start(
      { team: 'T1', title, severity: 'sev2', zone: 'UTC' },
      { actor: ALICE, source: 'command', at: T0 },
    );
    return incident.record;
  };
  const msg = (ts: string, text = `message ${ts}`) => ({
    channel: 'C_INC',
    ts,
    user: ALICE.id,
    userName: 'Alice',
    text,
  });
  const ctx = (ts: string) => ({ actor: ALICE, source: 'message' as const, at: slackTime(ts) });

  it('builds the same event as IncidentService.recordMessage', async () => {
    const a = await open('A');
    const b = await open('B');
    const recorder = createMessageRecorder(service);
    // Keys are unique across the store: the same message in another channel.
    const other = { ...msg('1741082700.000100'), channel: 'C_OTHER' };
    const at = ctx('1741082700.000100');
    const viaService = await service.recordMessage(a, msg('1741082700.000100'), at);
    const viaRecorder = await recorder.record(b, other, at);
    expect(viaRecorder.recorded).toBe(true);
    const strip = (e: (typeof viaService.events)[number]) => ({
      ...e,
      seq: 0,
      key: e.key?.replace('C_OTHER', 'C_INC'),
      ...(e.type === 'chat.message' ? { channel: 'C_INC' } : {}),
    });
    expect(viaRecorder.events.map(strip)).toEqual(viaService.events.map(strip));
    expect(viaRecorder.events[0]).toMatchObject({
      type: 'chat.message',
      key: 'msg:C_OTHER:1741082700.000100',
      source: 'message',
    });
  });

  it('appends messages that arrive together in one store write, each caller told its own outcome', async () => {
    const rec = await open();
    const recorder = createMessageRecorder(service);
    const append = jest.spyOn(store, 'commit');
    const tss = Array.from(
      { length: 50 },
      (_, i) => `17410827${String(i).padStart(2, '0')}.000100`,
    );
    const results = await Promise.all([
      ...tss.map((ts) => recorder.record(rec, msg(ts), ctx(ts))),
      // The same message twice in the batch (a Slack retry): recorded once.
      recorder.record(rec, msg(tss[7]!), ctx(tss[7]!)),
    ]);
    expect(append).toHaveBeenCalledTimes(1);
    expect(append.mock.calls[0]![0].events).toHaveLength(51);
    expect(results.filter((r) => r.recorded)).toHaveLength(50);
    expect(results[7]!.recorded).toBe(true);
    expect(results[50]!.recorded).toBe(false);
    const events = (await service.load(rec.id)).events.filter((e) => e.type === 'chat.message');
    expect(events).toHaveLength(50);
    // A later retry of a recorded message is a duplicate too.
    expect((await recorder.record(rec, msg(tss[0]!), ctx(tss[0]!))).recorded).toBe(false);
    append.mockRestore();
  });

  it('settled() waits for the messages queued so far', async () => {
    const rec = await open();
    const recorder = createMessageRecorder(service);
    const count = async () =>
      (await service.load(rec.id)).events.filter((e) => e.type === 'chat.message').length;
    const done: string[] = [];
    void recorder.record(rec, msg('3.1'), ctx('3.1')).then(() => done.push('3.1'));
    void recorder.record(rec, msg('3.2'), ctx('3.2')).then(() => done.push('3.2'));
    expect(done).toEqual([]);
    await recorder.settled(rec.id);
    expect(done.sort()).toEqual(['3.1', '3.2']);
    expect(await count()).toBe(2);
    await recorder.settled('no-such-incident');
  });

  it('keeps incidents apart and splits a queue longer than maxBatch', async () => {
    const a = await open('A');
    const b = await open('B');
    const recorder = createMessageRecorder(service, { maxBatch: 10 });
    const append = jest.spyOn(store, 'commit');
    await Promise.all(
      Array.from({ length: 25 }, (_, i) => {
        const ts = `17410827${String(i).padStart(2, '0')}.000100`;
        return recorder.record(i % 5 === 0 ? b : a, msg(ts), ctx(ts));
      }),
    );
    expect(append.mock.calls.every((c) => c[0].events.length <= 10)).toBe(true);
    const count = async (id: string) =>
      (await service.load(id)).events.filter((e) => e.type === 'chat.message').length;
    expect(await count(a.id)).toBe(20);
    expect(await count(b.id)).toBe(5);
    append.mockRestore();
  });

  it('records nothing into a closed incident, even from a stale record, and rejects every caller when the store fails', async () => {
    const rec = await open();
    const recorder = createMessageRecorder(service);
    expect(await recorder.record({ ...rec, status: 'closed' }, msg('1.1'), ctx('1.1'))).toEqual({
      recorded: false,
      events: [],
    });
    // A record read before the incident was closed elsewhere (a cache, another replica).
    await service.resolve(rec.id, undefined, { actor: ALICE, source: 'command' });
    const stale = (await service.load(rec.id)).record;
    const other = await open('other');
    const closer = new IncidentService({ store, render: () => '', clock: () => now });
    await closer.close(rec.id, { actor: ALICE, source: 'command' });
    expect(stale.status).toBe('resolved');
    expect(await recorder.record(stale, msg('1.2'), ctx('1.2'))).toEqual({
      recorded: false,
      events: [],
    });
    expect((await service.load(rec.id)).events.filter((e) => e.type === 'chat.message')).toEqual(
      [],
    );

    const append = jest
      .spyOn(store, 'commit')
      .mockRejectedValue(new StoreUnavailableError('disk gone'));
    const results = await Promise.allSettled([
      recorder.record(other, msg('2.1'), ctx('2.1')),
      recorder.record(other, msg('2.2'), ctx('2.2')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/not reachable/);
    append.mockRestore();
    expect((await recorder.record(other, msg('2.1'), ctx('2.1'))).recorded).toBe(true);
  });
});
