// Selection by a category-level reward, as a map on the category distribution: the exact lane's
// form of `--select label:<L> --candidates M`. Each kept document is the best of M independent
// candidates by a reward that prefers category L, so it is in L unless all M are not:
//   q_L = 1 − (1 − p_L)^M,   q_k = p_k (1 − p_L)^(M−1)  (k ≠ L: the best of M non-L candidates,
// which under a reward blind among the other categories is one of them in proportion to p).
// `sim` and `theory` apply it after the temperature map; the report's overlay does the same.

import { UserError } from '../errors.js';

export interface CategorySelection {
  /** Index of the rewarded category L. */
  category: number;
  /** M: candidates per kept document. */
  candidates: number;
}

/** q = the distribution of the best of M draws from p (in place allowed: out may be p). */
export function selectionMap<A extends { [i: number]: number; length: number }>(p: ArrayLike<number>, s: CategorySelection, out: A): A {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  const pl = total > 0 ? p[s.category] / total : 0;
  const miss = Math.pow(1 - pl, s.candidates - 1); // (1 − p_L)^(M−1)
  for (let i = 0; i < p.length; i++) out[i] = i === s.category ? 1 - miss * (1 - pl) : total > 0 ? (p[i] / total) * miss : 0;
  return out;
}

/** Most candidates per kept document, for the loop's --candidates and the exact lane's alike. */
export const MAX_CANDIDATES = 64;

/**
 * Parses the exact lane's `--select label:<k>` (k = a category's 0-based index, or its name when
 * `names` are given) with `--candidates M`; null when no selection was asked for.
 */
export function parseCategorySelection(spec: string | undefined, candidates: number, categories: number, names: readonly string[] = []): CategorySelection | null {
  if (spec === undefined) return null;
  const m = /^label:(.+)$/.exec(spec.trim());
  if (!m) throw new UserError(`--select '${spec}': the exact lane knows label:<k> (k = a category's index from 0)`);
  const byName = names.indexOf(m[1]);
  const k = byName >= 0 ? byName : /^\d+$/.test(m[1]) ? Number(m[1]) : NaN;
  if (!(Number.isInteger(k) && k >= 0 && k < categories)) {
    throw new UserError(`--select ${spec}: no category '${m[1]}' (give an index from 0 to ${categories - 1})`);
  }
  if (!(Number.isInteger(candidates) && candidates >= 1 && candidates <= MAX_CANDIDATES)) {
    throw new UserError(`--candidates must be a whole number from 1 to ${MAX_CANDIDATES}, got '${candidates}'`);
  }
  return { category: k, candidates };
}
