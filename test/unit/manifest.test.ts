/**
 * manifest.yml is a valid Slack app manifest (the slackapi/manifest-schema JSON schema), its
 * `/incident` usage hint and the help list every subcommand, and its bot scopes cover every Web
 * API method the bot calls and every event it subscribes to.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { helpText, registry } from '../../commands';
import { SCOPES_FOR_METHOD, WEB_API_METHODS_USED } from '../../src/slack/webOps';

const root = path.resolve(__dirname, '../..');
// Beside the checkout (/work/main → /work/shared), or one level up from a worktree (/work/wt/x).
const schemaDir =
  ['../shared/slack', '../../shared/slack']
    .map((d) => path.resolve(root, d))
    .find((d) => existsSync(path.join(d, 'manifest.schema.json'))) ??
  path.resolve(root, '../shared/slack');

interface Manifest {
  _metadata?: { major_version?: number };
  display_information: { name: string };
  features: {
    bot_user: { display_name: string };
    slash_commands: {
      command: string;
      url?: string;
      usage_hint?: string;
      should_escape?: boolean;
    }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { request_url?: string; bot_events: string[] };
    interactivity: { is_enabled: boolean; request_url?: string };
    org_deploy_enabled: boolean;
    socket_mode_enabled: boolean;
  };
}

function loadJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(schemaDir, file), 'utf8')) as Record<string, unknown>;
}

/** The top schema dispatches to the versioned ones by these $ref URLs. */
function refUrls(schema: unknown): string[] {
  const text = JSON.stringify(schema);
  return [...new Set([...text.matchAll(/"\$ref":"(https:[^"]+)"/g)].map((m) => m[1]))];
}

function compileValidator(): ValidateFunction {
  // Formats ("uri" on $schema only) need ajv-formats, which is not a dependency: not checked.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const top = loadJson('manifest.schema.json');
  for (const url of refUrls(top)) {
    const version = /manifest\.schema\.(\d+\.\d+\.\d+)\.json$/.exec(url)?.[1];
    if (!version) throw new Error(`unexpected $ref ${url}`);
    ajv.addSchema(loadJson(`manifest.schema.${version}.json`), url);
  }
  return ajv.compile(top);
}

const manifest = parse(readFileSync(path.join(root, 'manifest.yml'), 'utf8')) as Manifest;
const validate = compileValidator();

describe('manifest.yml', () => {
  it('validates against the Slack app manifest schema', () => {
    const ok = validate(manifest);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema really checks: a broken manifest is rejected', () => {
    const broken = structuredClone(manifest) as unknown as Record<string, unknown>;
    (broken.features as Record<string, unknown>).slash_commands = [
      { command: 'incident', description: 'missing slash' },
    ];
    expect(validate(broken)).toBe(false);
    const extra = { ...structuredClone(manifest), settings: { ...manifest.settings, bogus: 1 } };
    expect(validate(extra)).toBe(false);
  });

  it('declares /incident escaped, with interactivity on and Socket Mode off', () => {
    const cmd = manifest.features.slash_commands.find((c) => c.command === '/incident');
    expect(cmd).toBeDefined();
    expect(cmd?.should_escape).toBe(true);
    expect(cmd?.url).toBe('https://example.com/slack/events');
    expect(manifest.features.bot_user.display_name).toBeTruthy();
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.settings.org_deploy_enabled).toBe(false);
  });

  it('lists every subcommand in the usage hint and in the help', () => {
    const hint = manifest.features.slash_commands[0].usage_hint ?? '';
    const words = new Set(hint.split(/[\s|,]+/).filter(Boolean));
    const help = helpText();
    expect(registry.length).toBeGreaterThan(5);
    for (const m of registry) {
      expect({ command: m.name, inHint: words.has(m.name) }).toEqual({
        command: m.name,
        inHint: true,
      });
      expect(help).toContain(m.name);
    }
    // And nothing in the hint that is not a command.
    for (const w of words) expect(registry.map((m) => m.name)).toContain(w);
  });

  it('WEB_API_METHODS_USED lists every Web API method called in src/ and commands/', () => {
    const called = new Set<string>(['auth.test']); // Bolt's start-up token check
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? walk(path.join(dir, e.name))
          : e.name.endsWith('.ts')
            ? [path.join(dir, e.name)]
            : [],
      );
    for (const file of [...walk(path.join(root, 'src')), ...walk(path.join(root, 'commands'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bclient\.((?:[a-z][A-Za-z]*\.)+[a-zA-Z]+)\(/g))
        called.add(m[1]);
      for (const m of text.matchAll(/apiCall\(\s*'([a-zA-Z.]+)'/g)) called.add(m[1]);
      if (/\bfilesUploadV2\(/.test(text)) {
        called.add('files.getUploadURLExternal');
        called.add('files.completeUploadExternal');
      }
    }
    expect(called.size).toBeGreaterThan(10);
    expect([...called].filter((m) => !WEB_API_METHODS_USED.includes(m))).toEqual([]);
    // And nothing listed that nothing calls.
    expect(WEB_API_METHODS_USED.filter((m) => !called.has(m))).toEqual([]);
  });

  it('has bot scopes for every Web API method the bot calls', () => {
    const scopes = new Set(manifest.oauth_config.scopes.bot);
    expect(WEB_API_METHODS_USED.length).toBeGreaterThan(10);
    for (const method of WEB_API_METHODS_USED) {
      const needed = SCOPES_FOR_METHOD[method];
      expect({ method, known: needed !== undefined }).toEqual({ method, known: true });
      const missing = (needed ?? []).filter((s) => !scopes.has(s));
      expect({ method, missing }).toEqual({ method, missing: [] });
    }
  });

  it('subscribes to every event the app listens for (app.event in src/slack)', () => {
    const events = new Set(manifest.settings.event_subscriptions.bot_events);
    const dir = path.join(root, 'src/slack');
    const listened = new Set<string>();
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      for (const m of text.matchAll(/app\.(?:event|message)\(\s*'([a-z_]+)'/g)) listened.add(m[1]);
    }
    expect(listened.size).toBeGreaterThan(0);
    for (const e of listened) {
      const wanted = e === 'message' ? ['message.channels', 'message.groups'] : [e];
      expect({ e, missing: wanted.filter((w) => !events.has(w)) }).toEqual({ e, missing: [] });
    }
  });

  it('has bot scopes for every event it subscribes to, and the slash command scope', () => {
    const scopes = new Set(manifest.oauth_config.scopes.bot);
    for (const ev of manifest.settings.event_subscriptions.bot_events) {
      const needed = SCOPES_FOR_METHOD[`event:${ev}`];
      expect({ ev, known: needed !== undefined }).toEqual({ ev, known: true });
      const missing = (needed ?? []).filter((s) => !scopes.has(s));
      expect({ ev, missing }).toEqual({ ev, missing: [] });
    }
    expect(scopes.has('commands')).toBe(true);
  });

  it('asks for no scope the bot does not use', () => {
    const used = new Set(
      [
        ...WEB_API_METHODS_USED,
        ...manifest.settings.event_subscriptions.bot_events.map((e) => `event:${e}`),
        'command:/incident',
      ].flatMap((k) => SCOPES_FOR_METHOD[k] ?? []),
    );
    const unused = manifest.oauth_config.scopes.bot.filter((s) => !used.has(s));
    expect(unused).toEqual([]);
  });
});
