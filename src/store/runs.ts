// Typed queries over runs, their state blobs, generations and live progress. Every function
// takes an open Database; timestamps are passed in (the library reads no clock).

import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';

/** `queued`: created by a sweep, not started yet (a worker's `resume` makes it `running`). */
export type RunStatus = 'queued' | 'running' | 'complete' | 'interrupted' | 'failed';

export interface RunRow {
  id: number;
  name: string;
  created_at: string;
  status: RunStatus;
  config_json: string;
  seed: number;
  backend: string | null;
  /** Kernel of the matrix products (see ModelFactory.kernel); null in runs before schema 2. */
  kernel: string | null;
  corpus_hash: string;
  sweep_id: string | null;
  generations: number;
  heartbeat_at: string | null;
  phase: string | null;
  progress_json: string | null;
  pid: number | null;
  note: string | null;
  /** Absolute folder of the run's checkpoints (null: a run stored before schema version 2). */
  models_dir: string | null;
}

export interface GenerationRow {
  run_id: number;
  gen: number;
  started_at: string;
  finished_at: string;
  train_loss: number | null;
  val_loss: number | null;
  n_docs: number;
  checkpoint: string | null;
  timings_json: string | null;
}

export interface NewRun {
  name: string;
  createdAt: string;
  config: unknown;
  seed: number;
  backend: string;
  corpusHash: string;
  generations: number;
  sweepId?: string | null;
  pid?: number | null;
  modelsDir?: string | null;
}

export function insertRun(db: Database.Database, run: NewRun): number {
  if (findRun(db, run.name)) throw new UserError(`a run named '${run.name}' already exists in this database`);
  const info = db
    .prepare(
      `INSERT INTO runs (name, created_at, status, config_json, seed, backend, corpus_hash, sweep_id, generations, heartbeat_at, pid, models_dir)
       VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(run.name, run.createdAt, JSON.stringify(run.config), run.seed, run.backend, run.corpusHash, run.sweepId ?? null, run.generations, run.createdAt, run.pid ?? null, run.modelsDir ?? null);
  return Number(info.lastInsertRowid);
}

/**
 * A file opened read-only is not migrated: its runs rows may lack the columns later schema
 * versions added. They read as null (unknown), as a migrated file's old rows do.
 */
function complete(row: RunRow | undefined): RunRow | undefined {
  return row && { ...row, kernel: row.kernel ?? null, models_dir: row.models_dir ?? null };
}

export function findRun(db: Database.Database, nameOrId: string | number): RunRow | undefined {
  const byName = db.prepare(`SELECT * FROM runs WHERE name = ?`).get(String(nameOrId)) as RunRow | undefined;
  if (byName) return complete(byName);
  return /^\d+$/.test(String(nameOrId))
    ? complete(db.prepare(`SELECT * FROM runs WHERE id = ?`).get(Number(nameOrId)) as RunRow | undefined)
    : undefined;
}

/** A run by name or id, or a UserError naming it. */
export function getRun(db: Database.Database, nameOrId: string | number): RunRow {
  const run = findRun(db, nameOrId);
  if (!run) throw new UserError(`no run '${nameOrId}' in this database`, 'E_NO_RUN');
  return run;
}

export function listRuns(db: Database.Database, sweepId?: string): RunRow[] {
  return ((sweepId
    ? db.prepare(`SELECT * FROM runs WHERE sweep_id = ? ORDER BY id`).all(sweepId)
    : db.prepare(`SELECT * FROM runs ORDER BY id`).all()) as RunRow[]).map((r) => complete(r)!);
}

export function setRunState(db: Database.Database, runId: number, key: string, value: unknown): void {
  db.prepare(`INSERT OR REPLACE INTO run_state (run_id, key, json) VALUES (?, ?, ?)`).run(runId, key, JSON.stringify(value));
}

export function getRunState<T>(db: Database.Database, runId: number, key: string): T | undefined {
  const row = db.prepare(`SELECT json FROM run_state WHERE run_id = ? AND key = ?`).get(runId, key) as { json: string } | undefined;
  return row ? (JSON.parse(row.json) as T) : undefined;
}

/**
 * Updates fields of a run; with `ownerPid`, only while that process owns it (see lock.ts).
 * Returns the number of rows changed (0: no such run, or another owner).
 */
export function updateRun(
  db: Database.Database,
  runId: number,
  fields: Partial<Pick<RunRow, 'status' | 'backend' | 'kernel' | 'generations' | 'heartbeat_at' | 'phase' | 'progress_json' | 'pid' | 'note' | 'models_dir'>>,
  ownerPid?: number,
): number {
  const keys = Object.keys(fields);
  if (keys.length === 0) return 0;
  const sets = keys.map((k) => `${k} = @${k}`).join(', ');
  const owned = ownerPid === undefined ? '' : ' AND pid IS @ownerPid';
  return db.prepare(`UPDATE runs SET ${sets} WHERE id = @id${owned}`).run({ ...fields, id: runId, ...(ownerPid === undefined ? {} : { ownerPid }) }).changes;
}

export function insertGeneration(db: Database.Database, row: GenerationRow): void {
  db.prepare(
    `INSERT INTO generations (run_id, gen, started_at, finished_at, train_loss, val_loss, n_docs, checkpoint, timings_json)
     VALUES (@run_id, @gen, @started_at, @finished_at, @train_loss, @val_loss, @n_docs, @checkpoint, @timings_json)`,
  ).run(row);
}

export function listGenerations(db: Database.Database, runId: number): GenerationRow[] {
  return db.prepare(`SELECT * FROM generations WHERE run_id = ? ORDER BY gen`).all(runId) as GenerationRow[];
}

/** The last committed generation, or -1 when not even generation 0 is. */
export function lastGeneration(db: Database.Database, runId: number): number {
  const row = db.prepare(`SELECT max(gen) AS g FROM generations WHERE run_id = ?`).get(runId) as { g: number | null };
  return row.g ?? -1;
}

/** Generations from … to that still have a checkpoint path. */
export function checkpointsBetween(db: Database.Database, runId: number, from: number, to: number): { gen: number; checkpoint: string }[] {
  return db
    .prepare(`SELECT gen, checkpoint FROM generations WHERE run_id = ? AND gen BETWEEN ? AND ? AND checkpoint IS NOT NULL`)
    .all(runId, from, to) as { gen: number; checkpoint: string }[];
}

export function setCorpusHash(db: Database.Database, runId: number, hash: string): void {
  db.prepare(`UPDATE runs SET corpus_hash = ? WHERE id = ?`).run(hash, runId);
}

export function clearCheckpoint(db: Database.Database, runId: number, gen: number): void {
  db.prepare(`UPDATE generations SET checkpoint = NULL WHERE run_id = ? AND gen = ?`).run(runId, gen);
}

/**
 * Removes everything of generations > gen (a half-finished generation cannot exist — each is
 * one transaction — but this keeps resume robust against rows written outside one).
 */
export function deleteAfter(db: Database.Database, runId: number, gen: number): void {
  // IMMEDIATE: takes the write lock up front (waiting for it under busy_timeout). Deferred, it
  // failed at once with "database is locked" when runs started together on one file.
  db.transaction(() => {
    for (const t of ['documents', 'histograms', 'metrics', 'generations']) {
      db.prepare(`DELETE FROM ${t} WHERE run_id = ? AND gen > ?`).run(runId, gen);
    }
  }).immediate();
}

export interface SweepRow {
  id: string;
  created_at: string;
  grid_json: string;
}

export function findSweep(db: Database.Database, id: string): SweepRow | undefined {
  return db.prepare(`SELECT * FROM sweeps WHERE id = ?`).get(id) as SweepRow | undefined;
}

/** A sweep by id, or a UserError naming it. */
export function getSweep(db: Database.Database, id: string): SweepRow {
  const sweep = findSweep(db, id);
  if (!sweep) throw new UserError(`no sweep '${id}' in this database`, 'E_NO_SWEEP');
  return sweep;
}

export function insertSweep(db: Database.Database, sweep: { id: string; createdAt: string; grid: unknown }): void {
  db.prepare(`INSERT INTO sweeps (id, created_at, grid_json) VALUES (?, ?, ?)`).run(sweep.id, sweep.createdAt, JSON.stringify(sweep.grid));
}

/**
 * Makes sure a sweeps row exists (a run started with `run --sweep-id`, e.g. one job of
 * `sweep --emit-jobs`, carries only the id; its grid lives with whoever emitted the jobs).
 */
export function ensureSweep(db: Database.Database, id: string, createdAt: string): void {
  db.prepare(`INSERT OR IGNORE INTO sweeps (id, created_at, grid_json) VALUES (?, ?, '{}')`).run(id, createdAt);
}

/** Every sweep with how many runs of this database belong to it, oldest first. */
export function listSweeps(db: Database.Database): (SweepRow & { runs: number })[] {
  return db
    .prepare(`SELECT s.*, (SELECT count(*) FROM runs r WHERE r.sweep_id = s.id) AS runs FROM sweeps s ORDER BY s.created_at, s.id`)
    .all() as (SweepRow & { runs: number })[];
}

/** Each run of a sweep with its last committed generation (null: none), in id order. */
export function sweepRunStates(db: Database.Database, sweepId: string): { name: string; status: string; generations: number; phase: string | null; last: number | null }[] {
  return db
    .prepare(
      `SELECT r.name, r.status, r.generations, r.phase, (SELECT max(gen) FROM generations g WHERE g.run_id = r.id) AS last
       FROM runs r WHERE r.sweep_id = ? ORDER BY r.id`,
    )
    .all(sweepId) as { name: string; status: string; generations: number; phase: string | null; last: number | null }[];
}

/** Mean wall seconds per committed generation over a sweep's runs (null: none yet). */
export function sweepSecondsPerGeneration(db: Database.Database, sweepId: string): number | null {
  return db
    .prepare(
      `SELECT avg((julianday(finished_at) - julianday(started_at)) * 86400) FROM generations
       WHERE run_id IN (SELECT id FROM runs WHERE sweep_id = ?)`,
    )
    .pluck()
    .get(sweepId) as number | null;
}
