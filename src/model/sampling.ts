// The sampling rule: how a row of logits becomes the distribution the next token is drawn from.
// One readonly object (`SamplingRule`) and one function (`ruleWeights`) serve both models, the
// probe, and the theory lane, which applies the same rule to a category distribution θ (its
// logits are log θ), so the report's predicted τ follows whatever rule the run sampled with.
//
// The order is the serving stacks': temperature on the logits, then each truncation in the order
// of `truncations` below, on the tempered weights; the draw renormalises (it scales by the
// total). A masked index (BOS) gets weight 0 before anything else: BOS is never drawn, and EOS is
// an ordinary token that ends the document.
//
// A truncation (top-k, top-p, min-p, …) is one entry of `truncations`: its key (in the rule, the
// run config and the stored config), its command-line flag, its sweep tag, the value that
// truncates nothing (the default), a check, and `apply`. Everything else — both samplers, the
// n-gram's CDF cache, the theory lane, the run options, sweep names — derives from the entry.

import { UserError } from '../errors.js';

/** A row of weights: a Float64Array in the samplers, a number[] in the theory lane. */
export type Weights = { [i: number]: number; readonly length: number };

/** One truncation step of the rule: it zeroes weights of a row in place. */
export interface Truncation {
  /** The rule's key for its parameter (also the run config's key), e.g. `topK`. */
  readonly key: string;
  /** Command-line option with its value, e.g. `--top-k <K>`. */
  readonly flag: string;
  readonly help: string;
  /** Short tag in sweep run names. */
  readonly tag: string;
  /** The value that truncates nothing: the default, and the value a rule without the key means. */
  readonly off: number;
  /** null when the value is allowed, else what it must be (e.g. 'a whole number ≥ 1'); NaN is never allowed. */
  check(value: number): string | null;
  /**
   * Zeroes entries of w[0 … n) (non-negative tempered weights, not normalised, masked ones 0)
   * in place; must keep at least one positive entry.
   */
  apply(w: Weights, n: number, value: number): void;
}

/**
 * The weight at the cut: the smallest weight a truncation keeps, or 0 when it keeps everything.
 * Every built-in truncation keeps exactly the weights ≥ its cut, so tokens tied at the cut are
 * all kept or all dropped together: the kept set depends on the weights only, never on token
 * order (relabelling the vocabulary relabels the result), and it may hold more than K tokens
 * (top-k) or more mass than P (top-p) only when weights are exactly equal at the cut.
 */
function keepFrom(w: Weights, n: number, cut: number): void {
  if (cut > 0) for (let i = 0; i < n; i++) if (w[i] < cut) w[i] = 0;
}

/** The positive weights of w[0 … n), largest first (a scratch copy; w is not touched). */
function sortedDown(w: Weights, n: number): Float64Array {
  let m = 0;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) if (w[i] > 0) s[m++] = w[i];
  return s.subarray(0, m).sort().reverse();
}

/** Top-k: keep the K largest weights (and any tied with the K-th). K ≥ the live tokens keeps all. */
const topK = {
  key: 'topK' as const,
  flag: '--top-k <K>',
  help: 'keep the K most likely tokens after the temperature (ties with the K-th kept)',
  tag: 'tk',
  off: 0,
  check: (x) => (Number.isInteger(x) && x >= 0 ? null : 'a whole number ≥ 1 (0 for off)'),
  apply(w, n, k) {
    const s = sortedDown(w, n);
    if (k < s.length) keepFrom(w, n, s[k - 1]);
  },
} satisfies Truncation;

/**
 * Top-p (nucleus): keep the fewest largest weights whose share of the total reaches P (and any
 * tied with the last one). The running sum is taken largest first; if rounding keeps it below
 * P × total to the end, everything is kept.
 */
const topP = {
  key: 'topP' as const,
  flag: '--top-p <P>',
  help: 'nucleus: keep the most likely tokens whose probability sums to ≥ P (0 < P ≤ 1)',
  tag: 'tp',
  off: 1,
  check: (x) => (x > 0 && x <= 1 ? null : 'a number with 0 < P ≤ 1'),
  apply(w, n, p) {
    const s = sortedDown(w, n);
    let total = 0;
    for (let j = s.length - 1; j >= 0; j--) total += s[j];
    let cum = 0;
    for (let j = 0; j < s.length - 1; j++) {
      cum += s[j];
      if (cum >= p * total) return keepFrom(w, n, s[j]);
    }
  },
} satisfies Truncation;

/** Min-p: keep the weights ≥ P × the largest (the mode always survives). */
const minP = {
  key: 'minP' as const,
  flag: '--min-p <P>',
  help: 'keep tokens whose probability is ≥ P × the most likely one\'s (0 ≤ P < 1)',
  tag: 'mp',
  off: 0,
  check: (x) => (x >= 0 && x < 1 ? null : 'a number with 0 ≤ P < 1'),
  apply(w, n, p) {
    let max = 0;
    for (let i = 0; i < n; i++) if (w[i] > max) max = w[i];
    keepFrom(w, n, p * max);
  },
} satisfies Truncation;

/**
 * The truncations, in the order they are applied (top-k, then top-p, then min-p: each on what
 * the previous one kept). The built-in list; `addTruncation` appends (a test adds one there,
 * and so can a plugin).
 */
const builtinTruncations = [topK, topP, minP] as const satisfies readonly Truncation[];
const truncations: Truncation[] = [...builtinTruncations];

/** The keys of the built-in truncations (a type, so configs that carry the rule type them). */
export type TruncationKey = (typeof builtinTruncations)[number]['key'];

/** Temperature T > 0 on the logits, then each truncation whose value is given and not `off`. */
export type SamplingRule = { readonly temperature: number } & { readonly [K in TruncationKey]?: number };

/** The rule's keys as plain fields, for configs that carry the rule flat (run, sim, theory). */
export type SamplingRuleFields = { -readonly [K in keyof SamplingRule]: SamplingRule[K] };

export const defaultSamplingRule: SamplingRule = Object.freeze({ temperature: 1 });

/** Registers a truncation after the existing ones; its key must be new. */
export function addTruncation(t: Truncation): void {
  if (t.key === 'temperature' || truncations.some((u) => u.key === t.key)) throw new Error(`sampling: truncation '${t.key}' exists`);
  truncations.push(t);
}

/** The registered truncations, in application order (read-only view). */
export function samplingTruncations(): readonly Truncation[] {
  return truncations;
}

/** The rule's keys: `temperature`, then one per truncation. */
export function samplingKeys(): string[] {
  return ['temperature', ...truncations.map((t) => t.key)];
}

const valueOf = (rule: SamplingRule, key: string): number | undefined => (rule as Record<string, number | undefined>)[key];

/**
 * The rule carried by any flat config (a run config, a sim or theory config): its `temperature`
 * and the truncation keys it has, validated; throws UserError naming the option.
 */
export function samplingRuleOf(config: { readonly temperature: unknown }): SamplingRule {
  const c = config as Record<string, unknown>;
  const rule: Record<string, number> = { temperature: checkValue('--temperature', c.temperature, (x) => (x > 0 ? null : 'a number > 0')) };
  for (const t of truncations) {
    if (c[t.key] === undefined || c[t.key] === null) continue;
    const x = checkValue(t.flag.split(' ')[0], c[t.key], (v) => t.check(v));
    if (x !== t.off) rule[t.key] = x;
  }
  return Object.freeze(rule) as SamplingRule;
}

/** A number from a number or a numeric string; one plain line naming the option otherwise. */
function checkValue(option: string, value: unknown, check: (x: number) => string | null): number {
  const x = typeof value === 'string' && value.trim() !== '' ? Number(value) : typeof value === 'number' ? value : NaN;
  const why = check(Number.isFinite(x) ? x : NaN);
  if (why !== null) throw new UserError(`${option} must be ${why}, got '${String(value)}'`, 'E_SAMPLING');
  return x;
}

/**
 * Checks the rule fields of a flat config and writes them back canonical, in place: numbers,
 * and a truncation left off is not there at all (so a stored config holds only the rule used).
 */
export function normalizeRuleFields<C extends { temperature: unknown }>(config: C): C {
  const rule: Record<string, number> = samplingRuleOf(config);
  const flat = config as Record<string, unknown>;
  for (const key of samplingKeys()) {
    if (key in rule) flat[key] = rule[key];
    else delete flat[key];
  }
  return config;
}

/** Throws UserError unless the rule's values are allowed (the models call this before sampling). */
export function checkSamplingRule(rule: SamplingRule): void {
  samplingRuleOf(rule);
}

/**
 * A string that is equal for two rules exactly when they sample the same way (a cache key, a
 * stream name): the temperature, then `,key=value` for each truncation that is on.
 */
export function samplingRuleKey(rule: SamplingRule): string {
  let key = String(rule.temperature);
  for (const t of truncations) {
    const v = valueOf(rule, t.key);
    if (v !== undefined && v !== t.off) key += `,${t.key}=${v}`;
  }
  return key;
}

/** The truncations that are on in a rule, in application order, with their values. */
export function activeTruncations(rule: SamplingRule): { truncation: Truncation; value: number }[] {
  return truncations.flatMap((t) => {
    const v = valueOf(rule, t.key);
    return v !== undefined && v !== t.off ? [{ truncation: t, value: v }] : [];
  });
}

/** The truncations that are on, for people: `top-k 5, top-p 0.9` (named by their flags); '' for none. */
export function describeTruncations(rule: SamplingRule): string {
  return activeTruncations(rule).map(({ truncation: t, value }) => `${t.flag.split(' ')[0].slice(2)} ${value}`).join(', ');
}

/** The rule for people: `T = 1.5`, then the truncations that are on: `T = 1.5, top-k 5`. */
export function describeRule(rule: SamplingRule): string {
  return [`T = ${rule.temperature}`, describeTruncations(rule)].filter((s) => s !== '').join(', ');
}

/** Whether the rule leaves a distribution as it is (T = 1, nothing truncated): τ is the identity. */
export function isIdentityRule(rule: SamplingRule): boolean {
  return rule.temperature === 1 && truncations.every((t) => valueOf(rule, t.key) === undefined || valueOf(rule, t.key) === t.off);
}

/**
 * The rule applied to one row of logits, logits[offset … offset + n), written into out[0 … n):
 * non-negative weights, not normalised (the draw scales by their total). `mask` (BOS; −1 for
 * none) gets weight 0. Weights are exp((l − max) / T) with max over the unmasked logits; −∞
 * logits get 0, and a row with no finite logit gets all zeros.
 */
export function ruleWeights<A extends Weights>(rule: SamplingRule, logits: ArrayLike<number>, offset: number, n: number, mask: number, out: A): A {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (i !== mask && logits[offset + i] > max) max = logits[offset + i];
  if (max === -Infinity) {
    for (let i = 0; i < n; i++) out[i] = 0;
    return out;
  }
  const T = rule.temperature;
  for (let i = 0; i < n; i++) out[i] = i === mask ? 0 : Math.exp((logits[offset + i] - max) / T);
  for (const t of truncations) {
    const v = valueOf(rule, t.key);
    if (v !== undefined && v !== t.off) t.apply(out, n, v);
  }
  return out;
}
