// The mean-field of the closed loop: θ' = (1−λ)τ_T(θ) + λp₀ − θ, its trajectory at the times
// that correspond to generations, and its stable fixed point. `heatdeath theory` prints these;
// the HTML report calls `predictTrajectory` to overlay the prediction on a real run.
//
// Which time is generation g:
// - accumulate: the data grow ℓ → ℓ + gN and each step moves θ by N/(ℓ + gN) of the way to the
//   new documents (stochastic approximation with that gain), so t_g = Σ gains ≈ ln((ℓ + gN)/ℓ).
// - replace: every generation is a full step, θ_{g+1} = F(θ_g) with F = (1−λ)τ_T + λp₀ (gain 1).
//   An ODE would be Euler with step 1, i.e. not small, so for replace we iterate the map itself
//   (the exact large-N mean-field) and report t_g = g. F and the ODE share their fixed points,
//   and the Jacobian of τ_T has real non-negative eigenvalues, so they are stable together.

import { UserError } from '../errors.js';
import { activeTruncations, samplingRuleOf, type SamplingRuleFields } from '../model/sampling.js';
import { normalize, tau, tauInto } from './core.js';
import { checkInitial, checkPolicy, type SimPolicy } from './sim.js';
import { selectionMap, type CategorySelection } from './select.js';

/** The sampling rule (flat: temperature and any truncation) with λ and p₀. */
export interface MeanField extends SamplingRuleFields {
  /** λ */
  freshFraction: number;
  /** p₀, where fresh documents come from (normalised). */
  anchor: readonly number[];
  /** Best-of-M selection of the model's samples by a category reward (after the rule); none if absent. */
  select?: CategorySelection | null;
}

/** F(θ) = (1−λ)S(τ(θ)) + λp₀ (S the selection map, or the identity): the expected composition of the next generation's documents. */
export function meanFieldMap(theta: ArrayLike<number>, f: MeanField, out: number[] = new Array<number>(theta.length)): number[] {
  tauInto(out, theta, f);
  if (f.select) selectionMap(out, f.select, out);
  for (let i = 0; i < out.length; i++) out[i] = (1 - f.freshFraction) * out[i] + f.freshFraction * f.anchor[i];
  return out;
}

/** The ODE's right-hand side F(θ) − θ. */
export function meanFieldRate(theta: ArrayLike<number>, f: MeanField, out: number[] = new Array<number>(theta.length)): number[] {
  meanFieldMap(theta, f, out);
  for (let i = 0; i < out.length; i++) out[i] -= theta[i];
  return out;
}

/** A step fine enough for RK4 on this flow: the fast directions scale like 1/T. */
export function defaultStep(temperature: number): number {
  return Math.min(0.01, 0.1 * temperature);
}

/** One RK4 step of size h from θ (in place). RK4 keeps Σθ = 1 exactly (a linear invariant). */
function rk4(theta: number[], f: MeanField, h: number, k: number[][]): void {
  const n = theta.length;
  const [k1, k2, k3, k4, y] = k;
  meanFieldRate(theta, f, k1);
  for (let i = 0; i < n; i++) y[i] = theta[i] + 0.5 * h * k1[i];
  meanFieldRate(y, f, k2);
  for (let i = 0; i < n; i++) y[i] = theta[i] + 0.5 * h * k2[i];
  meanFieldRate(y, f, k3);
  for (let i = 0; i < n; i++) y[i] = theta[i] + h * k3[i];
  meanFieldRate(y, f, k4);
  for (let i = 0; i < n; i++) theta[i] = Math.max(0, theta[i] + (h / 6) * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]));
}

/** θ(t) for each t of `times` (non-decreasing, ≥ 0), integrating from θ(0) = θ₀ by RK4. */
export function integrate(theta0: ArrayLike<number>, f: MeanField, times: readonly number[], h = defaultStep(f.temperature)): number[][] {
  const theta = normalize(theta0);
  const n = theta.length;
  const k = Array.from({ length: 5 }, () => new Array<number>(n));
  const out: number[][] = [];
  let t = 0;
  for (const target of times) {
    if (target < t) throw new RangeError('integrate: times must be non-decreasing and ≥ 0');
    // Equal steps that land exactly on the target, none longer than h.
    const steps = Math.ceil((target - t) / h - 1e-9);
    const dt = steps > 0 ? (target - t) / steps : 0;
    for (let s = 0; s < steps; s++) rk4(theta, f, dt, k);
    t = target;
    out.push([...theta]);
  }
  return out;
}

/** ODE time of each generation 0..G (see the header for why replace is different). */
export function generationTimes(policy: SimPolicy, initialSize: number, perStep: number, generations: number): number[] {
  return Array.from({ length: generations + 1 }, (_, g) => (policy === 'accumulate' ? Math.log((initialSize + g * perStep) / initialSize) : g));
}

/**
 * The large-N mean-field recursion, one entry per generation 0..G: θ_{g+1} = F(θ_g) for
 * replace, θ_{g+1} = (ℓ_g θ_g + N F(θ_g)) / (ℓ_g + N) with ℓ_g = ℓ + gN for accumulate.
 */
export function meanFieldRecursion(theta0: ArrayLike<number>, f: MeanField, policy: SimPolicy, initialSize: number, perStep: number, generations: number): number[][] {
  let theta = normalize(theta0);
  const out = [theta];
  for (let g = 0; g < generations; g++) {
    const next = meanFieldMap(theta, f);
    if (policy === 'accumulate') {
      const size = initialSize + g * perStep;
      for (let i = 0; i < next.length; i++) next[i] = (size * theta[i] + perStep * next[i]) / (size + perStep);
    }
    out.push(next);
    theta = next;
  }
  return out;
}

export interface FixedPoint {
  theta: number[];
  /** max_i |F(θ)_i − θ_i| */
  residual: number;
  /** How it was found: a closed form (λ = 0) or the flow from θ₀ polished by Newton. */
  method: 'closed-form' | 'flow+newton' | 'flow';
}

/** Solves A x = b in place by Gaussian elimination with partial pivoting; null if singular. */
function solve(A: number[][], b: number[]): number[] | null {
  const n = b.length;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r][col]) > Math.abs(A[piv][col])) piv = r;
    if (Math.abs(A[piv][col]) < 1e-300) return null;
    [A[col], A[piv]] = [A[piv], A[col]];
    [b[col], b[piv]] = [b[piv], b[col]];
    for (let r = col + 1; r < n; r++) {
      const factor = A[r][col] / A[col][col];
      if (factor === 0) continue;
      for (let c = col; c < n; c++) A[r][c] -= factor * A[col][c];
      b[r] -= factor * b[col];
    }
  }
  const x = new Array<number>(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let c = r + 1; c < n; c++) s -= A[r][c] * x[c];
    x[r] = s / A[r][r];
  }
  return x;
}

function normalizeInPlace(theta: number[]): void {
  const z = theta.reduce((a, x) => a + x, 0);
  if (z > 0) for (let i = 0; i < theta.length; i++) theta[i] /= z;
}

function residualOf(theta: number[], f: MeanField): number {
  return Math.max(...meanFieldRate(theta, f).map(Math.abs));
}

/**
 * The fixed point the flow from θ₀ reaches (the stable one, unless θ₀ sits on a symmetry).
 * λ = 0 has closed forms: T > 1 → uniform over supp θ₀ (heat death); T < 1 → uniform over
 * the argmax of θ₀ (mode collapse; the flow keeps order and ties); T = 1 → θ₀ itself.
 * λ > 0: integrate until the flow stalls, then Newton on the live coordinates, whose
 * Jacobian (1−λ)Dτ − I is invertible and keeps Σθ = 1 (1ᵀDτ = 0).
 */
export function fixedPoint(theta0: ArrayLike<number>, f: MeanField): FixedPoint {
  const start = normalize(theta0);
  const n = start.length;
  const T = f.temperature;
  // The closed forms are the temperature map's. A truncation that cuts changes them (top-k at
  // T > 1 ends uniform over the k largest, top-p on a set whose every share exceeds 1 − P, and at
  // T = 1 which set survives depends on the path), except at T < 1, where the mode survives any
  // truncation: those cases take the flow.
  const truncated = activeTruncations(f).length > 0;
  if (f.freshFraction === 0 && !(truncated && T >= 1) && !f.select) {
    let pick: boolean[];
    if (T === 1) return { theta: start, residual: residualOf(start, f), method: 'closed-form' };
    if (T > 1) pick = start.map((x) => x > 0);
    else {
      const top = Math.max(...start);
      pick = start.map((x) => x >= top * (1 - 1e-12));
    }
    const theta = normalize(pick.map((b) => (b ? 1 : 0)));
    return { theta, residual: residualOf(theta, f), method: 'closed-form' };
  }

  // Flow until the rate is tiny (or a generous time limit for slow, near-critical cases).
  const theta = [...start];
  const k = Array.from({ length: 5 }, () => new Array<number>(n));
  const h = Math.min(0.05, 0.1 * T);
  for (let t = 0, s = 0; t < 1e4; t += h, s++) {
    rk4(theta, f, h, k);
    if (s % 100 === 0 && residualOf(theta, f) < 1e-10) break;
  }

  // Newton polish on the coordinates still alive; the dead ones are exact zeros of the flow. A
  // coordinate the map sends to zero (truncated, no fresh inflow) only decays: it is dead too.
  const inflow = meanFieldMap(theta, f);
  const live = theta.flatMap((x, i) => (x > 1e-12 && inflow[i] > 0 ? [i] : []));
  for (let i = 0; i < n; i++) if (!live.includes(i)) theta[i] = 0;
  if (truncated) normalizeInPlace(theta);
  const flowResidual = residualOf(theta, f);
  let best = [...theta];
  let bestResidual = flowResidual;
  // (The Jacobian below is the rule's alone: with selection the flow's own answer stands.)
  for (let iter = 0; iter < 50 && bestResidual > 1e-15 && !f.select; iter++) {
    const t = tau(theta, f);
    const G = meanFieldRate(theta, f);
    // J_ij = (1−λ)(1/T)(τ_i δ_ij − τ_i τ_j)/θ_j − δ_ij, restricted to the live coordinates.
    const J = live.map((i) => live.map((j) => ((1 - f.freshFraction) * ((i === j ? t[i] : 0) - t[i] * t[j])) / (T * theta[j]) - (i === j ? 1 : 0)));
    const dx = solve(
      J,
      live.map((i) => -G[i]),
    );
    if (!dx) break;
    live.forEach((i, a) => (theta[i] = Math.max(0, theta[i] + dx[a])));
    const r = residualOf(theta, f);
    if (!(r < bestResidual)) break;
    best = [...theta];
    bestResidual = r;
  }
  return { theta: best, residual: bestResidual, method: bestResidual < flowResidual ? 'flow+newton' : 'flow' };
}

export interface PredictOptions extends SamplingRuleFields {
  /** θ₀: the histogram at generation 0 (counts are fine). */
  theta0: readonly number[];
  /** λ */
  fresh: number;
  policy: SimPolicy;
  /** ℓ: documents in the initial training set. */
  initialSize: number;
  /** N: new documents per generation. */
  perStep: number;
  /** G: generations after generation 0. */
  generations: number;
  /** p₀ for the fresh documents; defaults to θ₀ (fresh data come from the seed's distribution). */
  anchor?: readonly number[];
  /** 'ode' (default for accumulate) or 'recursion' (the only choice that is exact for replace). */
  method?: 'ode' | 'recursion';
  /** Best-of-M selection by a category reward. */
  select?: CategorySelection | null;
}

/** Longest predicted trajectory (generations): it is held, and printed, one vector per generation. */
export const MAX_GENERATIONS = 1_000_000;

/** Validates PredictOptions with one clear line per problem (the CLI passes user input here). */
export function checkPredictOptions(o: PredictOptions): MeanField {
  const theta0 = checkInitial(o.theta0);
  const rule = samplingRuleOf(o);
  if (!(Number.isFinite(o.fresh) && o.fresh >= 0 && o.fresh <= 1)) throw new UserError(`--fresh must be a number from 0 to 1, got '${o.fresh}'`);
  checkPolicy(o.policy);
  if (!(Number.isFinite(o.initialSize) && o.initialSize > 0)) throw new UserError(`--initial-size must be a number > 0, got '${o.initialSize}'`);
  if (!(Number.isInteger(o.perStep) && o.perStep >= 1)) throw new UserError(`--per-step must be a whole number ≥ 1, got '${o.perStep}'`);
  // The trajectory holds one vector per generation.
  if (!(Number.isInteger(o.generations) && o.generations >= 1 && o.generations <= MAX_GENERATIONS)) {
    throw new UserError(`--steps must be a whole number from 1 to ${MAX_GENERATIONS}, got '${o.generations}'`);
  }
  const anchor = o.anchor ? checkInitial(o.anchor) : theta0;
  if (anchor.length !== theta0.length) throw new UserError('the anchor p₀ and θ₀ must have the same categories');
  if (o.select && !(o.select.category < theta0.length)) throw new UserError(`--select: no category ${o.select.category} among ${theta0.length}`);
  return { ...rule, freshFraction: o.fresh, anchor: normalize(anchor), select: o.select ?? null };
}

/** Predicted θ for generations 0..G (G + 1 vectors), to overlay on a run or a simulation. */
export function predictTrajectory(o: PredictOptions): number[][] {
  const f = checkPredictOptions(o);
  const method = o.method ?? (o.policy === 'accumulate' ? 'ode' : 'recursion');
  if (method === 'recursion') return meanFieldRecursion(o.theta0, f, o.policy, o.initialSize, o.perStep, o.generations);
  return integrate(o.theta0, f, generationTimes(o.policy, o.initialSize, o.perStep, o.generations));
}
