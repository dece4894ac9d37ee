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
  const order = shuffle(rngFor(seed, 'val-docs'), split.map((_, i) => i));
  const chosen: number[] = [];
  let tokens = 0;
  for (const i of order) {
    if (count !== null ? chosen.length >= count : chosen.length > 0 && tokens + split[i].tokens.length + 1 > VAL_TOKEN_BUDGET) break;
    chosen.push(i);
    tokens += split[i].tokens.length + 1;
  }
  return chosen.sort((a, b) => a - b).map((i) => split[i]);
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
