// The closed loop: creates a run, then executes generations until G, one transaction each.
// `run` and `resume` share `executeRun`: it rebuilds everything from the database and the last
// committed checkpoint, and derives every random stream from (seed, generation), so a resumed
// run is identical to an uninterrupted one. The library prints nothing: it reports LoopEvents.

import type Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { modelFactory } from '../model/index.js';
import { UserError, diskFullError, isUserError } from '../errors.js';
import { checkRunName, normalizeRunConfig, type RunConfig } from './config.js';
import { buildRunState, storeRunState, restoreRunState } from './state.js';
import { preflight } from './preflight.js';
import { checkpointDir } from './view.js';
import { checkOwner, claimRun, updateOwned, type Claimant } from '../store/lock.js';
import { IdList, initialPool, trainingIds, type ReadCounter } from './dataset.js';
import { dataPolicy } from './policy/index.js';
import type { LoopEvent, Phase } from './events.js';
import type { HoldHook, HoldPhase } from './hold.js';
import { continueKernels, type KernelSpan } from './kernels.js';

type KernelChange = ReturnType<typeof continueKernels>['change'];
import { histograms, modelSpec, runGeneration, type Carry, type GenerationHooks, type RunContext } from './generation.js';
import { readGenerationMetrics, readHistogramsAt } from '../store/documents.js';
import {
  checkpointsBetween, clearCheckpoint, deleteAfter, getRun, getRunState, insertRun, lastGeneration, listGenerations, setRunState, updateRun, findRun,
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
  /** Whether a pid is alive on this machine (null: cannot tell); decides if a run's owner is gone. */
  pidAlive?: (pid: number) => boolean | null;
  /** Memory this process may use, in bytes: sizes that cannot fit are refused before a write. */
  memoryBytes?: number;
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


/**
 * Creates a run (row + stored state). Nothing is written when the config, the corpus or anything
 * else `preflight` checks is bad. Under the default coarse-grainings, a corpus without labels
 * drops `label` (a notice event says so); a `label` the user named is refused.
 */
export function createRun(deps: LoopDeps, input: Partial<RunConfig>, options: { name?: string; sweepId?: string | null } = {}): RunRow {
  let config = normalizeRunConfig(input);
  const factory = modelFactory(config.model); // unknown model → UserError before anything is written
  const name = checkRunName(options.name ?? defaultRunName(deps.db, config));
  if (findRun(deps.db, name)) throw new UserError(`a run named '${name}' already exists in this database`);
  const { state, droppedLabel } = buildRunState(config, deps.corporaDir, input.coarse === undefined);
  if (droppedLabel) {
    config = normalizeRunConfig({ ...config, coarse: config.coarse.filter((c) => c !== 'label') });
    deps.onEvent?.({ type: 'notice', message: `corpus '${config.corpus}' has no labels: tracking ${config.coarse.join(', ')} (the default 'label' coarse-graining needs labels)` });
  }
  preflight({ config, state, factory, spec: modelSpec({ config, state, factory }, 0), modelsDir: deps.modelsDir, memoryBytes: deps.memoryBytes });
  // IMMEDIATE: the transaction reads (is the name free?) before it writes, and a deferred one
  // fails at once with SQLITE_BUSY when another process (a second run, a sweep worker) wrote in between.
  return deps.db.transaction(() => {
    const runId = insertRun(deps.db, {
      name, createdAt: iso(deps.now()), config, seed: config.seed, backend: deps.backend, corpusHash: state.corpusHash,
      generations: config.generations, sweepId: options.sweepId ?? null, pid: deps.pid ?? null, modelsDir: deps.modelsDir,
    });
    storeRunState(deps.db, runId, state);
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
  const { hooks, hold } = generationHooks(deps, runId, ctx.runName, ctx.pid, emit);
  const carry: Carry = { model: null, gen0: null, trainIds: new IdList(), pool: initialPool(db, runId, ctx.policy, -1), trainHist: ctx.seedHist };
  let gen = last + 1;
  let verdicts: VerdictSummary[] = []; // after the last generation committed in this call
  try {
    await hooks(gen).phase('setup');
    hooks(gen).checkStop();
    if (last >= 0) await resumeFrom(ctx, carry, last);
    let stopNote: string | null = null;
    for (; gen <= G; gen++) {
      const { trainLoss, valLoss, valLossSe, started } = await runGeneration(ctx, carry, gen, hooks(gen));
      pruneCheckpoints(ctx, gen, config.keepCheckpoints, gen - config.keepCheckpoints);
      await hold(gen, 'committed');
      // Report, and stop early when the chosen verdict has held long enough.
      verdicts = runVerdicts(db, runId, { coarse: state.coarse, config });
      emit({ type: 'generation', summary: generationSummary(db, runId, gen, G, trainLoss, { loss: valLoss, se: valLossSe }, verdicts, (deps.now() - started) / 1000) });
      if (config.stopWhen && gen >= 1 && stopReached(db, runId, state, config)) {
        stopNote = `stopped early at generation ${gen}: verdict '${config.stopWhen}' on ${config.stopCoarse} held for ${config.patience} generations`;
        gen++;
        break;
      }
    }
    const lastGen = gen - 1;
    if (stopNote) updateOwned(db, runId, ctx.pid, { generations: lastGen });
    updateOwned(db, runId, ctx.pid, { status: 'complete', phase: null, progress_json: null, heartbeat_at: iso(deps.now()), note: stopNote });
    emit({ type: 'end', status: 'complete', lastGen, note: stopNote, verdicts });
    return 'complete';
  } catch (caught) {
    const stopped = caught instanceof StopRequested;
    // A full disk is the user's to fix: one line, and the run stays resumable.
    const e = diskFullError(caught, db.name) ?? caught;
    if (isUserError(e) && e.code === 'E_RUN_TAKEN') throw e; // the row is the new owner's now
    const note = stopped ? `interrupted during generation ${gen}` : String((e as Error).message ?? e).slice(0, 500);
    try {
      // Only while still the owner. On a full disk this update may fail too: the dead pid then
      // tells readers the run is interrupted, and the next resume takes the claim over.
      updateRun(db, runId, { status: stopped || isUserError(e) ? 'interrupted' : 'failed', phase: null, progress_json: null, heartbeat_at: iso(deps.now()), note }, ctx.pid);
    } catch (second) {
      if (!diskFullError(second, db.name)) throw second;
    }
    if (!stopped) throw e;
    emit({ type: 'end', status: 'interrupted', lastGen: gen - 1, note, verdicts: runVerdicts(db, runId, { coarse: state.coarse, config }) });
    return 'interrupted';
  } finally {
    carry.model?.dispose();
    carry.gen0?.dispose();
  }
}

/**
 * Checks the run can go on (refusals first — another live owner, a complete run, a changed
 * corpus, anything preflight finds — so the run's row stays as it was), rebuilds its state,
 * claims it (see store/lock.ts), marks it running; the context of its generations.
 */
function openRun(deps: LoopDeps, runName: string | number, generations?: number): { ctx: RunContext; G: number; last: number; kernelChange: KernelChange } {
  const { db } = deps;
  let run = getRun(db, runName);
  const config = normalizeRunConfig(JSON.parse(run.config_json) as Partial<RunConfig>);
  const G = generations ?? run.generations;
  const last = lastGeneration(db, run.id);
  if (G < 1) throw new UserError(`--generations must be ≥ 1`);
  if (last >= G) {
    throw new UserError(generations === undefined
      ? `run '${run.name}' is complete (${last} of ${G} generations); pass --generations with more than ${last} to extend it`
      : `run '${run.name}' has ${last} generations committed; --generations must be more than ${last} to extend it, got ${G}`);
  }
  const pid = deps.pid ?? 0;
  const me = (): Claimant => ({ pid, nowMs: deps.now(), pidAlive: deps.pidAlive ?? (() => null) });
  checkOwner(run, me());
  const state = restoreRunState(db, run.id, config, run.corpus_hash, deps.corporaDir);
  const factory = modelFactory(config.model);
  // runs.kernel is the kernel of the committed generations (written with each commit).
  const kernel = factory.kernel();
  const kernels = continueKernels(getRunState<KernelSpan[]>(db, run.id, 'kernels') ?? [], last, run.kernel, kernel);
  const lastRow = last >= 0 ? listGenerations(db, run.id).find((g) => g.gen === last)! : null;
  // A checkpoint is found from the run's models folder, never from the current directory.
  const fromDir = lastRow?.checkpoint ? checkpointDir(deps.modelsDir, run.name, last) : null;
  preflight({
    config, state, factory, spec: modelSpec({ config, state, factory }, 0), modelsDir: deps.modelsDir, memoryBytes: deps.memoryBytes,
    resumeFrom: lastRow ? { gen: last, dir: fromDir, runName: run.name, gen0Dir: checkpointDir(deps.modelsDir, run.name, 0) } : null,
  });
  claimRun(db, run.id, me());
  deleteAfter(db, run.id, last);
  setRunState(db, run.id, 'kernels', kernels.spans);
  updateOwned(db, run.id, pid, { status: 'running', generations: G, backend: deps.backend, heartbeat_at: iso(deps.now()), note: null, models_dir: deps.modelsDir });
  run = getRun(db, run.id);
  const ctx: RunContext = {
    db, runId: run.id, runName: run.name, config, state, policy: dataPolicy(config.policy), factory, kernel, pid,
    seedHist: histograms(state, state.seedTrain), modelsDir: deps.modelsDir, now: deps.now, readCounter: deps.readCounter,
  };
  return { ctx, G, last, kernelChange: kernels.change };
}

/** Where a resumed run starts: the last committed checkpoint, its training set's ids and histograms. */
async function resumeFrom(ctx: RunContext, carry: Carry, last: number): Promise<void> {
  const { db, runId, state } = ctx;
  // openRun's preflight found it on disk.
  carry.model = await ctx.factory.load(checkpointDir(ctx.modelsDir, ctx.runName, last));
  // The generation-0 model scores every new document (gen0_loglik); preflight found its checkpoint.
  carry.gen0 = await ctx.factory.load(checkpointDir(ctx.modelsDir, ctx.runName, 0));
  carry.trainHist = new Map(state.coarse.map((cg) => [cg.name, readHistogramsAt(db, runId, cg.name, 'train', cg.categories.length, [last]).get(last)!]));
  carry.trainIds = trainingIds(db, runId, ctx.policy, last, ctx.config);
  carry.pool = initialPool(db, runId, ctx.policy, last);
  pruneCheckpoints(ctx, last, ctx.config.keepCheckpoints, 1);
}

/** Phase and progress events, the heartbeat (at most once a second), hold points and the stop check. */
function generationHooks(deps: LoopDeps, runId: number, run: string, pid: number, emit: (e: LoopEvent) => void) {
  let lastBeat = 0;
  const beat = () => {
    const t = deps.now();
    if (t - lastBeat > 1000) {
      lastBeat = t;
      updateOwned(deps.db, runId, pid, { heartbeat_at: iso(t) });
    }
  };
  const hold = async (gen: number, phase: HoldPhase) => {
    if (deps.hold) await deps.hold({ run, runId, gen, phase, pid: deps.pid ?? null }, { signal: deps.signal, beat });
  };
  const hooks = (g: number): GenerationHooks => ({
    phase: async (phase: Phase) => {
      emit({ type: 'phase', gen: g, phase });
      updateOwned(deps.db, runId, pid, { phase, heartbeat_at: iso(deps.now()), progress_json: JSON.stringify({ gen: g, phase, done: 0, total: 0 }) });
      await hold(g, phase);
    },
    progress: (phase, done, total) => {
      emit({ type: 'progress', gen: g, phase, done, total });
      const t = deps.now();
      if (t - lastBeat > 1000) {
        lastBeat = t;
        updateOwned(deps.db, runId, pid, { heartbeat_at: iso(t), progress_json: JSON.stringify({ gen: g, phase, done, total }) });
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
function pruneCheckpoints(ctx: RunContext, upTo: number, keep: number, from: number): void {
  for (const g of checkpointsBetween(ctx.db, ctx.runId, Math.max(1, from), upTo - keep)) {
    // The folder goes first: a crash in between leaves a dangling path, never an orphan folder.
    // Found from the run's models folder, never from the stored (maybe relative) path.
    rmSync(checkpointDir(ctx.modelsDir, ctx.runName, g.gen), { recursive: true, force: true });
    clearCheckpoint(ctx.db, ctx.runId, g.gen);
  }
}

function generationSummary(db: Database.Database, runId: number, gen: number, G: number, trainLoss: number | null, val: { loss: number | null; se: number | null }, verdicts: ReturnType<typeof runVerdicts>, seconds: number) {
  const rows = readGenerationMetrics(db, runId, gen);
  const shown = metricsShown('progress', 'coarse').map((d) => d.key);
  const coarse: Record<string, Record<string, number | null>> = {};
  for (const r of rows) {
    coarse[r.coarse] ??= Object.fromEntries(shown.map((k) => [k, null]));
    if (shown.includes(r.key)) coarse[r.coarse][r.key] = r.value;
  }
  return { gen, generations: G, trainLoss, valLoss: val.loss, valLossSe: val.se, coarse, verdicts, seconds };
}
