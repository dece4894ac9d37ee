// Metrics of one category histogram (counts per category of a coarse-graining), compared with
// the seed histogram of the same coarse-graining. Pure functions over arrays;
// `histogramMetrics` returns them all under the stable key names that become rows of the
// metrics table and columns of reports. Built on entropy / lyapunovV / normalize of the theory.

import { entropy, lyapunovV, normalize } from '../theory/core.js';

/**
 * Pseudo-count added to every category of the *reference* histogram before KL(p‖q). KL is
 * infinite as soon as p puts mass where q has none (a first token the seed never starts with),
 * so q is smoothed with Jeffreys' prior, ½ per category: q_i = (c_i + ½) / (N + ½m). p is not
 * smoothed, so a category p lacks contributes 0 as it should.
 */
export const KL_PSEUDO_COUNT = 0.5;

/**
 * Floor of `support`, as a fraction of the uniform share 1/m: a category counts as supported when
 * its share is ≥ 1/(10m). A fixed share, not "count ≥ 1", so that support does not grow with N
 * (more draws reveal more stray one-off categories) and stays comparable across generations of
 * different size; a tenth of the uniform share is far below any survivor of heat death (≥ 1/m)
 * and far above the leftovers of mode collapse. `live` (count ≥ 1) is reported beside it.
 */
export const SUPPORT_FLOOR = 0.1;

/** Indices of the categories still alive (count > 0): the index set I of V_I. */
export function liveIndices(counts: ArrayLike<number>): number[] {
  const I: number[] = [];
  for (let i = 0; i < counts.length; i++) if (counts[i] > 0) I.push(i);
  return I;
}

/** Entropy divided by ln m (1 = uniform over all m categories); 0 when m < 2. */
export function normalizedEntropy(counts: ArrayLike<number>): number {
  return counts.length < 2 ? 0 : entropy(counts) / Math.log(counts.length);
}

/**
 * Entropy divided by ln k over the k live categories (1 = uniform over the survivors, the
 * heat-death end state). 0 when fewer than two categories are alive: a single survivor is the
 * mode-collapse end state, and there is no spread left to be uniform about.
 */
export function liveNormalizedEntropy(counts: ArrayLike<number>): number {
  const k = liveIndices(counts).length;
  return k < 2 ? 0 : entropy(counts) / Math.log(k);
}

/** The paper's V_I over the live categories (max − min share among them); 0 if < 2 alive. */
export function liveV(counts: ArrayLike<number>): number {
  return lyapunovV(counts, liveIndices(counts));
}

/**
 * Survival: the share of the seed's live categories (count > 0 in `seedCounts`) that are still
 * alive in `counts`. 1 while nothing of the seed's support is lost; a truncated sampler drives it
 * down (the tail it sends to zero is never drawn again), and so does mode collapse. Categories
 * the seed lacks do not count for or against it. 0 when the seed has no live category.
 */
export function survival(counts: ArrayLike<number>, seedCounts: ArrayLike<number>): number {
  checkSameLength(counts, seedCounts);
  let seedLive = 0,
    alive = 0;
  for (let i = 0; i < seedCounts.length; i++) {
    if (!(seedCounts[i] > 0)) continue;
    seedLive++;
    if (counts[i] > 0) alive++;
  }
  return seedLive === 0 ? 0 : alive / seedLive;
}

/** Number of categories whose share is ≥ floor/m (see SUPPORT_FLOOR). */
export function supportSize(counts: ArrayLike<number>, floor = SUPPORT_FLOOR): number {
  const p = normalize(counts);
  const min = floor / p.length;
  let n = 0;
  for (const x of p) if (x > 0 && x >= min) n++;
  return n;
}

/** Share of the most frequent category (0 for an empty histogram). */
export function topShare(counts: ArrayLike<number>): number {
  let max = 0;
  for (const x of normalize(counts)) if (x > max) max = x;
  return max;
}

/** Total variation ½Σ|p_i − q_i| between two histograms, each normalised first (a δ̂ helper). */
export function totalVariation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b);
  const p = normalize(a);
  const q = normalize(b);
  let d = 0;
  for (let i = 0; i < p.length; i++) d += Math.abs(p[i] - q[i]);
  return d / 2;
}

/** Euclidean distance between two histograms, each normalised first (a δ̂ helper). */
export function l2Distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b);
  const p = normalize(a);
  const q = normalize(b);
  let d = 0;
  for (let i = 0; i < p.length; i++) d += (p[i] - q[i]) ** 2;
  return Math.sqrt(d);
}

/**
 * KL(p‖q) in nats, p from counts `a`, q from counts `b` smoothed with `pseudoCount` per
 * category (KL_PSEUDO_COUNT by default; pass 0 for the raw value, Infinity if unsupported).
 */
export function klDivergence(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  pseudoCount = KL_PSEUDO_COUNT,
): number {
  checkSameLength(a, b);
  const p = normalize(a);
  const q = normalize(Array.from(b, (c) => c + pseudoCount));
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    if (q[i] === 0) return Infinity;
    d += p[i] * Math.log(p[i] / q[i]);
  }
  return Math.max(0, d); // rounding can leave −1e-17 for identical histograms
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`histograms differ in length: ${a.length} vs ${b.length}`);
}

/**
 * Every histogram metric, under the key names stored in the metrics table:
 *
 * - `n`                 total count (documents; tokens for the `token` coarse-graining)
 * - `entropy`           Shannon entropy of the shares, nats
 * - `entropy_norm`      entropy / ln m over all m categories of the coarse-graining
 * - `entropy_live_norm` entropy / ln k over the k live categories (→ 1 at heat death)
 * - `V`                 V_I over the live categories: max − min share among them (→ 0 at heat death)
 * - `live`              categories with count ≥ 1: the support of the histogram
 * - `survival`          share of the seed's live categories still live here (the survival curve)
 * - `support`           categories with share ≥ 1/(10m) (see SUPPORT_FLOOR)
 * - `top_share`         share of the most frequent category (→ 1 at mode collapse)
 * - `tv_seed`           total variation to the seed histogram
 * - `kl_seed`           KL(this ‖ seed), seed smoothed with ½ per category (KL_PSEUDO_COUNT)
 * - `tv_uniform`        total variation to uniform over all m categories
 * - `kl_uniform`        KL(this ‖ uniform) = ln m − entropy (always finite, no smoothing)
 */
export function histogramMetrics(
  counts: ArrayLike<number>,
  seedCounts: ArrayLike<number>,
): Record<string, number> {
  checkSameLength(counts, seedCounts);
  const m = counts.length;
  const uniform = new Array<number>(m).fill(1);
  let n = 0;
  for (let i = 0; i < m; i++) n += counts[i];
  const h = entropy(counts);
  return {
    n,
    entropy: h,
    entropy_norm: normalizedEntropy(counts),
    entropy_live_norm: liveNormalizedEntropy(counts),
    V: liveV(counts),
    live: liveIndices(counts).length,
    survival: survival(counts, seedCounts),
    support: supportSize(counts),
    top_share: topShare(counts),
    // An empty histogram (no samples yet) is at distance 0 from everything rather than NaN.
    tv_seed: n > 0 ? totalVariation(counts, seedCounts) : 0,
    kl_seed: n > 0 ? klDivergence(counts, seedCounts) : 0,
    tv_uniform: n > 0 ? totalVariation(counts, uniform) : 0,
    kl_uniform: n > 0 && m > 0 ? Math.max(0, Math.log(m) - h) : 0,
  };
}

/** The key names of `histogramMetrics`, in its order: the registry's histogram entries. */
export { HISTOGRAM_METRIC_KEYS } from './registry.js';
