// Exact category-level simulation of the closed loop with a perfect learner: the model *is*
// the empirical histogram c/|c|, so a generation is one multinomial draw by counts. This is the
// paper's process with no neural network in the way, the baseline every real run is read
// against. `heatdeath sim` prints its result; tests reproduce the known results with it.

import { UserError } from '../errors.js';
import { type Rng, rngFor } from '../rng.js';
import { isIdentityRule, normalizeRuleFields, samplingKeys, type SamplingRuleFields } from '../model/sampling.js';
import { multinomialInto } from './binomial.js';
import { entropy, lyapunovV, normalize, tauInto } from './core.js';
import { MAX_CANDIDATES, selectionMap, type CategorySelection } from './select.js';

export type SimPolicy = 'accumulate' | 'replace';
export const simPolicies: readonly SimPolicy[] = ['accumulate', 'replace'];

/** The sampling rule sits flat in the config (model/sampling.ts owns its keys). */
export interface SimConfig extends SamplingRuleFields {
  /** Initial category counts c₀ (ℓ = Σ c₀); fresh draws come from p₀ = c₀/ℓ. */
  initial: number[];
  /** λ: fraction of each step's new documents drawn from p₀ instead of τ_T(θ). */
  freshFraction: number;
  policy: SimPolicy;
  /** N: documents added per step. */
  perStep: number;
  /** K: steps (generations) after the initial counts. */
  steps: number;
  /** R: independent replicates. */
  replicates: number;
  seed: number;
  /** Most trajectory points kept (step 0 and the last step are always among them). */
  maxPoints: number;
  /** Best-of-M selection by a reward for one category (src/theory/select.ts); null = none. */
  select: CategorySelection | null;
}

export const defaultSimConfig: Readonly<SimConfig> = Object.freeze({
  initial: [40, 30, 20, 10],
  temperature: 1,
  freshFraction: 0,
  policy: 'accumulate' as SimPolicy,
  perStep: 10,
  steps: 100,
  replicates: 100,
  seed: 1,
  maxPoints: 400, // keeps `sim --json` to a few hundred kB however long the run
  select: null,
});

/** The mean over replicates at one recorded step. */
export interface SimPoint {
  step: number;
  /** Mean θ over replicates. */
  mean: number[];
  /** Standard deviation of θ_i over replicates (error bands; standard errors are sd/√R). */
  sd: number[];
  /** Mean V over the categories with positive initial count (a fixed index set I). */
  V: number;
  /** Standard deviation of V over replicates. */
  Vsd: number;
  /** Mean entropy (nats) of θ. */
  entropy: number;
  /** Mean number of categories with positive count. */
  support: number;
  /** Mean top share max_i θ_i (→ 1 under mode collapse, whichever category wins). */
  top: number;
}

export interface SimResult {
  config: Readonly<SimConfig>;
  /** θ after the last step, one vector per replicate. */
  final: number[][];
  trajectory: SimPoint[];
}

function check(name: string, x: unknown, ok: (x: number) => boolean, rule: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) throw new UserError(`--${name} must be ${rule}, got '${String(x)}'`);
  return x;
}

const whole = (x: number) => Number.isInteger(x) && x >= 1;

/** Validates an initial vector: non-empty, finite, ≥ 0, not all zero. Shared with the ODE. */
export function checkInitial(initial: unknown): number[] {
  if (!Array.isArray(initial) || initial.length === 0) throw new UserError('--initial must list at least one category, e.g. 3,1');
  for (const x of initial) {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new UserError(`--initial entries must be numbers ≥ 0, got '${String(x)}'`);
  }
  if (!initial.some((x) => x > 0)) throw new UserError('--initial must have at least one positive entry');
  return [...initial];
}

export function checkPolicy(policy: unknown): SimPolicy {
  if (!simPolicies.includes(policy as SimPolicy)) throw new UserError(`unknown policy '${String(policy)}' (choose from ${simPolicies.join(', ')})`);
  return policy as SimPolicy;
}

/**
 * Bounds that keep a simulation within memory (each replicate holds its counts and a random
 * stream) and within a night's computing (K × R steps, each a multinomial draw).
 */
export const MAX_SIM_REPLICATES = 1_000_000;
export const MAX_SIM_STEPS = 1_000_000_000;

export function normalizeSimConfig(input: Partial<SimConfig>): Readonly<SimConfig> {
  for (const key of Object.keys(input)) if (!(key in defaultSimConfig) && !samplingKeys().includes(key)) throw new UserError(`unknown sim option '${key}'`);
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<SimConfig>;
  const c: SimConfig = { ...defaultSimConfig, ...defined };
  c.initial = checkInitial(c.initial);
  normalizeRuleFields(c);
  c.freshFraction = check('fresh', c.freshFraction, (x) => x >= 0 && x <= 1, 'a number from 0 to 1');
  c.policy = checkPolicy(c.policy);
  c.perStep = check('per-step', c.perStep, whole, 'a whole number ≥ 1');
  c.steps = check('steps', c.steps, (x) => whole(x) && x <= MAX_SIM_STEPS, `a whole number from 1 to ${MAX_SIM_STEPS}`);
  c.replicates = check('replicates', c.replicates, (x) => whole(x) && x <= MAX_SIM_REPLICATES, `a whole number from 1 to ${MAX_SIM_REPLICATES}`);
  c.seed = check('seed', c.seed, Number.isInteger, 'a whole number');
  if (c.select !== null) {
    check('candidates', c.select.candidates, (x) => Number.isInteger(x) && x >= 1 && x <= MAX_CANDIDATES, `a whole number from 1 to ${MAX_CANDIDATES}`);
    check('select', c.select.category, (x) => Number.isInteger(x) && x >= 0 && x < c.initial.length, `a category index from 0 to ${c.initial.length - 1}`);
  }
  c.maxPoints = check('max-points', c.maxPoints, (x) => Number.isInteger(x) && x >= 2, 'a whole number ≥ 2');
  return Object.freeze(c);
}

/**
 * Steps to record out of 0..K: every step when K + 1 ≤ maxPoints, else half the budget on a
 * geometric grid (accumulate moves in log time, so early steps matter) and half on a linear
 * one. Always includes 0 and K.
 */
export function recordedSteps(K: number, maxPoints: number): number[] {
  if (K + 1 <= maxPoints) return Array.from({ length: K + 1 }, (_, k) => k);
  const set = new Set<number>([0, K]);
  const half = Math.max(1, Math.floor((maxPoints - 2) / 2));
  for (let j = 0; j < half; j++) {
    set.add(Math.round(Math.exp((Math.log(K) * j) / Math.max(1, half - 1))));
    set.add(Math.round((K * (j + 1)) / (half + 1)));
  }
  return [...set].filter((k) => k >= 0 && k <= K).sort((a, b) => a - b);
}

/**
 * Runs R replicates of K steps. Replicate r draws from its own stream, derived from `rng`
 * (by default from the config's seed), so replicate r is the same whatever R is.
 */
export function simulate(input: Partial<SimConfig>, rng: Rng = rngFor(input.seed ?? defaultSimConfig.seed, 'sim')): SimResult {
  const config = normalizeSimConfig(input);
  const { freshFraction: lambda, perStep: N, steps: K, replicates: R } = config;
  const identity = isIdentityRule(config);
  const m = config.initial.length;
  const p0 = normalize(config.initial);
  const I = p0.flatMap((p, i) => (p > 0 ? [i] : [])); // V's index set: the categories that can ever have mass
  const base = rng.uint32();
  const streams = Array.from({ length: R }, (_, r) => rngFor(base, 'replicate', r));

  // State: the counts of each replicate (one small array each: no views made in the hot loop).
  const counts = Array.from({ length: R }, () => Float64Array.from(config.initial));

  const record = recordedSteps(K, config.maxPoints);
  const trajectory: SimPoint[] = [];
  let nextRecord = 0;
  const theta = new Float64Array(m);
  const probs = new Float64Array(m);
  const drawn = new Float64Array(m);
  const freshDrawn = new Float64Array(m);
  const kept = new Float64Array(m);
  const Vs = new Float64Array(R);

  const observe = (step: number) => {
    const mean = new Array<number>(m).fill(0);
    const sq = new Array<number>(m).fill(0);
    let H = 0,
      alive = 0,
      top = 0;
    for (let r = 0; r < R; r++) {
      const c = counts[r];
      let total = 0;
      for (let i = 0; i < m; i++) total += c[i];
      for (let i = 0; i < m; i++) {
        theta[i] = c[i] / total;
        mean[i] += theta[i];
        sq[i] += theta[i] * theta[i];
        if (c[i] > 0) alive++;
      }
      Vs[r] = lyapunovV(theta, I);
      let best = 0;
      for (let i = 0; i < m; i++) if (theta[i] > best) best = theta[i];
      top += best;
      H += entropy(theta);
    }
    let V = 0,
      V2 = 0;
    for (let r = 0; r < R; r++) {
      V += Vs[r];
      V2 += Vs[r] * Vs[r];
    }
    const sdOf = (s: number, s2: number) => Math.sqrt(Math.max(0, s2 / R - (s / R) ** 2) * (R > 1 ? R / (R - 1) : 0));
    trajectory.push({
      step,
      mean: mean.map((s) => s / R),
      sd: mean.map((s, i) => sdOf(s, sq[i])),
      V: V / R,
      Vsd: sdOf(V, V2),
      entropy: H / R,
      support: alive / R,
      top: top / R,
    });
  };

  if (record[nextRecord] === 0) {
    observe(0);
    nextRecord++;
  }
  for (let k = 1; k <= K; k++) {
    for (let r = 0; r < R; r++) {
      const rng = streams[r];
      const c = counts[r];
      // The model samples from τ(c/|c|). multinomialInto normalises, so when τ is the identity
      // (T = 1, nothing truncated) the counts go in as they are; otherwise tauInto normalises them.
      const sampled = identity ? c : tauInto(probs, c, config);
      // With selection each kept document is the best of M candidates: its category is one draw
      // from the selection map of the model's distribution (groups are independent).
      const weights = config.select ? selectionMap(sampled, config.select, kept) : sampled;
      // λN fresh documents from p₀; a fractional λN is rounded up with probability equal to its
      // fractional part, so the expected fresh share is exactly λ even for N = 1.
      const exact = lambda * N;
      let fresh = Math.floor(exact);
      if (exact > fresh && rng.next() < exact - fresh) fresh++;
      multinomialInto(rng, N - fresh, weights, drawn);
      if (fresh > 0) {
        multinomialInto(rng, fresh, p0, freshDrawn);
        for (let i = 0; i < m; i++) drawn[i] += freshDrawn[i];
      }
      if (config.policy === 'accumulate') for (let i = 0; i < m; i++) c[i] += drawn[i];
      else c.set(drawn);
    }
    if (record[nextRecord] === k) {
      observe(k);
      nextRecord++;
    }
  }

  const final: number[][] = [];
  for (let r = 0; r < R; r++) final.push(normalize(counts[r]));
  return { config, final, trajectory };
}
