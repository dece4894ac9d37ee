// Noise thresholds for a closed loop, from the exact lane. The regime verdict compares a run's
// final window with its seed; in a closed loop the generations share one training set and drift
// together, so "how far can a T = 1 loop wander by chance" depends on ℓ, N, the number of
// generations, the policy and λ — not only on the sample size. This file simulates exactly that
// null: the category-level process of theory/sim.ts (an exact learner, θ = counts/|counts|) at
// identity τ, started from the run's seed histogram, and reads each statistic's distribution
// over R replicates. A threshold is its mean + z·sd at the stated tail probability.
// Used by metrics/verdict.ts; results are cached (the same corpus and settings share one).

import { rngFor, type Rng } from '../rng.js';
import { multinomialInto, subsampleInto } from './binomial.js';
import { normalize } from './core.js';
import { decompose, decompositionMetrics, type TermMetrics } from '../metrics/decomposition.js';
import { liveIndices } from '../metrics/histogram.js';

export type LoopPolicy = 'accumulate' | 'replace' | 'augment' | 'accumulate-subsample';

/** The closed loop a run is: what the null is simulated with. */
export interface NullLoop {
  /** The seed histogram (ℓ = its total); fresh documents come from its shares. */
  seed: readonly number[];
  /** Documents (or tokens) a generation draws: what its `samples` histogram holds. */
  perStep: number;
  /**
   * M of a curated run (`--select`, `--candidates M`): the histogram holds M candidates per kept
   * document, so a generation keeps N = perStep / M of its draws. The null keeps a random N (a
   * selector that does not push). Default 1: every draw is a kept document.
   */
  candidates?: number;
  /** λ: share of the new training documents that are fresh real ones. */
  freshFraction: number;
  policy: LoopPolicy;
  /**
   * S/N of accumulate-subsample (`--train-size S` over `--samples N`): the next model trains on
   * the generation's N new documents plus (S/N − 1)·N drawn without replacement from the pool of
   * all earlier ones (loop/policy/accumulate-subsample.ts). A ratio, so a `token` histogram
   * (N tokens a generation) subsamples as many generations' worth as the documents do. Read
   * only with that policy; a ratio beyond the whole pool is accumulate.
   */
  trainRatio?: number | null;
}

/**
 * Simulates one T = 1 loop of `generations` generations and calls `each(g, h, counts)` with
 * generation g's model draws h (all of them, as a run's `samples` histogram holds) and the
 * training counts they were drawn from (θ = counts/|counts|; both arrays are reused). A generation
 * keeps N = perStep / M of its draws; N − round(λN) of them are trained on, round(λN) are replaced
 * by fresh draws from the seed, as the real loop does.
 */
export function simulateNullLoop(rng: Rng, loop: NullLoop, generations: number, each: (g: number, h: Float64Array, counts: Float64Array) => void): void {
  const m = loop.seed.length;
  const p0 = normalize(loop.seed);
  const M = loop.candidates ?? 1;
  if (!(Number.isInteger(M) && M >= 1)) throw new RangeError(`candidates must be a whole number ≥ 1, got ${M}`);
  const N = Math.max(1, Math.round(loop.perStep / M));
  const nFresh = Math.round(loop.freshFraction * N);
  const counts = Float64Array.from(loop.seed);
  // accumulate-subsample: everything so far (gens 0..g−1), which the next training set subsamples.
  const subsample = loop.policy === 'accumulate-subsample';
  if (subsample && !(typeof loop.trainRatio === 'number' && loop.trainRatio > 0)) throw new RangeError('accumulate-subsample needs trainRatio S/N > 0');
  const fromPool = subsample ? Math.max(0, Math.round((loop.trainRatio! - 1) * N)) : 0;
  const pool = Float64Array.from(loop.seed);
  const trained = new Float64Array(m);
  const untrained = new Float64Array(m);
  const fresh = new Float64Array(m);
  const h = new Float64Array(m);
  for (let g = 1; g <= generations; g++) {
    // multinomialInto normalises: the counts are θ's weights as they are.
    multinomialInto(rng, N - nFresh, counts, trained);
    multinomialInto(rng, loop.perStep - (N - nFresh), counts, untrained); // drawn by the model, not trained on
    multinomialInto(rng, nFresh, p0, fresh);
    for (let i = 0; i < m; i++) h[i] = trained[i] + untrained[i];
    each(g, h, counts);
    // The training set of the next model, per policy.
    if (subsample) {
      // Its own new documents plus S − N of the earlier ones, then the pool takes the new ones.
      subsampleInto(rng, fromPool, pool, counts);
      for (let i = 0; i < m; i++) {
        const added = trained[i] + fresh[i];
        counts[i] += added;
        pool[i] += added;
      }
      continue;
    }
    for (let i = 0; i < m; i++) {
      const added = trained[i] + fresh[i];
      counts[i] = loop.policy === 'accumulate' ? counts[i] + added : loop.policy === 'replace' ? added : loop.seed[i] + added;
    }
  }
}

/**
 * A whole T = 1 run of an exact learner as the verdict sees it: the sample histograms
 * (0 = the seed) and, per generation, the decomposition against a control set of `controlSize`
 * draws from the same (exact) model. What the false-positive rate is measured on.
 */
export function simulateNullRun(rng: Rng, loop: NullLoop, generations: number, controlSize: number): { histograms: number[][]; terms: (TermMetrics | null)[] } {
  const live = liveIndices(loop.seed);
  const histograms: number[][] = [[...loop.seed]];
  const terms: (TermMetrics | null)[] = [null];
  const control = new Float64Array(loop.seed.length);
  simulateNullLoop(rng, loop, generations, (_g, h, counts) => {
    multinomialInto(rng, controlSize, counts, control);
    terms.push(decompositionMetrics(decompose(h, control, controlSize, counts, live)));
    histograms.push(Array.from(h));
  });
  return { histograms, terms };
}

/** Statistics of a final window against the seed (the ones the verdict tests). */
export interface WindowStats {
  /** Mean top share in the window minus the seed's. */
  topRise: number;
  /** Mean corrected entropy in the window minus the seed's (nats; < 0 sharper). */
  dH: number;
  /** The seed's V over the live categories minus the window's mean. */
  vFall: number;
  /** Mean normalised entropy over the live categories minus the seed's. */
  dHlive: number;
  /** Mean total variation to the seed. */
  tv: number;
}

/** One histogram's numbers for the window statistics, in one pass and without allocating (the null loop calls it R·W times). */
function histStats(h: ArrayLike<number>, seedShares: ArrayLike<number>): { top: number; H: number; V: number; Hlive: number; tv: number } {
  let n = 0;
  for (let i = 0; i < h.length; i++) n += h[i];
  if (!(n > 0)) return { top: 0, H: 0, V: 0, Hlive: 0, tv: 0 };
  let max = 0,
    min = Infinity,
    H = 0,
    k = 0,
    tv = 0;
  for (let i = 0; i < h.length; i++) {
    const x = h[i] / n;
    tv += Math.abs(x - seedShares[i]);
    if (h[i] > 0) {
      k++;
      H -= x * Math.log(x);
      if (x > max) max = x;
      if (x < min) min = x;
    }
  }
  // As histogram.ts's topShare, liveV, liveNormalizedEntropy and decomposition.ts's correctedEntropy.
  return { top: max, H: H + (k - 1) / (2 * n), V: k < 2 ? 0 : max - min, Hlive: k < 2 ? 0 : H / Math.log(k), tv: tv / 2 };
}

/** The window statistics of histograms (index = generation, 0 = seed) over generations g−W+1..g. */
export function windowStats(hists: readonly ArrayLike<number>[], g: number, W: number): WindowStats {
  const seedShares = normalize(hists[0]);
  const s0 = histStats(hists[0], seedShares);
  let top = 0,
    H = 0,
    V = 0,
    Hlive = 0,
    tv = 0;
  for (let k = g - W + 1; k <= g; k++) {
    const s = histStats(hists[k], seedShares);
    top += s.top;
    H += s.H;
    V += s.V;
    Hlive += s.Hlive;
    tv += s.tv;
  }
  return { topRise: top / W - s0.top, dH: H / W - s0.H, vFall: s0.V - V / W, dHlive: Hlive / W - s0.Hlive, tv: tv / W };
}

/** Null limits: a statistic beyond its limit happens in a T = 1 closed loop with probability ≈ tail. */
export interface NullLimits {
  tail: number;
  z: number;
  replicates: number;
  /** Each statistic's null mean and sd; upper limits (lower for dH's fall) are mean ± z·sd. */
  topRise: { mean: number; sd: number; limit: number };
  /** Entropy rise limit (heat death side) and fall limit (mode-collapse side, as a positive fall). */
  hRise: { mean: number; sd: number; limit: number };
  hFall: { mean: number; sd: number; limit: number };
  vFall: { mean: number; sd: number; limit: number };
  tv: { mean: number; sd: number; limit: number };
}

/** Φ⁻¹(1 − tail) by bisection on erfc (tails from 1e-12 to 0.5). */
export function upperZ(tail: number): number {
  if (!(tail > 0 && tail < 0.5)) throw new RangeError(`tail probability must be in (0, 0.5), got ${tail}`);
  const upper = (z: number) => 0.5 * erfc(z / Math.SQRT2);
  let lo = 0,
    hi = 10;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (upper(mid) > tail) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** erfc by the continued-fraction-free Chebyshev fit of Numerical Recipes (relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Most categories × generations × replicates simulated for one set of limits (keeps `token` on BPE cheap). */
const WORK_BUDGET = 4e6;

const cache = new Map<string, NullLimits>();

/**
 * The null limits of the window statistics after g generations with window W: R replicates
 * (≤ `replicates`, fewer when categories × generations would exceed the work budget, never
 * < 200) of the T = 1 loop, on a stream fixed by the settings, so the same run always reads the
 * same limits.
 */
export function nullLimits(loop: NullLoop, g: number, W: number, tail: number, replicates = 500): NullLimits {
  // S and M join the key only where they are read: other loops keep their streams (and limits).
  const extra = [...(loop.policy === 'accumulate-subsample' ? [loop.trainRatio] : []), ...((loop.candidates ?? 1) !== 1 ? [{ M: loop.candidates }] : [])];
  const key = JSON.stringify([loop.seed, loop.perStep, loop.freshFraction, loop.policy, ...extra, g, W, tail, replicates]);
  const hit = cache.get(key);
  if (hit) return hit;
  const R = Math.max(200, Math.min(replicates, Math.floor(WORK_BUDGET / Math.max(1, loop.seed.length * g))));
  const z = upperZ(tail);
  const rng = rngFor(key, 'null-loop');
  const stats: WindowStats[] = [];
  const hists: Float64Array[] = Array.from({ length: g + 1 }, () => new Float64Array(loop.seed.length));
  hists[0].set(loop.seed);
  for (let r = 0; r < R; r++) {
    simulateNullLoop(rng, loop, g, (k, h) => {
      if (k > g - W) hists[k].set(h);
    });
    stats.push(windowStats(hists, g, W));
  }
  const of = (f: (s: WindowStats) => number, sign = 1) => {
    const xs = stats.map((s) => sign * f(s));
    const mean = xs.reduce((a, b) => a + b, 0) / R;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (R - 1));
    return { mean, sd, limit: mean + z * sd };
  };
  const limits: NullLimits = {
    tail, z, replicates: R,
    topRise: of((s) => s.topRise),
    hRise: of((s) => s.dH),
    hFall: of((s) => s.dH, -1),
    vFall: of((s) => s.vFall),
    tv: of((s) => s.tv),
  };
  if (cache.size > 500) cache.clear(); // a long-lived process reading many settings
  cache.set(key, limits);
  return limits;
}
