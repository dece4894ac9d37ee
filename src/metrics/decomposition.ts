// What moved a generation's histogram: the temperature term against the model-error term.
//
// Generation g's samples are drawn at T from model g−1, which was trained on a training set
// with histogram π. Besides them the loop draws a control set from the same model at T = 1 (its
// own random stream, never trained on). For a coarse-graining, with h the samples' histogram and
// c the control's (for `first` the model's exact first-token softmax):
//
//   h − π  =  (h − c)   +   (c − π)
//             temperature   model error
//             term τ̂        term δ̂ (ε of eq. 14)
//
// plus sampling noise in each. At T = 1 the temperature term is zero in expectation by
// construction (h and c are draws of one distribution); what is left of it is noise, whose scale
// is stored beside it. Each term is read through the paper's measures: entropy (τ_T lowers it
// for T < 1, raises it for T > 1) and V_I over the categories alive in the seed, plus its size
// as a total variation. Pure functions over arrays; the loop stores `decompositionMetrics`.

import { lyapunovV, normalize } from '../theory/core.js';
import { totalVariation } from './histogram.js';

/**
 * Entropy in nats, Miller–Madow corrected ((k − 1)/2n, k live categories, n the sample size) so
 * that a control of 300 and a generation of 1,000 draws are not read as differing in entropy
 * only because the smaller plug-in estimate is biased lower. n = Infinity: an exact distribution.
 */
export function correctedEntropy(counts: ArrayLike<number>, n = sumOf(counts)): number {
  const p = normalize(counts);
  let h = 0,
    k = 0;
  for (const x of p) {
    if (x > 0) {
      h -= x * Math.log(x);
      k++;
    }
  }
  return n > 0 && Number.isFinite(n) ? h + (k - 1) / (2 * n) : h;
}

/**
 * Standard deviation of a plug-in entropy from n draws of p (delta method plus the χ² term):
 * √(Var_p[ln p]/n + (k−1)/(2n²)). 0 for an exact distribution (n = Infinity).
 */
export function entropyNoise(p: ArrayLike<number>, n: number): number {
  if (!Number.isFinite(n)) return 0;
  if (!(n > 0)) return Infinity;
  const q = normalize(p);
  let m1 = 0,
    m2 = 0,
    k = 0;
  for (const x of q) {
    if (x > 0) {
      m1 += x * Math.log(x);
      m2 += x * Math.log(x) ** 2;
      k++;
    }
  }
  return Math.sqrt(Math.max(0, m2 - m1 * m1) / n + (k - 1) / (2 * n * n));
}

function sumOf(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** One side of the decomposition: how `to` differs from `from`. */
export interface Term {
  /** Entropy change, nats (corrected): < 0 sharpens (towards a mode), > 0 flattens. */
  dH: number;
  /** Its noise scale under "no effect" (both sides drawn from one distribution). */
  sd: number;
  /** Change of V_I over the categories alive in the seed: < 0 towards uniform. */
  dV: number;
  /** Total variation between the two. */
  tv: number;
}

/**
 * The temperature term and the model-error term of one generation on one coarse-graining.
 * `samples`: h (n = its total); `control`: c, drawn at T = 1 from the same model (`controlSize`
 * draws, or Infinity when it is the model's exact distribution); `train`: π, the training set the
 * model learned; `live`: V's index set (the seed's live categories).
 */
export function decompose(
  samples: ArrayLike<number>,
  control: ArrayLike<number>,
  controlSize: number,
  train: ArrayLike<number>,
  live: readonly number[],
): { temperature: Term; error: Term } {
  const n = sumOf(samples);
  const Hh = correctedEntropy(samples, n);
  const Hc = correctedEntropy(control, controlSize);
  const Hpi = correctedEntropy(train, Infinity); // the training set is what the model learned, not a sample of it
  const c = normalize(control);
  // Null: h and c both drawn from the model at T = 1; the control's shares stand in for it.
  const sdControl = entropyNoise(c, controlSize);
  const sdTemp = Math.sqrt(entropyNoise(c, n) ** 2 + sdControl ** 2);
  const Vc = lyapunovV(c, live);
  return {
    temperature: { dH: Hh - Hc, sd: sdTemp, dV: lyapunovV(normalize(samples), live) - Vc, tv: n > 0 ? totalVariation(samples, c) : 0 },
    error: { dH: Hc - Hpi, sd: sdControl, dV: Vc - lyapunovV(normalize(train), live), tv: totalVariation(c, train) },
  };
}

/**
 * Metric rows (key → value) of the decomposition, the names stored per generation and
 * coarse-graining:
 * - `tau_dH`, `tau_sd`, `tau_dV`, `tau_tv`  the temperature term (samples at T − control at T = 1)
 * - `err_dH`, `err_sd`, `err_dV`, `err_tv`  the model-error term (control − training set); err_tv is δ̂
 *   of the model that drew the generation
 */
export function decompositionMetrics(d: { temperature: Term; error: Term }): TermMetrics {
  return {
    tau_dH: d.temperature.dH,
    tau_sd: d.temperature.sd,
    tau_dV: d.temperature.dV,
    tau_tv: d.temperature.tv,
    err_dH: d.error.dH,
    err_sd: d.error.sd,
    err_dV: d.error.dV,
    err_tv: d.error.tv,
  };
}

export const DECOMPOSITION_KEYS = ['tau_dH', 'tau_sd', 'tau_dV', 'tau_tv', 'err_dH', 'err_sd', 'err_dV', 'err_tv'] as const;
export type TermMetrics = Record<(typeof DECOMPOSITION_KEYS)[number], number>;

/**
 * The terms summed over generations 1..g, stored each generation so that a verdict reads one row
 * however long the run (the sums of generation g are those of g − 1 plus g's own):
 * - `tau_cum`      Σ tau_dH, the temperature term's cumulative entropy change (nats)
 * - `tau_var_cum`  Σ tau_sd², its noise variance (the generations' draws are independent given their models)
 * - `err_cum`      Σ err_dH, the model-error term's
 */
export interface TermSums {
  tau_cum: number;
  tau_var_cum: number;
  err_cum: number;
}

export const TERM_SUM_KEYS = ['tau_cum', 'tau_var_cum', 'err_cum'] as const;

/** The sums after one more generation; `previous` null = generation 1 (nothing before it). */
export function addTerms(previous: TermSums | null, m: Pick<TermMetrics, 'tau_dH' | 'tau_sd' | 'err_dH'>): TermSums {
  const p = previous ?? { tau_cum: 0, tau_var_cum: 0, err_cum: 0 };
  return { tau_cum: p.tau_cum + m.tau_dH, tau_var_cum: p.tau_var_cum + m.tau_sd ** 2, err_cum: p.err_cum + m.err_dH };
}
