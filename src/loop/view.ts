// Read-side views of a stored run for the reading commands (status, metrics, samples, export,
// compare, report): the config, the rebuilt tokenizer and coarse-grainings, the live status.
// Nothing here writes.

import type Database from 'better-sqlite3';
import { statSync, readdirSync, existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { loadTokenizer } from '../tokenizer/index.js';
import type { Tokenizer, TokenizerState } from '../tokenizer/types.js';
import { loadCoarseGrainings, type CoarseGraining, type CoarseState } from '../metrics/coarse.js';
import { UserError } from '../errors.js';
import { getRunState, lastGeneration, listGenerations, type RunRow } from '../store/runs.js';
import { normalizeRunConfig, type RunConfig } from './config.js';
import { heartbeatAgeS, writerGone } from '../store/lock.js';

export interface RunView {
  run: RunRow;
  config: Readonly<RunConfig>;
  tokenizer: Tokenizer;
  coarse: CoarseGraining[];
  /** Longest sampled document of the run (tokens). */
  maxLength: number;
}

/** Where the checkpoint of generation `gen` of a run lives (one layout for writers and readers). */
export function checkpointDir(modelsDir: string, run: string, gen: number): string {
  return join(modelsDir, run, `gen-${String(gen).padStart(4, '0')}`);
}

/**
 * A run's models folder: `moved` when the user named one (the folder moved there), else the one
 * stored with the run (absolute), else — a run stored before the folder was recorded — `fallback`.
 */
export function runModelsDir(run: RunRow, fallback: string, moved?: string): string {
  return moved ?? run.models_dir ?? fallback;
}

/** The generations of a run whose checkpoint is kept, with its folder (it may be missing on disk). */
export function keptCheckpoints(db: Database.Database, run: RunRow, fallback: string, moved?: string): { gen: number; dir: string }[] {
  const dir = runModelsDir(run, fallback, moved);
  return listGenerations(db, run.id)
    .filter((g) => g.checkpoint)
    .map((g) => ({ gen: g.gen, dir: moved === undefined && run.models_dir === null && isAbsolute(g.checkpoint!) ? g.checkpoint! : checkpointDir(dir, run.name, g.gen) }));
}

export function runView(db: Database.Database, run: RunRow): RunView {
  const config = normalizeRunConfig(JSON.parse(run.config_json));
  const tokenizer = loadTokenizer(getRunState<TokenizerState>(db, run.id, 'tokenizer')!);
  const coarse = loadCoarseGrainings(getRunState<CoarseState[]>(db, run.id, 'coarse') ?? [], { tokenizer });
  const maxLength = config.maxLength ?? getRunState<number>(db, run.id, 'max_length') ?? 256;
  return { run, config, tokenizer, coarse, maxLength };
}

export function coarseOf(view: RunView, name: string): CoarseGraining {
  const cg = view.coarse.find((c) => c.name === name);
  if (!cg) throw new UserError(`run '${view.run.name}' does not track coarse-graining '${name}' (it tracks ${view.coarse.map((c) => c.name).join(', ')})`);
  return cg;
}

export interface LiveStatus {
  status: string;
  gen: number;
  generations: number;
  phase: string | null;
  progress: { gen: number; phase: string; done: number; total: number } | null;
  heartbeatAgeS: number | null;
  /** Mean seconds per finished generation (the last 5) and the whole run's remaining time. */
  secondsPerGen: number | null;
  etaS: number | null;
}

/**
 * Status as a reader sees it: a 'running' row whose writer is gone (its pid is dead on this
 * machine, as `pidAlive` tells; null = cannot tell), or its heartbeat is older than the lock's
 * bound (store/lock.ts writerGone) is `interrupted`.
 */
export function liveStatus(db: Database.Database, run: RunRow, nowMs: number, pidAlive: (pid: number | null) => boolean | null = () => null): LiveStatus {
  const gen = lastGeneration(db, run.id);
  const age = heartbeatAgeS(run.heartbeat_at, nowMs);
  let status: string = run.status;
  if (status === 'running' && writerGone(pidAlive(run.pid), age)) status = 'interrupted';
  const gens = listGenerations(db, run.id).filter((g) => g.gen > 0).slice(-5);
  const spg = gens.length ? gens.reduce((a, g) => a + (Date.parse(g.finished_at) - Date.parse(g.started_at)) / 1000, 0) / gens.length : null;
  const progress = status === 'running' && run.progress_json ? JSON.parse(run.progress_json) : null;
  return {
    status,
    gen,
    generations: run.generations,
    phase: status === 'running' ? run.phase : null,
    progress,
    heartbeatAgeS: age,
    secondsPerGen: spg,
    etaS: status === 'running' && spg !== null ? spg * (run.generations - gen) : null,
  };
}

/** Bytes of a folder tree (checkpoint sizes). */
export function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return n;
}

/** Refuses a generation the run has not committed: "run x has generations 0–3". */
export function checkGeneration(db: Database.Database, run: RunRow, gen: number): void {
  const last = lastGeneration(db, run.id);
  if (last < 0) throw new UserError(`run '${run.name}' has no committed generation yet`, 'E_NO_GENERATION');
  if (gen > last) throw new UserError(`run '${run.name}' has generations 0–${last}; there is no generation ${gen}`, 'E_NO_GENERATION');
}
