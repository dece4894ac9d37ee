// Exact binomial, multinomial and hypergeometric draws by counts, so the category-level
// simulation costs O(categories) per step instead of O(documents). Used by sim.ts and
// calibration.ts (the hypergeometric: a subsample without replacement); takes the Rng explicitly.
//
// Choice of sampler (both exact, no approximation anywhere):
// - mean n·min(p, 1−p) < 10: inversion by sequential search from 0 (expected ≈ mean + 1 steps);
// - otherwise BTRS, Hörmann's transformed rejection with squeeze ("The generation of binomial
//   random variates", J. Stat. Comput. Simul. 46, 1993), the squeeze-only sibling of BTRD:
//   about 1.15 iterations and 2–3 uniforms per draw whatever n is, and its final test uses the
//   exact log pmf ratio (Stirling tails), so the output law is exactly Binomial(n, p).
// Normal or Poisson approximations are deliberately not used: N per step can be 1 (Pólya urn).

import type { Rng } from '../rng.js';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** f_c(k) = ln k! − (k + ½) ln(k + 1) + (k + 1) − ½ ln 2π: exact for small k, series beyond. */
const STIRLING_TAIL_TABLE: readonly number[] = (() => {
  const t: number[] = [];
  let logFact = 0;
  for (let k = 0; k < 10; k++) {
    if (k > 0) logFact += Math.log(k);
    t.push(logFact - (k + 0.5) * Math.log(k + 1) + (k + 1) - HALF_LOG_2PI);
  }
  return t;
})();

function stirlingTail(k: number): number {
  if (k < 10) return STIRLING_TAIL_TABLE[k];
  const kp1 = k + 1;
  const kp1sq = kp1 * kp1;
  return (1 / 12 - (1 / 360 - 1 / 1260 / kp1sq) / kp1sq) / kp1;
}

/** Inversion by sequential search; for p ≤ ½ and small mean n·p. */
function binomialInversion(rng: Rng, n: number, p: number): number {
  const q = 1 - p;
  const s = p / q;
  const a = (n + 1) * s;
  const r0 = Math.exp(n * Math.log1p(-p)); // P(X = 0)
  for (;;) {
    let r = r0;
    let u = rng.next();
    let x = 0;
    // Walk the pmf with the recurrence P(x+1) = P(x)·(a/(x+1) − s) until u is used up.
    while (u > r) {
      u -= r;
      x++;
      if (x > n) break; // rounding left a sliver of u: draw again
      r *= a / x - s;
    }
    if (x <= n) return x;
  }
}

/** BTRS for p ≤ ½ and n·p ≥ 10. */
function binomialBtrs(rng: Rng, n: number, p: number): number {
  const spq = Math.sqrt(n * p * (1 - p));
  const b = 1.15 + 2.53 * spq;
  const a = -0.0873 + 0.0248 * b + 0.01 * p;
  const c = n * p + 0.5;
  const vr = 0.92 - 4.2 / b;
  const alpha = (2.83 + 5.1 / b) * spq;
  const m = Math.floor((n + 1) * p); // the mode
  // ln(p/q) and ln m! + ln(n−m)! are only needed outside the squeeze: computed on first use.
  let lpq = NaN,
    h = NaN;
  for (;;) {
    const u = rng.next() - 0.5;
    let v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + c);
    if (k < 0 || k > n) continue;
    // Inside the squeeze box: accept without evaluating the pmf (most draws end here).
    if (us >= 0.07 && v <= vr) return k;
    // Otherwise compare with the exact log pmf ratio P(k)/P(m).
    v = Math.log((v * alpha) / (a / (us * us) + b));
    if (Number.isNaN(h)) {
      lpq = Math.log(p / (1 - p));
      h = logFactorialApprox(m) + logFactorialApprox(n - m);
    }
    if (v <= h - logFactorialApprox(k) - logFactorialApprox(n - k) + (k - m) * lpq) return k;
  }
}

/** ln k! through the Stirling tail: exact to double precision for every k ≥ 0. */
function logFactorialApprox(k: number): number {
  return (k + 0.5) * Math.log(k + 1) - (k + 1) + HALF_LOG_2PI + stirlingTail(k);
}

/** One exact Binomial(n, p) draw. n is a whole number ≥ 0; p is clamped to [0, 1]. */
export function binomial(rng: Rng, n: number, p: number): number {
  if (n <= 0 || !(p > 0)) return 0;
  if (p >= 1) return n;
  if (n === 1) return rng.next() < p ? 1 : 0; // one document: a Bernoulli draw (the Pólya urn case)
  // Work with p ≤ ½ and mirror: both samplers assume it.
  const flip = p > 0.5;
  const pp = flip ? 1 - p : p;
  const x = n * pp < 10 ? binomialInversion(rng, n, pp) : binomialBtrs(rng, n, pp);
  return flip ? n - x : x;
}

/**
 * One exact Multinomial(n, p) draw by the binomial chain: x_i ~ Binomial(n − Σ_{j<i} x_j,
 * p_i / Σ_{j≥i} p_j). `p` need not be normalised. Writes the counts into `out` and returns it.
 */
export function multinomialInto(rng: Rng, n: number, p: ArrayLike<number>, out: Float64Array | number[]): Float64Array | number[] {
  const m = p.length;
  let mass = 0;
  let last = -1; // the last category with mass takes what is left (absorbs rounding in `mass`)
  for (let i = 0; i < m; i++) {
    if (p[i] > 0) {
      mass += p[i];
      last = i;
    }
  }
  let left = n;
  for (let i = 0; i < m; i++) {
    const pi = p[i] > 0 ? p[i] : 0;
    if (left === 0 || pi === 0) {
      out[i] = 0;
    } else if (i === last) {
      out[i] = left;
      left = 0;
    } else {
      const x = binomial(rng, left, Math.min(1, pi / mass));
      out[i] = x;
      left -= x;
    }
    mass -= pi;
  }
  return out;
}

/** Multinomial(n, p) as a new array of counts. */
export function multinomial(rng: Rng, n: number, p: ArrayLike<number>): number[] {
  return multinomialInto(rng, n, p, new Array<number>(p.length)) as number[];
}

/** ln P(X = x) of Hypergeometric(k draws, K marked, T in all). */
function hypergeometricLogPmf(x: number, k: number, K: number, T: number): number {
  const lf = logFactorialApprox;
  return lf(K) - lf(x) - lf(K - x) + lf(T - K) - lf(k - x) - lf(T - K - k + x) - lf(T) + lf(k) + lf(T - k);
}

/**
 * One exact Hypergeometric draw: how many of k documents drawn without replacement from T, K of
 * them marked, are marked. Inversion by search outward from the mode (alternately one step down
 * and one up, with the pmf recurrence), so the expected cost is O(sd), not O(mean).
 */
export function hypergeometric(rng: Rng, k: number, K: number, T: number): number {
  const lo = Math.max(0, k - (T - K)),
    hi = Math.min(k, K);
  if (lo === hi) return lo;
  const mode = Math.min(hi, Math.max(lo, Math.floor(((k + 1) * (K + 1)) / (T + 2))));
  const pMode = Math.exp(hypergeometricLogPmf(mode, k, K, T));
  // P(x+1)/P(x) = (K − x)(k − x) / ((x + 1)(T − K − k + x + 1)).
  const up = (x: number) => ((K - x) * (k - x)) / ((x + 1) * (T - K - k + x + 1));
  for (;;) {
    let u = rng.next() - pMode;
    if (u <= 0) return mode;
    let d = mode,
      pd = pMode,
      a = mode,
      pa = pMode;
    while (d > lo || a < hi) {
      if (d > lo) {
        pd /= up(d - 1);
        d--;
        u -= pd;
        if (u <= 0) return d;
      }
      if (a < hi) {
        pa *= up(a);
        a++;
        u -= pa;
        if (u <= 0) return a;
      }
    }
    // Rounding left a sliver of u beyond the whole support: draw again.
  }
}

/**
 * k documents drawn without replacement from a pool of whole counts (a multivariate
 * hypergeometric draw by the chain x_i ~ Hypergeometric(k − Σ_{j<i} x_j, c_i, Σ_{j≥i} c_j)).
 * k ≥ the pool's size takes the whole pool, drawing nothing. Writes into `out` and returns it.
 */
export function subsampleInto(rng: Rng, k: number, pool: ArrayLike<number>, out: Float64Array | number[]): Float64Array | number[] {
  let total = 0;
  for (let i = 0; i < pool.length; i++) total += pool[i];
  if (k >= total) {
    for (let i = 0; i < pool.length; i++) out[i] = pool[i];
    return out;
  }
  let left = Math.max(0, k);
  for (let i = 0; i < pool.length; i++) {
    const x = left === 0 || pool[i] === 0 ? 0 : hypergeometric(rng, left, pool[i], total);
    out[i] = x;
    left -= x;
    total -= pool[i];
  }
  return out;
}
