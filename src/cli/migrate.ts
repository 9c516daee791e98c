/**
 * `incident-bot migrate --from <sqlite file | mongodb URI> --to <…>`: copies every incident (its
 * number, summary, creation time and full record), its latest rendered postmortem and the pending
 * inbox/outbox items from one store to another, through the IncidentStore interface only.
 *
 * What it guarantees:
 * - Idempotent and resumable: each copy carries the incident key `migrate:<source id>`, so a
 *   second run (or a run after an interruption) finds the copies and appends only the events the
 *   copy lacks. Events are copied in order, in chunks each written atomically, so an interrupted
 *   copy holds a prefix of the source record, which the next run completes. Queue items keep
 *   their own idempotency keys (inbox key, pending effect key).
 * - Numbers are kept. When the target already has other incidents with the same numbers, nothing
 *   is written unless `--renumber next` (the target allocates the next free numbers) or
 *   `--renumber offset --offset <n>` (number + n) says how to renumber.
 * - Verified at the end: the number of incidents copied, and each copy's event count, equal the
 *   source's; otherwise the exit code is 1.
 * Run it with the bot stopped: incidents recorded meanwhile in the source are not followed.
 */
import { existsSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { NewEvent, StoredEvent } from '../core/model';
import { eventToJSON } from '../core/serialize';
import type { IncidentRecord, IncidentStore, NewEffect } from '../store/store';

export interface MigrateIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
}

export type Renumber = 'none' | 'next' | 'offset';

export interface MigrateOptions {
  renumber: Renumber;
  offset?: number;
  /** Only this workspace. */
  team?: string;
  /** Events written per atomic append (default 500). */
  chunk?: number;
  log?: (line: string) => void;
}

export interface MigrateReport {
  incidents: number;
  created: number;
  eventsCopied: number;
  postmortemsCopied: number;
  queueItemsCopied: number;
  /** Source incident → copy, with the numbers. */
  copies: { team: string; from: number; to: number; events: number }[];
  mismatches: string[];
}

/** A store's queue items that are still to be processed (optional: adapters that can list them). */
export interface QueueSource {
  pendingQueues(): Promise<{
    inbox: { key: string; kind: string; partition: string; body: string; receivedAt: unknown }[];
    effects: (NewEffect & { incidentId?: string })[];
  }>;
}

export class MigrateRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrateRefusal';
  }
}

export function migrationKey(sourceId: string): string {
  return `migrate:${sourceId}`;
}

function sameEvent(a: StoredEvent, b: StoredEvent): boolean {
  const strip = (e: StoredEvent) => {
    const j = eventToJSON(e) as Record<string, unknown>;
    delete j.seq;
    return JSON.stringify(j);
  };
  return strip(a) === strip(b);
}

function toNew(e: StoredEvent): NewEvent {
  const copy: Record<string, unknown> = { ...e };
  delete copy.seq;
  return copy as unknown as NewEvent;
}

function hasPendingQueues(s: unknown): s is QueueSource {
  return typeof (s as Partial<QueueSource>).pendingQueues === 'function';
}

/** Copies `from` into `to`; see the module comment. */
export async function migrateStores(
  from: IncidentStore,
  to: IncidentStore,
  opts: MigrateOptions,
): Promise<MigrateReport> {
  const log = opts.log ?? (() => undefined);
  const chunk = opts.chunk ?? 500;
  const sources = (await from.listIncidents(opts.team ? { team: opts.team } : {})).sort(
    (a, b) => a.team.localeCompare(b.team) || a.number - b.number,
  );

  // Plan: which are copied already (by key), and which numbers the others get.
  const existing = new Map<string, IncidentRecord>();
  for (const s of sources) {
    const copy = await to.findByKey(migrationKey(s.id));
    if (copy) existing.set(s.id, copy);
  }
  const copiedIds = new Set([...existing.values()].map((c) => c.id));
  const offsets = new Map<string, number>();
  if (opts.renumber === 'offset' && opts.offset === undefined) {
    // The highest number the team has in the target, not counting earlier copies: stable across
    // resumed runs as long as nobody else writes to the target.
    for (const team of new Set(sources.map((s) => s.team))) {
      const others = (await to.listIncidents({ team })).filter((i) => !copiedIds.has(i.id));
      offsets.set(team, Math.max(0, ...others.map((i) => i.number)));
    }
  }
  const numberFor = (s: IncidentRecord): number | undefined => {
    if (opts.renumber === 'next') return undefined;
    if (opts.renumber === 'offset') return s.number + (opts.offset ?? offsets.get(s.team) ?? 0);
    return s.number;
  };
  const conflicts: string[] = [];
  for (const s of sources) {
    if (existing.has(s.id)) continue;
    const n = numberFor(s);
    if (n === undefined) continue;
    const taken = await to.findByNumber(s.team, n);
    if (taken) conflicts.push(`${s.team} INC-${n} ("${taken.title}")`);
  }
  if (conflicts.length > 0) {
    throw new MigrateRefusal(
      `the target already has other incidents with these numbers: ${conflicts.slice(0, 10).join(', ')}` +
        `${conflicts.length > 10 ? ` and ${conflicts.length - 10} more` : ''}. Nothing was written. ` +
        'Choose how to renumber the copies: --renumber next (the next free numbers) or ' +
        '--renumber offset [--offset <n>] (number + n; default: the highest number in the target).',
    );
  }

  const report: MigrateReport = {
    incidents: sources.length,
    created: 0,
    eventsCopied: 0,
    postmortemsCopied: 0,
    queueItemsCopied: 0,
    copies: [],
    mismatches: [],
  };
  const idMap = new Map<string, string>();
  for (const s of sources) {
    const events = [...(await from.loadEvents(s.id))].sort((a, b) => a.seq - b.seq);
    let copy = existing.get(s.id);
    let have: StoredEvent[] = [];
    if (!copy) {
      const n = numberFor(s);
      const first = events.slice(0, chunk);
      const created = await to.createIncident({
        team: s.team,
        summary: {
          title: s.title,
          severity: s.severity,
          status: s.status,
          zone: s.zone,
          ...(s.channel ? { channel: s.channel } : {}),
        },
        events: first.map(toNew),
        key: migrationKey(s.id),
        ...(n === undefined ? {} : { number: n }),
        createdAt: s.createdAt,
      });
      copy = created.incident;
      if (created.created) {
        report.created += 1;
        report.eventsCopied += created.events.length;
        have = created.events;
      } else {
        have = [...(await to.loadEvents(copy.id))];
      }
    } else {
      have = [...(await to.loadEvents(copy.id))];
    }
    have.sort((a, b) => a.seq - b.seq);
    idMap.set(s.id, copy.id);
    // The copy must be a prefix of the source record.
    if (have.length > events.length || have.some((e, i) => !sameEvent(e, events[i]))) {
      report.mismatches.push(
        `INC-${s.number} (${s.team}): the copy INC-${copy.number} differs from the source record; not touched`,
      );
      continue;
    }
    for (let i = have.length; i < events.length; i += chunk) {
      const part = events.slice(i, i + chunk);
      const r = await to.append(copy.id, part.map(toNew));
      report.eventsCopied += r.appended.length;
      if (r.duplicates.length > 0) {
        report.mismatches.push(
          `INC-${s.number} (${s.team}): ${r.duplicates.length} event key(s) are already recorded in another incident of the target`,
        );
        break;
      }
    }
    // The summary as the source has it now (the record's events may have changed it since).
    await to.updateSummary(copy.id, {
      title: s.title,
      severity: s.severity,
      status: s.status,
      zone: s.zone,
      ...(s.channel ? { channel: s.channel } : {}),
    });
    const pm = await from.latestPostmortem(s.id);
    if (pm) {
      const theirs = await to.latestPostmortem(copy.id);
      const same =
        theirs &&
        theirs.content === pm.content &&
        theirs.template === pm.template &&
        theirs.format === pm.format &&
        theirs.renderedAt.toMillis() === pm.renderedAt.toMillis();
      if (!same) {
        await to.savePostmortem({ ...pm, incidentId: copy.id });
        report.postmortemsCopied += 1;
      }
    }
    report.copies.push({ team: s.team, from: s.number, to: copy.number, events: events.length });
    log(`INC-${s.number} (${s.team}) -> INC-${copy.number}: ${events.length} event(s)`);
  }

  // Pending queue items (keys make this idempotent).
  if (hasPendingQueues(from)) {
    const q = await from.pendingQueues();
    for (const item of q.inbox) {
      const r = await to.enqueueInbox(item as Parameters<IncidentStore['enqueueInbox']>[0]);
      if (r.inserted) report.queueItemsCopied += 1;
    }
    const effects = q.effects.map((e) => {
      const mapped = e.incidentId === undefined ? undefined : idMap.get(e.incidentId);
      const out: NewEffect = { ...e };
      if (mapped) out.incidentId = mapped;
      else delete out.incidentId;
      return out;
    });
    if (effects.length > 0) report.queueItemsCopied += (await to.addEffects(effects)).length;
  }

  // Verify.
  for (const s of sources) {
    const id = idMap.get(s.id);
    if (!id) continue;
    const [src, dst] = [await from.loadEvents(s.id), await to.loadEvents(id)];
    if (src.length !== dst.length) {
      report.mismatches.push(
        `INC-${s.number} (${s.team}): ${src.length} event(s) in the source, ${dst.length} in the copy`,
      );
    }
  }
  if (idMap.size !== sources.length) {
    report.mismatches.push(`${sources.length} incident(s) in the source, ${idMap.size} copied`);
  }
  return report;
}

/** A store location: a mongodb:// URI, else a SQLite file path. */
export async function openLocation(
  where: string,
  env: Record<string, string | undefined>,
  opts: { mustExist?: boolean } = {},
): Promise<IncidentStore> {
  if (/^mongodb(\+srv)?:\/\//.test(where)) {
    const { parseMongoConfig } = await import('../store/mongo/config');
    const { openMongoStore } = await import('../store/mongo/store');
    return openMongoStore(parseMongoConfig({ ...env, MONGODB_URI: where }));
  }
  if (opts.mustExist && !existsSync(where)) {
    throw new MigrateRefusal(`no SQLite file at ${where} (a source must exist; was it a typo?)`);
  }
  const { openSqliteStore } = await import('../store/sqlite');
  return openSqliteStore({ file: where });
}

function describe(where: string): string {
  return where.replace(/\/\/([^@/]+)@/, '//***@');
}

/** `incident-bot migrate …`: exit 0 copied and verified, 1 failure or mismatch, 2 usage, 3 refused. */
export async function runMigrateCommand(argv: string[], io: MigrateIO): Promise<number> {
  let code = 0;
  const program = new Command('incident-bot migrate')
    .description(
      'copy incidents, records, rendered postmortems and pending queue items from one store to another',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .requiredOption('--from <store>', 'source: a SQLite file or a mongodb:// URI')
    .requiredOption('--to <store>', 'target: a SQLite file or a mongodb:// URI')
    .addOption(
      new Option('--renumber <how>', 'when the target has other incidents with the same numbers')
        .choices(['next', 'offset'])
        .default(undefined),
    )
    .option('--offset <n>', 'with --renumber offset: add n to every number', (v: string) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new InvalidArgumentError(`--offset must be a whole number >= 0, got "${v}"`);
      }
      return n;
    })
    .option('--team <id>', 'only this Slack workspace')
    .action(
      async (opts: {
        from: string;
        to: string;
        renumber?: 'next' | 'offset';
        offset?: number;
        team?: string;
      }) => {
        if (opts.offset !== undefined && opts.renumber !== 'offset') {
          throw new MigrateRefusal('--offset needs --renumber offset');
        }
        if (opts.from === opts.to) throw new MigrateRefusal('--from and --to are the same store');
        const from = await openLocation(opts.from, io.env, { mustExist: true });
        try {
          const to = await openLocation(opts.to, io.env);
          try {
            io.stderr.write(`Migrating ${describe(opts.from)} -> ${describe(opts.to)}\n`);
            const report = await migrateStores(from, to, {
              renumber: opts.renumber ?? 'none',
              offset: opts.offset,
              team: opts.team,
              log: (line) => io.stderr.write(`  ${line}\n`),
            });
            io.stdout.write(
              `${report.incidents} incident(s): ${report.created} created, ` +
                `${report.eventsCopied} event(s), ${report.postmortemsCopied} postmortem(s) and ` +
                `${report.queueItemsCopied} queue item(s) copied.\n`,
            );
            if (report.mismatches.length > 0) {
              io.stderr.write(
                `incident-bot: verification failed:\n${report.mismatches.map((m) => `  ${m}\n`).join('')}`,
              );
              code = 1;
            } else {
              io.stdout.write(
                `Verified: ${report.incidents} incident(s), each with the source's event count.\n`,
              );
            }
          } finally {
            await to.close();
          }
        } finally {
          await from.close();
        }
      },
    );
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`incident-bot migrate: ${message}\n`);
    return err instanceof MigrateRefusal ? 3 : 1;
  }
  return code;
}
