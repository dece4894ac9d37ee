// The plain, JSON-serialisable shapes the report renderers take. The store side (reading a run
// or a sweep from SQLite) fills them; html.ts and svg.ts only draw them. Absent values are
// `null`, never `undefined`, so that a shape survives JSON.stringify/parse unchanged.
// Metric field names are the keys of the `metrics` table (snake_case), so filling them is a
// lookup, not a translation.

import type { Regime } from '../metrics/verdict.js';

/** Regime verdict per run and coarse-graining (metrics/verdict.ts owns the list). */
export type Verdict = Regime;

/** Where a document came from. */
export type Origin = 'seed' | 'fresh' | 'synthetic';

/** The settings of one run, as resolved and stored with it. */
export interface RunSettings {
  /** `ngram` or `transformer` (with its size preset if any, e.g. `transformer/small`). */
  model: string;
  corpus: string;
  /** Sampling temperature T. */
  temperature: number;
  /** The sampling rule's truncations that are on, e.g. `top-p 0.9` ('' for none: temperature alone). */
  truncation: string;
  /** λ: fraction of each generation's new documents drawn from real data. */
  freshFraction: number;
  /** The selection step, e.g. `best of 4 by label:female` ('' for none: every sample kept). */
  selection: string;
  /** `accumulate`, `replace` or `augment`. */
  policy: string;
  /** `continue` or `scratch`. */
  retrain: string;
  seed: number;
  /** N: new documents per generation. */
  samples: number;
  /** G: generations after the initial model. */
  generations: number;
  /** The tensor backend the run used (`tensorflow`, `wasm`, `cpu`). */
  backend: string;
}

/** Histogram metrics of one generation on one coarse-graining. */
/** Every coarse-level metric of the registry (metrics/registry.ts) by key; the ones charts name are typed. */
export interface HistogramMetrics {
  [key: string]: number | null;
  /** Shannon entropy in nats. */
  entropy: number;
  /** entropy / log(m), in [0, 1]. */
  entropy_norm: number;
  /** The Lyapunov value V_I over the categories still alive. */
  V: number;
  /** Share of the largest category. */
  top_share: number;
  /** Total variation distance to the seed histogram. */
  tv_seed: number;
  /** δ̂: distance between the training histogram and the model's own T = 1 histogram; null if not measured. */
  delta: number | null;
}

/** The verdict on one coarse-graining with what decided it. */
export interface VerdictReport {
  verdict: Verdict;
  /** Plain-words reasons, e.g. "top share 0.97 ≥ 0.9 at the last generation". */
  reasons: string[];
  /** The numbers the reasons cite, by name (e.g. { top_share: 0.97, V: 0.95 }). */
  evidence: Record<string, number>;
}

/** One generation on one coarse-graining. */
export interface CoarseGeneration {
  /** 0 is the seed corpus. */
  gen: number;
  /** Counts aligned with `CoarseReport.categories`. */
  counts: number[];
  metrics: HistogramMetrics;
}

/**
 * The decomposition of a coarse-graining's change, summed over generations 1..gen (entropy, nats):
 * the temperature term (samples at T − control at T = 1), the model-error term (control − the
 * training set) and the temperature term's noise band (z·√Σ sd² at the verdict's tail).
 */
export interface DecompositionPoint {
  gen: number;
  temperature: number;
  error: number;
  noise: number;
}

/** Everything the run report shows for one coarse-graining. */
export interface CoarseReport {
  /** `first`, `length`, `label`, `token`, … */
  coarse: string;
  /** Category names; every `counts` and `predicted` row is aligned with them. */
  categories: string[];
  /** Sorted by `gen`, starting at 0. */
  generations: CoarseGeneration[];
  /** The theory's predicted θ, one probability vector per generation (index = gen); null if absent. */
  predicted: number[][] | null;
  /** Cumulative temperature and model-error terms from generation 1 on; empty when not measured. */
  decomposition: DecompositionPoint[];
  /** Why the prediction is only approximate on this coarse-graining (a truncation not on `first`); null when exact. */
  predictionNote: string | null;
  verdict: VerdictReport;
}

/** Run-level metrics of one generation (not tied to a coarse-graining); null where not measured. */
export interface RunGenerationMetrics {
  /** Every run-level metric of the registry by key; the ones the report draws are typed. */
  [key: string]: number | null;
  gen: number;
  /** Held-out perplexity on the seed validation split. */
  perplexity: number | null;
  train_loss: number | null;
  distinct_2: number | null;
  /** Share of samples copied verbatim from the training set. */
  copy_rate: number | null;
  /** Mean document length in tokens. */
  mean_length: number | null;
}

export interface ExampleDocument {
  text: string;
  /** Category under `RunReportData.examplesCoarse`, or null. */
  category: string | null;
  origin: Origin;
}

export interface GenerationExamples {
  gen: number;
  /** A handful of documents; the renderer shows them all. */
  docs: ExampleDocument[];
}

/** The generation-0 log-likelihood (nats per token) of one generation's kept documents. */
export interface LoglikGeneration {
  gen: number;
  /** Documents measured: the seed training documents at 0, the kept samples after. */
  n: number;
  mean: number;
  q01: number;
  q10: number;
  q50: number;
  q90: number;
  q99: number;
  /** Counts on `LoglikReport.edges`. */
  counts: number[];
}

/** Shumailov et al.'s view of a run: how likely the first model finds each generation's data. */
export interface LoglikReport {
  /** Shared bin edges (bins + 1). */
  edges: number[];
  generations: LoglikGeneration[];
}

export interface RunReportData {
  name: string;
  settings: RunSettings;
  /** ISO time the report's data was read; shown in the header (the library never reads the clock). */
  createdAt: string | null;
  coarse: CoarseReport[];
  /** Sorted by `gen`, starting at 0. */
  runMetrics: RunGenerationMetrics[];
  /** Null for runs made before documents carried it. */
  loglik: LoglikReport | null;
  /** Which coarse-graining `ExampleDocument.category` refers to, or null. */
  examplesCoarse: string | null;
  examples: GenerationExamples[];
}

/** One run of a sweep, on the sweep's chosen coarse-graining. */
export interface SweepRun {
  name: string;
  settings: RunSettings;
  /** Histogram metrics per generation, index = gen (0 = seed). */
  series: HistogramMetrics[];
  /** Values at the last committed generation. */
  final: HistogramMetrics;
  /** Held-out perplexity at the last generation, or null. */
  finalPerplexity: number | null;
  verdict: VerdictReport;
  /** The verdict on every coarse-graining the run tracks (the sweep's own first). */
  verdicts: { coarse: string; verdict: VerdictReport }[];
}

export interface SweepReportData {
  id: string;
  /** The coarse-graining every run's series and verdict refer to. */
  coarse: string;
  createdAt: string | null;
  runs: SweepRun[];
}
