// The paper's basic objects over a probability vector θ: the sampling map τ (the temperature
// map τ_T, or any rule of model/sampling.ts), the Lyapunov function V_I and entropy. Pure
// functions over arrays; everything else builds on them.

import { ruleWeights, type SamplingRule, type Weights } from '../model/sampling.js';

/** A bare number T means the temperature rule { temperature: T }. */
export type RuleOrT = SamplingRule | number;

/**
 * τ(θ): the sampling rule applied to a category distribution, the logits being log θ. For a
 * temperature alone τ_T(θ)_i = θ_i^{1/T} / Σ_j θ_j^{1/T}. Computed in log space so small θ_i
 * and small T do not underflow. Zero entries stay zero. T must be > 0.
 */
export function tau(theta: ArrayLike<number>, rule: RuleOrT): number[] {
  return tauInto(new Array<number>(theta.length), theta, rule);
}

/**
 * τ(θ) written into `out` (which may be `theta` itself) and returned: the allocation-free
 * form the simulation calls millions of times. Negative entries count as zero.
 */
export function tauInto<A extends Weights>(out: A, theta: ArrayLike<number>, rule: RuleOrT): A {
  const r = typeof rule === 'number' ? { temperature: rule } : rule;
  if (!(r.temperature > 0)) throw new RangeError(`temperature must be > 0, got ${r.temperature}`);
  const n = theta.length;
  for (let i = 0; i < n; i++) out[i] = theta[i] > 0 ? Math.log(theta[i]) : -Infinity;
  ruleWeights(r, out, 0, n, -1, out);
  let z = 0;
  for (let i = 0; i < n; i++) z += out[i];
  if (z > 0) for (let i = 0; i < n; i++) out[i] /= z;
  return out;
}

/**
 * V_I(θ) = max_{i∈I} θ_i/Σ_I θ − min_{i∈I} θ_i/Σ_I θ. `index` defaults to all indices.
 * Returns 0 for an index set whose mass is 0 or that has fewer than two members.
 */
export function lyapunovV(theta: ArrayLike<number>, index?: readonly number[]): number {
  const I = index ?? Array.from({ length: theta.length }, (_, i) => i);
  if (I.length < 2) return 0;
  let sum = 0,
    max = -Infinity,
    min = Infinity;
  for (const i of I) {
    sum += theta[i];
    if (theta[i] > max) max = theta[i];
    if (theta[i] < min) min = theta[i];
  }
  return sum > 0 ? (max - min) / sum : 0;
}

/** Shannon entropy in nats of a vector, normalised to sum 1 first (counts are fine). */
export function entropy(p: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += p[i];
  if (!(sum > 0)) return 0;
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const q = p[i] / sum;
    if (q > 0) h -= q * Math.log(q);
  }
  return h;
}

/** Counts (or weights) → probabilities summing to 1 (all zeros stays all zeros). */
export function normalize(counts: ArrayLike<number>): number[] {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) sum += counts[i];
  return Array.from(counts, (c) => (sum > 0 ? c / sum : 0));
}
