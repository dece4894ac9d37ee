// One generation of the closed loop (process (2) of the paper), as pure steps over a context:
//   sample N documents from model g−1 at T  →  take round(λN) fresh real documents instead of
//   the last samples  →  categorize  →  append per policy  →  retrain  →  evaluate  →  rows.
// All N model samples are stored (those replaced by fresh ones with in_train = 0), so the
// `samples` histogram always measures the model's own output at T, even at λ = 1.
// The caller commits the returned rows in one transaction, after the checkpoint is written.

import type { LanguageModel } from '../model/types.js';
import { rngFor, type Rng } from '../rng.js';
import { EOS } from '../tokenizer/types.js';
import type { NewDocument, MetricRow } from '../store/documents.js';
import { histogram } from '../metrics/coarse.js';
import { histogramMetrics, totalVariation, l2Distance, liveIndices } from '../metrics/histogram.js';
import { addTerms, decompose, decompositionMetrics, type TermSums } from '../metrics/decomposition.js';
import type { RunConfig } from './config.js';
import type { RunState, SeedDoc } from './state.js';
import type { Phase } from './events.js';

/** What a generation produces, ready to be committed. */
export interface GenerationRows {
  documents: NewDocument[];
  /** coarse → histogram of the N model samples. */
  samples: Map<string, number[]>;
  /** coarse → histogram of the training set the new model was trained on. */
  train: Map<string, number[]>;
  metrics: MetricRow[];
  trainLoss: number | null;
  valLoss: number | null;
}

export interface GenerationHooks {
  phase(phase: Phase): void;
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

export function toDocument(state: RunState, gen: number, origin: NewDocument['origin'], doc: { text: string; tokens: number[]; label: string | null }, inTrain: boolean): NewDocument {
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
  };
}

/** Mean token loss (nats) of the seed validation documents under the model. */
export async function validationLoss(model: LanguageModel, val: readonly SeedDoc[]): Promise<number | null> {
  if (val.length === 0) return null;
  const lp = await model.logProbs(val.map((d) => d.tokens));
  let nats = 0,
    tokens = 0;
  for (const r of lp) {
    nats -= r.logProb;
    tokens += r.tokens;
  }
  return nats / tokens;
}

/** The model's exact T = 1 shares over the `first` categories (its first-token softmax); null without `first`. */
async function modelFirstShares(model: LanguageModel, state: RunState): Promise<number[] | null> {
  const cg = state.coarse.find((c) => c.name === 'first');
  if (!cg) return null;
  const dist = await model.firstTokenDistribution();
  const modelShares = new Array<number>(cg.categories.length).fill(0);
  for (let t = 0; t < dist.length; t++) {
    if (t === state.tokenizer.bos) continue; // never a first token
    const k = cg.categoryOf({ text: '', tokens: t === EOS ? [] : [t] });
    if (k !== null) modelShares[k] += dist[t];
  }
  return modelShares;
}

/** δ̂ on `first`: distance between the training set's first-token shares and the model's own. */
export async function firstDelta(model: LanguageModel, state: RunState, trainFirst: number[]): Promise<{ tv: number; l2: number } | null> {
  const modelShares = await modelFirstShares(model, state);
  if (!modelShares) return null;
  return { tv: totalVariation(trainFirst, modelShares), l2: l2Distance(trainFirst, modelShares) };
}

/** A control set: what the model does at T = 1, per coarse-graining, and how many draws each rests on. */
export interface Control {
  histograms: Map<string, number[]>;
  /** coarse → the number of draws (Infinity for `first`: the exact softmax). */
  sizes: Map<string, number>;
}

/**
 * Draws generation g's control set: `controlSamples` documents from the model that drew the
 * generation, at T = 1, on their own stream ('control'), so the documents the run stores are
 * the same with or without it. `first` reads the exact first-token softmax instead. Never
 * trained on and not stored as documents: only the decomposition it feeds is kept.
 */
export async function drawControl(config: Readonly<RunConfig>, state: RunState, model: LanguageModel, gen: number, hooks: GenerationHooks): Promise<Control> {
  const n = config.controlSamples;
  let docs: { text: string; tokens: number[] }[] = [];
  if (n > 0 && state.coarse.some((c) => c.name !== 'first')) {
    const tokens = await model.sample(n, 1, genRng(config, gen, 'control'), {
      maxLength: state.maxLength,
      onProgress: () => hooks.checkStop(),
    });
    docs = tokens.map((t) => ({ text: state.tokenizer.decode(t), tokens: t }));
  }
  const hist = histograms(state, docs);
  const sizes = new Map<string, number>();
  for (const cg of state.coarse) sizes.set(cg.name, cg.name === 'token' ? hist.get(cg.name)!.reduce((a, b) => a + b, 0) : docs.length);
  const first = await modelFirstShares(model, state);
  if (first) {
    hist.set('first', first);
    sizes.set('first', Infinity);
  }
  return { histograms: hist, sizes };
}

/** Metric rows of one generation: histogram metrics per coarse-graining plus run-level ones. */
export function metricRows(
  gen: number,
  state: RunState,
  samples: Map<string, number[]>,
  seed: Map<string, number[]>,
  extra: {
    delta: Map<string, { tv: number; l2: number }>;
    /** coarse → the decomposition's metrics (generations ≥ 1 with a measurable control). */
    terms?: Map<string, Record<string, number>>;
    text: Record<string, number> | null;
    valLoss: number | null;
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
    perplexity: extra.valLoss === null ? null : Math.exp(extra.valLoss),
    train_loss: extra.trainLoss,
    n_train: extra.nTrain,
    ...(extra.text ?? {}),
  };
  for (const [key, value] of Object.entries(run)) if (value !== undefined) rows.push({ gen, coarse: '', key, value });
  return rows;
}

/** Histograms of documents for every coarse-graining of the run. */
export function histograms(state: RunState, docs: readonly { text: string; tokens: readonly number[] }[]): Map<string, number[]> {
  return new Map(state.coarse.map((cg) => [cg.name, histogram(cg, docs)]));
}

export function addHistograms(a: Map<string, number[]>, b: Map<string, number[]>): Map<string, number[]> {
  return new Map([...a].map(([k, v]) => [k, v.map((x, i) => x + b.get(k)![i])]));
}

/** Samples N documents from the model at T, decodes them, draws the fresh ones. */
export async function drawNewDocuments(
  config: Readonly<RunConfig>,
  state: RunState,
  model: LanguageModel,
  gen: number,
  hooks: GenerationHooks,
): Promise<{ synthetic: { text: string; tokens: number[] }[]; fresh: SeedDoc[]; nTrainSynthetic: number }> {
  const N = config.samples;
  const nFresh = Math.round(config.freshFraction * N);
  hooks.phase('sample');
  const tokens = await model.sample(N, config.temperature, genRng(config, gen, 'sample'), {
    maxLength: state.maxLength,
    onProgress: (done, total) => {
      hooks.progress('sample', done, total);
      hooks.checkStop();
    },
  });
  const synthetic = tokens.map((t) => ({ text: state.tokenizer.decode(t), tokens: t }));
  const freshRng = genRng(config, gen, 'fresh');
  const fresh: SeedDoc[] = [];
  for (let i = 0; i < nFresh; i++) fresh.push(state.seedTrain[freshRng.int(state.seedTrain.length)]);
  return { synthetic, fresh, nTrainSynthetic: N - nFresh };
}

/**
 * The decomposition of generation g on every coarse-graining: samples `h` at T, the control at
 * T = 1 from the same model, and `train` the histograms of the set that model learned; with the
 * sums over generations 1..g, from `previous` (generation g − 1's sums; generation 1 starts
 * them). A coarse-graining whose control has no draws (--control 0) gets no terms, and one whose
 * chain of sums is broken (a generation without terms) gets its terms but no sums.
 */
export function decompositionRows(
  state: RunState,
  gen: number,
  samples: Map<string, number[]>,
  control: Control,
  train: Map<string, number[]>,
  seed: Map<string, number[]>,
  previous: Map<string, TermSums>,
): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const cg of state.coarse) {
    const size = control.sizes.get(cg.name) ?? 0;
    if (!(size > 0)) continue;
    const m = decompositionMetrics(decompose(samples.get(cg.name)!, control.histograms.get(cg.name)!, size, train.get(cg.name)!, liveIndices(seed.get(cg.name)!)));
    const before = previous.get(cg.name);
    out.set(cg.name, gen === 1 || before ? { ...m, ...addTerms(before ?? null, m) } : m);
  }
  return out;
}
