import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config';
import {
  parseResponders,
  RespondersConfigError,
  type ResponderTarget,
} from '../../src/integrations/paging/config';

const ENV = {
  PD_PAYMENTS: 'a'.repeat(32),
  PD_TOKEN: 'pd-rest-token-1234',
  JSM_KEY: 'jsm-key-5678',
  HOOK_SECRET: 'hook-secret-9012',
};

const GOOD = `
targets:
  - name: payments
    description: Payments on-call
    slackGroup: S0PAYMENTS
    pager:
      kind: pagerduty
      routingKeyEnv: PD_PAYMENTS
      severity: { sev3: error }
    oncall:
      pagerduty:
        tokenEnv: PD_TOKEN
        escalationPolicy: PEP1234
  - name: dba
    pager:
      kind: jsm
      apiKeyEnv: JSM_KEY
      responders:
        - { type: team, name: database }
  - name: legacy-ops
    pager:
      kind: opsgenie
      apiKeyEnv: JSM_KEY
  - name: status-page
    pager:
      kind: webhook
      url: https://hooks.example.com/page
      secretEnv: HOOK_SECRET
`;

function problems(text: string, env: Record<string, string> = ENV): string[] {
  try {
    parseResponders(text, env);
  } catch (err) {
    if (err instanceof RespondersConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the file to be refused');
}

describe('responders file', () => {
  test('a valid file: every pager kind, secrets resolved from the environment, defaults filled', () => {
    const targets = parseResponders(GOOD, ENV);
    expect(targets.map((t) => `${t.name}:${t.pager.kind}`)).toEqual([
      'payments:pagerduty',
      'dba:jsm',
      'legacy-ops:opsgenie',
      'status-page:webhook',
    ]);
    const pd = targets[0] as ResponderTarget & { pager: { kind: 'pagerduty' } };
    expect(pd.pager.routingKey).toEqual({ env: 'PD_PAYMENTS', value: ENV.PD_PAYMENTS });
    // The map given overrides one severity; the rest keep the defaults.
    expect(pd.pager.severity).toEqual({
      sev1: 'critical',
      sev2: 'error',
      sev3: 'error',
      sev4: 'info',
    });
    expect(pd.oncall).toEqual({
      token: { env: 'PD_TOKEN', value: ENV.PD_TOKEN },
      escalationPolicy: 'PEP1234',
    });
    expect(pd.slackGroup).toBe('S0PAYMENTS');
    const jsm = targets[1];
    expect(jsm.pager).toMatchObject({
      kind: 'jsm',
      responders: [{ type: 'team', name: 'database' }],
      priority: { sev1: 'P1', sev2: 'P2', sev3: 'P3', sev4: 'P4' },
    });
    expect(targets[3].pager).toMatchObject({
      kind: 'webhook',
      url: 'https://hooks.example.com/page',
    });
  });

  test('every problem is listed at once, with where it is, and no secret value in any message', () => {
    const text = `
targets:
  - name: Payments Team
    pager:
      kind: pagerduty
      routingKeyEnv: PD_MISSING
      severity: { sev1: urgent }
  - name: dba
    pager:
      kind: jsm
      apiKey: ${ENV.JSM_KEY}
  - name: hook
    pager:
      kind: webhook
      url: ftp://example.com
      secretEnv: HOOK_SECRET
    oncall:
      pagerduty:
        tokenEnv: PD_TOKEN
  - name: hook
    pager: { kind: carrier-pigeon }
`;
    const p = problems(text);
    const all = p.join('\n');
    expect(all).toContain('targets[0] (Payments Team).name: must be 1-40 lowercase letters');
    expect(all).toContain('targets[0] (Payments Team).pager.severity.sev1');
    expect(all).toContain(
      'targets[1] (dba).pager.apiKey: secrets never go in this file; put it in an environment variable and write its name as apiKeyEnv',
    );
    expect(all).toContain('targets[1] (dba).pager.apiKeyEnv');
    expect(all).toContain('targets[2] (hook).pager.url: must be an http(s) URL');
    expect(all).toContain(
      'targets[2] (hook).oncall.pagerduty: give exactly one of escalationPolicy or schedule',
    );
    expect(all).toContain('targets[3] (hook).pager.kind');
    expect(p.length).toBeGreaterThanOrEqual(7);
    expect(all).not.toContain(ENV.JSM_KEY);
  });

  test('references to unset variables and a repeated name are reported after the shape is valid', () => {
    const text = `
targets:
  - name: a
    pager: { kind: pagerduty, routingKeyEnv: PD_NOPE }
  - name: a
    pager: { kind: webhook, url: 'http://127.0.0.1:9/x', secretEnv: ALSO_NOPE }
`;
    expect(problems(text)).toEqual([
      'targets[0] (a): pager.routingKeyEnv names the environment variable PD_NOPE, which is not set',
      'targets[1] (a): the name "a" is used twice',
      'targets[1] (a): pager.secretEnv names the environment variable ALSO_NOPE, which is not set',
    ]);
  });

  test('broken YAML and an empty file are clear errors', () => {
    expect(problems('targets: [\n  - name: x')[0]).toMatch(/^not valid YAML: /);
    expect(problems('')).toEqual(['the file is empty; it needs a `targets:` list']);
    expect(problems('targets: []')[0]).toContain('list at least one target');
  });

  test('parseConfig loads the file and lists its problems with the other settings', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'responders-'));
    try {
      const file = path.join(dir, 'responders.yml');
      writeFileSync(file, GOOD);
      const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', ...ENV };
      const ok = parseConfig({
        ...base,
        INCIDENT_RESPONDERS_FILE: file,
        PAGERDUTY_EVENTS_URL: 'http://127.0.0.1:9999/',
        PAGING_DRY_RUN: '1',
      });
      if (!ok.ok) throw new Error(ok.errors.join('\n'));
      expect(ok.config.paging.targets).toHaveLength(4);
      expect(ok.config.paging.pagerdutyEventsUrl).toBe('http://127.0.0.1:9999');
      expect(ok.config.paging.pagerdutyApiUrl).toBe('https://api.pagerduty.com');
      expect(ok.config.paging.jsmApiUrl).toBe('https://api.atlassian.com');
      expect(ok.config.paging.dryRun).toBe(true);

      const bad = parseConfig({
        ...base,
        PD_PAYMENTS: '',
        INCIDENT_RESPONDERS_FILE: file,
        JSM_API_URL: 'not a url',
        PAGING_DRY_RUN: 'maybe',
      });
      expect(bad.ok).toBe(false);
      const errors = bad.ok ? [] : bad.errors;
      expect(errors).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^JSM_API_URL must be an http\(s\) URL/),
          expect.stringMatching(/^PAGING_DRY_RUN must be 1 or 0/),
          'INCIDENT_RESPONDERS_FILE targets[0] (payments): pager.routingKeyEnv names the environment variable PD_PAYMENTS, which is not set',
        ]),
      );
      const missing = parseConfig({
        ...base,
        INCIDENT_RESPONDERS_FILE: path.join(dir, 'nope.yml'),
      });
      expect(missing.ok ? [] : missing.errors).toEqual([
        `INCIDENT_RESPONDERS_FILE ${path.join(dir, 'nope.yml')} does not exist`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without a responders file there are no targets and paging is off', () => {
    const r = parseConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' });
    expect(r.ok && r.config.paging.targets).toEqual([]);
  });
});
