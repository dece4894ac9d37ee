// The distribution of the generation-0 log-likelihood (nats per token) of a generation's
// documents: mean, quantiles and a histogram on shared bins. Shumailov et al. (2024) read model
// collapse off it: later generations' samples grow ever more likely under the first model while
// the unlikely ones (the lower tail: the 1 % and 10 % quantiles) vanish. The loop stores the
// summary as metrics (`gen0_loglik_mean`, `gen0_loglik_q01` …); the report draws the histograms.

/** The quantiles stored per generation, as fractions, and their metric key suffixes. */
export const LOGLIK_QUANTILES: readonly [key: string, q: number][] = [
  ['q01', 0.01],
  ['q10', 0.1],
  ['q50', 0.5],
  ['q90', 0.9],
  ['q99', 0.99],
];

/** The q-quantile of sorted values (linear interpolation between order statistics). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Metric values `gen0_loglik_<mean|sd|q01…q99>` of a set of per-token log-likelihoods (empty → none). */
export function loglikSummary(values: readonly number[], prefix = 'gen0_loglik'): Record<string, number> {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return {};
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  const out: Record<string, number> = { [`${prefix}_mean`]: mean, [`${prefix}_sd`]: sd };
  for (const [key, q] of LOGLIK_QUANTILES) out[`${prefix}_${key}`] = quantileSorted(xs, q);
  return out;
}

export interface LoglikHistogram {
  /** Bin edges, bins + 1 of them, shared by every generation. */
  edges: number[];
  /** counts[g][b]: documents of generation g in bin b (values outside the edges go to the end bins). */
  counts: number[][];
}

/** Histograms of several generations on one set of equal-width bins spanning all their values. */
export function loglikHistograms(perGen: readonly (readonly number[])[], bins = 30): LoglikHistogram {
  let lo = Infinity,
    hi = -Infinity;
  for (const xs of perGen) for (const x of xs) if (Number.isFinite(x)) (lo = Math.min(lo, x)), (hi = Math.max(hi, x));
  if (!(hi > lo)) (lo = Number.isFinite(lo) ? lo - 0.5 : -1), (hi = lo + 1);
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, b) => lo + b * width);
  const counts = perGen.map((xs) => {
    const c = new Array<number>(bins).fill(0);
    for (const x of xs) if (Number.isFinite(x)) c[Math.min(bins - 1, Math.max(0, Math.floor((x - lo) / width)))]++;
    return c;
  });
  return { edges, counts };
}
