// Pure math behind `probe-tau`: given a model's category histogram at T = 1 (θ̂) and under a
// sampling rule (τ̂: a temperature, maybe with a truncation), test the paper's Assumption 1 on
// the coarse-grained sampling map: 1.1 τ preserves the order of θ (weakly: no pair reversed;
// strictly: no ordered pair made equal, which a truncation does when it sends both to zero);
// which categories τ sends to zero; 1.2 τ contracts V on the live categories for T > 1 and
// expands it for T < 1; and fit the temperature T* whose τ_{T*}(θ̂) is closest to τ̂, with a
// goodness-of-fit test saying whether a temperature explains τ̂ at all. Noise-aware: histograms
// are counts from finite samples, and differences smaller than z standard errors are ties.

import { lyapunovV, normalize, tau } from './core.js';

export interface ProbeOptions {
  /** The temperature the tempered histogram was sampled at (only used to say what was expected). */
  temperature?: number;
  /** Samples behind each histogram; default their sums. Infinity = exact probabilities. */
  baseSamples?: number;
  temperedSamples?: number;
  /** Standard errors a difference must exceed to count (default 3). */
  z?: number;
  /** Fit criterion for T*: KL(τ̂ ‖ τ_T(θ̂)) (maximum likelihood, the default) or total variation. */
  criterion?: 'kl' | 'tv';
  /** Search range for T* (default 0.02 to 50). */
  range?: [number, number];
}

export interface OrderCheck {
  /** Weak order preservation: no pair of categories is significantly reversed. */
  preserved: boolean;
  /** Strict: weak, and no pair ordered in θ̂ is made equal by sending both to zero (see `merged`). */
  strict: boolean;
  /** Pairs (i, j), θ̂_i significantly above θ̂_j, both at zero in τ̂ with i significantly sent to zero. */
  merged: [number, number][];
  /** Pairs (i, j) with θ̂_i significantly above θ̂_j and τ̂_j significantly above τ̂_i. */
  violations: [number, number][];
  /** Pairs that were compared (θ̂ significantly different). */
  pairsCompared: number;
}

export interface VChange {
  /** The categories alive in both histograms: the index set I. */
  index: number[];
  base: number;
  tempered: number;
  /** V_I(τ̂) − V_I(θ̂). */
  delta: number;
  /** Standard error of delta (delta method, argmax and argmin held fixed). */
  se: number;
  sign: 'contracting' | 'expanding' | 'neutral';
  /** Which sign Assumption 1.2 predicts at the given temperature (when one was given). */
  expected?: 'contracting' | 'expanding' | 'neutral';
}

export interface ZeroedCategories {
  /** Categories alive in θ̂ and at zero in τ̂. */
  categories: number[];
  /**
   * Those of them the temperature alone would have drawn: expected count n·τ_T(θ̂)_i ≥ z² (a
   * zero count then has probability ≤ e^{−z²}); the others may be at zero by chance.
   */
  significant: number[];
  /** θ̂'s mass on the significant ones: the tail the rule cut. */
  baseMass: number;
}

export interface TemperatureFit {
  /** T*, or null when θ̂ is uniform on its support (every T gives the same τ). */
  temperature: number | null;
  criterion: 'kl' | 'tv';
  /** KL(τ̂ ‖ τ_{T*}(θ̂)) and TV(τ̂, τ_{T*}(θ̂)) at the fit, over the categories alive in θ̂. */
  kl: number;
  tv: number;
  /** τ̂ mass on categories θ̂ never produced (τ_T cannot put mass there). */
  unexplainedMass: number;
  /** T* sits on an end of the search range: the true value may lie beyond. */
  atBoundary: boolean;
  /**
   * Whether a temperature explains τ̂: G = 2·n·KL (n the effective sample size of the draws on
   * the fitted categories, n_b·n_t/(n_b + n_t)) within z·√(2 df) of its χ²(df) mean, df = live − 2.
   * Approximate: it ignores that T* was fitted on the same θ̂ (a slightly conservative test).
   * Exact inputs (n = ∞): KL below 1e-9. null when there is nothing to test (df < 1).
   */
  fits: boolean | null;
  G: number;
  df: number;
}

export interface ProbeResult {
  order: OrderCheck;
  zeroed: ZeroedCategories;
  V: VChange;
  /** T* over the categories alive in θ̂ (a cut tail counts against the fit). */
  fit: TemperatureFit;
  /** T* over the categories alive in both: the temperature among the survivors. */
  survivorFit: TemperatureFit;
}

/** Variance of p̂_i − p̂_j for a multinomial proportion estimate from n samples. */
function diffVar(p: number[], i: number, j: number, n: number): number {
  return n === Infinity ? 0 : Math.max(0, p[i] + p[j] - (p[i] - p[j]) ** 2) / n;
}

const TINY = 1e-12; // exact inputs: differences below this are rounding, i.e. ties

export function orderCheck(theta: number[], tempered: number[], nBase: number, nTempered: number, z: number, zeroed: readonly number[] = []): OrderCheck {
  const violations: [number, number][] = [];
  const merged: [number, number][] = [];
  const cut = new Set(zeroed);
  let pairsCompared = 0;
  for (let i = 0; i < theta.length; i++) {
    for (let j = 0; j < theta.length; j++) {
      if (!(theta[i] - theta[j] > z * Math.sqrt(diffVar(theta, i, j, nBase)) + TINY)) continue;
      pairsCompared++;
      if (tempered[j] - tempered[i] > z * Math.sqrt(diffVar(tempered, i, j, nTempered)) + TINY) violations.push([i, j]);
      else if (cut.has(i) && tempered[i] === 0 && tempered[j] === 0) merged.push([i, j]);
    }
  }
  return { preserved: violations.length === 0, strict: violations.length === 0 && merged.length === 0, merged, violations, pairsCompared };
}

/** Categories alive in θ̂ and at zero in τ̂, and which of them temperature T alone would have drawn. */
export function zeroedCategories(theta: number[], tempered: number[], nTempered: number, z: number, temperature: number): ZeroedCategories {
  const expected = tau(theta, temperature);
  const categories = theta.flatMap((x, i) => (x > 0 && tempered[i] === 0 ? [i] : []));
  const significant = categories.filter((i) => nTempered * expected[i] >= z * z);
  return { categories, significant, baseMass: significant.reduce((s, i) => s + theta[i], 0) };
}

/** Delta-method standard error of V_I from n samples, with the argmax a and argmin b held fixed. */
function seV(p: number[], I: number[], n: number): number {
  if (n === Infinity || I.length < 2) return 0;
  const mass = I.reduce((s, i) => s + p[i], 0);
  const q = I.map((i) => p[i] / mass);
  const a = q.indexOf(Math.max(...q));
  const b = q.indexOf(Math.min(...q));
  // Conditional on landing in I the counts are multinomial with n·mass samples.
  return Math.sqrt(diffVar(q, a, b, n * mass));
}

export function vChange(theta: number[], tempered: number[], nBase: number, nTempered: number, z: number, temperature?: number): VChange {
  const index = theta.flatMap((x, i) => (x > 0 && tempered[i] > 0 ? [i] : []));
  const base = lyapunovV(theta, index);
  const temp = lyapunovV(tempered, index);
  const delta = temp - base;
  const se = Math.sqrt(seV(theta, index, nBase) ** 2 + seV(tempered, index, nTempered) ** 2);
  const signOf = (d: number, s: number) => (d < -(z * s + TINY) ? 'contracting' : d > z * s + TINY ? 'expanding' : 'neutral');
  const out: VChange = { index, base, tempered: temp, delta, se, sign: signOf(delta, se) };
  if (temperature !== undefined) out.expected = temperature > 1 ? 'contracting' : temperature < 1 ? 'expanding' : 'neutral';
  return out;
}

function divergences(target: number[], model: number[]): { kl: number; tv: number } {
  let kl = 0,
    tv = 0;
  for (let i = 0; i < target.length; i++) {
    if (target[i] > 0) kl += target[i] * Math.log(target[i] / model[i]);
    tv += Math.abs(target[i] - model[i]);
  }
  return { kl: Math.max(0, kl), tv: tv / 2 };
}

/** Golden-section minimisation of a unimodal function on [lo, hi]. */
function goldenSection(fn: (x: number) => number, lo: number, hi: number, tol: number): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo,
    b = hi;
  let c = b - g * (b - a),
    d = a + g * (b - a);
  let fc = fn(c),
    fd = fn(d);
  while (b - a > tol) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = fn(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = fn(d);
    }
  }
  return (a + b) / 2;
}

/**
 * T* by golden-section search on log T. The KL criterion is the negative log-likelihood of the
 * tempered samples under τ_T(θ̂) up to a constant; it is convex in 1/T (a log-partition), so
 * the search has one minimum. Only categories alive in θ̂ take part.
 */
export function fitTemperature(
  theta: number[],
  tempered: number[],
  criterion: 'kl' | 'tv' = 'kl',
  range: [number, number] = [0.02, 50],
  noise: { nBase: number; nTempered: number; z: number } = { nBase: Infinity, nTempered: Infinity, z: 3 },
  alive: number[] = theta.flatMap((x, i) => (x > 0 ? [i] : [])),
): TemperatureFit {
  const th = alive.map((i) => theta[i]);
  const inside = alive.reduce((s, i) => s + tempered[i], 0);
  const target = normalize(alive.map((i) => tempered[i]));
  const unexplainedMass = 1 - inside;
  const uniform = th.every((x) => Math.abs(x - th[0]) <= TINY * th[0]);
  const df = alive.length - 2; // live shares (m − 1 free) minus the fitted T
  // The draws that land on these categories: both histograms carry noise, so the effective size
  // is the harmonic combination n_b·n_t/(n_b + n_t) of those counts.
  const nb = noise.nBase * alive.reduce((a, i) => a + theta[i], 0);
  const nt = noise.nTempered * inside;
  const n = nb === Infinity ? nt : nt === Infinity ? nb : (nb * nt) / (nb + nt);
  const test = (d: { kl: number }) => {
    const G = n === Infinity ? (d.kl < 1e-9 ? 0 : Infinity) : 2 * n * d.kl;
    return { G, df, fits: df < 1 ? null : n === Infinity ? G === 0 : G <= df + noise.z * Math.sqrt(2 * df) };
  };
  if (uniform || inside <= 0) {
    const d = divergences(target, normalize(th));
    return { temperature: null, criterion, ...d, unexplainedMass, atBoundary: false, ...test(d) };
  }
  const loss = (logT: number) => divergences(target, tau(th, Math.exp(logT)))[criterion];
  const [lo, hi] = [Math.log(range[0]), Math.log(range[1])];
  const logT = goldenSection(loss, lo, hi, 1e-10);
  const T = Math.exp(logT);
  const d = divergences(target, tau(th, T));
  return { temperature: T, criterion, ...d, unexplainedMass, atBoundary: logT - lo < 1e-6 || hi - logT < 1e-6, ...test(d) };
}

/** All three checks from two histograms over the same categories (counts or probabilities). */
export function probeTau(baseHistogram: readonly number[], temperedHistogram: readonly number[], options: ProbeOptions = {}): ProbeResult {
  if (baseHistogram.length !== temperedHistogram.length) throw new RangeError('probeTau: histograms must have the same categories');
  const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
  const nBase = options.baseSamples ?? sum(baseHistogram);
  const nTempered = options.temperedSamples ?? sum(temperedHistogram);
  const z = options.z ?? 3;
  const theta = normalize(baseHistogram);
  const tempered = normalize(temperedHistogram);
  const zeroed = zeroedCategories(theta, tempered, nTempered, z, options.temperature ?? 1);
  // The fit compares τ̂ with a function of θ̂: both carry sampling noise.
  const noise = { nBase, nTempered, z };
  const both = theta.flatMap((x, i) => (x > 0 && tempered[i] > 0 ? [i] : []));
  return {
    order: orderCheck(theta, tempered, nBase, nTempered, z, zeroed.significant),
    zeroed,
    V: vChange(theta, tempered, nBase, nTempered, z, options.temperature),
    fit: fitTemperature(theta, tempered, options.criterion, options.range, noise),
    survivorFit: fitTemperature(theta, tempered, options.criterion, options.range, noise, both),
  };
}
