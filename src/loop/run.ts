// The closed loop: creates a run, then executes generations until G, one transaction each.
// `run` and `resume` share `executeRun`: it rebuilds everything from the database and the last
// committed checkpoint, and derives every random stream from (seed, generation), so a resumed
// run is identical to an uninterrupted one. The library prints nothing: it reports LoopEvents.

import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { rmSync, existsSync } from 'node:fs';
import { modelFactory } from '../model/index.js';
import { UserError } from '../errors.js';
import { checkRunName, normalizeRunConfig, type RunConfig } from './config.js';
import { createRunState, restoreRunState } from './state.js';
import { IdList, trainingIds, type ReadCounter } from './dataset.js';
import { dataPolicy } from './policy/index.js';
import type { LoopEvent, Phase } from './events.js';
import type { HoldHook, HoldPhase } from './hold.js';
import { continueKernels, type KernelSpan } from './kernels.js';

type KernelChange = ReturnType<typeof continueKernels>['change'];
import { histograms, runGeneration, type Carry, type GenerationHooks, type RunContext } from './generation.js';
import { readGenerationMetrics, readHistogramsAt } from '../store/documents.js';
import {
  checkpointsBetween, clearCheckpoint, deleteAfter, getRun, getRunState, insertRun, lastGeneration, listGenerations, setCorpusHash, setRunState, updateRun, findRun,
  type RunRow,
} from '../store/runs.js';
import { runVerdicts, stopReached, type VerdictSummary } from './verdicts.js';
import { metricsShown } from '../metrics/registry.js';

export interface LoopDeps {
  db: Database.Database;
  modelsDir: string;
  corporaDir: string;
  backend: string;
  /** Milliseconds since the epoch (the library reads no clock). */
  now: () => number;
  onEvent?: (e: LoopEvent) => void;
  /** Aborting stops the run at the next safe point; committed generations stay. */
  signal?: AbortSignal;
  pid?: number;
  /** Counts training rows read (tests of flat per-generation cost). */
  readCounter?: ReadCounter;
  /** Test facility: called at every phase start and after every commit; may wait (see hold.ts). */
  hold?: HoldHook;
}

export class StopRequested extends Error {
  constructor() {
    super('stop requested');
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A readable default run name, unique in the database. */
export function defaultRunName(db: Database.Database, c: Readonly<RunConfig>): string {
  const corpus = c.corpus.replace(/^.*[\\/]/, '').replace(/\.(txt|jsonl)$/, '');
  const base = `${corpus}-${c.model}-T${c.temperature}-f${c.freshFraction}-${c.policy}-s${c.seed}`;
  let name = base;
  for (let i = 2; findRun(db, name); i++) name = `${base}-${i}`;
  return name;
}


/** Creates a run (row + stored state). Nothing is written when the config or corpus is bad. */
export function createRun(deps: LoopDeps, input: Partial<RunConfig>, options: { name?: string; sweepId?: string | null } = {}): RunRow {
  const config = normalizeRunConfig(input);
  modelFactory(config.model); // unknown model → UserError before anything is written
  const name = checkRunName(options.name ?? defaultRunName(deps.db, config));
  if (findRun(deps.db, name)) throw new UserError(`a run named '${name}' already exists in this database`);
  // Build the state before writing, so a bad corpus leaves the database as it was. IMMEDIATE:
  // the transaction reads (is the name free?) before it writes, and a deferred one fails at once
  // with SQLITE_BUSY when another process (a second run, a sweep worker) wrote in between.
  return deps.db.transaction(() => {
    const runId = insertRun(deps.db, {
      name, createdAt: iso(deps.now()), config, seed: config.seed, backend: deps.backend, corpusHash: '',
      generations: config.generations, sweepId: options.sweepId ?? null, pid: deps.pid ?? null,
    });
    const state = createRunState(deps.db, runId, config, deps.corporaDir);
    setCorpusHash(deps.db, runId, state.corpusHash);
    return getRun(deps.db, runId);
  }).immediate();
}

/**
 * Runs generations lastCommitted+1 … G of a run. `generations` raises the target G (resume
 * --generations). Returns the final status.
 */
export async function executeRun(deps: LoopDeps, runName: string | number, opts: { generations?: number } = {}): Promise<'complete' | 'interrupted'> {
  const { db } = deps;
  const { ctx, G, last, kernelChange } = openRun(deps, runName, opts.generations);
  const { config, state, runId } = ctx;
  const emit = (e: LoopEvent) => deps.onEvent?.(e);
  emit({ type: 'start', runId, run: ctx.runName, config, backend: deps.backend, kernel: ctx.kernel, kernelChange, fromGen: last + 1 });
  const { hooks, hold } = generationHooks(deps, runId, ctx.runName, emit);
  const carry: Carry = { model: null, trainIds: new IdList(), trainHist: ctx.seedHist };
  let gen = last + 1;
  let verdicts: VerdictSummary[] = []; // after the last generation committed in this call
  try {
    await hooks(gen).phase('setup');
    hooks(gen).checkStop();
    if (last >= 0) await resumeFrom(ctx, carry, last);
    let stopNote: string | null = null;
    for (; gen <= G; gen++) {
      const { trainLoss, valLoss, started } = await runGeneration(ctx, carry, gen, hooks(gen));
      pruneCheckpoints(db, runId, gen, config.keepCheckpoints, gen - config.keepCheckpoints);
      await hold(gen, 'committed');
      // Report, and stop early when the chosen verdict has held long enough.
      verdicts = runVerdicts(db, runId, { coarse: state.coarse, config });
      emit({ type: 'generation', summary: generationSummary(db, runId, gen, G, trainLoss, valLoss, verdicts, (deps.now() - started) / 1000) });
      if (config.stopWhen && gen >= 1 && stopReached(db, runId, state, config)) {
        stopNote = `stopped early at generation ${gen}: verdict '${config.stopWhen}' on ${config.stopCoarse} held for ${config.patience} generations`;
        gen++;
        break;
      }
    }
    const lastGen = gen - 1;
    if (stopNote) updateRun(db, runId, { generations: lastGen });
    updateRun(db, runId, { status: 'complete', phase: null, progress_json: null, heartbeat_at: iso(deps.now()), note: stopNote });
    emit({ type: 'end', status: 'complete', lastGen, note: stopNote, verdicts });
    return 'complete';
  } catch (e) {
    const stopped = e instanceof StopRequested;
    const note = stopped ? `interrupted during generation ${gen}` : String((e as Error).message ?? e).slice(0, 500);
    updateRun(db, runId, { status: stopped ? 'interrupted' : 'failed', phase: null, progress_json: null, heartbeat_at: iso(deps.now()), note });
    if (!stopped) throw e;
    emit({ type: 'end', status: 'interrupted', lastGen: gen - 1, note, verdicts: runVerdicts(db, runId, { coarse: state.coarse, config }) });
    return 'interrupted';
  } finally {
    carry.model?.dispose();
  }
}

/** Checks the run can go on, rebuilds its state, marks it running; the context of its generations. */
function openRun(deps: LoopDeps, runName: string | number, generations?: number): { ctx: RunContext; G: number; last: number; kernelChange: KernelChange } {
  const { db } = deps;
  let run = getRun(db, runName);
  const config = normalizeRunConfig(JSON.parse(run.config_json) as Partial<RunConfig>);
  const G = generations ?? run.generations;
  const last = lastGeneration(db, run.id);
  if (G < 1) throw new UserError(`--generations must be ≥ 1`);
  if (last >= G) throw new UserError(`run '${run.name}' is complete (${last}/${G} generations); pass --generations to extend it`);
  const state = restoreRunState(db, run.id, config, run.corpus_hash, deps.corporaDir);
  const factory = modelFactory(config.model);
  // runs.kernel is the kernel of the committed generations (written with each commit).
  const kernel = factory.kernel();
  const kernels = continueKernels(getRunState<KernelSpan[]>(db, run.id, 'kernels') ?? [], last, run.kernel, kernel);
  deleteAfter(db, run.id, last);
  setRunState(db, run.id, 'kernels', kernels.spans);
  updateRun(db, run.id, { status: 'running', generations: G, backend: deps.backend, pid: deps.pid ?? null, heartbeat_at: iso(deps.now()), note: null });
  run = getRun(db, run.id);
  const ctx: RunContext = {
    db, runId: run.id, runName: run.name, config, state, policy: dataPolicy(config.policy), factory, kernel,
    seedHist: histograms(state, state.seedTrain), modelsDir: deps.modelsDir, now: deps.now, readCounter: deps.readCounter,
  };
  return { ctx, G, last, kernelChange: kernels.change };
}

/** Where a resumed run starts: the last committed checkpoint, its training set's ids and histograms. */
async function resumeFrom(ctx: RunContext, carry: Carry, last: number): Promise<void> {
  const { db, runId, state } = ctx;
  const row = listGenerations(db, runId).find((g) => g.gen === last)!;
  if (!row.checkpoint || !existsSync(join(row.checkpoint, 'model.json'))) {
    throw new UserError(`the checkpoint of generation ${last} of run '${ctx.runName}' is missing (${row.checkpoint ?? 'pruned'}); cannot resume`);
  }
  carry.model = await ctx.factory.load(row.checkpoint);
  carry.trainHist = new Map(state.coarse.map((cg) => [cg.name, readHistogramsAt(db, runId, cg.name, 'train', cg.categories.length, [last]).get(last)!]));
  carry.trainIds = trainingIds(db, runId, ctx.policy, last, ctx.config.seed);
  pruneCheckpoints(db, runId, last, ctx.config.keepCheckpoints, 1);
}

/** Phase and progress events, the heartbeat (at most once a second), hold points and the stop check. */
function generationHooks(deps: LoopDeps, runId: number, run: string, emit: (e: LoopEvent) => void) {
  let lastBeat = 0;
  const beat = () => {
    const t = deps.now();
    if (t - lastBeat > 1000) {
      lastBeat = t;
      updateRun(deps.db, runId, { heartbeat_at: iso(t) });
    }
  };
  const hold = async (gen: number, phase: HoldPhase) => {
    if (deps.hold) await deps.hold({ run, runId, gen, phase, pid: deps.pid ?? null }, { signal: deps.signal, beat });
  };
  const hooks = (g: number): GenerationHooks => ({
    phase: async (phase: Phase) => {
      emit({ type: 'phase', gen: g, phase });
      updateRun(deps.db, runId, { phase, heartbeat_at: iso(deps.now()), progress_json: JSON.stringify({ gen: g, phase, done: 0, total: 0 }) });
      await hold(g, phase);
    },
    progress: (phase, done, total) => {
      emit({ type: 'progress', gen: g, phase, done, total });
      const t = deps.now();
      if (t - lastBeat > 1000) {
        lastBeat = t;
        updateRun(deps.db, runId, { heartbeat_at: iso(t), progress_json: JSON.stringify({ gen: g, phase, done, total }) });
      }
    },
    checkStop: () => {
      if (deps.signal?.aborted) throw new StopRequested();
    },
  });
  return { hooks, hold };
}

/**
 * Keeps generation 0 and the last `keep` checkpoints. Removes those of generations from..upTo−keep
 * that still have one: the loop passes only the generation that just fell out of the window (a
 * read that does not grow with the run); a resume passes from = 1 once, to catch up after a crash.
 */
function pruneCheckpoints(db: Database.Database, runId: number, upTo: number, keep: number, from: number): void {
  for (const g of checkpointsBetween(db, runId, Math.max(1, from), upTo - keep)) {
    // The folder goes first: a crash in between leaves a dangling path, never an orphan folder.
    rmSync(g.checkpoint, { recursive: true, force: true });
    clearCheckpoint(db, runId, g.gen);
  }
}

function generationSummary(db: Database.Database, runId: number, gen: number, G: number, trainLoss: number | null, valLoss: number | null, verdicts: ReturnType<typeof runVerdicts>, seconds: number) {
  const rows = readGenerationMetrics(db, runId, gen);
  const shown = metricsShown('progress', 'coarse').map((d) => d.key);
  const coarse: Record<string, Record<string, number | null>> = {};
  for (const r of rows) {
    coarse[r.coarse] ??= Object.fromEntries(shown.map((k) => [k, null]));
    if (shown.includes(r.key)) coarse[r.coarse][r.key] = r.value;
  }
  return { gen, generations: G, trainLoss, valLoss, coarse, verdicts, seconds };
}
