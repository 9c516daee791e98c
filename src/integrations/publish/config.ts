/**
 * Where postmortems are published: PUBLISH_TARGETS, a YAML (or JSON) list of targets, e.g.
 *
 *   - name: docs                       # what `/incident postmortem publish docs` names
 *     provider: github
 *     repo: acme/postmortems
 *     base: main                       # default main
 *     path: postmortems/{{yyyy}}/{{date}}-inc-{{number}}-{{slug}}.md   # this is the default
 *     tokenEnv: GITHUB_TOKEN           # the environment variable holding the token (default)
 *     apiUrl: https://api.github.com   # default; GitHub Enterprise: https://host/api/v3
 *   - name: wiki
 *     provider: gitlab
 *     project: sre/postmortems         # id or full path
 *     tokenEnv: GITLAB_TOKEN
 *     apiUrl: https://gitlab.com/api/v4
 *
 * Tokens are read from the named variables when the settings are loaded; a missing one is a
 * configuration error naming the variable (never its value).
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const DEFAULT_PATH_TEMPLATE = 'postmortems/{{yyyy}}/{{date}}-inc-{{number}}-{{slug}}.md';

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be a short lowercase name (letters, digits, - or _)');
const common = {
  name,
  base: z.string().min(1).default('main'),
  path: z.string().min(1).default(DEFAULT_PATH_TEMPLATE),
  tokenEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name')
    .optional(),
  apiUrl: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'must be an http(s) URL')
    .optional(),
};
const targetSchema = z.discriminatedUnion('provider', [
  z.object({
    provider: z.literal('github'),
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/repo'),
    ...common,
  }),
  z.object({
    provider: z.literal('gitlab'),
    project: z.union([z.string().min(1), z.number().int().positive()]).transform(String),
    ...common,
  }),
]);

export type PublishTarget =
  | {
      name: string;
      provider: 'github';
      repo: string;
      base: string;
      path: string;
      token: string;
      apiUrl: string;
    }
  | {
      name: string;
      provider: 'gitlab';
      project: string;
      base: string;
      path: string;
      token: string;
      apiUrl: string;
    };

export class PublishConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'PublishConfigError';
  }
}

export function parsePublishTargets(env: Record<string, string | undefined>): PublishTarget[] {
  const raw = (env.PUBLISH_TARGETS ?? '').trim();
  if (!raw) return [];
  let data: unknown;
  try {
    data = parseYaml(raw);
  } catch (err) {
    throw new PublishConfigError([
      `PUBLISH_TARGETS is not valid YAML/JSON: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    ]);
  }
  const parsed = z.array(targetSchema).safeParse(data);
  if (!parsed.success) {
    throw new PublishConfigError(
      parsed.error.issues.map(
        (i) => `PUBLISH_TARGETS ${i.path.join('.') || '(list)'} ${i.message}`,
      ),
    );
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  const targets: PublishTarget[] = [];
  for (const t of parsed.data) {
    if (seen.has(t.name)) problems.push(`PUBLISH_TARGETS: the name "${t.name}" is used twice`);
    seen.add(t.name);
    const tokenEnv = t.tokenEnv ?? (t.provider === 'github' ? 'GITHUB_TOKEN' : 'GITLAB_TOKEN');
    const token = (env[tokenEnv] ?? '').trim();
    if (!token) problems.push(`PUBLISH_TARGETS "${t.name}": ${tokenEnv} (its token) is not set`);
    const apiUrl = (
      t.apiUrl ?? (t.provider === 'github' ? 'https://api.github.com' : 'https://gitlab.com/api/v4')
    ).replace(/\/+$/, '');
    if (t.provider === 'github') {
      targets.push({
        name: t.name,
        provider: 'github',
        repo: t.repo,
        base: t.base,
        path: t.path,
        token,
        apiUrl,
      });
    } else {
      targets.push({
        name: t.name,
        provider: 'gitlab',
        project: t.project,
        base: t.base,
        path: t.path,
        token,
        apiUrl,
      });
    }
  }
  if (problems.length) throw new PublishConfigError(problems);
  return targets;
}
