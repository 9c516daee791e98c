/**
 * `npm run demo`: what the bot produces, with no Slack workspace.
 *
 * Imports the sample Slack export (test/fixtures/slack-export, a fictional incident: search
 * results empty after an index alias swap) into a fresh SQLite store in a temporary directory,
 * records the resolution, renders the default draft postmortem, writes it to a file and prints
 * the path and the first lines.
 *
 * The resolution: a Slack export does not say when service was restored, so the demo takes the
 * last message pinned to the timeline (in the sample: "Alias repointed. Zero-result rate
 * falling…", 23:36 UTC) as the restoration, with that message's text as how it was resolved —
 * what an incident commander would record with `/incident resolve`.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { IncidentService } from './app/service';
import { formatIncidentNumber } from './core/model';
import { importSlackExport } from './import/importer';
import { createRenderer } from './render/postmortem';
import { openSqliteStore } from './store/sqlite';

export const DEMO_CHANNEL = 'inc-search-empty-results';
/** How many lines of the draft are printed. */
export const PREVIEW_LINES = 30;

export interface DemoOptions {
  /** Where the demo writes (default: a new directory under the OS temp dir). */
  workDir?: string;
  /** The export to import (default: the repository's sample). */
  exportDir?: string;
  out?: { write(s: string): unknown };
}

export interface DemoResult {
  /** The draft postmortem file. */
  file: string;
  markdown: string;
  /** The SQLite database holding the imported incident. */
  database: string;
}

/** The repository's sample export, from src/ (ts) or dist/src/ (js). */
export function sampleExportDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i += 1) {
    const candidate = path.join(dir, 'test', 'fixtures', 'slack-export');
    if (existsSync(path.join(candidate, 'channels.json'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(
    `The sample Slack export (test/fixtures/slack-export) was not found above ${__dirname}; run the demo from a checkout of the repository.`,
  );
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const out = opts.out ?? process.stdout;
  const exportDir = opts.exportDir ?? sampleExportDir();
  const workDir = opts.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'incident-bot-demo-'));
  const store = openSqliteStore({ dataDir: workDir });
  try {
    const service = new IncidentService({
      store,
      render: createRenderer(),
      clock: () => DateTime.utc(),
    });
    const imported = await importSlackExport(service, { source: exportDir, channel: DEMO_CHANNEL });
    const id = imported.incident.record.id;
    const inc = formatIncidentNumber(imported.incident.record.number);
    const s = imported.incident.state;
    out.write(
      `Imported #${DEMO_CHANNEL} from ${exportDir} as ${inc}: ${imported.recorded} events ` +
        `(${s.messages.length} messages, ${s.hypotheses.length} hypotheses, ` +
        `${s.escalations.length} escalation(s), ${s.actions.length} action items).\n`,
    );

    const fix = [...s.messages]
      .filter((m) => m.pinned && !m.deleted)
      .sort((a, b) => a.at.toMillis() - b.at.toMillis())
      .at(-1);
    if (!fix) throw new Error('the sample export has no pinned message to take as the fix');
    await service.resolve(id, fix.text, {
      actor: { id: fix.user, name: fix.userName ?? fix.user },
      source: 'import',
      at: fix.at,
      key: `demo:resolved:${fix.channel}:${fix.ts}`,
    });
    out.write(
      `Resolved at ${fix.at.toUTC().toFormat("yyyy-MM-dd HH:mm 'UTC'")} (the last pinned message: "${fix.text}").\n`,
    );

    const { markdown, template } = await service.draftPostmortem(id);
    const file = path.join(workDir, `${inc}-postmortem.md`);
    writeFileSync(file, markdown);
    const lines = markdown.split('\n');
    const shown = lines.slice(0, PREVIEW_LINES);
    out.write(`Draft postmortem (${template} template) written to ${file}\n\n`);
    out.write(`${shown.join('\n')}\n`);
    if (lines.length > PREVIEW_LINES) {
      out.write(`\n… ${lines.length - PREVIEW_LINES} more lines in ${file}\n`);
    }
    const database = path.join(workDir, 'incident-bot.sqlite');
    out.write(
      `\nThe incident is stored in ${database}; try: incident-bot list --data-dir ${workDir}\n`,
    );
    return { file, markdown, database };
  } finally {
    await store.close();
  }
}

if (require.main === module) {
  runDemo().catch((err: unknown) => {
    process.stderr.write(
      `demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  });
}
