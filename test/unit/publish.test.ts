/**
 * Publishing drafts as pull/merge requests, against local fakes of the GitHub REST and GitLab
 * APIs: first publish, republish (same and changed draft), the "already exists" races, and how
 * failures steer the dispatcher's retries.
 */
import { DateTime } from 'luxon';
import { PermanentEffectError, RetryableEffectError } from '../../src/app/effects';
import type { Incident } from '../../src/app/service';
import type { StoredEffect } from '../../src/store/store';
import {
  parsePublishTargets,
  PublishConfigError,
  type PublishTarget,
} from '../../src/integrations/publish/config';
import {
  createPublishSubscriber,
  publishEffect,
  renderPath,
  requestBody,
  slugify,
  PUBLISH_EFFECT,
} from '../../src/integrations/publish/subscriber';
import { startGitHubFake, type GitHubFake } from '../helpers/fakes/github';
import { startGitLabFake, type GitLabFake } from '../helpers/fakes/gitlab';
import { IncidentBuilder, people } from '../helpers/incidentBuilder';

const NOW = DateTime.fromISO('2025-03-12T09:00:00Z', { zone: 'utc' });

function incident(): Incident {
  return new IncidentBuilder({
    number: 42,
    date: '2025-03-11',
    zone: 'Europe/Berlin',
    team: 'T_TEST',
  })
    .opened('14:02', 'Search returns empty results', 'sev2')
    .detected('14:00')
    .channel('14:02', 'C_INC42', 'inc-42-search')
    .impact('14:05', 'Search empty for 30% of queries', { startedAt: '13:50' })
    .hypothesis('14:10', 'Index rebuild lost shards')
    .confirm('H1', '14:40', 'Two shards missing')
    .action('14:50', 'Alert on shard count', { owner: people.ravi, due: '2025-03-20' })
    .resolve('15:10', 'Restored shards from snapshot')
    .incident();
}

function effect(target: string, n = 1): StoredEffect {
  const e = publishEffect('inc-42', { target, by: { id: 'U1', name: 'Dana' } }, `cmd:trigger-${n}`);
  return { ...e, id: `eff-${n}`, state: 'pending', attempts: 0 };
}

let draft = '# Postmortem INC-42\n\nFirst draft.\n';

function subscriber(targets: PublishTarget[]) {
  const announced: string[] = [];
  const sub = createPublishSubscriber({
    targets,
    render: () => draft,
    post: async (channel, text) => {
      expect(channel).toBe('C_INC42');
      announced.push(text);
    },
  });
  const handler = sub.handlers?.[PUBLISH_EFFECT];
  if (!handler) throw new Error('no handler');
  const run = (e: StoredEffect) => handler(e, { now: NOW, incident: incident(), attempt: 1 });
  return { run, announced };
}

describe('the publish subscriber', () => {
  it('turns a recorded publish request into one effect keyed by the request', () => {
    const sub = createPublishSubscriber({ targets: [], render: () => '' });
    const requested = {
      type: 'postmortem.publish_requested' as const,
      target: 'gh',
      occurredAt: NOW,
      recordedAt: NOW,
      actor: people.dana,
      source: 'command' as const,
      key: 'cmd:T1:publish',
      seq: 12,
    };
    expect(sub.effectsFor?.(incident(), [requested], NOW)).toEqual([
      {
        key: 'publish:inc-42:gh:cmd:T1:publish',
        kind: PUBLISH_EFFECT,
        incidentId: 'inc-42',
        payload: { target: 'gh', by: { id: people.dana.id, name: people.dana.name } },
      },
    ]);
    expect(sub.effectsFor?.(incident(), incident().events, NOW)).toEqual([]);
  });
});

describe('path template and slug', () => {
  it.each([
    [
      'postmortems/{{yyyy}}/{{date}}-inc-{{number}}-{{slug}}.md',
      'postmortems/2025/2025-03-11-inc-42-search-returns-empty-results.md',
    ],
    ['pm/{{ yyyy }}/{{mm}}/{{dd}}/{{number}}.md', 'pm/2025/03/11/42.md'],
  ])('%s → %s', (template, expected) => {
    expect(renderPath(template, incident())).toBe(expected);
  });

  it.each(['../outside/{{number}}.md', '/abs/{{number}}.md', 'a//{{number}}.md', '{{nope}}.md'])(
    'refuses %s',
    (template) => {
      expect(() => renderPath(template, incident())).toThrow(PermanentEffectError);
    },
  );

  it.each([
    ['Café déjà vu: DB   down!!', 'cafe-deja-vu-db-down'],
    ['🔥🔥', 'incident'],
    ['x'.repeat(80), 'x'.repeat(48)],
  ])('slugify(%j) = %j', (title, slug) => {
    expect(slugify(title)).toBe(slug);
  });
});

describe('pull/merge request body', () => {
  it('pings nobody: @handles in user text are broken', () => {
    const i = new IncidentBuilder({ number: 3 })
      .opened('10:00', 'Paged @sre-team twice')
      .detected('10:00')
      .rootCause('10:10', '@alice pushed a bad config')
      .incident();
    const body = requestBody(i);
    expect(body).not.toMatch(/@[\w-]/);
    expect(body).toContain('Paged @\u200bsre-team twice');
    expect(body).toContain('Slack channel: none recorded');
  });
});

describe('PUBLISH_TARGETS', () => {
  it('reads YAML targets with defaults, tokens from the named variables', () => {
    const targets = parsePublishTargets({
      PUBLISH_TARGETS:
        '- name: gh\n  provider: github\n  repo: acme/pm\n- name: gl\n  provider: gitlab\n  project: 123\n  tokenEnv: GL_PM\n  apiUrl: https://git.example/api/v4/\n',
      GITHUB_TOKEN: 'ghp_x',
      GL_PM: 'glpat_y',
    });
    expect(targets).toEqual([
      {
        name: 'gh',
        provider: 'github',
        repo: 'acme/pm',
        base: 'main',
        path: 'postmortems/{{yyyy}}/{{date}}-inc-{{number}}-{{slug}}.md',
        token: 'ghp_x',
        apiUrl: 'https://api.github.com',
      },
      {
        name: 'gl',
        provider: 'gitlab',
        project: '123',
        base: 'main',
        path: 'postmortems/{{yyyy}}/{{date}}-inc-{{number}}-{{slug}}.md',
        token: 'glpat_y',
        apiUrl: 'https://git.example/api/v4',
      },
    ]);
    expect(parsePublishTargets({})).toEqual([]);
  });

  it('reports every problem, naming the token variable but never a value', () => {
    try {
      parsePublishTargets({
        PUBLISH_TARGETS:
          '[{"name":"gh","provider":"github","repo":"acme/pm"},{"name":"gh","provider":"github","repo":"acme/other"}]',
      });
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(PublishConfigError);
      const problems = (err as PublishConfigError).problems;
      expect(problems).toContain('PUBLISH_TARGETS: the name "gh" is used twice');
      expect(problems).toContain('PUBLISH_TARGETS "gh": GITHUB_TOKEN (its token) is not set');
    }
    expect(() =>
      parsePublishTargets({ PUBLISH_TARGETS: '- provider: bitbucket\n  name: x' }),
    ).toThrow(PublishConfigError);
    expect(() => parsePublishTargets({ PUBLISH_TARGETS: '- name: [' })).toThrow(/not valid YAML/);
  });
});

describe('GitHub', () => {
  let gh: GitHubFake;
  let target: PublishTarget;
  beforeEach(async () => {
    draft = '# Postmortem INC-42\n\nFirst draft.\n';
    gh = await startGitHubFake({ repo: 'acme/postmortems', token: 'ghp_test' });
    target = {
      name: 'gh',
      provider: 'github',
      repo: 'acme/postmortems',
      base: 'main',
      path: 'postmortems/{{yyyy}}/{{date}}-inc-{{number}}-{{slug}}.md',
      token: 'ghp_test',
      apiUrl: gh.url,
    };
  });
  afterEach(() => gh.close());
  const file = 'postmortems/2025/2025-03-11-inc-42-search-returns-empty-results.md';

  it('first publish: branch, one commit with the draft, a draft PR with summary, metrics and channel link', async () => {
    const { run, announced } = subscriber([target]);
    const out = await run(effect('gh'));
    expect(gh.repo.head('postmortem/inc-42')?.files.get(file)).toBe(draft);
    expect(gh.repo.commitsSince('postmortem/inc-42', 'main')).toHaveLength(1);
    expect(gh.pulls).toHaveLength(1);
    const pr = gh.pulls[0];
    expect(pr).toMatchObject({
      draft: true,
      title: 'Postmortem INC-42: Search returns empty results',
      base: { ref: 'main' },
      head: { ref: 'postmortem/inc-42' },
    });
    expect(pr.body).toContain('Root cause: Index rebuild lost shards');
    expect(pr.body).toMatch(/\| Time to resolve \| 1 hour, 10 minutes \|/);
    expect(pr.body).toContain('https://slack.com/app_redirect?channel=C_INC42&team=T_TEST');
    expect(out?.events).toEqual([
      expect.objectContaining({
        type: 'postmortem.published',
        target: 'gh',
        provider: 'github',
        url: pr.html_url,
        number: 1,
        branch: 'postmortem/inc-42',
        path: file,
        key: 'publish:inc-42:gh:cmd:trigger-1:published',
      }),
    ]);
    expect(announced).toEqual([
      `📝 Postmortem draft for INC-42 opened for review as a draft pull request: ${pr.html_url}`,
    ]);
    // Every call carried the token as a Bearer header and the API version.
    expect(gh.requests.every((r) => r.headers['x-github-api-version'] === '2022-11-28')).toBe(true);
  });

  it('republish: the same draft commits nothing; a changed one adds a commit to the same PR', async () => {
    const { run, announced } = subscriber([target]);
    await run(effect('gh', 1));
    await run(effect('gh', 2));
    expect(gh.repo.commitsSince('postmortem/inc-42', 'main')).toHaveLength(1);
    draft = '# Postmortem INC-42\n\nSecond draft.\n';
    const out = await run(effect('gh', 3));
    expect(gh.repo.commitsSince('postmortem/inc-42', 'main')).toHaveLength(2);
    expect(gh.repo.head('postmortem/inc-42')?.files.get(file)).toBe(draft);
    expect(gh.pulls).toHaveLength(1);
    expect(out?.events?.[0]).toMatchObject({ number: 1 });
    expect(announced[1]).toContain('is unchanged on its pull request');
    expect(announced[2]).toContain('updated on its pull request');
  });

  it('"Reference already exists" and "A pull request already exists" (races) reuse what exists', async () => {
    const { run } = subscriber([target]);
    await run(effect('gh', 1));
    draft = 'changed\n';
    // Another replica created both meanwhile: our look-ups miss them once.
    gh.failNext({
      method: 'GET',
      path: /\/git\/ref\/heads\/postmortem%2Finc-42$|\/git\/ref\/heads\/postmortem\/inc-42$/,
      status: 404,
      body: { message: 'Not Found' },
    });
    gh.failNext({ method: 'GET', path: /\/pulls$/, status: 200, body: [] });
    const out = await run(effect('gh', 2));
    expect(gh.pulls).toHaveLength(1);
    expect(out?.events?.[0]).toMatchObject({ number: 1 });
    const statuses = gh.requests.filter((r) => r.method === 'POST').map((r) => r.path);
    expect(statuses.filter((p) => p.endsWith('/pulls'))).toHaveLength(2);
  });

  it.each([
    [409, { message: 'is at abc but expected def' }, RetryableEffectError],
    [500, { message: 'Server Error' }, RetryableEffectError],
    [429, { message: 'slow down' }, RetryableEffectError],
    [404, { message: 'Not Found' }, PermanentEffectError],
    [403, { message: 'Resource not accessible by integration' }, PermanentEffectError],
  ])('a %d on the commit is %p', async (status, body, kind) => {
    const { run } = subscriber([target]);
    gh.failNext({
      method: 'PUT',
      path: /\/contents\//,
      status,
      body,
      headers: { 'retry-after': '30' },
    });
    const err = await run(effect('gh')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(kind);
    // Retry-After is passed on for 429 and 5xx (a 409 is retried on the normal schedule).
    if (status === 429 || status === 500) {
      expect((err as RetryableEffectError).retryAt).toBeDefined();
    }
    expect(gh.pulls).toHaveLength(0);
    // The retry then completes the job, on the same branch, with one PR.
    const out = await run(effect('gh'));
    expect(out?.events?.[0]).toMatchObject({ number: 1 });
    expect(gh.pulls).toHaveLength(1);
  });

  it('a wrong token is permanent and says which step failed', async () => {
    const { run } = subscriber([{ ...target, token: 'wrong' }]);
    await expect(run(effect('gh'))).rejects.toThrow(
      /reading the branch: HTTP 401 \(Bad credentials\)/,
    );
  });

  it('an unknown target is permanent', async () => {
    const { run } = subscriber([target]);
    await expect(run(effect('nope'))).rejects.toThrow(PermanentEffectError);
  });
});

describe('GitLab', () => {
  let gl: GitLabFake;
  let target: PublishTarget;
  beforeEach(async () => {
    draft = '# Postmortem INC-42\n\nFirst draft.\n';
    gl = await startGitLabFake({ project: 'sre/postmortems', token: 'glpat_test' });
    target = {
      name: 'gl',
      provider: 'gitlab',
      project: 'sre/postmortems',
      base: 'main',
      path: 'pm/{{number}}-{{slug}}.md',
      token: 'glpat_test',
      apiUrl: gl.url,
    };
  });
  afterEach(() => gl.close());
  const file = 'pm/42-search-returns-empty-results.md';

  it('first publish and republish: one branch, one draft MR, a commit per changed draft', async () => {
    const { run, announced } = subscriber([target]);
    const first = await run(effect('gl', 1));
    expect(gl.mergeRequests).toHaveLength(1);
    const mr = gl.mergeRequests[0];
    expect(mr).toMatchObject({
      draft: true,
      title: 'Draft: Postmortem INC-42: Search returns empty results',
      source_branch: 'postmortem/inc-42',
      target_branch: 'main',
    });
    expect(mr.description).toContain('https://slack.com/app_redirect?channel=C_INC42&team=T_TEST');
    expect(first?.events?.[0]).toMatchObject({
      provider: 'gitlab',
      number: 1,
      url: mr.web_url,
      path: file,
    });
    expect(announced[0]).toContain('draft merge request');

    await run(effect('gl', 2));
    expect(gl.repo.commitsSince('postmortem/inc-42', 'main')).toHaveLength(1);
    draft = 'second\n';
    await run(effect('gl', 3));
    expect(gl.repo.commitsSince('postmortem/inc-42', 'main')).toHaveLength(2);
    expect(gl.repo.head('postmortem/inc-42')?.files.get(file)).toBe('second\n');
    expect(gl.mergeRequests).toHaveLength(1);
    expect(gl.requests.every((r) => r.headers['private-token'] === 'glpat_test')).toBe(true);
  });

  it('"Branch already exists", "A file with this name already exists" and the 409 on the MR (races) reuse what exists', async () => {
    const { run } = subscriber([target]);
    await run(effect('gl', 1));
    draft = 'changed\n';
    gl.failNext({
      method: 'GET',
      path: /\/repository\/branches\//,
      status: 404,
      body: { message: '404 Branch Not Found' },
    });
    gl.failNext({
      method: 'GET',
      path: /\/repository\/files\//,
      status: 404,
      body: { message: '404 File Not Found' },
    });
    gl.failNext({ method: 'GET', path: /\/merge_requests$/, status: 200, body: [] });
    const out = await run(effect('gl', 2));
    expect(out?.events?.[0]).toMatchObject({ number: 1 });
    expect(gl.mergeRequests).toHaveLength(1);
    expect(gl.repo.head('postmortem/inc-42')?.files.get(file)).toBe('changed\n');
    const posts = gl.requests.filter((r) => r.method === 'POST').map((r) => r.path);
    expect(posts.filter((p) => p.endsWith('/repository/branches'))).toHaveLength(2);
    expect(posts.filter((p) => p.endsWith('/merge_requests'))).toHaveLength(2);
  });

  it('a 503 is retryable; a 403 is permanent', async () => {
    const { run } = subscriber([target]);
    gl.failNext({
      method: 'POST',
      path: /\/merge_requests$/,
      status: 503,
      body: { message: 'unavailable' },
    });
    await expect(run(effect('gl'))).rejects.toBeInstanceOf(RetryableEffectError);
    gl.failNext({
      method: 'POST',
      path: /\/repository\/branches$/,
      status: 403,
      body: { message: '403 Forbidden' },
    });
    const { run: run2 } = subscriber([{ ...target, name: 'gl2', path: 'other/{{number}}.md' }]);
    // The branch already exists from the first run, so force the create path once.
    gl.failNext({
      method: 'GET',
      path: /\/repository\/branches\//,
      status: 404,
      body: { message: '404 Branch Not Found' },
    });
    await expect(run2(effect('gl2'))).rejects.toBeInstanceOf(PermanentEffectError);
  });
});
