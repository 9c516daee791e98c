/**
 * `/incident postmortem publish` and the Publish button on the real app, against the local GitHub
 * fake: a draft PR is opened once, republishing adds a commit to it, the link is posted in the
 * channel and `postmortem.published` is recorded.
 */
import { startGitHubFake, type GitHubFake } from '../helpers/fakes/github';
import { startTestBot, type TestBot } from '../helpers/testBot';

let gh: GitHubFake;
let bot: TestBot;

beforeAll(async () => {
  gh = await startGitHubFake({ repo: 'acme/postmortems', token: 'ghp_e2e' });
  bot = await startTestBot({
    env: {
      PUBLISH_TARGETS: `- name: docs\n  provider: github\n  repo: acme/postmortems\n  apiUrl: ${gh.url}\n`,
      GITHUB_TOKEN: 'ghp_e2e',
    },
  });
});

afterAll(async () => {
  await bot.close();
  await gh.close();
});

const all = (r: { ephemeral: string[] }): string => r.ephemeral.join('\n');

describe('publishing the postmortem as a pull request', () => {
  it('opens one draft PR, posts the link, records it; republishing commits to the same PR', async () => {
    await bot.command('start sev2 Search returns empty results');
    const incident = await bot.service.findByNumber('T_TEST', 1);
    const channel = incident?.state.channel ?? '';
    expect(channel).not.toBe('');

    await expect(bot.command('postmortem publish nowhere', { channel })).resolves.toMatchObject({
      ephemeral: [expect.stringContaining('"nowhere" is not a publish target; use one of: docs.')],
    });

    const first = await bot.command('postmortem publish', { channel });
    expect(all(first)).toContain('Publishing the draft of INC-1 to docs (GitHub acme/postmortems)');
    expect(first.posted.map((p) => p.text).join('\n')).toContain(
      'opened for review as a draft pull request: https://github.example/acme/postmortems/pull/1',
    );
    expect(gh.pulls).toHaveLength(1);
    expect(gh.pulls[0].body).toContain(
      `https://slack.com/app_redirect?channel=${channel}&team=T_TEST`,
    );

    await bot.command('hypothesis the index alias moved', { channel });
    await bot.command('resolve pointed the alias back', { channel });
    const again = await bot.command('postmortem publish docs', { channel });
    expect(again.posted.map((p) => p.text).join('\n')).toContain('updated on its pull request');
    expect(gh.pulls).toHaveLength(1);
    expect(gh.repo.commitsSince('postmortem/inc-1', 'main')).toHaveLength(2);

    const events = await bot.store.loadEvents(incident?.record.id ?? '');
    const published = events.filter((e) => e.type === 'postmortem.published');
    expect(published).toHaveLength(2);
    expect(published[0]).toMatchObject({
      target: 'docs',
      provider: 'github',
      number: 1,
      change: 'opened',
    });
    expect(published[1]).toMatchObject({ number: 1, change: 'updated' });
  });

  it('close offers a Publish button that publishes to the same PR', async () => {
    const incident = await bot.service.findByNumber('T_TEST', 1);
    const channel = incident?.state.channel ?? '';
    const id = incident?.record.id ?? '';
    await bot.command('close', { channel });
    // The review may ask first; close anyway through its button when it does.
    const asked = bot.emulator.responses.at(-1)?.body as { blocks?: unknown[] };
    if (JSON.stringify(asked.blocks ?? []).includes('close:anyway')) {
      await bot.interact({
        type: 'block_actions',
        team: { id: 'T_TEST', domain: 'test-workspace' },
        user: { id: 'U_ALICE', name: 'alice', team_id: 'T_TEST' },
        channel: { id: channel, name: 'inc' },
        container: { type: 'message', channel_id: channel },
        trigger_id: 'trig-close',
        response_url: bot.emulator.responseUrl('close-1'),
        actions: [
          {
            type: 'button',
            action_id: 'close:anyway',
            block_id: 'close_review',
            value: id,
            action_ts: '1',
          },
        ],
      });
    }
    expect((await bot.service.load(id)).state.status).toBe('closed');
    const closedReply = bot.emulator.responses.at(-1)?.body as { blocks?: unknown[] };
    const blocks = JSON.stringify(closedReply.blocks ?? []);
    expect(blocks).toContain('"action_id":"postmortem:publish"');
    expect(blocks).toContain(`"value":"${id}|docs"`);

    await bot.interact({
      type: 'block_actions',
      team: { id: 'T_TEST', domain: 'test-workspace' },
      user: { id: 'U_ALICE', name: 'alice', team_id: 'T_TEST' },
      channel: { id: channel, name: 'inc' },
      container: { type: 'message', channel_id: channel },
      trigger_id: 'trig-publish',
      response_url: bot.emulator.responseUrl('publish-1'),
      actions: [
        {
          type: 'button',
          action_id: 'postmortem:publish',
          block_id: 'publish',
          value: `${id}|docs`,
          action_ts: '2',
        },
      ],
    });
    expect(
      String(
        bot.emulator
          .responsesTo('publish-1')
          .map((r) => r.body.text)
          .join('\n'),
      ),
    ).toContain('Publishing the draft of INC-1 to docs');
    expect(gh.pulls).toHaveLength(1);
    const events = await bot.store.loadEvents(id);
    expect(events.filter((e) => e.type === 'postmortem.published')).toHaveLength(3);
  });
});
