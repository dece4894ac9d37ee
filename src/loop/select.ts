// The selection step of a curated loop: M × N candidates → at most N kept. Candidates come in N
// groups of M consecutive samples and each group keeps its best by the scorer (best-of-M, the
// selection of the curation literature and the map the exact lane iterates, src/theory/select.ts).
// `--dedupe` makes a candidate equal to a training document, or to one already kept this
// generation, ineligible; a group with no eligible candidate keeps nothing. Every candidate is
// stored: the kept ones with `selected = 1`, the others with `selected = 0` and `in_train = 0`.
// Without --select and --dedupe every sample is its own group and is kept: the loop as before.

import { parseScorer, scoreAll, type Candidate, type ScoringContext } from './scorers.js';

export interface SelectionOptions {
  /** The scorer spec, or null (keep every sample; M must be 1). */
  select: string | null;
  /** M: candidates per group. */
  candidates: number;
  /** Whether a text is already in the training set (only with dedupe). */
  isDuplicate: ((text: string) => boolean) | null;
  context: ScoringContext;
}

export interface Selection {
  /** Per candidate: kept or not. */
  selected: boolean[];
  /** Per group (slot 0..N−1): the index of the kept candidate, or null. */
  kept: (number | null)[];
  /** Per candidate: its score (null without a scorer). */
  scores: (number | null)[];
}

export function selectCandidates(candidates: readonly Candidate[], o: SelectionOptions): Selection {
  const M = o.select === null ? 1 : o.candidates;
  if (candidates.length % M !== 0) throw new RangeError(`selection: ${candidates.length} candidates are not groups of ${M}`);
  const scores: (number | null)[] = o.select === null ? candidates.map(() => null) : scoreAll(parseScorer(o.select), candidates, o.context);
  const selected = candidates.map(() => false);
  const kept: (number | null)[] = [];
  const keptTexts = new Set<string>();
  for (let g = 0; g < candidates.length / M; g++) {
    let best: number | null = null;
    for (let i = g * M; i < (g + 1) * M; i++) {
      const text = candidates[i].text;
      if (o.isDuplicate && (keptTexts.has(text) || o.isDuplicate(text))) continue;
      // Ties keep the earlier candidate (strict >), so `random` and exact ties stay seeded.
      if (best === null || (scores[i] ?? 0) > (scores[best] ?? 0)) best = i;
    }
    kept.push(best);
    if (best !== null) {
      selected[best] = true;
      keptTexts.add(candidates[best].text);
    }
  }
  return { selected, kept, scores };
}

/** A run's selection step in words ('' when it keeps every sample), for its settings. */
export function describeSelection(c: { select: string | null; candidates: number; dedupe: boolean }): string {
  const parts = [c.select === null ? '' : `best of ${c.candidates} by ${c.select}`, c.dedupe ? 'no duplicates of the training set' : ''];
  return parts.filter(Boolean).join(', ');
}

/**
 * Why a curated run's histogram moved, appended to a collapse or drift verdict: the selection
 * step, not the temperature, is what pushes the data towards the scorer's argmax.
 */
export function selectionCause(c: { select: string | null; candidates: number; temperature: number; freshFraction: number }): string | null {
  if (c.select === null) return null;
  const base = `the run keeps the best of ${c.candidates} candidates by ${c.select}, which moves the data towards what the scorer rewards`;
  const t1 = c.temperature === 1 ? '; at T = 1 sampling alone keeps an exact learner’s shares in expectation' : '';
  const fresh = c.freshFraction > 0 ? `; fresh data (λ = ${c.freshFraction}) pull back towards the seed` : '';
  return base + t1 + fresh;
}
