// The held-out estimate of every generation: which seed validation documents are scored
// (`--val-docs`, a fixed seeded subset of the split) and the mean token loss over them with its
// standard error. Used by state.ts (the subset, built once per run and again on resume) and
// run.ts (the loss each generation, stored as val_loss and val_loss_se).
//
// Why a subset: scoring 1,000 held-out Brown sentences cost as much as sampling a generation.
// ~250 of them put the standard error near 0.013 nats/token (BENCHMARKS.md), and because the
// same documents are scored every generation, changes between generations are measured on
// like with like (more precisely than that error). A seeded draw rather than the first n: a
// corpus in genre order (Brown) would otherwise be scored on one genre.

import type { LanguageModel } from '../model/types.js';
import { rngFor, shuffle } from '../rng.js';

/**
 * Default size of the subset, in scored tokens (each document's tokens + its EOS): the whole
 * split of short-document corpora (names: 858 documents, ~6,900 tokens), ~240 sentences of Brown.
 */
export const VAL_TOKEN_BUDGET = 25_000;

/**
 * The documents scored every generation: `count` of them (all when the split has fewer), or by
 * default as many as fit VAL_TOKEN_BUDGET, drawn in one seeded order so the same run always
 * scores the same documents; kept in split order.
 */
export function validationSubset<T extends { tokens: readonly number[] }>(split: readonly T[], count: number | null, seed: number): T[] {
  return seededSubset(split, count, VAL_TOKEN_BUDGET, seed, 'val-docs').map((i) => split[i]);
}

/**
 * Budget, in tokens, of the seed training documents generation 0 scores under its own model for
 * the reference row of gen0_loglik: all of names (~50,000 tokens), ~1,900 of Brown's 51,576
 * training sentences. Scoring all of Brown took 200–240 s, three times the rest of generation 0; 1,900 put
 * the reference mean's standard error near 0.007 nats/token, and its 1 % quantile rests on ~19
 * documents (a generation's 1,000 samples: 10).
 */
export const REFERENCE_TOKEN_BUDGET = 200_000;

/** Indices (ascending) of the seed training documents generation 0 scores for gen0_loglik. */
export function referenceSubset(train: readonly { tokens: readonly number[] }[], seed: number): number[] {
  return seededSubset(train, null, REFERENCE_TOKEN_BUDGET, seed, 'reference-docs');
}

/**
 * Indices (ascending) of `count` documents (all when there are fewer), or by default of as many
 * as fit `budget` tokens (each document's tokens + its EOS; at least one), in an order seeded by
 * (seed, key).
 */
function seededSubset(docs: readonly { tokens: readonly number[] }[], count: number | null, budget: number, seed: number, key: string): number[] {
  const order = shuffle(rngFor(seed, key), docs.map((_, i) => i));
  const chosen: number[] = [];
  let tokens = 0;
  for (const i of order) {
    if (count !== null ? chosen.length >= count : chosen.length > 0 && tokens + docs[i].tokens.length + 1 > budget) break;
    chosen.push(i);
    tokens += docs[i].tokens.length + 1;
  }
  return chosen.sort((a, b) => a - b);
}

export interface ValidationLoss {
  /** Mean token loss (nats): Σ document nats / Σ document tokens. */
  loss: number;
  /**
   * Its standard error as an estimate of the mean over documents like these (a ratio estimator:
   * √(Σ (nats_i − loss·tokens_i)² / (m (m − 1))) / mean tokens), null for one document. It is
   * the sampling noise of the subset; it says nothing of the model's own error.
   */
  se: number | null;
}

/** Mean token loss of `docs` under the model, with its standard error. */
export async function validationLoss(model: LanguageModel, docs: readonly { tokens: readonly number[] }[]): Promise<ValidationLoss | null> {
  if (docs.length === 0) return null;
  const lp = await model.logProbs(docs.map((d) => d.tokens));
  let nats = 0;
  let tokens = 0;
  for (const r of lp) {
    nats -= r.logProb;
    tokens += r.tokens;
  }
  const loss = nats / tokens;
  const m = lp.length;
  if (m < 2) return { loss, se: null };
  let ss = 0;
  for (const r of lp) ss += (-r.logProb - loss * r.tokens) ** 2;
  return { loss, se: Math.sqrt(ss / (m * (m - 1))) / (tokens / m) };
}
