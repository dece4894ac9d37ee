// The regime verdict of one coarse-graining: did temperature collapse the closed loop onto a
// mode, flatten it into heat death, or did the histogram stay put, or wander for another reason
// (the model's own error)? Two tests, both against noise of the right kind:
//   - the trajectory against the seed, with limits from the exact lane (theory/calibration.ts):
//     how far a T = 1 loop with this seed, N, policy and λ wanders by chance, generations
//     correlated as they are in a closed loop;
//   - the temperature term (metrics/decomposition.ts): samples at T against the control at T = 1
//     from the same model, which is zero in expectation at T = 1 whatever the model gets wrong.
// A regime is named only when both point the same way. Pure; returns every number it used.

import { nullLimits, upperZ, windowStats, type LoopPolicy, type NullLimits } from '../theory/calibration.js';
import { normalize } from '../theory/core.js';
import { addTerms, type TermMetrics, type TermSums } from './decomposition.js';

export type Regime = 'mode-collapse' | 'heat-death' | 'stable' | 'drift' | 'undetermined';

export interface Verdict {
  verdict: Regime;
  /** One plain sentence: which comparison decided it. */
  reasons: string;
  /** Every number the rule looked at (see the rule below for the names). */
  numbers: Record<string, number>;
}

export interface VerdictInput {
  /** Sample histograms, index = generation; 0 is the seed (the training split). */
  histograms: readonly ArrayLike<number>[];
  /** The decomposition summed over generations 1..g (decomposition.ts addTerms); null = not measured. */
  sums?: TermSums | null;
  /** err_tv (δ̂) of the final window's generations, oldest first; null entries = not measured. */
  errorTV?: readonly (number | null)[];
  /** The loop the run is: the exact lane's null is simulated with it. */
  policy?: LoopPolicy;
  freshFraction?: number;
  /** S/N of accumulate-subsample (read with that policy only). */
  trainRatio?: number | null;
  /** M of a curated run: its histograms hold M candidates per kept document (default 1). */
  candidates?: number;
}

/** The verdict's input from per-generation decomposition metrics (index = generation, 0 unused). */
export function termsInput(terms: readonly (TermMetrics | null)[], g: number): Pick<VerdictInput, 'sums' | 'errorTV'> {
  let sums: TermSums | null = null;
  for (let k = 1; k <= g; k++) {
    const t = terms[k];
    if (!t) return { sums: null, errorTV: [] };
    sums = addTerms(sums, t);
  }
  const W = verdictWindow(g);
  return { sums, errorTV: terms.slice(g - W + 1, g + 1).map((t) => t?.err_tv ?? null) };
}

export interface VerdictOptions {
  /** One-sided tail probability of each test: the false-positive budget per regime. */
  tail: number;
  /** Generated generations (seed not counted) needed before any verdict. */
  minGenerations: number;
  /** Longest final window, in generations. */
  maxWindow: number;
  /** Replicates of the exact-lane null. */
  replicates: number;
}

export const defaultVerdictOptions: Readonly<VerdictOptions> = Object.freeze({
  // 0.1 % per one-sided test (z = 3.09): with two regimes a T = 1 run names one with
  // probability ≤ 0.2 % per coarse-graining, even when its model's error moves the histogram.
  tail: 0.001,
  minGenerations: 3,
  maxWindow: 5,
  replicates: 500,
});

/** The final window W = min(maxWindow, ⌈g/3⌉) after g generations. */
export function verdictWindow(g: number, maxWindow = defaultVerdictOptions.maxWindow): number {
  return Math.max(1, Math.min(maxWindow, Math.ceil(g / 3)));
}

/**
 * The generations whose histograms the rule reads after generation `last`: the seed and the final
 * window. A loader reads only these (the others may be passed empty), so the cost per generation
 * stays flat however long a run gets.
 */
export function verdictGenerations(last: number, maxWindow = defaultVerdictOptions.maxWindow): number[] {
  const g = Math.max(0, last);
  const W = verdictWindow(g, maxWindow);
  const out = [0];
  for (let k = Math.max(1, g - W + 1); k <= g; k++) out.push(k);
  return out;
}

/**
 * A verdict rule as the loop and the report use it: which generations' histograms it reads after
 * generation `last`, and the verdict from its input (histograms 0..last, those it does not read
 * empty; the terms' sums as of `last`; δ̂ of the window).
 */
export interface VerdictRule {
  reads(last: number): number[];
  judge(input: VerdictInput): Verdict;
}

/** The rule below as a VerdictRule, with the default options. */
export const regimeRule: VerdictRule = {
  reads: (last) => verdictGenerations(last),
  judge: (input) => regimeVerdict(input),
};

/**
 * The rule, after g generations (histogram 0 the seed, its total ℓ; N the mean total of a
 * generation in the final window W = min(5, ⌈g/3⌉)):
 *
 * 1. g < 3, or a seed with < 2 categories alive → `undetermined`.
 * 2. Trajectory statistics over the final window, against the seed: top-share rise, entropy
 *    change dH (Miller–Madow corrected), V fall (V over the live categories), change of the
 *    normalised entropy of the live categories, TV. Each has a null limit: the mean + z·sd of
 *    the same statistic over R simulated T = 1 loops (exact learner, this seed, N, g, policy, λ).
 *      collapsing = top rise > its limit and entropy fall > its limit
 *      flattening = V fall > its limit and (entropy rise > its limit, or the live categories'
 *                   normalised entropy rose: categories died and the survivors evened out)
 *      moved      = collapsing, flattening, or TV > its limit
 * 3. Temperature test over generations 1..g: S = Σ tau_dH (entropy of the samples at T minus
 *    the control at T = 1, same model), σ = √Σ tau_sd² (the generations' draws are independent
 *    given their models); sharpening if S < −z·σ, flattening if S > z·σ. All generations, not the
 *    window: near a degenerate point τ_T barely moves anything, so the evidence is early.
 * 4. `mode-collapse` = collapsing and temperature sharpening; `heat-death` = flattening and
 *    temperature flattening.
 * 5. `drift` = moved otherwise: the reason gives the model-error term (δ̂ = mean err_tv over the
 *    window, Σ err_dH over all generations) and the temperature term, so the reader sees which
 *    one explains it.
 * 6. `stable` otherwise: the histogram is where a T = 1 loop of an exact learner could be.
 *
 * z = Φ⁻¹(1 − tail) = 3.09 for the default tail 0.1 %.
 */
export function regimeVerdict(input: VerdictInput, opts: Partial<VerdictOptions> = {}): Verdict {
  for (const k of Object.keys(opts)) {
    if (!(k in defaultVerdictOptions)) throw new RangeError(`unknown verdict option '${k}'`);
  }
  const o: VerdictOptions = { ...defaultVerdictOptions, ...opts };
  const hists = input.histograms;
  const g = hists.length - 1;
  const z = upperZ(o.tail);
  const numbers: Record<string, number> = { generations: Math.max(0, g), z, tail: o.tail };
  if (g < o.minGenerations) {
    return { verdict: 'undetermined', reasons: `only ${Math.max(0, g)} of ${o.minGenerations} generations so far`, numbers };
  }
  const seed = Array.from(hists[0]);
  if (normalize(seed).filter((x) => x > 0).length < 2) {
    return { verdict: 'undetermined', reasons: 'the seed histogram has fewer than two categories alive', numbers };
  }
  const W = verdictWindow(g, o.maxWindow);
  const total = (h: ArrayLike<number>) => Array.from(h).reduce((a, b) => a + b, 0);
  const N = Math.max(1, Math.round(hists.slice(g - W + 1).reduce((a, h) => a + total(h), 0) / W));
  const limits: NullLimits = nullLimits(
    { seed, perStep: N, freshFraction: input.freshFraction ?? 0, policy: input.policy ?? 'accumulate', trainRatio: input.trainRatio ?? null, candidates: input.candidates ?? 1 },
    g, W, o.tail, o.replicates,
  );
  const s = windowStats(hists, g, W);
  Object.assign(numbers, {
    window: W, N, ell: total(seed), replicates: limits.replicates,
    top_rise: s.topRise, top_rise_limit: limits.topRise.limit,
    dH: s.dH, dH_rise_limit: limits.hRise.limit, dH_fall_limit: limits.hFall.limit,
    V_fall: s.vFall, V_fall_limit: limits.vFall.limit,
    dH_live: s.dHlive,
    tv: s.tv, tv_limit: limits.tv.limit,
  });

  // The temperature term summed over every generation (it pushes hardest early: near a
  // degenerate point τ_T moves little), the model's error over the window (its current δ̂) and
  // summed (beside the temperature term's sum).
  const sums = input.sums ?? null;
  const errs = (input.errorTV ?? []).filter((x): x is number => x !== null && Number.isFinite(x));
  const measured = sums !== null && Number.isFinite(sums.tau_cum) && Number.isFinite(sums.tau_var_cum);
  let sharpening = false,
    flattening = false;
  if (measured) {
    const S = sums.tau_cum;
    const sd = Math.sqrt(sums.tau_var_cum);
    Object.assign(numbers, {
      tau_dH: S, tau_sd: sd, tau_z: sd > 0 ? S / sd : 0,
      err_dH: sums.err_cum,
      err_tv: errs.length ? errs.reduce((a, b) => a + b, 0) / errs.length : NaN,
    });
    sharpening = S < -z * sd;
    flattening = S > z * sd;
  }

  const n = numbers;
  const f = (x: number) => x.toFixed(3);
  const collapsing = s.topRise > limits.topRise.limit && -s.dH > limits.hFall.limit;
  const flattened = s.vFall > limits.vFall.limit && (s.dH > limits.hRise.limit || s.dHlive > 0);
  const moved = collapsing || flattened || s.tv > limits.tv.limit;
  const temp = measured
    ? `temperature term Σ ΔH ${f(n.tau_dH)} nats (${n.tau_z.toFixed(1)}σ)`
    : 'no temperature term measured (no control set)';
  const error = measured ? `model error δ̂ = ${f(n.err_tv)} (Σ ΔH ${f(n.err_dH)} nats)` : '';

  if (collapsing && sharpening) {
    return {
      verdict: 'mode-collapse',
      reasons: `top share rose ${f(s.topRise)} (> ${f(limits.topRise.limit)}, a T = 1 loop's limit) and entropy fell ${f(-s.dH)} nats (> ${f(limits.hFall.limit)}); ${temp} sharpens`,
      numbers,
    };
  }
  if (flattened && flattening) {
    const how = s.dH > limits.hRise.limit ? `entropy rose ${f(s.dH)} nats (> ${f(limits.hRise.limit)})` : `the live categories' normalised entropy rose ${f(s.dHlive)}`;
    return {
      verdict: 'heat-death',
      reasons: `V fell ${f(s.vFall)} (> ${f(limits.vFall.limit)}, a T = 1 loop's limit) and ${how}; ${temp} flattens`,
      numbers,
    };
  }
  if (moved) {
    const what = collapsing ? 'sharpened like a collapse' : flattened ? 'flattened like heat death' : `moved: TV to the seed ${f(s.tv)} > ${f(limits.tv.limit)}, a T = 1 loop's limit`;
    if (!collapsing && !flattened && (sharpening || flattening)) {
      // Temperature pushed, but the histogram moved without that regime's signature.
      return {
        verdict: 'drift',
        reasons: `the histogram ${what}, but without a ${sharpening ? 'collapse' : 'heat death'} past a T = 1 loop's limits (top share, entropy, V): ${temp} ${sharpening ? 'sharpens' : 'flattens'}; ${error}`,
        numbers,
      };
    }
    const why = !measured ? temp : collapsing || flattened ? `${error}; ${temp} does not push that way beyond ${f(z)}σ` : `${error}; ${temp}`;
    return { verdict: 'drift', reasons: `the histogram ${what}, not by temperature: ${why}`, numbers };
  }
  return {
    verdict: 'stable',
    reasons: `TV to the seed ${f(s.tv)} is within what a T = 1 loop wanders (≤ ${f(limits.tv.limit)})${measured ? `; ${temp}` : ''}`,
    numbers,
  };
}

/** A short progress-line form of the verdict so far, e.g. "heat-death V↓0.040 τ 5.1σ". */
export function verdictSoFar(input: VerdictInput, opts: Partial<VerdictOptions> = {}): string {
  const v = regimeVerdict(input, opts);
  const n = v.numbers;
  const f = (x: number) => x.toFixed(3);
  const tz = n.tau_z === undefined ? '' : ` τ ${n.tau_z.toFixed(1)}σ`;
  switch (v.verdict) {
    case 'undetermined':
      return `undetermined (${n.generations}/${opts.minGenerations ?? defaultVerdictOptions.minGenerations} gens)`;
    case 'mode-collapse':
      return `mode-collapse top +${f(n.top_rise)}${tz}`;
    case 'heat-death':
      return `heat-death V −${f(n.V_fall)}${tz}`;
    case 'stable':
      return `stable TV ${f(n.tv)}≤${f(n.tv_limit)}${tz}`;
    case 'drift':
      return `drift TV ${f(n.tv)} δ̂ ${n.err_tv === undefined ? '?' : f(n.err_tv)}${tz}`;
  }
}
