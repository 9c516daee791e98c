/**
 * `incident-bot import <export dir or .zip> --channel <name> [options]`: builds an incident from
 * one channel of a Slack workspace export (see importer.ts) in the configured store (MongoDB when
 * MONGODB_URI is set, else SQLite under --data-dir / INCIDENT_DATA_DIR / ./data).
 *
 * Exit codes: 0 imported (or nothing new), 1 the export or the store failed, 2 bad arguments.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DateTime, IANAZone } from 'luxon';
import { EmojiConfigError, parseEmojiConfig } from '../app/capture';
import { IncidentError } from '../app/errors';
import { IncidentService } from '../app/service';
import { formatIncidentNumber, isSeverity, type Severity } from '../core/model';
import { describeStore, openStore } from '../store';
import { importSlackExport, type ImportResult } from './importer';
import { SlackExportError } from './slackExport';

/** Same shape as the CLI's IO (src/cli/main.ts). */
export interface ImportIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
}

interface ImportFlags {
  channel: string;
  title?: string;
  zone?: string;
  severity?: Severity;
  team?: string;
  dataDir?: string;
  detected?: string;
}

const USAGE_EXIT = 2;
const FAILURE_EXIT = 1;

/**
 * Runs `incident-bot import …`; `argv` is what follows `import`. Never throws: every failure is
 * a message on stderr and a non-zero exit code.
 */
export async function runImportCommand(argv: string[], io: ImportIO): Promise<number> {
  let exitCode = 0;
  const program = new Command('incident-bot import')
    .description(
      'Build an incident from one channel of a Slack workspace export (a folder or the .zip Slack gives you).',
    )
    .argument('<export>', 'the export directory or .zip')
    .requiredOption('--channel <name>', 'the incident channel, by name (#optional) or id')
    .option('--title <text>', "incident title (default: the channel's purpose or topic)")
    .addOption(
      new Option(
        '--zone <iana>',
        'time zone for display (default: INCIDENT_TIMEZONE or UTC)',
      ).argParser(parseZone),
    )
    .addOption(
      new Option('--severity <sevN>', 'severity, sev1 … sev4 (default: sev3)').argParser(
        parseSeverity,
      ),
    )
    .option(
      '--detected <time>',
      'when the incident was detected, ISO 8601 ("2025-03-11T14:02", in --zone unless it has an offset); default: the first alert, else the first human message',
    )
    .option('--team <id>', "workspace id (default: the export's, else T_IMPORT)")
    .option('--data-dir <dir>', 'SQLite data directory (default: INCIDENT_DATA_DIR or ./data)')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run `incident-bot import --help` for usage)')
    .action(async (source: string, flags: ImportFlags) => {
      exitCode = await run(source, flags, io);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help exits 0; usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : USAGE_EXIT;
    }
    io.stderr.write(`incident-bot import: ${message(err)}\n`);
    return FAILURE_EXIT;
  }
  return exitCode;
}

async function run(source: string, flags: ImportFlags, io: ImportIO): Promise<number> {
  let emoji;
  try {
    emoji = parseEmojiConfig(io.env.INCIDENT_EMOJI);
  } catch (err) {
    if (err instanceof EmojiConfigError) {
      io.stderr.write(`incident-bot import: ${err.message}\n`);
      return USAGE_EXIT;
    }
    throw err;
  }
  const envZone = io.env.INCIDENT_TIMEZONE?.trim();
  const zone = flags.zone ?? (envZone && IANAZone.isValidZone(envZone) ? envZone : 'UTC');
  let detectedAt: DateTime | undefined;
  if (flags.detected !== undefined) {
    detectedAt = DateTime.fromISO(flags.detected.trim().replace(' ', 'T'), { zone });
    if (!detectedAt.isValid) {
      io.stderr.write(
        `incident-bot import: --detected "${flags.detected}" is not a time; use ISO 8601 such as 2025-03-11T14:02 or 2025-03-11T14:02-07:00.\n`,
      );
      return USAGE_EXIT;
    }
  }
  const dataDir = flags.dataDir ?? (io.env.INCIDENT_DATA_DIR?.trim() || './data');
  const storeCfg = { mongodbUri: io.env.MONGODB_URI?.trim() || undefined, dataDir, env: io.env };

  let store;
  try {
    store = await openStore(storeCfg);
  } catch (err) {
    io.stderr.write(
      `incident-bot import: cannot open the store (${describeStore(storeCfg)}): ${message(err)}\n`,
    );
    return FAILURE_EXIT;
  }
  try {
    const service = new IncidentService({
      store,
      // The import renders nothing; `incident-bot export` renders the draft.
      render: () => {
        throw new Error('the import does not render postmortems');
      },
      clock: () => DateTime.utc(),
    });
    const result = await importSlackExport(service, {
      source,
      channel: flags.channel,
      title: flags.title,
      zone,
      team: flags.team,
      severity: flags.severity,
      ...(detectedAt ? { detectedAt } : {}),
      emoji,
    });
    const exportFlags = flags.dataDir ? ` --data-dir ${shellQuote(flags.dataDir)}` : '';
    io.stdout.write(report(result, describeStore(storeCfg), exportFlags));
    return 0;
  } catch (err) {
    if (err instanceof SlackExportError || err instanceof IncidentError) {
      io.stderr.write(`incident-bot import: ${err.message}\n`);
      return FAILURE_EXIT;
    }
    io.stderr.write(`incident-bot import: ${message(err)}\n`);
    return FAILURE_EXIT;
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** The summary printed after an import. */
export function formatImportReport(result: ImportResult, where?: string, exportFlags = ''): string {
  return report(result, where, exportFlags);
}

function report(r: ImportResult, where?: string, exportFlags = ''): string {
  const inc = formatIncidentNumber(r.incident.record.number);
  const s = r.incident.state;
  const plural = (n: number, one: string, many = `${one}s`): string =>
    `${n} ${n === 1 ? one : many}`;
  const lines = [
    `Imported #${r.channel.name} as ${inc}: ${plural(r.recorded, 'event')} recorded, ${r.alreadyPresent} already present${r.created ? '' : ` (imported before${where ? `, in ${where}` : ''}; only what is new was added)`}.`,
  ];
  if (r.created && where) lines.push(`  Stored in ${where}.`);
  if (r.skipped > 0) {
    lines.push(
      `  Skipped ${plural(r.skipped, 'bot or channel message')} (alerts, joins, topic changes, …).`,
    );
  }
  const counts = [
    plural(s.messages.length, 'message'),
    plural(s.hypotheses.length, 'hypothesis', 'hypotheses'),
    plural(s.escalations.length, 'escalation'),
    plural(s.actions.length, 'action item'),
    `${s.messages.filter((m) => m.pinned && !m.deleted).length} pinned`,
  ];
  lines.push(`  The record now holds ${counts.join(', ')}.`);
  if (s.detectedAt) {
    lines.push(
      `  Detected ${s.detectedAt.toUTC().toFormat("yyyy-MM-dd HH:mm 'UTC'")} (${r.detectionBasis}).`,
    );
  }
  if (!s.resolvedAt && s.status !== 'closed') {
    lines.push(
      `  Not resolved: a Slack export does not say when service was restored. Record it in #${r.channel.name} with \`/incident resolve <time> [how it was resolved]\`.`,
    );
  }
  for (const w of r.warnings) lines.push(`  Warning: ${w}`);
  lines.push(`Draft postmortem: incident-bot export ${inc}${exportFlags} --out ${inc}.md`);
  return `${lines.join('\n')}\n`;
}

function parseSeverity(value: string): Severity {
  const v = value.trim().toLowerCase();
  if (!isSeverity(v)) throw new InvalidArgumentError('expected sev1, sev2, sev3 or sev4.');
  return v;
}

function parseZone(value: string): string {
  const v = value.trim();
  if (!IANAZone.isValidZone(v)) {
    throw new InvalidArgumentError('expected an IANA time zone such as UTC or Europe/Paris.');
  }
  return v;
}

/** Quotes a path for the hint when it has characters a shell would split or expand. */
function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
