// The regime verdict of one coarse-graining from its trajectory of histograms: did the closed
// loop collapse onto a mode, flatten into heat death, stay put, or wander? Every threshold is a
// number of sampling-noise scales computed from the seed histogram and the sample sizes, so the
// same rule reads a 300-sample toy run and a 50 000-sample run. Pure; returns the numbers it used.

import { entropy, normalize } from '../theory/core.js';
import { liveNormalizedEntropy, liveV, topShare, totalVariation } from './histogram.js';

export type Regime = 'mode-collapse' | 'heat-death' | 'stable' | 'drift' | 'undetermined';

export interface Verdict {
  verdict: Regime;
  /** One plain sentence: which comparison decided it. */
  reasons: string;
  /** Every number the rule looked at (see the rule below for the names). */
  numbers: Record<string, number>;
}

export interface VerdictOptions {
  /** How many noise scales count as "well beyond noise". */
  z: number;
  /** Generated generations (seed not counted) needed before any verdict. */
  minGenerations: number;
  /** Longest final window, in generations. */
  maxWindow: number;
  /** The learner's own distance δ (Assumption 2), as TV; tolerated on top of noise by `stable`. */
  delta: number;
}

export const defaultVerdictOptions: Readonly<VerdictOptions> = Object.freeze({
  // A one-sided 3σ excursion of a roughly normal statistic happens by chance about once in 700;
  // in exact simulations of T = 1 loops (seed 1000 draws, N = 200 or 1000) it never fired.
  z: 3,
  minGenerations: 3,
  maxWindow: 5,
  delta: 0,
});

/** W: the length of the final (and early) window after generation g (rule step 2). */
function windowLength(g: number, o: VerdictOptions): number {
  return Math.min(o.maxWindow, Math.ceil(g / 3));
}

/**
 * The generations the rule reads after generation `last`: the seed, the early window and the final
 * window. A loader reads these histograms only (the others may be passed empty), so the cost per
 * generation stays flat however long a run gets.
 */
export function verdictGenerations(last: number, opts: Partial<VerdictOptions> = {}): number[] {
  const g = Math.max(0, last);
  const W = windowLength(g, { ...defaultVerdictOptions, ...opts });
  const wanted = new Set<number>([0]);
  for (let k = 1; k <= Math.min(W, g); k++) wanted.add(k);
  for (let k = Math.max(1, g - W + 1); k <= g; k++) wanted.add(k);
  return [...wanted].sort((a, b) => a - b);
}

/**
 * A verdict rule as the loop and the report use it: which generations it reads after generation
 * `last`, and the verdict from the histograms 0..last (those it does not read may be empty).
 */
export interface VerdictRule {
  reads(last: number): number[];
  judge(histograms: readonly ArrayLike<number>[], sampleSizes?: readonly number[]): Verdict;
}

/** The rule below as a VerdictRule, with the default options. */
export const regimeRule: VerdictRule = {
  reads: (last) => verdictGenerations(last),
  judge: (histograms, sampleSizes) => regimeVerdict(histograms, sampleSizes),
};

/**
 * The rule. Histogram 0 is the seed (p₀ = its shares, N₀ = its sample size); histograms 1..g are
 * the generations, N_k their sample sizes (documents drawn; by default the histogram totals).
 *
 * 1. Fewer than 3 generations, or a seed with < 2 categories alive → `undetermined`.
 * 2. Final window: the last W = min(5, ⌈g/3⌉) generations; x̄ is a mean over it, N the mean
 *    sample size in it; early window: generations 1..W. Noise scales of a difference between the
 *    seed and one generation, s = √(1/N₀ + 1/N), or the window's mean, s_W = √(1/N₀ + 1/(W·N)):
 *      σ_top = √(q(1−q))·s_W, q = p₀'s top share                    (a share difference)
 *      σ_H   = √(Var_p₀[ln p]·s_W² + (m₀−1)/2·(1/N₀² + 1/(W·N²)))  (plug-in entropy: delta method
 *              plus its χ² term, m₀ = the seed's live categories)
 *      σ_V   = √(q(1−q) + a(1−a))·s_W, a = p₀'s smallest live share  (max and min shares)
 *      μ_TV  = ½ Σ_i min(√(2/π)·√(p₀ᵢ(1−p₀ᵢ))·s, 2p₀ᵢ)               (expected TV of two samples of p₀)
 *      σ_TV  = ½ √((1−2/π) Σ_i p₀ᵢ(1−p₀ᵢ))·s                        (its spread)
 *    Entropies H are Miller–Madow corrected (H + (k−1)/2n, k live categories, n the total) so a
 *    small sample is not read as lower entropy.
 * 3. `mode-collapse` if top share rose: top̄ − top₀ > z·σ_top, entropy fell: H₀ − H̄ > z·σ_H,
 *    and the rise is not receding: top̄ ≥ top_early − z·σ_top.
 * 4. `heat-death` if V over the live categories fell: V₀ − V̄ > z·σ_V, the distribution
 *    flattened — entropy rose beyond noise, H̄ − H₀ > z·σ_H, or the normalised entropy over
 *    the live categories rose, mean H_live > H_live,₀ (categories died, survivors evened
 *    out) — and V is not climbing back: V̄ ≤ V_early + z·σ_V.
 * 5. `stable` if the distance to the seed is what resampling alone gives:
 *    TV̄ ≤ μ_TV + z·σ_TV + δ (δ = the learner's measured distance, 0 unless given).
 * 6. Otherwise `drift`: the histogram moved away from the seed without a degenerate direction.
 *
 * z = 3 by default. `stable` means "indistinguishable from resampling the seed": with small N
 * and few generations a weak trend can hide inside the noise, and the numbers say how wide it is.
 * With an exact learner, T = 1 and accumulated data (a Pólya urn) the histogram differs from the
 * seed by about as much as two independent samples do, so it reads `stable`; with replaced data
 * it random-walks away and reads `drift` once the walk leaves the noise band.
 */
export function regimeVerdict(
  histograms: readonly ArrayLike<number>[],
  sampleSizes?: readonly number[],
  opts: Partial<VerdictOptions> = {},
): Verdict {
  for (const k of Object.keys(opts)) {
    if (!(k in defaultVerdictOptions)) throw new RangeError(`unknown verdict option '${k}'`);
  }
  const o: VerdictOptions = { ...defaultVerdictOptions, ...opts };
  const total = (h: ArrayLike<number>) => Array.from(h).reduce((a, b) => a + b, 0);
  const sizes = histograms.map((h, k) => sampleSizes?.[k] ?? total(h));
  const g = histograms.length - 1;
  const numbers: Record<string, number> = { generations: Math.max(0, g), z: o.z };
  if (g < o.minGenerations) {
    return { verdict: 'undetermined', reasons: `only ${Math.max(0, g)} of ${o.minGenerations} generations so far`, numbers };
  }
  const seed = histograms[0];
  const p0 = normalize(seed);
  const live0 = p0.filter((x) => x > 0);
  if (live0.length < 2 || !(sizes[0] > 0)) {
    return { verdict: 'undetermined', reasons: 'the seed histogram has fewer than two categories alive', numbers };
  }

  // Windows and the sample sizes that set the noise.
  const W = windowLength(g, o);
  const finals = histograms.slice(g - W + 1);
  const earlies = histograms.slice(1, W + 1);
  const N0 = sizes[0];
  const N = sizes.slice(g - W + 1).reduce((a, b) => a + b, 0) / W;
  // A single generation against the seed (TV), and the window's mean against the seed (the
  // window's W generations are independent draws, so their mean carries 1/W of the variance).
  const s = Math.sqrt(1 / N0 + 1 / N);
  const s2 = 1 / N0 + 1 / (W * N);
  const sW = Math.sqrt(s2);
  const mean = (hs: readonly ArrayLike<number>[], f: (h: ArrayLike<number>) => number) =>
    hs.reduce((a, h) => a + f(h), 0) / hs.length;

  // Noise scales from the seed distribution (step 2 of the rule).
  const q = Math.max(...live0);
  const a = Math.min(...live0);
  const meanLog = live0.reduce((acc, p) => acc + p * Math.log(p), 0);
  const varLog = live0.reduce((acc, p) => acc + p * Math.log(p) ** 2, 0) - meanLog ** 2;
  const sigmaTop = Math.sqrt(q * (1 - q)) * sW;
  const sigmaH = Math.sqrt(Math.max(0, varLog) * s2 + ((live0.length - 1) / 2) * (1 / N0 ** 2 + 1 / (W * N ** 2)));
  const sigmaV = Math.sqrt(q * (1 - q) + a * (1 - a)) * sW;
  let muTV = 0,
    varSum = 0;
  for (const p of live0) {
    muTV += Math.min(Math.sqrt(2 / Math.PI) * Math.sqrt(p * (1 - p)) * s, 2 * p) / 2;
    varSum += p * (1 - p);
  }
  const sigmaTV = 0.5 * Math.sqrt((1 - 2 / Math.PI) * varSum) * s;

  // The statistics: seed, final window, early window.
  const H = (h: ArrayLike<number>) => {
    const n = total(h);
    const k = Array.from(h).filter((c) => c > 0).length;
    return n > 0 ? entropy(h) + (k - 1) / (2 * n) : 0;
  };
  Object.assign(numbers, {
    window: W,
    N0,
    N,
    top0: topShare(seed),
    top: mean(finals, topShare),
    top_early: mean(earlies, topShare),
    sigma_top: sigmaTop,
    H0: H(seed),
    H: mean(finals, H),
    sigma_H: sigmaH,
    V0: liveV(seed),
    V: mean(finals, liveV),
    V_early: mean(earlies, liveV),
    sigma_V: sigmaV,
    H_live0: liveNormalizedEntropy(seed),
    H_live: mean(finals, liveNormalizedEntropy),
    tv: mean(finals, (h) => totalVariation(h, seed)),
    tv_noise: muTV,
    sigma_tv: sigmaTV,
    delta: o.delta,
  });
  const n = numbers;
  const f = (x: number) => x.toFixed(3);
  const z = o.z;

  if (n.top - n.top0 > z * sigmaTop && n.H0 - n.H > z * sigmaH && n.top >= n.top_early - z * sigmaTop) {
    return {
      verdict: 'mode-collapse',
      reasons: `top share rose ${f(n.top0)} → ${f(n.top)} (> ${z}σ = ${f(z * sigmaTop)}) and entropy fell ${f(n.H0)} → ${f(n.H)} nats (> ${z}σ = ${f(z * sigmaH)})`,
      numbers,
    };
  }
  // Flattening shows either as entropy rising beyond noise, or — when categories die out while
  // the survivors even out — as the normalised entropy over the live categories rising. (A few
  // stray categories coming alive at high T lower the latter, so it cannot be the only test.)
  const flatter = n.H - n.H0 > z * sigmaH || n.H_live > n.H_live0;
  if (n.V0 - n.V > z * sigmaV && flatter && n.V <= n.V_early + z * sigmaV) {
    const how = n.H - n.H0 > z * sigmaH
      ? `entropy rose ${f(n.H0)} → ${f(n.H)} nats (> ${z}σ = ${f(z * sigmaH)})`
      : `the normalised entropy of the live categories rose ${f(n.H_live0)} → ${f(n.H_live)}`;
    return {
      verdict: 'heat-death',
      reasons: `V over the live categories fell ${f(n.V0)} → ${f(n.V)} (> ${z}σ = ${f(z * sigmaV)}) and ${how}`,
      numbers,
    };
  }
  const tvLimit = muTV + z * sigmaTV + o.delta;
  numbers.tv_limit = tvLimit;
  if (n.tv <= tvLimit) {
    return { verdict: 'stable', reasons: `TV to the seed ${f(n.tv)} is within sampling noise (≤ ${f(tvLimit)})`, numbers };
  }
  return {
    verdict: 'drift',
    reasons: `TV to the seed ${f(n.tv)} exceeds sampling noise (${f(tvLimit)}) with no collapse or heat-death signature`,
    numbers,
  };
}

/** A short progress-line form of the verdict so far, e.g. "heat-death V 0.310→0.040". */
export function verdictSoFar(
  histograms: readonly ArrayLike<number>[],
  sampleSizes?: readonly number[],
  opts: Partial<VerdictOptions> = {},
): string {
  const v = regimeVerdict(histograms, sampleSizes, opts);
  const n = v.numbers;
  const f = (x: number) => x.toFixed(3);
  switch (v.verdict) {
    case 'undetermined':
      return `undetermined (${n.generations}/${opts.minGenerations ?? defaultVerdictOptions.minGenerations} gens)`;
    case 'mode-collapse':
      return `mode-collapse top ${f(n.top0)}→${f(n.top)}`;
    case 'heat-death':
      return `heat-death V ${f(n.V0)}→${f(n.V)}`;
    case 'stable':
      return `stable TV ${f(n.tv)}≤${f(n.tv_limit)}`;
    case 'drift':
      return `drift TV ${f(n.tv)}>${f(n.tv_limit)}`;
  }
}
