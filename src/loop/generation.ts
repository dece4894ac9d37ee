// One generation of the closed loop (process (2) of the paper): `runGeneration` takes the model
// of generation g−1 and its training set, and
//   1. samples N documents at the run's sampling rule, takes round(λN) fresh real documents
//      instead of the last samples, categorizes them;
//   2. retrains on the data policy's training set (committed documents by id plus the new ones);
//   3. evaluates: held-out loss, δ̂, the temperature and model-error terms (control.ts), histogram
//      and text metrics;
//   4. writes the checkpoint, then commits everything of the generation in one transaction.
// All model samples are stored (those replaced by fresh ones with in_train = 0; with --select
// M × N candidates, the discarded ones with selected = 0 too), so the `samples` histogram always
// measures the model's own output, even at λ = 1. Every document carries its per-token
// log-likelihood under the generation-0 model (gen0_loglik), kept beside the current one.

import type Database from 'better-sqlite3';
import { checkpointDir } from './view.js';
import { assertOwned } from '../store/lock.js';
import type { LanguageModel, ModelFactory, ModelSpec, TrainingSet } from '../model/types.js';
import { defaultSamplingRule, samplingRuleOf } from '../model/sampling.js';
import { rngFor, type Rng } from '../rng.js';
import { EOS } from '../tokenizer/types.js';
import { insertDocuments, insertHistogram, insertMetrics, type NewDocument, type MetricRow } from '../store/documents.js';
import { insertGeneration, updateRun } from '../store/runs.js';
import { histogram } from '../metrics/coarse.js';
import { histogramMetrics, totalVariation, l2Distance } from '../metrics/histogram.js';
import { textMetrics } from '../metrics/text.js';
import { loglikSummary } from '../metrics/loglik.js';
import { selectCandidates, type Selection } from './select.js';
import type { Candidate } from './scorers.js';
import { normalize } from '../theory/core.js';
import type { RunConfig } from './config.js';
import type { RunState, SeedDoc } from './state.js';
import type { Phase } from './events.js';
import type { DataPolicy } from './policy/index.js';
import { referenceSubset, validationLoss } from './validation.js';
import { IdList, committedIds, sqliteTrainingSet, trainingHistograms, trainingTextLookup, type ReadCounter } from './dataset.js';
import { decompositionRows, drawControl, modelFirstShares } from './control.js';
import { termSums } from './verdicts.js';

export interface GenerationHooks {
  /** A phase starts (may wait at a hold point, see hold.ts). */
  phase(phase: Phase): Promise<void>;
  progress(phase: Phase, done: number, total: number): void;
  /** Throws when the run must stop (a signal); called between steps of long phases. */
  checkStop(): void;
}

export function firstTokenOf(tokens: readonly number[]): number {
  return tokens.length > 0 ? tokens[0] : EOS;
}

/** Stream of generation g's random numbers for one purpose. */
export function genRng(config: Readonly<RunConfig>, gen: number, purpose: string): Rng {
  return rngFor(config.seed, 'gen', gen, purpose);
}

export function toDocument(
  state: RunState,
  gen: number,
  origin: NewDocument['origin'],
  doc: { text: string; tokens: readonly number[]; label: string | null; gen0Loglik?: number },
  inTrain: boolean,
  selected = true,
): NewDocument {
  const predicted = state.classifier ? state.classifier.predict(doc.text) : null;
  return {
    gen,
    origin,
    text: doc.text,
    tokens: doc.tokens,
    label: predicted,
    trueLabel: origin === 'synthetic' ? null : doc.label,
    inTrain,
    firstToken: firstTokenOf(doc.tokens),
    gen0Loglik: doc.gen0Loglik ?? null,
    selected,
  };
}

/** δ̂ on `first`: distance between the training set's first-token shares and the model's own. */
export async function firstDelta(model: LanguageModel, state: RunState, trainFirst: number[]): Promise<{ tv: number; l2: number } | null> {
  const modelShares = await modelFirstShares(model, state);
  if (!modelShares) return null;
  return { tv: totalVariation(trainFirst, modelShares), l2: l2Distance(trainFirst, modelShares) };
}

/** Metric rows of one generation: histogram metrics per coarse-graining plus run-level ones. */
export function metricRows(
  gen: number,
  state: RunState,
  samples: Map<string, number[]>,
  seed: Map<string, number[]>,
  extra: {
    delta: Map<string, { tv: number; l2: number }>;
    /** coarse → the decomposition's metrics (control.ts; generations ≥ 1 with a measurable control). */
    terms?: Map<string, Record<string, number>>;
    text: Record<string, number> | null;
    loglik: Record<string, number>;
    valLoss: number | null;
    valLossSe: number | null;
    trainLoss: number | null;
    nTrain: number;
  },
): MetricRow[] {
  const rows: MetricRow[] = [];
  for (const cg of state.coarse) {
    const m = { ...histogramMetrics(samples.get(cg.name)!, seed.get(cg.name)!), ...(extra.terms?.get(cg.name) ?? {}) };
    for (const [key, value] of Object.entries(m)) rows.push({ gen, coarse: cg.name, key, value });
    const d = extra.delta.get(cg.name);
    if (d) rows.push({ gen, coarse: cg.name, key: 'delta', value: d.tv }, { gen, coarse: cg.name, key: 'delta_l2', value: d.l2 });
  }
  const run: Record<string, number | null> = {
    val_loss: extra.valLoss,
    val_loss_se: extra.valLossSe,
    perplexity: extra.valLoss === null ? null : Math.exp(extra.valLoss),
    train_loss: extra.trainLoss,
    n_train: extra.nTrain,
    ...(extra.text ?? {}),
    ...extra.loglik,
  };
  for (const [key, value] of Object.entries(run)) if (value !== undefined) rows.push({ gen, coarse: '', key, value });
  return rows;
}

/** Histograms of documents for every coarse-graining of the run. */
export function histograms(state: RunState, docs: readonly { text: string; tokens: readonly number[] }[]): Map<string, number[]> {
  return new Map(state.coarse.map((cg) => [cg.name, histogram(cg, docs)]));
}

/** Per-token log-likelihood (nats, EOS counted) of each document under a model. */
export async function perTokenLoglik(model: LanguageModel, docs: readonly (readonly number[])[]): Promise<number[]> {
  const out: number[] = [];
  // In slices, so a generation of many candidates never builds one huge batch.
  for (let i = 0; i < docs.length; i += 1024) {
    for (const r of await model.logProbs(docs.slice(i, i + 1024))) out.push(r.logProb / r.tokens);
  }
  return out;
}

export interface NewSamples {
  /** Every candidate drawn (N, or M × N with --select), in sampling order, with its gen-0 log-likelihood. */
  candidates: Candidate[];
  selection: Selection;
  fresh: SeedDoc[];
  /** Slots 0 … nTrainSynthetic−1 of the kept samples join the training set; the rest are replaced by fresh documents. */
  nTrainSynthetic: number;
}

/**
 * Samples N documents from the model at the run's rule (M × N candidates from their own stream
 * with --select, so a run without it draws exactly what it always drew), scores them under the
 * generation-0 model, selects (src/loop/select.ts), and draws the fresh ones.
 */
export async function drawNewDocuments(
  config: Readonly<RunConfig>,
  state: RunState,
  models: { model: LanguageModel; gen0: LanguageModel },
  gen: number,
  hooks: GenerationHooks,
  isDuplicate: ((text: string) => boolean) | null,
): Promise<NewSamples> {
  const N = config.samples;
  const nFresh = Math.round(config.freshFraction * N);
  await hooks.phase('sample');
  const count = config.select === null ? N : config.candidates * N;
  const tokens = await models.model.sample(count, samplingRuleOf(config), genRng(config, gen, config.select === null ? 'sample' : 'candidates'), {
    maxLength: state.maxLength,
    onProgress: (done, total) => {
      hooks.progress('sample', done, total);
      hooks.checkStop();
    },
  });
  const logliks = await perTokenLoglik(models.gen0, tokens);
  const candidates = tokens.map((t, i) => ({ text: state.tokenizer.decode(t), tokens: t, gen0Loglik: logliks[i] }));
  const classifier = state.classifier;
  const selection = selectCandidates(candidates, {
    select: config.select,
    candidates: config.candidates,
    isDuplicate: config.dedupe ? isDuplicate : null,
    context: {
      labels: classifier?.labels ?? [],
      labelProbabilities: classifier ? (text) => classifier.probabilities(text) : null,
      rng: genRng(config, gen, 'select'),
    },
  });
  const freshRng = genRng(config, gen, 'fresh');
  const fresh: SeedDoc[] = [];
  for (let i = 0; i < nFresh; i++) fresh.push(state.seedTrain[freshRng.int(state.seedTrain.length)]);
  return { candidates, selection, fresh, nTrainSynthetic: N - nFresh };
}

/** What runGeneration needs of the run: fixed for one call of executeRun. */
export interface RunContext {
  db: Database.Database;
  runId: number;
  runName: string;
  config: Readonly<RunConfig>;
  state: RunState;
  policy: DataPolicy;
  factory: ModelFactory;
  /** Histograms of the seed training documents (generation 0's samples and training set). */
  seedHist: Map<string, number[]>;
  modelsDir: string;
  now: () => number;
  readCounter?: ReadCounter;
  /** The kernel of the matrix products (ModelFactory.kernel), stored with each commit. */
  kernel: string;
  /** The process that owns the run (store/lock.ts): each commit checks it still does. */
  pid: number;
}

/** What one generation hands the next: the model, its training set's ids and histograms. */
export interface Carry {
  model: LanguageModel | null;
  /** The generation-0 model (loaded from its checkpoint, which is never pruned): gen0_loglik and the gen0-likelihood scorer. */
  gen0: LanguageModel | null;
  trainIds: IdList;
  /** Under a policy with a choice among a growing window: that window's ids (dataset.ts initialPool), else null. */
  pool: IdList | null;
  trainHist: Map<string, number[]>;
}

export interface GenerationResult {
  trainLoss: number;
  valLoss: number | null;
  valLossSe: number | null;
  /** ctx.now() when the generation started. */
  started: number;
}

type NewRows = { docs: NewDocument[]; samples: Map<string, number[]>; text: Record<string, number> | null; loglik: Record<string, number>; terms?: Map<string, Record<string, number>> };

/** Seconds per phase; a phase may run twice in a generation (metrics), so they add up. */
type Timer = (phase: string, t0: number) => void;

/**
 * Runs generation `gen`: new documents, retraining, evaluation, checkpoint and commit. Updates
 * `carry` in place (the model first, so the caller disposes whatever model exists if it throws).
 */
export async function runGeneration(ctx: RunContext, carry: Carry, gen: number, h: GenerationHooks): Promise<GenerationResult> {
  const started = ctx.now();
  await yieldToEventLoop();
  h.checkStop();
  const timings: Record<string, number> = {};
  const mark: Timer = (phase, t0) => (timings[phase] = (timings[phase] ?? 0) + (ctx.now() - t0) / 1000);
  const committed = committedIds(ctx.db, ctx.runId, ctx.policy, gen, ctx.config, carry.trainIds, carry.pool);
  const rows = await newDocuments(ctx, carry, committed, gen, h, mark);
  await yieldToEventLoop();
  h.checkStop();
  const pending = rows.docs.filter((d) => d.inTrain).map((d) => d.tokens as number[]);
  const data = sqliteTrainingSet(ctx.db, committed, pending, ctx.readCounter);
  const trainLoss = await retrain(ctx, carry, data, gen, h, mark);
  const t0 = ctx.now();
  await h.phase('metrics');
  if (gen === 0) await seedLoglik(ctx, carry.model!, rows);
  const val = await validationLoss(carry.model!, ctx.state.seedVal);
  const valLoss = val?.loss ?? null;
  const valLossSe = val?.se ?? null;
  const delta = await deltas(ctx, carry, gen);
  const metrics = metricRows(gen, ctx.state, rows.samples, ctx.seedHist, { delta, terms: rows.terms, text: rows.text, loglik: rows.loglik, valLoss, valLossSe, trainLoss, nTrain: data.size });
  mark('metrics', t0);
  await commitGeneration(ctx, carry, committed, gen, { rows, metrics, trainLoss, valLoss, started, timings }, h, mark);
  return { trainLoss, valLoss, valLossSe, started };
}

/** Step 1: generation 0 is the seed corpus; later ones N model samples (best of M candidates with --select, + fresh ones), with the new training histograms. */
async function newDocuments(ctx: RunContext, carry: Carry, committed: IdList, gen: number, h: GenerationHooks, mark: Timer): Promise<NewRows> {
  const { state, config, db } = ctx;
  if (gen === 0) {
    const docs = [...state.seedTrain.map((d) => toDocument(state, 0, 'seed', d, true)), ...state.seedVal.map((d) => toDocument(state, 0, 'seed', d, false))];
    return { docs, samples: ctx.seedHist, text: null, loglik: {} };
  }
  let t0 = ctx.now();
  const trainedOn = trainingTextLookup(db, ctx.runId, ctx.policy, gen - 1);
  const { candidates, selection, fresh, nTrainSynthetic } = await drawNewDocuments(config, state, { model: carry.model!, gen0: carry.gen0! }, gen, h, trainedOn);
  const control = await drawControl(config, state, carry.model!, gen, h.checkStop);
  mark('sample', t0);
  t0 = ctx.now();
  await h.phase('metrics');
  // Kept samples in slot order; slots past nTrainSynthetic are replaced by fresh documents.
  const slots = selection.kept.flatMap((i, slot) => (i === null ? [] : [{ i, slot }]));
  const inTrain = new Set(slots.filter((k) => k.slot < nTrainSynthetic).map((k) => k.i));
  const kept = slots.map((k) => candidates[k.i]);
  const text = textMetrics(kept, trainedOn);
  const freshLoglik = await perTokenLoglik(carry.gen0!, fresh.map((d) => d.tokens));
  const docs = [
    ...candidates.map((d, i) => toDocument(state, gen, 'synthetic', { ...d, label: null }, inTrain.has(i), selection.selected[i])),
    ...fresh.map((d, i) => toDocument(state, gen, 'fresh', { ...d, gen0Loglik: freshLoglik[i] }, true)),
  ];
  const added = histograms(state, [...candidates.filter((_, i) => inTrain.has(i)), ...fresh]);
  // `samples` is the model's own output: every candidate, before selection (the kept ones are the
  // documents with selected = 1, and the training histogram counts them).
  const samples = histograms(state, candidates);
  // The model that drew this generation learned carry.trainHist (before it is updated below).
  const terms = decompositionRows(state, gen, samples, control, carry.trainHist, ctx.seedHist, termSums(db, ctx.runId, state.coarse.map((c) => c.name), gen - 1));
  carry.trainHist = trainingHistograms(db, ctx.policy, gen, { previous: carry.trainHist, seed: ctx.seedHist, added, committed }, (d) => histograms(state, d));
  const loglik = { ...loglikSummary(kept.map((d) => d.gen0Loglik)), ...(config.select === null ? {} : loglikSummary(candidates.map((d) => d.gen0Loglik), 'gen0_loglik_candidates')) };
  mark('metrics', t0);
  return { docs, samples, text, loglik, terms };
}

/**
 * Generation 0's reference row: its documents' own likelihood under the model they made, and the
 * summary over the training documents scored. Those are all of them within
 * REFERENCE_TOKEN_BUDGET, else a seeded subset (validation.ts); the others keep no gen0_loglik.
 * The validation documents are always scored.
 */
async function seedLoglik(ctx: RunContext, model: LanguageModel, rows: NewRows): Promise<void> {
  const nTrain = ctx.state.seedTrain.length; // rows.docs: the training documents, then the validation ones
  const train = referenceSubset(ctx.state.seedTrain, ctx.config.seed);
  const scored = [...train, ...rows.docs.slice(nTrain).map((_, i) => nTrain + i)];
  const ll = await perTokenLoglik(model, scored.map((i) => rows.docs[i].tokens));
  scored.forEach((i, k) => (rows.docs[i].gen0Loglik = ll[k]));
  rows.loglik = loglikSummary(ll.slice(0, train.length));
}

/** The model's spec for generation `gen`: the run-config keys its family takes, and an init seed. */
export function modelSpec(ctx: Pick<RunContext, 'config' | 'state' | 'factory'>, gen: number): ModelSpec {
  const { config, state } = ctx;
  const options = Object.fromEntries(ctx.factory.runOptions.map((k) => [k, (config as unknown as Record<string, unknown>)[k]]));
  return { vocabSize: state.tokenizer.vocabSize, bos: state.tokenizer.bos, eos: state.tokenizer.eos, options, seed: rngFor(config.seed, 'init', gen).uint32() };
}

/** Step 2: retrain (from scratch at generation 0 and under --retrain scratch) for the run's step budget. */
async function retrain(ctx: RunContext, carry: Carry, data: TrainingSet, gen: number, h: GenerationHooks, mark: Timer): Promise<number> {
  const { config } = ctx;
  const t0 = ctx.now();
  await h.phase('train');
  const scratch = gen === 0 || config.retrain === 'scratch';
  if (scratch) {
    carry.model?.dispose();
    carry.model = ctx.factory.create(modelSpec(ctx, gen));
  }
  const budget = carry.model!.budget;
  const perGen = config.steps ?? (config.epochs !== null ? epochsToSteps(config.epochs, trainTokens(data), budget.tokensPerStep) : budget.steps);
  // Fitting from scratch gets the model's own budget for that, else twice a generation's.
  const steps = scratch ? (config.initialSteps ?? budget.initialSteps ?? 2 * perGen) : perGen;
  const learningRate = (scratch ? config.initialLearningRate : config.learningRate) ?? undefined;
  const result = await carry.model!.trainSteps(data, steps, genRng(config, gen, 'train'), {
    learningRate,
    onStep: (s) => {
      h.progress('train', s, steps);
      h.checkStop();
    },
  });
  mark('train', t0);
  return result.loss;
}

/** Step 3's δ̂: on `first` from the model's own distribution; elsewhere (--measure-delta) from its T = 1 samples. */
async function deltas(ctx: RunContext, carry: Carry, gen: number): Promise<Map<string, { tv: number; l2: number }>> {
  const { state, config } = ctx;
  const model = carry.model!;
  const delta = new Map<string, { tv: number; l2: number }>();
  const fd = await firstDelta(model, state, normalize(carry.trainHist.get('first') ?? []));
  if (fd) delta.set('first', fd);
  if (!config.measureDelta) return delta;
  const own = await model.sample(config.samples, defaultSamplingRule, genRng(config, gen, 'delta'), { maxLength: state.maxLength });
  const ownHist = histograms(state, own.map((t) => ({ text: state.tokenizer.decode(t), tokens: t })));
  for (const cg of state.coarse) {
    if (cg.name === 'first') continue;
    const p = normalize(carry.trainHist.get(cg.name)!);
    const q = normalize(ownHist.get(cg.name)!);
    delta.set(cg.name, { tv: totalVariation(p, q), l2: l2Distance(p, q) });
  }
  return delta;
}

/** Step 4: the checkpoint first, then one transaction with everything of this generation. */
async function commitGeneration(
  ctx: RunContext,
  carry: Carry,
  committed: IdList,
  gen: number,
  r: { rows: NewRows; metrics: MetricRow[]; trainLoss: number; valLoss: number | null; started: number; timings: Record<string, number> },
  h: GenerationHooks,
  mark: Timer,
): Promise<void> {
  const { db, runId } = ctx;
  const t0 = ctx.now();
  await h.phase('commit');
  const dir = checkpointDir(ctx.modelsDir, ctx.runName, gen);
  await carry.model!.save(dir);
  if (gen === 0) {
    carry.gen0?.dispose();
    carry.gen0 = await ctx.factory.load(dir);
  }
  // IMMEDIATE: the transaction reads (is the run still ours?) before it writes, and a deferred
  // one fails at once with SQLITE_BUSY when another process sharing the file wrote in between.
  db.transaction(() => {
    assertOwned(db, runId, ctx.pid);
    const newIds = insertDocuments(db, runId, r.rows.docs).filter((_, i) => r.rows.docs[i].inTrain);
    carry.pool?.push(newIds);
    if (committed === carry.trainIds) carry.trainIds.push(newIds);
    else carry.trainIds = new IdList([...committed.toArray(), ...newIds]);
    for (const [coarse, counts] of r.rows.samples) insertHistogram(db, runId, { gen, coarse, kind: 'samples', counts });
    for (const [coarse, counts] of carry.trainHist) insertHistogram(db, runId, { gen, coarse, kind: 'train', counts });
    insertMetrics(db, runId, r.metrics);
    mark('commit', t0);
    updateRun(db, runId, { kernel: ctx.kernel });
    insertGeneration(db, {
      run_id: runId, gen, started_at: new Date(r.started).toISOString(), finished_at: new Date(ctx.now()).toISOString(), train_loss: r.trainLoss,
      val_loss: r.valLoss, n_docs: carry.trainIds.length, checkpoint: dir, timings_json: JSON.stringify(r.timings),
    });
  }).immediate();
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

function epochsToSteps(epochs: number, tokens: number, tokensPerStep: number): number {
  return Math.max(1, Math.ceil((epochs * tokens) / tokensPerStep));
}

/**
 * Lets the event loop turn, so a stop request (the CLI's signal handler) is seen. The n-gram
 * model computes synchronously and its checkpoints are written synchronously: without a turn
 * between phases a SIGINT is only delivered once the whole run has finished.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
