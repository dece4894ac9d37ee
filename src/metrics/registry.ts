// The metric registry: every metric a generation stores, once — its key (the `metrics` table's
// key), its label, whether it is per coarse-graining or per run, where it is shown, and how it is
// written. The CLI's `metrics` table, the live progress line, `compare` and the HTML report all
// read their columns and labels from here, so adding a metric is one entry (plus the function that
// computes it: histogram metrics in histogram.ts, text metrics in text.ts, the rest in the loop).

/** The places a metric can be shown. */
export type MetricPlace = 'table' | 'progress' | 'compare' | 'report';

export interface MetricDef {
  readonly key: string;
  /** Words for a chart legend or a help line. */
  readonly label: string;
  /** A short column header (compare). */
  readonly short: string;
  /** Its tag on the progress line (default: the key). */
  readonly tag?: string;
  /** 'coarse': one value per coarse-graining (histogram metrics, δ̂); 'run': one per generation. */
  readonly level: 'coarse' | 'run';
  /** Computed by histogramMetrics (histogram.ts) from the samples' histogram. */
  readonly histogram?: true;
  /** On [0, 1]: drawn on the report's shared unit scale. */
  readonly unit?: true;
  readonly shown: readonly MetricPlace[];
  /** Decimals in terminal output. */
  readonly digits: number;
}

import { LOGLIK_QUANTILES } from './loglik.js';

const m = (key: string, label: string, short: string, level: MetricDef['level'], shown: MetricPlace[], extra: Partial<MetricDef> = {}): MetricDef =>
  Object.freeze({ key, label, short, level, shown: Object.freeze(shown), digits: 3, ...extra });
const H = { histogram: true } as const;

/** In this order: histogram metrics in histogramMetrics' order, then δ̂, the decomposition, then the run-level ones. */
export const METRICS: readonly MetricDef[] = Object.freeze([
  m('n', 'documents in the histogram', 'n', 'coarse', [], { ...H, digits: 0 }),
  m('entropy', 'entropy (nats)', 'H', 'coarse', [], H),
  m('entropy_norm', 'normalised entropy', 'H norm', 'coarse', ['table', 'progress', 'compare', 'report'], { ...H, unit: true, tag: 'H' }),
  m('entropy_live_norm', 'normalised entropy of the live categories', 'H live', 'coarse', [], H),
  m('V', 'V (Lyapunov)', 'V', 'coarse', ['table', 'progress', 'compare', 'report'], { ...H, unit: true }),
  // The support (categories with count > 0) and the survival curve: what a truncated sampler cuts.
  m('live', 'support: categories alive (count > 0)', 'live', 'coarse', ['table', 'compare', 'report'], { ...H, digits: 0 }),
  m('survival', "survival: share of the seed's live categories still alive", 'survival', 'coarse', ['table', 'compare', 'report'], { ...H, unit: true }),
  m('support', 'support (categories above the floor)', 'support', 'coarse', ['table'], { ...H, digits: 0 }),
  m('top_share', 'top share', 'top share', 'coarse', ['table', 'progress', 'compare', 'report'], { ...H, unit: true, tag: 'top' }),
  m('tv_seed', 'total variation to the seed', 'TV seed', 'coarse', ['table', 'compare'], { ...H, unit: true }),
  m('kl_seed', 'KL to the seed (nats)', 'KL seed', 'coarse', ['table'], H),
  m('tv_uniform', 'total variation to uniform', 'TV unif', 'coarse', [], H),
  m('kl_uniform', 'KL to uniform (nats)', 'KL unif', 'coarse', [], H),
  m('delta', 'δ̂ (learner error)', 'δ̂', 'coarse', ['table', 'progress', 'report'], { unit: true }),
  m('delta_l2', 'δ̂ as an L2 distance', 'δ̂ L2', 'coarse', []),
  // The decomposition (decomposition.ts): temperature term τ̂ = samples at T − control at T = 1,
  // model-error term = control − training set, and their sums over generations 1..g.
  m('tau_dH', 'temperature term: entropy change (nats)', 'τ̂ ΔH', 'coarse', ['table', 'progress'], { tag: 'τ̂ΔH' }),
  m('tau_sd', 'temperature term: its noise sd (nats)', 'τ̂ sd', 'coarse', ['table']),
  m('tau_dV', 'temperature term: change of V', 'τ̂ ΔV', 'coarse', []),
  m('tau_tv', 'temperature term: total variation', 'τ̂ TV', 'coarse', []),
  m('err_dH', 'model-error term: entropy change (nats)', 'ε ΔH', 'coarse', ['table']),
  m('err_sd', 'model-error term: its noise sd (nats)', 'ε sd', 'coarse', []),
  m('err_dV', 'model-error term: change of V', 'ε ΔV', 'coarse', []),
  m('err_tv', 'model error δ̂ of the model that drew the generation', 'ε δ̂', 'coarse', ['table', 'progress'], { tag: 'εδ̂' }),
  m('tau_cum', 'temperature term summed over generations 1..g (nats)', 'Σ τ̂ ΔH', 'coarse', ['table']),
  m('tau_var_cum', 'its noise variance summed', 'Σ τ̂ var', 'coarse', []),
  m('err_cum', 'model-error term summed over generations 1..g (nats)', 'Σ ε ΔH', 'coarse', ['table']),
  m('train_loss', 'training loss (nats/token)', 'train loss', 'run', ['table']),
  m('val_loss', 'held-out loss (nats/token)', 'val', 'run', ['table']),
  // Its standard error over the scored documents (loop/validation.ts): the subset's sampling noise.
  m('val_loss_se', 'standard error of the held-out loss', 'val SE', 'run', ['table']),
  m('perplexity', 'held-out perplexity', 'perplexity', 'run', ['table', 'compare']),
  m('n_train', 'training documents', 'n train', 'run', [], { digits: 0 }),
  m('distinct_1', 'distinct-1', 'distinct-1', 'run', []),
  m('distinct_2', 'distinct-2', 'distinct-2', 'run', ['table']),
  m('distinct_3', 'distinct-3', 'distinct-3', 'run', []),
  m('copy_rate', 'share copied verbatim from the training set', 'copy rate', 'run', ['table']),
  m('empty_rate', 'share of empty documents', 'empty', 'run', []),
  m('mean_length', 'mean length (tokens)', 'mean length', 'run', ['table']),
  // Log-likelihood per token under the generation-0 model (loglik.ts): of the kept documents (the
  // seed's training documents at generation 0), and with --select of every candidate.
  ...loglikMetrics('gen0_loglik', 'generation-0 log-likelihood (nats/token) of the kept documents', 'll0', ['mean', 'q01', 'q10']),
  ...loglikMetrics('gen0_loglik_candidates', 'generation-0 log-likelihood (nats/token) of all candidates', 'll0 cand', []),
]);

/** mean, sd and the stored quantiles of one log-likelihood distribution; `table` names the ones the metrics table shows. */
function loglikMetrics(prefix: string, label: string, short: string, table: readonly string[]): MetricDef[] {
  const suffixes: [string, string][] = [['mean', 'mean'], ['sd', 'sd'], ...LOGLIK_QUANTILES.map(([k, q]): [string, string] => [k, `${Math.round(q * 100)} % quantile`])];
  return suffixes.map(([k, words]) => m(`${prefix}_${k}`, `${label}, ${words}`, `${short} ${k}`, 'run', table.includes(k) ? ['table'] : []));
}

const byKey = new Map(METRICS.map((d) => [d.key, d]));

/** The metric with this key (throws for a key not in the registry: a programming error). */
export function metricDef(key: string): MetricDef {
  const d = byKey.get(key);
  if (!d) throw new Error(`metric '${key}' is not in the registry`);
  return d;
}

/** Metrics shown in a place, in registry order; optionally only one level. */
export function metricsShown(place: MetricPlace, level?: MetricDef['level']): MetricDef[] {
  return METRICS.filter((d) => d.shown.includes(place) && (level === undefined || d.level === level));
}

/** The keys histogramMetrics returns, in its order. */
export const HISTOGRAM_METRIC_KEYS: readonly string[] = METRICS.filter((d) => d.histogram).map((d) => d.key);

/** A metric's value for a terminal: its digits, '–' when absent or not finite. */
export function formatMetric(key: string, value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(metricDef(key).digits);
}
