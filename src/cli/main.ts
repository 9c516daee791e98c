/**
 * The `incident-bot` command line: list incidents, export one (Markdown draft or full JSON),
 * import a Slack export. Bad arguments or an unknown incident: a clear message, non-zero exit.
 *
 * Output is never cut short: what a command prints goes through `writeFully`, which resolves only
 * once a Node stream has handed every byte to the OS (pipes are asynchronous in Node), and `run`
 * (what bin/incident-bot.js calls) waits for stdout and stderr to drain before it exits.
 */
import { writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
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

/** Where output goes: a Node stream (process.stdout) or anything with `write` (tests). */
export interface CliOut {
  write(s: string | Uint8Array, cb?: (err?: Error | null) => void): unknown;
}

export interface CliIO {
  stdout: CliOut;
  stderr: CliOut;
  env: Record<string, string | undefined>;
}

/** Bytes handed to a Node stream per write; the next slice waits for 'drain' when it is full. */
const WRITE_SLICE_BYTES = 64 * 1024;

function isNodeWritable(out: CliOut): out is CliOut & Writable {
  const w = out as Partial<Writable>;
  return typeof w.once === 'function' && typeof w.writableLength === 'number';
}

/**
 * Writes all of `text` and resolves once it is delivered: for a Node stream, when the write
 * callback of its last slice has run (the bytes left the process; an error such as EPIPE
 * rejects), respecting backpressure between slices; for any other `write`, right away. The text
 * is sliced as UTF-8 bytes, so no character is split into two writes.
 */
export async function writeFully(out: CliOut, text: string): Promise<void> {
  if (!isNodeWritable(out)) {
    out.write(text);
    return;
  }
  const bytes = Buffer.from(text, 'utf8');
  let at = 0;
  do {
    const end = Math.min(at + WRITE_SLICE_BYTES, bytes.length);
    const slice = bytes.subarray(at, end);
    const last = end === bytes.length;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err?: Error | null) => {
        if (settled) return;
        settled = true;
        out.off('error', onError);
        out.off('drain', onDrain);
        if (err) reject(err);
        else resolve();
      };
      const onError = (err: Error) => done(err);
      const onDrain = () => done();
      out.once('error', onError);
      // The last slice waits for its own callback (delivered); the others only for room.
      const room = out.write(slice, last ? done : undefined);
      if (!last) {
        if (room) done();
        else out.once('drain', onDrain);
      }
    });
    at = end;
  } while (at < bytes.length);
}

/** Resolves once everything already written to `out` has been delivered. */
function drained(out: CliOut): Promise<void> {
  return writeFully(out, '').catch(() => undefined);
}

/**
 * The process entry (bin/incident-bot.js): runs `main`, waits until stdout and stderr are
 * drained, then exits with main's code. A closed pipe (EPIPE, e.g. `| head`) ends the command
 * with exit code 1 and a message on stderr instead of a crash.
 */
export async function run(argv: string[]): Promise<never> {
  // Without a listener an EPIPE would be thrown as an uncaught error; writeFully reports it.
  process.stdout.on('error', () => undefined);
  let code: number;
  try {
    code = await main(argv);
  } catch (err) {
    process.stderr.write(`incident-bot: ${err instanceof Error ? err.message : String(err)}\n`);
    code = 1;
  }
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
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
  if (argv[0] === 'migrate') {
    const { runMigrateCommand } = await import('./migrate');
    return runMigrateCommand(argv.slice(1), io);
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
    .command('migrate')
    .description(
      'copy every incident to another store: incident-bot migrate --from <sqlite file | mongodb URI> --to <…> [--renumber next|offset]',
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
          await writeFully(
            io.stdout,
            `No ${opts.status === 'all' ? '' : `${opts.status} `}incidents.\n`,
          );
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
        await writeFully(
          io.stdout,
          `${['INCIDENT', 'SEV  ', 'STATUS       ', 'OPENED               ', 'TITLE'].join(' ')}\n${lines.join('\n')}\n`,
        );
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
            await writeFully(io.stdout, output);
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
