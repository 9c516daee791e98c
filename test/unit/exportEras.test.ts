/**
 * Every era of Slack export, end to end: our own fixtures (test/fixtures/exports, written from
 * Slack's documented export format) are imported, exported as JSON and drafted, and every human
 * message is accounted for: in the record, in the JSON export, on the draft's timeline (where
 * nothing was curated) and in the draft's channel log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { exportIncident } from '../../src/app/export';
import { IncidentService, type Incident } from '../../src/app/service';
import { importSlackExport } from '../../src/import/importer';
import { createRenderer } from '../../src/render/postmortem';
import { buildView } from '../../src/render/view';
import { openSqliteStore } from '../../src/store/sqlite';
import type { IncidentStore } from '../../src/store/store';
import { renderGfm, textOutsideCode } from '../helpers/gfm';

const DIR = path.join(__dirname, '..', 'fixtures', 'exports');
const NOW = DateTime.fromISO('2026-01-05T12:00:00Z', { zone: 'utc' });
const render = createRenderer({ now: () => NOW });

interface Era {
  name: string;
  channel: string;
  zone: string;
  /** Human messages in the channel's day files, counted by hand from the fixture. */
  human: number;
  /** Detection: the first real alert (ISO, UTC). */
  detected: string;
}

const ERAS: Era[] = [
  {
    name: '2015-workspace',
    channel: 'db-failover',
    zone: 'America/New_York',
    human: 9,
    detected: '2015-06-09T15:00:10.000Z',
  },
  {
    name: '2019-workspace',
    channel: 'inc-checkout-5xx',
    zone: 'Europe/Berlin',
    human: 9,
    detected: '2019-10-15T09:00:30.000Z',
  },
  {
    name: '2025-slackdump',
    channel: 'inc-ledger-dst',
    zone: 'America/Los_Angeles',
    human: 25,
    detected: '2025-11-02T08:41:00.000Z',
  },
];

let dir: string;
let store: IncidentStore;
let service: IncidentService;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'eras-'));
  store = openSqliteStore({ dataDir: dir });
  service = new IncidentService({ store, render: () => '# draft\n', clock: () => NOW });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const importEra = (era: Era, extra: Partial<Parameters<typeof importSlackExport>[1]> = {}) =>
  importSlackExport(service, {
    source: path.join(DIR, era.name),
    channel: era.channel,
    zone: era.zone,
    ...extra,
  });

/** Counts for the closing note: written to $ERA_COUNTS_FILE when set. */
const counts: Record<string, unknown>[] = [];
afterAll(() => {
  if (process.env.ERA_COUNTS_FILE) {
    writeFileSync(process.env.ERA_COUNTS_FILE, JSON.stringify(counts, null, 2));
  }
});

describe.each(ERAS)('$name', (era) => {
  it('imports every human message, detects the first real alert, drafts a real timeline', async () => {
    const r = await importEra(era);
    const inc: Incident = r.incident;
    expect(r.created).toBe(true);

    // Every human message is in the record and in the JSON export.
    expect(inc.state.messages).toHaveLength(era.human);
    const json = exportIncident(inc);
    const jsonMessages = json.events.filter((e) => e.type === 'chat.message');
    expect(jsonMessages).toHaveLength(era.human);

    // Detection: the first bot or integration post, not bot_add or a join.
    expect(inc.state.detectedAt?.toISO()).toBe(era.detected);
    expect(r.detectionBasis).toMatch(/^the first alert/);

    // The draft: conversation on the timeline, the whole log in <details>.
    const view = buildView(inc, { now: NOW });
    const onTimeline = view.timeline.filter((e) => e.kind === 'message');
    const shortened = view.timeline.filter((e) => e.kind === 'shortened');
    expect(onTimeline.length).toBeGreaterThanOrEqual(2);
    expect(view.channelLog.count).toBe(era.human);
    for (const template of ['default', 'concise', 'sre']) {
      const md = render(inc, template);
      const doc = renderGfm(md);
      const details = doc.querySelector('details');
      expect(details?.querySelectorAll('li')).toHaveLength(era.human);
      const text = textOutsideCode(doc.body);
      expect(text).not.toContain('```');
      expect(text).not.toContain('\\');
    }
    counts.push({
      fixture: era.name,
      channel: era.channel,
      human: era.human,
      json: jsonMessages.length,
      timeline: onTimeline.length,
      foldedReplies: onTimeline.reduce((n, e) => n + e.replies, 0),
      shortened: shortened.reduce((n, e) => n + Number(/(\d+) more/.exec(e.text)?.[1] ?? 0), 0),
      timelineEntries: view.timeline.length,
    });
  });
});

describe('what each era needs', () => {
  it('2015: numbers as strings, file_comment by its author, file_share with one file, me_message', async () => {
    const r = await importEra(ERAS[0]);
    const msgs = r.incident.state.messages;
    const comment = msgs.find((m) => m.text.startsWith('the spike starts'));
    expect(comment).toMatchObject({ user: 'U04RUTH002', userName: 'Ruth Lindqvist' });
    expect(msgs.find((m) => m.user === 'U04TARO003' && m.files.length)?.files).toEqual([
      {
        name: 'lag.png',
        url: 'https://example.invalid/files/taro/F04LAG0001/lag.png',
      },
    ]);
    expect(msgs.some((m) => m.text === 'is writing up the timeline')).toBe(true);
    // The bot_add two months earlier and Slackbot are not people; the alert is not either.
    expect(msgs.some((m) => m.user === 'USLACKBOT')).toBe(false);
    expect(r.incident.state.hypotheses).toHaveLength(1);
    expect(r.incident.state.hypotheses[0].outcome).toBe('confirmed');
    // The confirmed guess is the team's statement in the summary, with a TBD on its wording.
    const view = buildView(r.incident, { now: NOW });
    expect(view.summary.rootCause.text).toBe('The backup job saturated the disk on primary-2.');
    expect(view.summary.rootCauseTbd.known).toBe(false);
    // A multi-line message with a code block is fenced under its entry.
    const md = render(r.incident, 'default');
    expect(md).toContain(
      "  ```\n  pg_ctl promote -D /var/lib/pgsql/9.4/data\n  psql -c 'SELECT pg_is_in_recovery();'\n  ```",
    );
  });

  it('2019: threads folded, thread_broadcast, tombstone parent, blocks-only text, markup kept in code', async () => {
    const r = await importEra(ERAS[1]);
    const msgs = r.incident.state.messages;
    // Blocks-only message: text from rich_text, mention and link decoded, code span kept.
    expect(msgs.find((m) => m.text.startsWith('Rolling back'))?.text).toBe(
      'Rolling back the proxy config, ping @Boris Petrov if the `allowlist` diff looks wrong: commit (https://git.example.invalid/proxy/commit/abc123)',
    );
    // Slack markup inside a code span is verbatim; outside it is decoded.
    const broadcast = msgs.find((m) => m.text.startsWith('diff confirmed'));
    expect(broadcast?.text).toContain('1-800-555-0100 (tel:+18005550100) is the gateway');
    expect(broadcast?.text).toContain('`call <tel:+18005550100|1-800-555-0100>`');
    // The tombstone is not a message; its reply is kept and stands for its thread.
    expect(msgs.some((m) => m.text === 'This message was deleted.')).toBe(false);
    const view = buildView(r.incident, { now: NOW });
    expect(view.channelLog.entries.map((e) => e.replies.length)).toContain(2);
    const orphan = view.channelLog.entries.find((e) => e.text.startsWith('(reply kept'));
    expect(orphan).toBeDefined();
    // The hypothesis heading is its short title, not the stack trace.
    expect(view.hypotheses[0].title).toBe(
      '`java.net.SocketTimeoutException at GatewayClient.charge`',
    );
    // Private channel from groups.json; a DM by id and a group DM by name import too.
    expect(r.channel.id).toBe('G0PAYCHK01');
    const dm = await importSlackExport(service, {
      source: path.join(DIR, ERAS[1].name),
      channel: 'D0AMBO0001',
    });
    expect(dm.incident.state.messages).toHaveLength(2);
    expect(dm.detectionBasis).toBe('the first human message');
    const mpim = await importSlackExport(service, {
      source: path.join(DIR, ERAS[1].name),
      channel: 'mpdm-amina--boris--clara-1',
    });
    expect(mpim.incident.state.messages).toHaveLength(1);
  });

  it('2025 (slackdump): huddle thread, attachment-only share, shortened run, PDT and PST', async () => {
    const r = await importEra(ERAS[2]);
    const msgs = r.incident.state.messages;
    expect(msgs.find((m) => m.text.startsWith('huddle notes'))).toBeDefined();
    expect(msgs.find((m) => m.user === 'U08ISA0003' && m.text.includes('UTC'))?.text).toBe(
      'scheduler jobs must run on UTC',
    );
    const view = buildView(r.incident, { now: NOW });
    expect(view.incident.zoneAbbreviations).toEqual(['PDT', 'PST']);
    expect(view.incident.zoneLabel).toBe('PDT and PST');
    const shortened = view.timeline.find((e) => e.kind === 'shortened');
    expect(shortened?.text).toMatch(
      /^… \d+ more messages \(.+\) not shown here: see the channel log/,
    );
    const md = render(r.incident, 'default');
    expect(md).toContain('Times are in America/Los_Angeles (PDT and PST)');
    expect(render(r.incident, 'sre')).toContain('America/Los_Angeles, PDT and PST');
    // A user-given detection time wins.
    // 01:30 happens twice that night: the offset says which (PDT, the first).
    const given = DateTime.fromISO('2025-11-02T01:30-07:00');
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(path.join(tmpdir(), 'eras-'));
    store = openSqliteStore({ dataDir: dir });
    service = new IncidentService({ store, render: () => '', clock: () => NOW });
    const r2 = await importEra(ERAS[2], { detectedAt: given });
    expect(r2.incident.state.detectedAt?.toISO()).toBe('2025-11-02T08:30:00.000Z');
    expect(r2.detectionBasis).toBe('as given');
  });
});
