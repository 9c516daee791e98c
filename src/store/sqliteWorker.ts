/**
 * The SQLite worker thread: it owns the store's connection, so no SQLite call (and no fsync, no
 * busy wait for another process's lock) ever runs on the bot's event loop.
 *
 * Group commit: every request waiting on the port when the worker wakes up is run as one batch.
 * The batch's writes share ONE `BEGIN IMMEDIATE … COMMIT` (one fsync with WAL + synchronous=FULL);
 * each write runs inside its own SAVEPOINT, so a write that fails (a conflict, a closed incident,
 * a bad id) is rolled back alone and the others commit. No answer to a write is sent before the
 * COMMIT returned, so a resolved write is durable. One exception, stated at `isRelaxed`: a batch
 * made only of claims (leases) and inbox completions without effects commits without an fsync
 * of its own (synchronous = NORMAL): durable across a crash of the process, and across a power
 * failure from the next FULL commit on; losing it can only make work be done again.
 *
 * `sqliteWorkerMain` is started with `new Worker(<its source>, { eval: true })`: it must stay
 * self-contained (no reference to anything outside its own body; modules are `require`d inside).
 * That is what lets the same code run from the compiled `dist/` and from TypeScript sources under
 * the test runner without a loader in the worker.
 */

/** What the main thread sends: one request. */
export interface WorkerRequest {
  id: number;
  op: string;
  args: unknown[];
}

/** What the worker answers. Errors travel as plain fields and are rebuilt on the main thread. */
export interface WorkerResponse {
  id: number;
  ok?: unknown;
  err?: { name: string; message: string; code?: string };
}

export interface WorkerSetup {
  file: string;
  driver: string;
  busyTimeoutMs: number;
}

// Rows exchanged with the worker (plain data; times are epoch milliseconds UTC).
export interface IncidentRowW {
  id: string;
  team: string;
  number: number;
  key: string | null;
  title: string;
  severity: string;
  status: string;
  zone: string;
  channel: string | null;
  created_at: number;
  updated_at: number;
}

export interface EventRowW {
  seq: number;
  type: string;
  occurred_at: number;
  recorded_at: number;
  actor_id: string;
  actor_name: string;
  source: string;
  key: string | null;
  payload: string;
}

/** An event to insert (no seq yet). */
export type EventInW = Omit<EventRowW, 'seq'>;

export interface SummaryW {
  title: string | null;
  severity: string | null;
  status: string | null;
  zone: string | null;
  channel: string | null;
}

export interface EffectInW {
  key: string;
  kind: string;
  incident_id: string | null;
  payload: string;
  not_before: number;
  spacing_ms: number;
}

export interface EffectRowW extends EffectInW {
  id: number;
  state: string;
  attempts: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  redo: number;
}

export interface InboxInW {
  key: string;
  kind: string;
  partition: string;
  body: string;
  received_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  attempts: number;
}

export interface InboxRowW extends Omit<InboxInW, 'lease_owner' | 'lease_until'> {
  id: number;
  state: string;
  attempts: number;
}

export interface PostmortemRowW {
  incident_id: string;
  template: string;
  format: string;
  content: string;
  rendered_at: number;
}

/** The worker's body. Self-contained: see the file comment. */
export function sqliteWorkerMain(): void {
  /* eslint-disable @typescript-eslint/no-require-imports -- a self-contained eval'd worker body */
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const setup = wt.workerData as WorkerSetup;
  const Database = require(setup.driver) as typeof import('better-sqlite3');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const port = wt.parentPort;
  if (!port) return;

  type Db = import('better-sqlite3').Database;
  let db: Db;
  try {
    db = new Database(setup.file, { timeout: setup.busyTimeoutMs });
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(setup.busyTimeoutMs))}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string };
    port.postMessage({ id: 0, err: { name: e.name, message: e.message, code: e.code } });
    return;
  }

  class CodedError extends Error {
    constructor(name: string, message: string) {
      super(message);
      this.name = name;
    }
  }

  const incidentCols =
    'id, team, number, key, title, severity, status, zone, channel, created_at, updated_at';
  const effectCols =
    'id, key, kind, incident_id, payload, not_before, spacing_ms, state, attempts, lease_owner, lease_until, last_error, redo';
  const inboxCols = 'id, key, kind, partition, body, received_at, state, attempts';
  const q = {
    incidentById: db.prepare(`SELECT ${incidentCols} FROM incidents WHERE id = ?`),
    incidentByKey: db.prepare(`SELECT ${incidentCols} FROM incidents WHERE key = ?`),
    incidentByNumber: db.prepare(
      `SELECT ${incidentCols} FROM incidents WHERE team = ? AND number = ?`,
    ),
    incidentByChannel: db.prepare(
      `SELECT ${incidentCols} FROM incidents WHERE channel = ?
       ORDER BY created_at DESC, rowid DESC LIMIT 1`,
    ),
    listIncidents: db.prepare(
      `SELECT ${incidentCols} FROM incidents
       WHERE (@team IS NULL OR team = @team)
         AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
       ORDER BY created_at DESC, rowid DESC`,
    ),
    listTeams: db.prepare(`SELECT DISTINCT team FROM incidents ORDER BY team`),
    nextNumber: db.prepare(
      `SELECT COALESCE(MAX(number), 0) + 1 AS n FROM incidents WHERE team = ?`,
    ),
    insertIncident: db.prepare(
      `INSERT INTO incidents (${incidentCols}) VALUES
       (@id, @team, @number, @key, @title, @severity, @status, @zone, @channel, @created_at, @updated_at)`,
    ),
    updateSummary: db.prepare(
      `UPDATE incidents SET
         title = COALESCE(@title, title),
         severity = COALESCE(@severity, severity),
         status = COALESCE(@status, status),
         zone = COALESCE(@zone, zone),
         channel = COALESCE(@channel, channel),
         updated_at = @now
       WHERE id = @id`,
    ),
    maxSeq: db.prepare(`SELECT COALESCE(MAX(seq), 0) AS m FROM events WHERE incident_id = ?`),
    insertEvent: db.prepare(
      `INSERT INTO events
         (incident_id, seq, type, occurred_at, recorded_at, actor_id, actor_name, source, key, payload)
       VALUES
         (@incident_id, @seq, @type, @occurred_at, @recorded_at, @actor_id, @actor_name, @source, @key, @payload)
       ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING`,
    ),
    loadEventsAfter: db.prepare(
      `SELECT seq, type, occurred_at, recorded_at, actor_id, actor_name, source, key, payload
       FROM events WHERE incident_id = ? AND seq > ? ORDER BY occurred_at, seq`,
    ),
    hasEventKey: db.prepare(`SELECT 1 AS one FROM events WHERE key = ?`),
    insertPostmortem: db.prepare(
      `INSERT INTO postmortems (incident_id, template, format, content, rendered_at)
       VALUES (@incident_id, @template, @format, @content, @rendered_at)`,
    ),
    latestPostmortem: db.prepare(
      `SELECT incident_id, template, format, content, rendered_at FROM postmortems
       WHERE incident_id = ? ORDER BY rendered_at DESC, id DESC LIMIT 1`,
    ),
    ping: db.prepare(`SELECT 1 AS one`),
    // inbox
    insertInbox: db.prepare(
      `INSERT INTO inbox (key, kind, partition, body, received_at, state, attempts, lease_owner, lease_until)
       VALUES (@key, @kind, @partition, @body, @received_at, 'pending', @attempts, @lease_owner, @lease_until)
       ON CONFLICT (key) DO NOTHING`,
    ),
    inboxByKey: db.prepare(`SELECT ${inboxCols} FROM inbox WHERE key = ?`),
    claimableInbox: db.prepare(
      `SELECT ${inboxCols} FROM inbox
       WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < @now)
         AND (@ids IS NULL OR id IN (SELECT value FROM json_each(@ids)))
       ORDER BY id LIMIT @limit`,
    ),
    leaseInbox: db.prepare(
      `UPDATE inbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?`,
    ),
    completeInbox: db.prepare(
      `UPDATE inbox SET state = 'done', done_at = ?, lease_owner = NULL, lease_until = NULL
       WHERE id = ? AND state = 'pending'`,
    ),
    // outbox
    pendingEffectByKey: db.prepare(
      `SELECT ${effectCols} FROM effects WHERE key = ? AND state = 'pending'`,
    ),
    lastDoneOfKey: db.prepare(
      `SELECT MAX(done_at) AS t FROM effects WHERE key = ? AND state = 'done'`,
    ),
    insertEffect: db.prepare(
      `INSERT INTO effects (key, kind, incident_id, payload, not_before, spacing_ms, state, attempts, redo, created_at)
       VALUES (@key, @kind, @incident_id, @payload, @not_before, @spacing_ms, 'pending', 0, 0, @now)`,
    ),
    rearmEffect: db.prepare(`UPDATE effects SET redo = 1, payload = ? WHERE id = ?`),
    refreshEffect: db.prepare(`UPDATE effects SET payload = ? WHERE id = ?`),
    effectById: db.prepare(`SELECT ${effectCols} FROM effects WHERE id = ?`),
    claimableEffects: db.prepare(
      `SELECT ${effectCols} FROM effects
       WHERE state = 'pending' AND not_before <= @now AND (lease_until IS NULL OR lease_until < @now)
       ORDER BY not_before, id LIMIT @limit`,
    ),
    leaseEffect: db.prepare(
      `UPDATE effects SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?`,
    ),
    effectDone: db.prepare(
      `UPDATE effects SET state = 'done', done_at = ?, lease_owner = NULL, lease_until = NULL
       WHERE id = ?`,
    ),
    effectRedo: db.prepare(
      `UPDATE effects SET redo = 0, attempts = 0, not_before = ?, lease_owner = NULL,
         lease_until = NULL, last_error = NULL WHERE id = ?`,
    ),
    effectRetry: db.prepare(
      `UPDATE effects SET not_before = ?, last_error = ?, lease_owner = NULL, lease_until = NULL
       WHERE id = ?`,
    ),
    effectDead: db.prepare(
      `UPDATE effects SET state = 'dead', done_at = ?, last_error = ?, lease_owner = NULL,
         lease_until = NULL, redo = 0 WHERE id = ?`,
    ),
    nextEffectDue: db.prepare(
      `SELECT MIN(MAX(not_before, COALESCE(lease_until, 0))) AS t FROM effects WHERE state = 'pending'`,
    ),
    // A restarted instance takes over what its dead earlier incarnation held (owner prefix).
    takeOverInbox: db.prepare(
      `SELECT ${inboxCols} FROM inbox
       WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < @now
         OR (substr(lease_owner, 1, length(@prefix)) = @prefix AND lease_owner <> @owner))
       ORDER BY id LIMIT @limit`,
    ),
    takeOverEffects: db.prepare(
      `SELECT ${effectCols} FROM effects
       WHERE state = 'pending' AND not_before <= @now AND (lease_until IS NULL OR lease_until < @now
         OR (substr(lease_owner, 1, length(@prefix)) = @prefix AND lease_owner <> @owner))
       ORDER BY not_before, id LIMIT @limit`,
    ),
    // Housekeeping, in chunks so that other writes interleave (see pruneDone).
    pruneInbox: db.prepare(
      `DELETE FROM inbox WHERE id IN (SELECT id FROM inbox
         WHERE state = 'done' AND done_at < @before ORDER BY id LIMIT @limit)`,
    ),
    // No ORDER BY: the (state, …) index finds the first `limit` matches without a sort of all.
    pruneEffects: db.prepare(
      `DELETE FROM effects WHERE id IN (SELECT id FROM effects
         WHERE state = @state AND done_at < @before LIMIT @limit)`,
    ),
  };

  function insertEvents(
    incidentId: string,
    events: EventInW[],
    lastSeq: number,
  ): (number | null)[] {
    let seq = lastSeq;
    return events.map((e) => {
      const info = q.insertEvent.run({ ...e, incident_id: incidentId, seq: seq + 1 });
      if (info.changes === 1) {
        seq += 1;
        return seq;
      }
      return null;
    });
  }

  function incidentRow(id: string): IncidentRowW {
    const row = q.incidentById.get(id) as IncidentRowW | undefined;
    if (!row) throw new Error(`no such incident ${JSON.stringify(id)}`);
    return row;
  }

  function hasSummary(s: SummaryW): boolean {
    return Object.values(s).some((v) => v !== null);
  }

  /** Adds an effect unless its key is pending; returns the new row, or undefined when coalesced. */
  function addEffect(e: EffectInW, now: number): EffectRowW | undefined {
    const pending = q.pendingEffectByKey.get(e.key) as EffectRowW | undefined;
    if (pending) {
      // Being delivered right now: deliver once more after this delivery (with the newest
      // payload), so what happened meanwhile is not missed. Otherwise it is still to come.
      if (pending.lease_owner !== null && (pending.lease_until ?? 0) >= now) {
        q.rearmEffect.run(e.payload, pending.id);
      } else {
        q.refreshEffect.run(e.payload, pending.id);
      }
      return undefined;
    }
    let notBefore = e.not_before;
    if (e.spacing_ms > 0) {
      const last = (q.lastDoneOfKey.get(e.key) as { t: number | null }).t;
      if (last !== null) notBefore = Math.max(notBefore, last + e.spacing_ms);
    }
    const info = q.insertEffect.run({ ...e, not_before: notBefore, now });
    return q.effectById.get(info.lastInsertRowid) as EffectRowW;
  }

  function lease<T extends { id: number }>(
    rows: T[],
    stmt: import('better-sqlite3').Statement,
    owner: string,
    until: number,
  ): T[] {
    for (const r of rows) stmt.run(owner, until, r.id);
    return rows.map((r) => ({
      ...r,
      attempts: (r as unknown as { attempts: number }).attempts + 1,
    }));
  }

  const ops: Record<string, (...args: never[]) => unknown> = {
    createIncident(
      input: {
        team: string;
        key: string | null;
        summary: SummaryW;
        number?: number | null;
        createdAt?: number | null;
      },
      events: EventInW[],
      now: number,
    ) {
      if (input.key !== null) {
        const existing = q.incidentByKey.get(input.key) as IncidentRowW | undefined;
        if (existing) return { row: existing, created: false, seqs: [] };
      }
      const s = input.summary;
      const row: IncidentRowW = {
        id: crypto.randomUUID(),
        team: input.team,
        // A given number (incident-bot migrate) that the team has fails on UNIQUE(team, number).
        number: input.number ?? (q.nextNumber.get(input.team) as { n: number }).n,
        key: input.key,
        title: s.title as string,
        severity: s.severity as string,
        status: s.status as string,
        zone: s.zone as string,
        channel: s.channel,
        created_at: input.createdAt ?? now,
        updated_at: input.createdAt ?? now,
      };
      q.insertIncident.run(row);
      return { row, created: true, seqs: insertEvents(row.id, events, 0) };
    },
    append(id: string, events: EventInW[], summary: SummaryW, now: number) {
      if (!q.incidentById.get(id)) {
        throw new Error(`cannot append to incident ${JSON.stringify(id)}: no such incident`);
      }
      const seqs = insertEvents(id, events, (q.maxSeq.get(id) as { m: number }).m);
      if (seqs.some((s) => s !== null) || hasSummary(summary)) {
        q.updateSummary.run({ ...summary, id, now });
      }
      return seqs;
    },
    updateSummary(id: string, summary: SummaryW, now: number) {
      return q.updateSummary.run({ ...summary, id, now }).changes;
    },
    getIncident: (id: string) => q.incidentById.get(id),
    findByNumber: (team: string, n: number) => q.incidentByNumber.get(team, n),
    findByChannel: (channel: string) => q.incidentByChannel.get(channel),
    findByKey: (key: string) => q.incidentByKey.get(key),
    listIncidents: (p: { team: string | null; statuses: string | null }) => q.listIncidents.all(p),
    listTeams: () => (q.listTeams.all() as { team: string }[]).map((r) => r.team),
    loadEventsAfter: (id: string, seq: number) => q.loadEventsAfter.all(id, seq),
    hasEventKey: (key: string) => q.hasEventKey.get(key) !== undefined,
    savePostmortem(p: PostmortemRowW) {
      if (!q.incidentById.get(p.incident_id)) {
        throw new Error(`cannot save postmortem: no incident ${JSON.stringify(p.incident_id)}`);
      }
      q.insertPostmortem.run(p);
    },
    latestPostmortem: (id: string) => q.latestPostmortem.get(id),
    ping: () => q.ping.get(),
    settings: () => ({
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      synchronous: Number(db.pragma('synchronous', { simple: true })),
      busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })),
      foreignKeys: Number(db.pragma('foreign_keys', { simple: true })) === 1,
      schemaVersion: Number(db.pragma('user_version', { simple: true })),
    }),

    enqueueInbox(item: InboxInW) {
      const inserted = q.insertInbox.run(item).changes === 1;
      return { row: q.inboxByKey.get(item.key), inserted };
    },
    claimInbox(
      owner: string,
      now: number,
      until: number,
      limit: number,
      ids: number[] | null,
      prefix?: string | null,
    ) {
      const rows = (
        prefix && ids === null
          ? q.takeOverInbox.all({ now, limit, prefix, owner })
          : q.claimableInbox.all({
              now,
              limit,
              ids: ids === null ? null : JSON.stringify(ids),
            })
      ) as InboxRowW[];
      return lease(rows, q.leaseInbox, owner, until);
    },
    completeInbox(ids: number[], effects: EffectInW[], now: number) {
      // One op = one SAVEPOINT in the batch's transaction: the completions and the effects are
      // written together or not at all. Effects only when an item was still pending.
      const done = ids.filter((id) => q.completeInbox.run(now, id).changes === 1);
      if (done.length === 0) return { done, effects: [] };
      const added = effects.map((e) => addEffect(e, now)).filter((e) => e !== undefined);
      return { done, effects: added };
    },
    commit(
      input: {
        incidentId: string;
        expectedSeq: number | null;
        requireOpen: boolean;
        events: EventInW[];
        summary: SummaryW;
        effects: EffectInW[];
        inboxDone: number[];
      },
      now: number,
    ) {
      const inc = incidentRow(input.incidentId);
      if (input.requireOpen && inc.status === 'closed') {
        throw new CodedError('IncidentClosedError', `incident ${inc.number} is closed`);
      }
      const last = (q.maxSeq.get(input.incidentId) as { m: number }).m;
      if (input.expectedSeq !== null && last !== input.expectedSeq) {
        throw new CodedError(
          'ConflictError',
          `the record is at ${last}, the decision was made at ${input.expectedSeq}`,
        );
      }
      const seqs = insertEvents(input.incidentId, input.events, last);
      if (seqs.some((s) => s !== null) || hasSummary(input.summary)) {
        q.updateSummary.run({ ...input.summary, id: input.incidentId, now });
      }
      const effects = input.effects
        .map((e) => addEffect(e, now))
        .filter((e): e is EffectRowW => e !== undefined);
      for (const id of input.inboxDone) q.completeInbox.run(now, id);
      return { seqs, effects };
    },
    addEffects(effects: EffectInW[], now: number) {
      return effects.map((e) => addEffect(e, now)).filter((e) => e !== undefined);
    },
    claimEffects(owner: string, now: number, until: number, limit: number, prefix?: string | null) {
      const rows = (
        prefix
          ? q.takeOverEffects.all({ now, limit, prefix, owner })
          : q.claimableEffects.all({ now, limit })
      ) as EffectRowW[];
      return lease(rows, q.leaseEffect, owner, until);
    },
    /** Deletes up to `limit` rows of each kind; the caller repeats while a chunk was full. */
    pruneDone(p: { inbox: number; effects: number; dead: number }, limit: number) {
      return {
        inbox: q.pruneInbox.run({ before: p.inbox, limit }).changes,
        effects: q.pruneEffects.run({ state: 'done', before: p.effects, limit }).changes,
        deadEffects: q.pruneEffects.run({ state: 'dead', before: p.dead, limit }).changes,
      };
    },
    completeEffect(
      id: number,
      owner: string,
      outcome: { incidentId: string | null; events: EventInW[]; effects: EffectInW[] },
      now: number,
    ) {
      const row = q.effectById.get(id) as EffectRowW | undefined;
      if (!row || row.state !== 'pending' || row.lease_owner !== owner) return false;
      if (row.redo === 1) q.effectRedo.run(Math.max(now, now + row.spacing_ms), id);
      else q.effectDone.run(now, id);
      const incidentId = outcome.incidentId ?? row.incident_id;
      if (outcome.events.length > 0) {
        if (incidentId === null) throw new Error('effect outcome events need an incident');
        incidentRow(incidentId);
        insertEvents(incidentId, outcome.events, (q.maxSeq.get(incidentId) as { m: number }).m);
        q.updateSummary.run({
          title: null,
          severity: null,
          status: null,
          zone: null,
          channel: null,
          id: incidentId,
          now,
        });
      }
      for (const e of outcome.effects) addEffect(e, now);
      return true;
    },
    failEffect(
      id: number,
      owner: string,
      f: { error: string; retryAt: number | null; dead: boolean },
      now: number,
    ) {
      const row = q.effectById.get(id) as EffectRowW | undefined;
      if (!row || row.state !== 'pending' || row.lease_owner !== owner) return false;
      if (f.dead) q.effectDead.run(now, f.error, id);
      else q.effectRetry.run(f.retryAt ?? now, f.error, id);
      return true;
    },
    nextEffectDue: () => (q.nextEffectDue.get() as { t: number | null }).t,
  };

  const writes = new Set([
    'createIncident',
    'append',
    'updateSummary',
    'savePostmortem',
    'enqueueInbox',
    'claimInbox',
    'completeInbox',
    'commit',
    'addEffects',
    'claimEffects',
    'completeEffect',
    'failEffect',
    'pruneDone',
  ]);

  /**
   * Writes whose loss on a power failure (or OS crash) only makes work be done again, never
   * loses or changes what was recorded: claims (leases) of inbox items and effects — a lost claim
   * leaves the item claimable, and claims only ever allow processing, which is idempotent by key —
   * and the completion of inbox items that adds no effects — a lost completion leaves the item
   * pending, so it is processed again and records nothing twice (keys). A batch made only of
   * such writes commits with `synchronous = NORMAL`: in WAL mode that appends to the WAL without
   * an fsync. It is still durable across a crash or kill -9 of the process (the OS has the
   * write), and it becomes durable across a power failure with the next FULL commit, whose WAL
   * fsync covers every frame before it (a WAL is replayed as a prefix: a transaction is never
   * kept without the ones before it). Every other batch commits with FULL, fsynced before any
   * answer is sent.
   */
  function isRelaxed(req: WorkerRequest): boolean {
    if (req.op === 'claimInbox' || req.op === 'claimEffects') return true;
    // completeInbox(ids, …): light only without effect rows to add (objects; ids are numbers).
    if (req.op === 'completeInbox') {
      return !req.args.some((a) => Array.isArray(a) && a.some((x) => typeof x === 'object'));
    }
    return false;
  }

  function errorOf(err: unknown): WorkerResponse['err'] {
    const e = (err ?? {}) as { name?: unknown; message?: unknown; code?: unknown };
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: typeof e.message === 'string' ? e.message : String(err),
      code: typeof e.code === 'string' ? e.code : undefined,
    };
  }

  function run(req: WorkerRequest): unknown {
    const fn = ops[req.op];
    if (!fn) throw new Error(`unknown store operation ${req.op}`);
    return (fn as (...a: unknown[]) => unknown)(...req.args);
  }

  let queue: WorkerRequest[] = [];
  let closing = false;

  function runBatch(batch: WorkerRequest[]): WorkerResponse[] {
    const out: WorkerResponse[] = [];
    const hasWrite = batch.some((r) => writes.has(r.op));
    const relaxed = hasWrite && batch.every((r) => !writes.has(r.op) || isRelaxed(r));
    let beginError: unknown;
    let inTx = false;
    if (hasWrite) {
      try {
        setSync(relaxed ? 'NORMAL' : 'FULL');
        db.exec('BEGIN IMMEDIATE');
        inTx = true;
      } catch (err) {
        beginError = err;
      }
    }
    const written: WorkerResponse[] = [];
    for (const req of batch) {
      if (!writes.has(req.op)) {
        try {
          out.push({ id: req.id, ok: run(req) });
        } catch (err) {
          out.push({ id: req.id, err: errorOf(err) });
        }
        continue;
      }
      if (!inTx || !db.inTransaction) {
        out.push({ id: req.id, err: errorOf(beginError ?? new Error('transaction was lost')) });
        continue;
      }
      db.exec('SAVEPOINT op');
      try {
        const res: WorkerResponse = { id: req.id, ok: run(req) };
        db.exec('RELEASE op');
        out.push(res);
        written.push(res);
      } catch (err) {
        if (db.inTransaction) {
          db.exec('ROLLBACK TO op');
          db.exec('RELEASE op');
        }
        out.push({ id: req.id, err: errorOf(err) });
      }
    }
    if (inTx) {
      let commitError: unknown;
      try {
        if (db.inTransaction) db.exec('COMMIT');
        else commitError = new Error('transaction was rolled back by SQLite');
      } catch (err) {
        commitError = err;
        try {
          if (db.inTransaction) db.exec('ROLLBACK');
        } catch {
          // The connection is unusable; the next batch reports it.
        }
      }
      if (commitError !== undefined) {
        for (const res of written) {
          delete res.ok;
          res.err = errorOf(commitError);
        }
      }
    }
    if (relaxed) {
      try {
        setSync('FULL');
      } catch {
        // Left NORMAL: the next FULL batch sets it again before it begins (or fails to begin).
      }
    }
    return out;
  }

  /** The connection's synchronous mode: FULL except during a batch of relaxed writes. */
  let syncMode: 'FULL' | 'NORMAL' = 'FULL';
  function setSync(mode: 'FULL' | 'NORMAL'): void {
    if (mode === syncMode) return;
    db.pragma(`synchronous = ${mode}`);
    syncMode = mode;
  }

  const MAX_BATCH = 512;

  function drain(): void {
    while (queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(MAX_BATCH);
      for (const res of runBatch(batch)) port?.postMessage(res);
    }
    if (closing) {
      db.close();
      port?.close();
    }
  }

  port.on('message', (msg: WorkerRequest | 'close') => {
    if (msg === 'close') closing = true;
    else queue.push(msg);
    // Take everything already waiting, so concurrent writes share one transaction.
    for (;;) {
      const more = wt.receiveMessageOnPort(port) as
        | { message: WorkerRequest | 'close' }
        | undefined;
      if (!more) break;
      if (more.message === 'close') closing = true;
      else queue.push(more.message);
    }
    drain();
  });
  port.postMessage({ id: 0, ok: 'ready' });
}
