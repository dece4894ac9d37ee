// The closed loop: creates a run, then executes generations until G, one transaction each.
// `run` and `resume` share `executeRun`: it rebuilds everything from the database and the last
// committed checkpoint, and derives every random stream from (seed, generation), so a resumed
// run is identical to an uninterrupted one. The library prints nothing: it reports LoopEvents.

import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { rmSync, existsSync } from 'node:fs';
import type { LanguageModel, ModelSpec, TrainingSet } from '../model/types.js';
import { modelFactory } from '../model/index.js';
import { UserError } from '../errors.js';
import { rngFor } from '../rng.js';
import { checkRunName, normalizeRunConfig, type RunConfig } from './config.js';
import { createRunState, restoreRunState, type RunState } from './state.js';
import { IdList, loadTrainingIds, sqliteTrainingSet, trainingTextLookup, type ReadCounter } from './dataset.js';
import type { GenerationSummary, LoopEvent, Phase } from './events.js';
import {
  addHistograms, decompositionRows, drawControl, drawNewDocuments, firstDelta, genRng, histograms, metricRows, toDocument, validationLoss,
  type GenerationHooks,
} from './generation.js';
import { insertDocuments, insertHistogram, insertMetrics, readHistograms } from '../store/documents.js';
import {
  clearCheckpoint, deleteAfter, getRun, insertGeneration, insertRun, lastGeneration, listGenerations, updateRun, findRun, type RunRow,
} from '../store/runs.js';
import { runVerdicts, stopReached, termSums, type VerdictSummary } from './verdicts.js';
import { totalVariation, l2Distance } from '../metrics/histogram.js';
import { textMetrics } from '../metrics/text.js';
import { normalize } from '../theory/core.js';

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
}

export class StopRequested extends Error {
  constructor() {
    super('stop requested');
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Lets the event loop turn, so a stop request (the CLI's signal handler) is seen. The n-gram
 * model computes synchronously and its checkpoints are written synchronously: without a turn
 * between phases a SIGINT is only delivered once the whole run has finished.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

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
    deps.db.prepare(`UPDATE runs SET corpus_hash = ? WHERE id = ?`).run(state.corpusHash, runId);
    return getRun(deps.db, runId);
  }).immediate();
}

function modelSpec(config: Readonly<RunConfig>, state: RunState, gen: number): ModelSpec {
  const options: Record<string, unknown> = config.model === 'ngram' ? { order: config.order, buckets: config.buckets } : { size: config.size, threads: config.threads };
  return { vocabSize: state.tokenizer.vocabSize, bos: state.tokenizer.bos, eos: state.tokenizer.eos, options, seed: rngFor(config.seed, 'init', gen).uint32() };
}

export function checkpointDir(modelsDir: string, run: string, gen: number): string {
  return join(modelsDir, run, `gen-${String(gen).padStart(4, '0')}`);
}

/**
 * Runs generations lastCommitted+1 … G of a run. `generations` raises the target G (resume
 * --generations). Returns the final status.
 */
export async function executeRun(deps: LoopDeps, runName: string | number, opts: { generations?: number } = {}): Promise<'complete' | 'interrupted'> {
  const { db } = deps;
  let run = getRun(db, runName);
  const config = normalizeRunConfig(JSON.parse(run.config_json) as Partial<RunConfig>);
  const G = opts.generations ?? run.generations;
  const last = lastGeneration(db, run.id);
  if (G < 1) throw new UserError(`--generations must be ≥ 1`);
  if (last >= G) throw new UserError(`run '${run.name}' is complete (${last}/${G} generations); pass --generations to extend it`);
  const state = restoreRunState(db, run.id, config, run.corpus_hash, deps.corporaDir);
  deleteAfter(db, run.id, last);
  updateRun(db, run.id, { status: 'running', generations: G, backend: deps.backend, pid: deps.pid ?? null, heartbeat_at: iso(deps.now()), note: null });
  run = getRun(db, run.id);
  const emit = (e: LoopEvent) => deps.onEvent?.(e);
  emit({ type: 'start', runId: run.id, run: run.name, config, backend: deps.backend, fromGen: last + 1 });

  const factory = modelFactory(config.model);
  let model: LanguageModel | null = null;
  let lastBeat = 0;
  let gen = last + 1;
  // The verdicts after the last generation committed in this call (reported at the end).
  let verdicts: VerdictSummary[] = [];
  const hooks = (g: number): GenerationHooks => ({
    phase: (phase: Phase) => {
      emit({ type: 'phase', gen: g, phase });
      updateRun(db, run.id, { phase, heartbeat_at: iso(deps.now()), progress_json: JSON.stringify({ gen: g, phase, done: 0, total: 0 }) });
    },
    progress: (phase, done, total) => {
      emit({ type: 'progress', gen: g, phase, done, total });
      const t = deps.now();
      if (t - lastBeat > 1000) {
        lastBeat = t;
        updateRun(db, run.id, { heartbeat_at: iso(t), progress_json: JSON.stringify({ gen: g, phase, done, total }) });
      }
    },
    checkStop: () => {
      if (deps.signal?.aborted) throw new StopRequested();
    },
  });

  try {
    // Where the loop starts: generation 0 from scratch, or the last committed checkpoint.
    const seedHist = histograms(state, state.seedTrain);
    let trainHist: Map<string, number[]>;
    let trainIds: IdList;
    if (last >= 0) {
      const row = listGenerations(db, run.id).find((g) => g.gen === last)!;
      if (!row.checkpoint || !existsSync(join(row.checkpoint, 'model.json'))) {
        throw new UserError(`the checkpoint of generation ${last} of run '${run.name}' is missing (${row.checkpoint ?? 'pruned'}); cannot resume`);
      }
      model = await factory.load(row.checkpoint);
      trainHist = new Map(state.coarse.map((cg) => [cg.name, readHistograms(db, run.id, cg.name, 'train', cg.categories.length)[last]]));
      trainIds = loadTrainingIds(db, run.id, config.policy, last);
      pruneCheckpoints(db, run.id, last, config.keepCheckpoints, 1);
    } else {
      trainHist = seedHist;
      trainIds = new IdList();
    }
    let stopNote: string | null = null;
    for (; gen <= G; gen++) {
      const started = deps.now();
      const h = hooks(gen);
      await yieldToEventLoop();
      h.checkStop();
      const timings: Record<string, number> = {};
      // A phase may run twice in a generation (metrics: text metrics, then evaluation): add up.
      const mark = (phase: string, t0: number) => (timings[phase] = (timings[phase] ?? 0) + (deps.now() - t0) / 1000);
      let rows: { docs: ReturnType<typeof toDocument>[]; samples: Map<string, number[]>; text: Record<string, number> | null };
      let terms: Map<string, Record<string, number>> | undefined;

      // 1. New documents: gen 0 = the seed corpus; gen ≥ 1 = N model samples (+ fresh ones).
      let t0 = deps.now();
      if (gen === 0) {
        const docs = [
          ...state.seedTrain.map((d) => toDocument(state, 0, 'seed', d, true)),
          ...state.seedVal.map((d) => toDocument(state, 0, 'seed', d, false)),
        ];
        rows = { docs, samples: seedHist, text: null };
      } else {
        const { synthetic, fresh, nTrainSynthetic } = await drawNewDocuments(config, state, model!, gen, h);
        const control = await drawControl(config, state, model!, gen, h);
        mark('sample', t0);
        t0 = deps.now();
        h.phase('metrics');
        const trainedOn = trainingTextLookup(db, run.id, config.policy, gen - 1);
        const text = textMetrics(synthetic, trainedOn);
        const docs = [
          ...synthetic.map((d, i) => toDocument(state, gen, 'synthetic', { ...d, label: null }, i < nTrainSynthetic)),
          ...fresh.map((d) => toDocument(state, gen, 'fresh', d, true)),
        ];
        const added = histograms(state, [...synthetic.slice(0, nTrainSynthetic), ...fresh]);
        const samples = histograms(state, synthetic);
        // The model that drew this generation learned trainHist (before it is updated below).
        terms = decompositionRows(state, gen, samples, control, trainHist, seedHist, termSums(db, run.id, gen - 1));
        trainHist = config.policy === 'accumulate' ? addHistograms(trainHist, added) : config.policy === 'replace' ? added : addHistograms(seedHist, added);
        rows = { docs, samples, text };
        mark('metrics', t0);
      }

      // 2. Retrain on the policy's training set: committed documents by id plus this
      //    generation's new ones, which are written only in the generation's transaction.
      await yieldToEventLoop();
      h.checkStop();
      t0 = deps.now();
      h.phase('train');
      const pending = rows.docs.filter((d) => d.inTrain).map((d) => d.tokens as number[]);
      const committed = gen === 0 || config.policy === 'accumulate' ? trainIds : config.policy === 'replace' ? new IdList() : seedIds(db, run.id);
      let trainLoss: number | null = null;
      let valLoss: number | null = null;
      {
        if (gen === 0 || config.retrain === 'scratch') {
          model?.dispose();
          model = factory.create(modelSpec(config, state, gen));
        }
        const data = sqliteTrainingSet(db, committed, pending, deps.readCounter);
        const defaults = model!.config as { steps?: number; initialSteps?: number; batchSize?: number; context?: number };
        const perGen = config.steps ?? (config.epochs !== null ? epochsToSteps(config.epochs, trainTokens(data), defaults) : (defaults.steps ?? 100));
        // Fitting from scratch (generation 0, --retrain scratch) gets the model's own budget for
        // that, else twice a generation's.
        const steps = gen === 0 || config.retrain === 'scratch' ? (config.initialSteps ?? defaults.initialSteps ?? 2 * perGen) : perGen;
        const result = await model!.trainSteps(data, steps, genRng(config, gen, 'train'), {
          onStep: (s) => {
            h.progress('train', s, steps);
            h.checkStop();
          },
        });
        trainLoss = result.loss;
        mark('train', t0);

        // 3. Evaluate: held-out loss (forgetting), δ̂ on `first`.
        t0 = deps.now();
        h.phase('metrics');
        valLoss = await validationLoss(model!, state.seedVal);
        const delta = new Map<string, { tv: number; l2: number }>();
        const fd = await firstDelta(model!, state, normalize(trainHist.get('first') ?? []));
        if (fd) delta.set('first', fd);
        if (config.measureDelta) {
          // δ̂ elsewhere: the model's own T = 1 samples against its training set's histogram.
          const own = await model!.sample(config.samples, 1, genRng(config, gen, 'delta'), { maxLength: state.maxLength });
          const ownHist = histograms(state, own.map((t) => ({ text: state.tokenizer.decode(t), tokens: t })));
          for (const cg of state.coarse) {
            if (cg.name === 'first') continue;
            const p = normalize(trainHist.get(cg.name)!);
            const q = normalize(ownHist.get(cg.name)!);
            delta.set(cg.name, { tv: totalVariation(p, q), l2: l2Distance(p, q) });
          }
        }
        const metrics = metricRows(gen, state, rows.samples, seedHist, { delta, terms, text: rows.text, valLoss, trainLoss, nTrain: data.size });
        mark('metrics', t0);

        // 4. Checkpoint first, then one transaction with everything of this generation.
        t0 = deps.now();
        h.phase('commit');
        const dir = checkpointDir(deps.modelsDir, run.name, gen);
        await model!.save(dir);
        db.transaction(() => {
          const newIds = insertDocuments(db, run.id, rows.docs).filter((_, i) => rows.docs[i].inTrain);
          if (committed === trainIds) trainIds.push(newIds);
          else trainIds = new IdList([...Array.from({ length: committed.length }, (_, i) => committed.get(i)), ...newIds]);
          for (const [coarse, counts] of rows.samples) insertHistogram(db, run.id, { gen, coarse, kind: 'samples', counts });
          for (const [coarse, counts] of trainHist) insertHistogram(db, run.id, { gen, coarse, kind: 'train', counts });
          insertMetrics(db, run.id, metrics);
          mark('commit', t0);
          insertGeneration(db, {
            run_id: run.id, gen, started_at: iso(started), finished_at: iso(deps.now()), train_loss: trainLoss, val_loss: valLoss,
            n_docs: trainIds.length, checkpoint: dir, timings_json: JSON.stringify(timings),
          });
        })();
      }
      pruneCheckpoints(db, run.id, gen, config.keepCheckpoints, gen - config.keepCheckpoints);

      // 5. Report, and stop early when the chosen verdict has held long enough.
      verdicts = runVerdicts(db, run.id, state);
      const summary = generationSummary(db, run.id, gen, G, trainLoss, valLoss, verdicts, (deps.now() - started) / 1000);
      emit({ type: 'generation', summary });
      if (config.stopWhen && gen >= 1 && stopReached(db, run.id, state, config)) {
        stopNote = `stopped early at generation ${gen}: verdict '${config.stopWhen}' on ${config.stopCoarse} held for ${config.patience} generations`;
        gen++;
        break;
      }
    }
    const lastGen = gen - 1;
    if (stopNote) updateRun(db, run.id, { generations: lastGen });
    updateRun(db, run.id, { status: 'complete', phase: null, progress_json: null, heartbeat_at: iso(deps.now()), note: stopNote });
    emit({ type: 'end', status: 'complete', lastGen, note: stopNote, verdicts });
    return 'complete';
  } catch (e) {
    const stopped = e instanceof StopRequested;
    updateRun(db, run.id, {
      status: stopped ? 'interrupted' : 'failed', phase: null, progress_json: null, heartbeat_at: iso(deps.now()),
      note: stopped ? `interrupted during generation ${gen}` : String((e as Error).message ?? e).slice(0, 500),
    });
    if (!stopped) throw e;
    emit({ type: 'end', status: 'interrupted', lastGen: gen - 1, note: `interrupted during generation ${gen}`, verdicts: runVerdicts(db, run.id, state) });
    return 'interrupted';
  } finally {
    model?.dispose();
  }
}


/** Tokens (incl. EOS) of the training set, for --epochs (a scan: --epochs cost grows with the data anyway). */
function trainTokens(data: TrainingSet): number {
  let n = 0;
  for (let i = 0; i < data.size; i += 1024) {
    const idx = Array.from({ length: Math.min(1024, data.size - i) }, (_, k) => i + k);
    for (const d of data.docs(idx)) n += d.length + 1;
  }
  return n;
}

/** Ids of the seed training documents (the fixed part of `augment`). */
function seedIds(db: Database.Database, runId: number): IdList {
  return loadTrainingIds(db, runId, 'augment', 0);
}

function epochsToSteps(epochs: number, tokens: number, c: { batchSize?: number; context?: number }): number {
  const perStep = (c.batchSize ?? 32) * (c.context ?? 1);
  return Math.max(1, Math.ceil((epochs * tokens) / perStep));
}

/**
 * Keeps generation 0 and the last `keep` checkpoints. Removes those of generations from..upTo−keep
 * that still have one: the loop passes only the generation that just fell out of the window (a
 * read that does not grow with the run); a resume passes from = 1 once, to catch up after a crash.
 */
function pruneCheckpoints(db: Database.Database, runId: number, upTo: number, keep: number, from: number): void {
  const kept = db
    .prepare(`SELECT gen, checkpoint FROM generations WHERE run_id = ? AND gen BETWEEN ? AND ? AND checkpoint IS NOT NULL`)
    .all(runId, Math.max(1, from), upTo - keep) as { gen: number; checkpoint: string }[];
  for (const g of kept) {
    // The folder goes first: a crash in between leaves a dangling path, never an orphan folder.
    rmSync(g.checkpoint, { recursive: true, force: true });
    clearCheckpoint(db, runId, g.gen);
  }
}

function generationSummary(db: Database.Database, runId: number, gen: number, G: number, trainLoss: number | null, valLoss: number | null, verdicts: ReturnType<typeof runVerdicts>, seconds: number) {
  const rows = db.prepare(`SELECT coarse, key, value FROM metrics WHERE run_id = ? AND gen = ? AND coarse != ''`).all(runId, gen) as { coarse: string; key: string; value: number | null }[];
  const coarse: GenerationSummary['coarse'] = {};
  for (const r of rows) {
    coarse[r.coarse] ??= { top_share: NaN, entropy_norm: NaN, V: NaN, delta: null, tau_dH: null, err_tv: null };
    if (r.key in coarse[r.coarse]) (coarse[r.coarse] as Record<string, number | null>)[r.key] = r.value;
  }
  return { gen, generations: G, trainLoss, valLoss, coarse, verdicts, seconds };
}
