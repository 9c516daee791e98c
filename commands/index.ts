/**
 * The `/incident` subcommands. The Slack dispatcher looks commands up here; `help` is generated
 * from this registry, so a new module shows up in the help by being listed below.
 */
import { PERMISSIONS_HELP } from '../src/app/permissions';
import type { CommandModule } from '../src/slack/ports';
import { actionCommand } from './action';
import { closeCommand } from './close';
import { confirmCommand } from './confirm';
import { escalateCommand } from './escalate';
import { createHelpCommand } from './help';
import { hypothesisCommand } from './hypothesis';
import { impactCommand } from './impact';
import { insightsCommand } from './insights';
import { kindCommand } from './kind';
import { listCommand } from './list';
import { logCommand } from './log';
import { pageCommand } from './page';
import { postmortemCommand } from './postmortem';
import { resolveCommand } from './resolve';
import { roleCommand } from './role';
import { rootCauseCommand } from './rootCause';
import { ruleOutCommand } from './ruleOut';
import { severityCommand } from './severity';
import { startCommand } from './start';
import { statusCommand } from './status';
import { timelineCommand } from './timeline';

export const registry: CommandModule[] = [
  startCommand,
  logCommand,
  hypothesisCommand,
  ruleOutCommand,
  confirmCommand,
  rootCauseCommand,
  escalateCommand,
  pageCommand,
  severityCommand,
  statusCommand,
  roleCommand,
  impactCommand,
  actionCommand,
  resolveCommand,
  closeCommand,
  postmortemCommand,
  timelineCommand,
  listCommand,
  kindCommand,
  insightsCommand,
  createHelpCommand(() => helpText()),
];

/** By name or alias, case-insensitive. */
export function findCommand(name: string): CommandModule | undefined {
  const n = name.trim().toLowerCase();
  if (!n) return undefined;
  return registry.find((m) => m.name === n || (m.aliases ?? []).includes(n));
}

/** Every usage line with its summary, plus how times are written. */
export function helpText(): string {
  const width = Math.max(...registry.map((m) => m.usage.length));
  const lines = registry.map((m) => `/incident ${m.usage.padEnd(width)}  ${m.summary}`);
  return [
    '*Incident commands*',
    '```',
    ...lines,
    '```',
    'A `[time]` is when it happened (default: now): `14:20`, `2:20pm`, `2025-02-28 14:20`, or with a zone: `14:20 PDT`, `14:20 UTC`, `14:20 Europe/London`. A time without a zone is read in your Slack time zone. CST, IST and BST have several meanings: they are read in the one your Slack time zone uses, otherwise refused (write an IANA zone such as `America/Chicago` instead). Times in the future are refused.',
    '`start` also takes `sev1`…`sev4` (default sev3), in any order with the time.',
    '`root-cause`, `severity`, `status`, `role`, `impact` and `action` also take a leading `[time]`; for `impact [time] <text>` it is when the impact STARTED (for time to detect).',
    `Who may: ${PERMISSIONS_HELP}`,
  ].join('\n');
}
