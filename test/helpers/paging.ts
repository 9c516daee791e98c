/**
 * What the paging suites share: the three provider fakes (PagerDuty, JSM, a webhook receiver)
 * started together, a responders file in a temporary directory, and the Slack steps around a
 * page (opening an incident, the SEV1 confirmation buttons).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeJsm, type FakeJsm } from './fakes/jsm';
import { startFakePagerDuty, type FakeOncall, type FakePagerDuty } from './fakes/pagerduty';
import { startWebhookReceiver, type FakeWebhookReceiver } from './fakes/webhookReceiver';
import type { TestBot } from './testBot';

/** Someone on call at `level` (default 1) of an escalation policy (default PEP1). */
export const onCall = (
  id: string,
  name: string,
  email: string,
  level = 1,
  escalationPolicy = 'PEP1',
): FakeOncall => ({ escalationPolicy, level, user: { id, name, email } });

export interface PagingFakes {
  pd: FakePagerDuty;
  jsm: FakeJsm;
  hook: FakeWebhookReceiver;
  close(): Promise<void>;
}

/** The credentials the fakes accept, by the environment names the suites' responders files use. */
export interface PagingSecrets {
  PD_KEY: string;
  PD_TOKEN: string;
  JSM_KEY: string;
  HOOK_SECRET: string;
}

/** The PagerDuty (with these people on call), JSM and webhook fakes, each taking one credential. */
export async function startPagingFakes(
  secrets: PagingSecrets,
  oncalls: FakeOncall[],
): Promise<PagingFakes> {
  const pd = await startFakePagerDuty({
    routingKeys: [secrets.PD_KEY],
    apiTokens: [secrets.PD_TOKEN],
    oncalls,
  });
  const jsm = await startFakeJsm({ apiKeys: [secrets.JSM_KEY] });
  const hook = await startWebhookReceiver(secrets.HOOK_SECRET);
  return {
    pd,
    jsm,
    hook,
    close: async () => {
      await Promise.all([pd.close(), jsm.close(), hook.close()]);
    },
  };
}

/** `yaml` written as responders.yml in a new temporary directory; `remove` deletes the directory. */
export function respondersFile(yaml: string): { file: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'paging-'));
  const file = path.join(dir, 'responders.yml');
  writeFileSync(file, yaml);
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens an incident as Alice (its commander) and returns its channel and id. */
export async function openIncident(
  bot: TestBot,
  sev: 'sev1' | 'sev2' | 'sev3',
  title: string,
): Promise<{ channel: string; id: string }> {
  await bot.command(`start ${sev} ${title}`);
  const rec = (await bot.service.list()).find((r) => r.title === title);
  if (!rec?.channel) throw new Error('incident not opened');
  return { channel: rec.channel, id: rec.id };
}

/** The buttons of the bot's latest ephemeral response (a SEV1 page's Page / Cancel). */
export function lastButtons(bot: TestBot): { action_id: string; value: string }[] {
  const blocks = bot.emulator.responses.at(-1)?.body.blocks as {
    elements?: { action_id: string; value: string }[];
  }[];
  return blocks.flatMap((b) => b.elements ?? []);
}

/** Clicks a page confirmation button (`page:confirm` / `page:cancel`); the texts answered. */
export async function clickPageButton(
  bot: TestBot,
  channel: string,
  actionId: string,
  value: string,
  user = 'U_ALICE',
): Promise<string[]> {
  const responseId = `page-${Math.random().toString(36).slice(2)}`;
  await bot.interact({
    type: 'block_actions',
    team: { id: 'T_TEST', domain: 'test-workspace' },
    user: { id: user, name: user.toLowerCase(), team_id: 'T_TEST' },
    channel: { id: channel, name: 'inc' },
    container: { type: 'message', channel_id: channel, is_ephemeral: true },
    trigger_id: `trig-${responseId}`,
    response_url: bot.emulator.responseUrl(responseId),
    actions: [
      { type: 'button', action_id: actionId, block_id: 'page_confirm', value, action_ts: '1' },
    ],
  });
  return bot.emulator.responsesTo(responseId).map((r) => String(r.body.text ?? ''));
}
