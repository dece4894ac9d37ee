// Sweeps: a grid of runs over lists of settings, grouped under one sweep id in one database.
// This is the library half: expanding the grid into named grid points, creating every run up
// front (so the set is known and a relaunch knows what is missing), deciding which runs still
// need work, a snapshot of overall progress, and a pool that keeps at most j workers busy.
// Launching a worker (a child process running `resume <run>`) is the caller's business.

import { sweepRunStates, sweepSecondsPerGeneration } from '../store/runs.js';
import { samplingTruncations } from '../model/sampling.js';
import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import { checkRunName, checkSweepId, normalizeRunConfig, type RunConfig } from './config.js';
import { createRun, type LoopDeps } from './run.js';
import { liveStatus } from './view.js';
import { findRun, findSweep, insertSweep, listRuns, updateRun, type RunRow } from '../store/runs.js';

/** What a sweep varies: RunConfig key → its values, as typed (each point is validated whole). */
export type SweepAxes = Partial<Record<keyof RunConfig, string[]>>;

export interface SweepGrid {
  /** Axes in the order they nest (the last one varies fastest). One value = a fixed setting. */
  axes: SweepAxes;
  /** Settings that are not lists (the coarse-grainings, flags). */
  fixed: Partial<RunConfig>;
}

export interface GridPoint {
  /** Run name: the sweep id plus the values of every axis with more than one value, and the seed. */
  name: string;
  /** The run's input config: fixed settings plus this point's value of every axis. */
  input: Partial<RunConfig>;
  /** This point's value of each axis, as typed. */
  values: Partial<Record<keyof RunConfig, string>>;
}

/** Short tags for run names; values of other keys are used bare (`replace`, `scratch`, …). */
const TAGS: Partial<Record<keyof RunConfig, string>> = {
  temperature: 'T', freshFraction: 'f', seed: 's', samples: 'N', steps: 'S', generations: 'G', order: 'o', buckets: 'b',
  epochs: 'e', initialSteps: 'i', maxLength: 'L', keepCheckpoints: 'k', valFraction: 'v', patience: 'p', candidates: 'M', trainSize: 'ts', learningRate: 'lr', initialLearningRate: 'ilr',
  ...Object.fromEntries(samplingTruncations().map((t) => [t.key, t.tag])),
};


/**
 * The seed axis: `--seeds k` gives k seeds counting up from each `--seed` value (from 1 when
 * no seed was given); without k, the listed seeds themselves.
 */
export function seedAxis(seeds: string[] | undefined, k: number | undefined): string[] | undefined {
  if (k === undefined) return seeds;
  if (!Number.isInteger(k) || k < 1) throw new UserError(`--seeds must be a whole number ≥ 1, got '${k}'`);
  const starts = (seeds ?? ['1']).map((s) => {
    const x = Number(s);
    if (s.trim() === '' || !Number.isInteger(x) || x < 0) throw new UserError(`--seed must be a whole number ≥ 0, got '${s}'`);
    return x;
  });
  return [...new Set(starts.flatMap((s) => Array.from({ length: k }, (_, i) => String(s + i))))];
}

/** Splits a comma list, trimming; an empty item is refused (it is always a typo). */
export function splitList(flag: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UserError(`--${flag} '${value}' has an empty item`);
  return [...new Set(items)];
}

/** The cross product of the axes, every point validated, with a unique, deterministic run name. */
export function expandGrid(id: string, grid: SweepGrid): GridPoint[] {
  checkSweepId(id);
  const keys = Object.keys(grid.axes) as (keyof RunConfig)[];
  let points: Partial<Record<keyof RunConfig, string>>[] = [{}];
  for (const key of keys) points = points.flatMap((p) => grid.axes[key]!.map((v) => ({ ...p, [key]: v })));
  const named = keys.filter((k) => grid.axes[k]!.length > 1 || k === 'seed');
  const seen = new Set<string>();
  return points.map((values, i) => {
    const input = { ...grid.fixed, ...values } as Partial<RunConfig>;
    normalizeRunConfig(input); // one clear line for a bad value, before anything is written
    const parts = named.map((k) => `${TAGS[k] ?? ''}${String(values[k] ?? '').replace(/[^A-Za-z0-9._-]+/g, '_')}`);
    let name = [id, ...parts].join('-');
    if (name.length > 100 || seen.has(name)) name = `${id}-${i + 1}`;
    seen.add(name);
    return { name: checkRunName(name), input, values };
  });
}

/**
 * Creates the sweep row and every run of the grid in one transaction (all or nothing). Runs
 * start `queued`; a worker's `resume` makes them `running`.
 */
export function createSweep(deps: LoopDeps, id: string, grid: SweepGrid, points: readonly GridPoint[], createdAt: string): RunRow[] {
  const { db } = deps;
  if (findSweep(db, id)) throw new UserError(`sweep '${id}' already exists in this database; continue it with: heatdeath sweep --resume ${id}`);
  for (const p of points) {
    if (findRun(db, p.name)) throw new UserError(`a run named '${p.name}' already exists in this database (choose another sweep --name)`);
  }
  return db.transaction(() => {
    insertSweep(db, { id, createdAt, grid: { axes: grid.axes, fixed: grid.fixed, runs: points.length } });
    return points.map((p) => {
      const run = createRun(deps, p.input, { name: p.name, sweepId: id });
      updateRun(db, run.id, { status: 'queued', pid: null });
      return { ...run, status: 'queued' as const, pid: null };
    });
  }).immediate(); // the write lock up front, as every writing transaction here (store/runs.ts deleteAfter)
}

export interface SweepPlan {
  runs: RunRow[];
  /** Complete runs: left alone. */
  complete: RunRow[];
  /** Queued, interrupted, failed (or killed while running): resumed. */
  todo: RunRow[];
}

/**
 * Which runs of a sweep still need work. A run whose writer is still alive (another sweep
 * process, a worker of a killed sweep that lives on) is refused: two writers on one run would
 * interleave generations.
 */
export function planSweep(db: Database.Database, id: string, nowMs: number, pidAlive: (pid: number | null) => boolean | null): SweepPlan {
  const runs = listRuns(db, id);
  const complete: RunRow[] = [];
  const todo: RunRow[] = [];
  for (const run of runs) {
    const live = liveStatus(db, run, nowMs, pidAlive);
    if (live.status === 'running') {
      throw new UserError(`run '${run.name}' of sweep '${id}' is still being written (pid ${run.pid ?? '?'}); stop that process first`);
    }
    if (live.status === 'complete' && live.gen >= run.generations) complete.push(run);
    else todo.push(run);
  }
  return { runs, complete, todo };
}

export interface RunProgress {
  name: string;
  status: string;
  /** Last committed generation (−1: none yet). */
  gen: number;
  generations: number;
  phase: string | null;
}

export interface SweepProgress {
  total: number;
  complete: number;
  runs: RunProgress[];
  /** Mean seconds per committed generation over the sweep so far (null before the first). */
  secondsPerGen: number | null;
  /** Remaining time with `jobs` workers, from secondsPerGen (null when unknown). */
  etaS: number | null;
}

/** Overall progress of a sweep, read from the database (workers write their own runs). */
export function sweepProgress(db: Database.Database, id: string, jobs: number): SweepProgress {
  const runs = sweepRunStates(db, id).map((r) => ({ name: r.name, status: r.status, gen: r.last ?? -1, generations: r.generations, phase: r.phase }));
  const spg = sweepSecondsPerGeneration(db, id);
  const unfinished = runs.filter((r) => !(r.status === 'complete' && r.gen >= r.generations));
  // Generations 0..G of a run that has committed none, G − last of the others.
  const remaining = unfinished.reduce((a, r) => a + (r.generations - r.gen), 0);
  const width = Math.max(1, Math.min(jobs, unfinished.length));
  return {
    total: runs.length,
    complete: runs.length - unfinished.length,
    runs,
    secondsPerGen: spg,
    etaS: spg === null ? null : (remaining * spg) / width,
  };
}

/** What one worker reported when it ended. */
export interface WorkerOutcome {
  run: string;
  /** Exit code (null when killed by a signal). */
  code: number | null;
  signal: string | null;
  /** The last lines it wrote, for the failure report. */
  tail: string;
}

export interface PoolHooks {
  onStart?: (run: string) => void;
  onEnd?: (outcome: WorkerOutcome) => void;
  /** Checked before each launch: true stops launching (running workers finish or stop on their own). */
  stopped?: () => boolean;
}

/** Runs `launch` over the runs with at most `jobs` at a time, in order; resolves when all ended. */
export async function runPool(runs: readonly string[], jobs: number, launch: (run: string) => Promise<WorkerOutcome>, hooks: PoolHooks = {}): Promise<WorkerOutcome[]> {
  if (!Number.isInteger(jobs) || jobs < 1) throw new UserError(`--jobs must be a whole number ≥ 1, got '${jobs}'`);
  const outcomes: WorkerOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < runs.length && !hooks.stopped?.()) {
      const run = runs[next++];
      hooks.onStart?.(run);
      const outcome = await launch(run);
      outcomes.push(outcome);
      hooks.onEnd?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, runs.length) }, worker));
  return outcomes;
}
