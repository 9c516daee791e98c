/**
 * A restarted instance takes over its own work at once: the bot (src/main.ts in a child process,
 * INBOX_LEASE_MS of 10 minutes) is killed with SIGKILL while it is processing an acknowledged
 * `/incident log` (its users.info call is held by the Slack emulator). Restarted with the same
 * INSTANCE_ID, it processes the command at once — recorded once, the reply sent — far before the
 * lease would run out. Restarted with another INSTANCE_ID (another replica), it leaves the item
 * alone while the lease is live.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite';
import type { IncidentStore } from '../../src/store/store';
import { newTriggerId, postSlashCommand, TEST_SIGNING_SECRET } from '../helpers/signing';
import { startSlackEmulator, TEST_TEAM, type SlackEmulator } from '../helpers/slackEmulator';
import {
  killChildBot,
  startChildBot,
  until as waitUntil,
  type ChildBot,
} from '../helpers/childBot';
import { DEFAULT_TEST_CHANNELS, DEFAULT_TEST_USERS } from '../helpers/testBot';

jest.setTimeout(150_000);

const LEASE_MS = 600_000;

const until = <T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> =>
  waitUntil(what, fn, ms);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('restart: the same instance takes over its own unfinished work at once', () => {
  let emulator: SlackEmulator;
  let dataDir: string;
  let store: IncidentStore | undefined;
  const bots: ChildBot[] = [];
  /** While true, users.info for Carol never answers (the bot is busy with her command). */
  let holdCarol = false;
  let carolAsked = 0;

  beforeEach(async () => {
    const members = DEFAULT_TEST_USERS.filter((u) => !u.is_bot).map((u) => u.id);
    emulator = await startSlackEmulator({
      users: DEFAULT_TEST_USERS,
      channels: DEFAULT_TEST_CHANNELS.map((c) => ({ ...c, members })),
    });
    holdCarol = false;
    carolAsked = 0;
    emulator.setHandler('users.info', (p) => {
      const u = DEFAULT_TEST_USERS.find((x) => x.id === p.user);
      if (!u) return { ok: false, error: 'user_not_found' };
      if (u.id === 'U_CAROL') {
        carolAsked += 1;
        if (holdCarol) return new Promise<Record<string, unknown>>(() => undefined);
      }
      return {
        user: {
          id: u.id,
          team_id: TEST_TEAM.id,
          name: u.name.toLowerCase(),
          real_name: u.name,
          tz: u.tz ?? 'UTC',
          profile: { display_name: u.name, real_name: u.name },
        },
      };
    });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-takeover-'));
  });

  afterEach(async () => {
    await Promise.all(bots.splice(0).map(killChildBot));
    await store?.close();
    store = undefined;
    await emulator.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const envFor = (instanceId: string) => ({
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    PORT: '0',
    SLACK_API_URL: emulator.url,
    INCIDENT_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    INBOX_LEASE_MS: String(LEASE_MS),
    INBOX_POLL_MS: '100',
    INSTANCE_ID: instanceId,
  });

  /** Starts bot-a, opens an incident, and kills bot-a in the middle of Carol's `log`. */
  async function killDuringLog(): Promise<{ channel: string; incidentId: string }> {
    const bot = await startChildBot(envFor('bot-a'));
    bots.push(bot);
    const started = await postSlashCommand(bot.url, TEST_SIGNING_SECRET, {
      text: 'start sev2 Takeover test',
      user_id: 'U_ALICE',
      user_name: 'alice',
      channel_id: 'C_GENERAL',
      team_id: TEST_TEAM.id,
      response_url: emulator.responseUrl('start'),
      trigger_id: newTriggerId(),
    });
    expect(started.status).toBe(200);
    store = openSqliteStore({ file: path.join(dataDir, 'incident-bot.sqlite') });
    const s = store;
    const incident = await until('the incident channel', async () => {
      const [rec] = await s.listIncidents();
      return rec?.channel ? rec : undefined;
    });
    holdCarol = true;
    const acked = await postSlashCommand(bot.url, TEST_SIGNING_SECRET, {
      text: 'log Restarted the consumer',
      user_id: 'U_CAROL',
      user_name: 'carol',
      channel_id: incident.channel as string,
      team_id: TEST_TEAM.id,
      response_url: emulator.responseUrl('log'),
      trigger_id: newTriggerId(),
    });
    expect(acked.status).toBe(200);
    await until('the bot to be busy with the log', async () => (carolAsked > 0 ? true : undefined));
    await killChildBot(bot);
    holdCarol = false;
    expect(await logged(incident.id)).toBe(0);
    return { channel: incident.channel as string, incidentId: incident.id };
  }

  async function logged(incidentId: string): Promise<number> {
    const events = await (store as IncidentStore).loadEvents(incidentId);
    return events.filter((e) => e.type === 'timeline.entry' && e.text === 'Restarted the consumer')
      .length;
  }

  it('restarted with the same INSTANCE_ID: processed at once, not after the 10-minute lease', async () => {
    const { incidentId } = await killDuringLog();
    const restartedAt = Date.now();
    bots.push(await startChildBot(envFor('bot-a')));
    await until('the taken-over command to be recorded', async () =>
      (await logged(incidentId)) === 1 ? true : undefined,
    );
    await until('its reply', async () =>
      emulator.responsesTo('log').length > 0 ? true : undefined,
    );
    const took = Date.now() - restartedAt;
    // The restart itself (a fresh Node process loading TypeScript) is most of it.
    expect(took).toBeLessThan(LEASE_MS / 10);
    expect(String(emulator.responsesTo('log')[0].body.text)).toMatch(/^Logged in INC-1/);
    expect(await logged(incidentId)).toBe(1);
    process.stderr.write(`restart takeover: processed ${took} ms after the restart\n`);
  });

  it('started with another INSTANCE_ID (another replica): waits for the lease', async () => {
    const { incidentId } = await killDuringLog();
    bots.push(await startChildBot(envFor('bot-b')));
    // Its start-up claim and a dozen polls (INBOX_POLL_MS 100) have run by now.
    await sleep(1500);
    expect(await logged(incidentId)).toBe(0);
    expect(emulator.responsesTo('log')).toHaveLength(0);
  });
});
