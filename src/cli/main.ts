/**
 * The `incident-bot` command line: list incidents, export one (Markdown draft or full JSON),
 * import a Slack export. Bad arguments or an unknown incident: a clear message, non-zero exit.
 */
import { writeFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { DateTime } from 'luxon';
import { IncidentError } from '../app/errors';
import { exportIncident } from '../app/export';
import { IncidentService } from '../app/service';
import { formatIncidentNumber, OPEN_STATUSES, parseIncidentNumber } from '../core/model';
import { createRenderer } from '../render/postmortem';
import { openStore } from '../store';
import type { IncidentStore } from '../store/store';

export interface CliIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
}

class CliError extends Error {}

const defaultIO = (): CliIO => {
  loadDotenv({ quiet: true });
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
};

export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  if (argv[0] === 'import') {
    const { runImportCommand } = await import('../import/cli');
    return runImportCommand(argv.slice(1), io);
  }
  let exitCode = 0;
  const program = new Command('incident-bot')
    .description('incident-bot: incidents recorded by the Slack bot, from the command line')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run `incident-bot --help` for usage)')
    .option('--data-dir <dir>', 'SQLite data directory (default: INCIDENT_DATA_DIR or ./data)')
    .option('--team <id>', 'Slack workspace id, when several workspaces share the store');

  program
    .command('import')
    .description(
      'import a Slack export: incident-bot import <export dir or .zip> --channel <name> [--title …] [--zone …]',
    );

  program
    .command('list')
    .description('list incidents')
    .addOption(
      new Option('--status <status>', 'which incidents')
        .choices(['open', 'closed', 'all'])
        .default('all'),
    )
    .action(async (opts: { status: 'open' | 'closed' | 'all' }) => {
      await withStore(program, io, async (store) => {
        const status =
          opts.status === 'open'
            ? OPEN_STATUSES
            : opts.status === 'closed'
              ? (['closed'] as const)
              : undefined;
        const team = program.opts<{ team?: string }>().team;
        const rows = await store.listIncidents({
          ...(status ? { status } : {}),
          ...(team ? { team } : {}),
        });
        if (rows.length === 0) {
          io.stdout.write(`No ${opts.status === 'all' ? '' : `${opts.status} `}incidents.\n`);
          return;
        }
        const lines = rows.map((r) =>
          [
            formatIncidentNumber(r.number).padEnd(8),
            r.severity.toUpperCase().padEnd(5),
            r.status.padEnd(13),
            r.createdAt.toUTC().toFormat("yyyy-MM-dd HH:mm 'UTC'").padEnd(21),
            r.title,
          ].join(' '),
        );
        io.stdout.write(
          `${['INCIDENT', 'SEV  ', 'STATUS       ', 'OPENED               ', 'TITLE'].join(' ')}\n`,
        );
        io.stdout.write(`${lines.join('\n')}\n`);
      });
    });

  program
    .command('export')
    .description('export an incident: the draft postmortem (md) or the full record (json)')
    .argument('<incident>', 'incident number, e.g. INC-7')
    .addOption(
      new Option('--format <format>', 'output format').choices(['md', 'json']).default('md'),
    )
    .option('--template <name|path>', 'postmortem template name or path (md only)')
    .option('--out <file>', 'write to a file instead of standard output')
    .action(
      async (ref: string, opts: { format: 'md' | 'json'; template?: string; out?: string }) => {
        const number = parseIncidentNumber(ref);
        if (number === undefined) {
          throw new CliError(`"${ref}" is not an incident number; write it like INC-7.`);
        }
        await withStore(program, io, async (store) => {
          const team = await resolveTeam(store, program.opts<{ team?: string }>().team, number);
          const service = new IncidentService({
            store,
            render: createRenderer({ templateDir: io.env.POSTMORTEM_TEMPLATE_DIR }),
            defaultTemplate: io.env.POSTMORTEM_TEMPLATE || 'default',
            clock: () => DateTime.utc(),
          });
          const incident = await service.findByNumber(team, number);
          if (!incident)
            throw new CliError(`No incident ${formatIncidentNumber(number)} in this store.`);
          const output =
            opts.format === 'json'
              ? `${JSON.stringify(exportIncident(incident), null, 2)}\n`
              : (await service.draftPostmortem(incident, opts.template)).markdown;
          if (opts.out) {
            writeFileSync(opts.out, output);
            io.stderr.write(
              `Wrote ${formatIncidentNumber(number)} (${opts.format}) to ${opts.out}\n`,
            );
          } else {
            io.stdout.write(output);
          }
        });
      },
    );

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    exitCode = reportError(err, io);
  }
  return exitCode;
}

async function withStore(
  program: Command,
  io: CliIO,
  fn: (store: IncidentStore) => Promise<void>,
): Promise<void> {
  const dataDir =
    program.opts<{ dataDir?: string }>().dataDir ?? io.env.INCIDENT_DATA_DIR ?? './data';
  const store = await openStore({
    mongodbUri: io.env.MONGODB_URI || undefined,
    dataDir,
    env: io.env,
  });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

/** Numbers are per workspace: pick the team, or ask for --team when it is ambiguous. */
async function resolveTeam(
  store: IncidentStore,
  team: string | undefined,
  number: number,
): Promise<string> {
  if (team) return team;
  const teams = await store.listTeams();
  const having: string[] = [];
  for (const t of teams) if (await store.findByNumber(t, number)) having.push(t);
  if (having.length === 0)
    throw new CliError(`No incident ${formatIncidentNumber(number)} in this store.`);
  if (having.length > 1) {
    throw new CliError(
      `${formatIncidentNumber(number)} exists in several workspaces (${having.join(', ')}); choose one with --team.`,
    );
  }
  return having[0];
}

function reportError(err: unknown, io: CliIO): number {
  if (err instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof CliError || err instanceof IncidentError) {
    io.stderr.write(`incident-bot: ${err.message}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`incident-bot: ${message}\n`);
  return 1;
}
