/**
 * Paging settings: the responders file (`INCIDENT_RESPONDERS_FILE`, YAML) and the providers'
 * base URLs. The file names responder targets and how to page each; it holds no secret: every
 * key, token and signing secret is the NAME of an environment variable (`routingKeyEnv`,
 * `apiKeyEnv`, `secretEnv`, `tokenEnv`), resolved here at start. Validation lists every problem
 * at once (file path in the document, what is allowed), and messages never contain a secret's
 * value, only the variable's name.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { SEVERITIES, type PagerKind, type Severity } from '../../core/model';

export const PD_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PdSeverity = (typeof PD_SEVERITIES)[number];
export const JSM_PRIORITIES = ['P1', 'P2', 'P3', 'P4', 'P5'] as const;
export type JsmPriority = (typeof JSM_PRIORITIES)[number];

export const DEFAULT_PD_SEVERITY: Record<Severity, PdSeverity> = {
  sev1: 'critical',
  sev2: 'error',
  sev3: 'warning',
  sev4: 'info',
};
export const DEFAULT_JSM_PRIORITY: Record<Severity, JsmPriority> = {
  sev1: 'P1',
  sev2: 'P2',
  sev3: 'P3',
  sev4: 'P4',
};

/** A secret as resolved at start: the value, and the variable it came from (for messages). */
export interface Secret {
  env: string;
  /** Never log or show this. */
  value: string;
}

export type PagerConfig =
  | { kind: 'pagerduty'; routingKey: Secret; severity: Record<Severity, PdSeverity> }
  | {
      kind: 'jsm' | 'opsgenie';
      apiKey: Secret;
      responders: JsmResponder[];
      priority: Record<Severity, JsmPriority>;
    }
  | { kind: 'webhook'; url: string; secret: Secret };

export interface JsmResponder {
  type: 'team' | 'user' | 'escalation' | 'schedule';
  id?: string;
  name?: string;
  username?: string;
}

export interface OncallConfig {
  /** PagerDuty REST API token (read-only is enough). */
  token: Secret;
  escalationPolicy?: string;
  schedule?: string;
}

export interface ResponderTarget {
  name: string;
  description?: string;
  /** Slack user group id (S…) whose members are invited when the target is paged. */
  slackGroup?: string;
  pager: PagerConfig;
  oncall?: OncallConfig;
}

export interface PagingConfig {
  /** Where the targets came from (for the start-up log). */
  file?: string;
  targets: ResponderTarget[];
  pagerdutyEventsUrl: string;
  pagerdutyApiUrl: string;
  jsmApiUrl: string;
  opsgenieApiUrl: string;
  /** PAGING_DRY_RUN=1: pages are recorded and logged, nothing is sent. */
  dryRun: boolean;
  /** PAGERDUTY_WEBHOOK_SECRET: verifies PagerDuty v3 webhooks (acknowledgements). */
  pagerdutyWebhookSecret?: string;
}

export const DEFAULT_URLS = {
  pagerdutyEventsUrl: 'https://events.pagerduty.com',
  pagerdutyApiUrl: 'https://api.pagerduty.com',
  jsmApiUrl: 'https://api.atlassian.com',
  opsgenieApiUrl: 'https://api.opsgenie.com',
} as const;

// ---- the file's schema -------------------------------------------------------------------------

const envName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'must be the NAME of an environment variable (letters, digits, _), not the secret itself',
  );

const severityMap = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .strictObject(
      Object.fromEntries(SEVERITIES.map((s) => [s, z.enum(values).optional()])) as Record<
        Severity,
        z.ZodOptional<z.ZodEnum<{ [K in T]: K }>>
      >,
    )
    .optional();

const pagerSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('pagerduty'),
    routingKeyEnv: envName,
    severity: severityMap(PD_SEVERITIES),
  }),
  z.strictObject({
    kind: z.enum(['jsm', 'opsgenie']),
    apiKeyEnv: envName,
    responders: z
      .array(
        z
          .strictObject({
            type: z.enum(['team', 'user', 'escalation', 'schedule']),
            id: z.string().min(1).optional(),
            name: z.string().min(1).optional(),
            username: z.string().min(1).optional(),
          })
          .refine((r) => r.id || r.name || r.username, {
            message: 'a responder needs an id, a name or (for a user) a username',
          }),
      )
      .max(50)
      .default([]),
    priority: severityMap(JSM_PRIORITIES),
  }),
  z.strictObject({
    kind: z.literal('webhook'),
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    secretEnv: envName,
  }),
]);

const targetSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]{0,39}$/,
      'must be 1-40 lowercase letters, digits, - or _ (it is typed in `/incident page <name>`)',
    ),
  description: z.string().max(200).optional(),
  slackGroup: z
    .string()
    .regex(/^S[A-Z0-9]{2,}$/, 'must be a Slack user group id such as S0123ABCD')
    .optional(),
  pager: pagerSchema,
  oncall: z
    .strictObject({
      pagerduty: z
        .strictObject({
          tokenEnv: envName,
          escalationPolicy: z.string().min(1).optional(),
          schedule: z.string().min(1).optional(),
        })
        .refine((o) => !!o.escalationPolicy !== !!o.schedule, {
          message: 'give exactly one of escalationPolicy or schedule',
        }),
    })
    .optional(),
});

const fileSchema = z.strictObject({
  targets: z.array(targetSchema).min(1, 'list at least one target'),
});

type FileTarget = z.infer<typeof targetSchema>;

export class RespondersConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`INCIDENT_RESPONDERS_FILE:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RespondersConfigError';
  }
}

/** Fields that look like a secret written into the file: refused with a pointer to *Env. */
const SECRET_FIELDS: Record<string, string> = {
  routingKey: 'routingKeyEnv',
  integrationKey: 'routingKeyEnv',
  apiKey: 'apiKeyEnv',
  secret: 'secretEnv',
  signingSecret: 'secretEnv',
  token: 'tokenEnv',
};

/**
 * Parses and validates the responders file's text; resolves secret references from `env`.
 * @throws RespondersConfigError with every problem found.
 */
export function parseResponders(
  text: string,
  env: Record<string, string | undefined>,
): ResponderTarget[] {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) {
    throw new RespondersConfigError(doc.errors.map((e) => `not valid YAML: ${e.message}`));
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    throw new RespondersConfigError(['the file is empty; it needs a `targets:` list']);
  }
  const problems: string[] = [];
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = pathText(issue.path, data);
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          const ref = SECRET_FIELDS[k];
          problems.push(
            ref
              ? `${where}.${k}: secrets never go in this file; put it in an environment variable and write its name as ${ref}`
              : `${where}: unknown field "${k}"`,
          );
        }
      } else {
        problems.push(`${where}: ${issue.message}`);
      }
    }
    throw new RespondersConfigError(problems);
  }

  const seen = new Set<string>();
  const targets: ResponderTarget[] = [];
  parsed.data.targets.forEach((t, i) => {
    const where = `targets[${i}] (${t.name})`;
    if (seen.has(t.name)) problems.push(`${where}: the name "${t.name}" is used twice`);
    seen.add(t.name);
    const secret = (field: string, name: string): Secret => {
      const value = env[name]?.trim();
      if (!value) {
        problems.push(
          `${where}: ${field} names the environment variable ${name}, which is not set`,
        );
      }
      return { env: name, value: value ?? '' };
    };
    targets.push(resolveTarget(t, secret));
  });
  if (problems.length) throw new RespondersConfigError(problems);
  return targets;
}

function resolveTarget(
  t: FileTarget,
  secret: (field: string, name: string) => Secret,
): ResponderTarget {
  const p = t.pager;
  let pager: PagerConfig;
  switch (p.kind) {
    case 'pagerduty':
      pager = {
        kind: 'pagerduty',
        routingKey: secret('pager.routingKeyEnv', p.routingKeyEnv),
        severity: { ...DEFAULT_PD_SEVERITY, ...definedOnly(p.severity) },
      };
      break;
    case 'jsm':
    case 'opsgenie':
      pager = {
        kind: p.kind,
        apiKey: secret('pager.apiKeyEnv', p.apiKeyEnv),
        responders: p.responders,
        priority: { ...DEFAULT_JSM_PRIORITY, ...definedOnly(p.priority) },
      };
      break;
    case 'webhook':
      pager = { kind: 'webhook', url: p.url, secret: secret('pager.secretEnv', p.secretEnv) };
      break;
  }
  const pd = t.oncall?.pagerduty;
  return {
    name: t.name,
    ...(t.description ? { description: t.description } : {}),
    ...(t.slackGroup ? { slackGroup: t.slackGroup } : {}),
    pager,
    ...(pd
      ? {
          oncall: {
            token: secret('oncall.pagerduty.tokenEnv', pd.tokenEnv),
            ...(pd.escalationPolicy ? { escalationPolicy: pd.escalationPolicy } : {}),
            ...(pd.schedule ? { schedule: pd.schedule } : {}),
          },
        }
      : {}),
  };
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(
    Object.entries(o ?? {}).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

/** `targets[1] (payments).pager.url` — the target's name helps find it in a long file. */
function pathText(path: readonly PropertyKey[], data: unknown): string {
  if (path.length === 0) return 'the file';
  let out = '';
  for (const [i, seg] of path.entries()) {
    if (typeof seg === 'number') {
      out += `[${seg}]`;
      if (i === 1 && path[0] === 'targets') {
        const name = (data as { targets?: { name?: unknown }[] })?.targets?.[seg]?.name;
        if (typeof name === 'string') out += ` (${name})`;
      }
    } else {
      out += out ? `.${String(seg)}` : String(seg);
    }
  }
  return out;
}

/** Reads the responders file (a missing or unreadable file is one clear problem). */
export function loadResponders(
  file: string,
  env: Record<string, string | undefined>,
): ResponderTarget[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new RespondersConfigError([
      code === 'ENOENT'
        ? `${file} does not exist`
        : `${file} could not be read (${String(code ?? err)})`,
    ]);
  }
  return parseResponders(text, env);
}

/** The target by name (case-insensitive). */
export function findTarget(cfg: PagingConfig, name: string): ResponderTarget | undefined {
  const n = name.trim().toLowerCase();
  return cfg.targets.find((t) => t.name === n);
}

/** Which pager kinds are configured (for the startup log; no secrets). */
export function describePaging(cfg: PagingConfig): Record<string, unknown> {
  return {
    file: cfg.file,
    targets: cfg.targets.map(
      (t) => `${t.name} (${t.pager.kind}${t.oncall ? ', on-call lookup' : ''})`,
    ),
    dryRun: cfg.dryRun || undefined,
    pagerdutyWebhook: cfg.pagerdutyWebhookSecret ? 'verified' : undefined,
  };
}

export type { PagerKind };
