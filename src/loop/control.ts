// The control set of a generation and the decomposition it feeds (metrics/decomposition.ts).
// Besides its N samples, generation g draws `--control` documents at T = 1 (the default sampling
// rule) from the model that drew it, on their own random stream ('control'), so the documents a
// run stores are the same with or without it; `first` reads the model's exact first-token
// softmax instead. The control is never trained on and not stored: only the terms are.

import type { LanguageModel } from '../model/types.js';
import { defaultSamplingRule } from '../model/sampling.js';
import { histogram } from '../metrics/coarse.js';
import { liveIndices } from '../metrics/histogram.js';
import { addTerms, decompose, decompositionMetrics, type TermSums } from '../metrics/decomposition.js';
import { rngFor } from '../rng.js';
import { EOS } from '../tokenizer/types.js';
import type { RunConfig } from './config.js';
import type { RunState } from './state.js';

/** What the model does at T = 1, per coarse-graining, and how many draws each rests on. */
export interface Control {
  histograms: Map<string, number[]>;
  /** coarse → the number of draws (Infinity for `first`: the exact softmax). */
  sizes: Map<string, number>;
}

/** The model's exact T = 1 shares over the `first` categories (its first-token softmax); null without `first`. */
export async function modelFirstShares(model: LanguageModel, state: RunState): Promise<number[] | null> {
  const cg = state.coarse.find((c) => c.name === 'first');
  if (!cg) return null;
  const dist = await model.firstTokenDistribution();
  const shares = new Array<number>(cg.categories.length).fill(0);
  for (let t = 0; t < dist.length; t++) {
    if (t === state.tokenizer.bos) continue; // never a first token
    const k = cg.categoryOf({ text: '', tokens: t === EOS ? [] : [t] });
    if (k !== null) shares[k] += dist[t];
  }
  return shares;
}

/** Draws generation g's control set from `model` (the one that drew the generation). */
export async function drawControl(config: Readonly<RunConfig>, state: RunState, model: LanguageModel, gen: number, checkStop: () => void): Promise<Control> {
  const n = config.controlSamples;
  let docs: { text: string; tokens: number[] }[] = [];
  if (n > 0 && state.coarse.some((c) => c.name !== 'first')) {
    const tokens = await model.sample(n, defaultSamplingRule, rngFor(config.seed, 'gen', gen, 'control'), { maxLength: state.maxLength, onProgress: checkStop });
    docs = tokens.map((t) => ({ text: state.tokenizer.decode(t), tokens: t }));
  }
  const hist = new Map(state.coarse.map((cg) => [cg.name, histogram(cg, docs)]));
  const sizes = new Map<string, number>();
  for (const cg of state.coarse) sizes.set(cg.name, cg.name === 'token' ? hist.get(cg.name)!.reduce((a, b) => a + b, 0) : docs.length);
  const first = await modelFirstShares(model, state);
  if (first) {
    hist.set('first', first);
    sizes.set('first', Infinity);
  }
  return { histograms: hist, sizes };
}

/**
 * The decomposition of generation g on every coarse-graining: samples at T, the control at T = 1
 * from the same model, and `train` the histograms of the set that model learned; with the sums
 * over generations 1..g, from `previous` (generation g − 1's sums; generation 1 starts them). A
 * coarse-graining whose control has no draws (--control 0) gets no terms, and one whose chain of
 * sums is broken (a generation without terms) gets its terms but no sums.
 */
export function decompositionRows(
  state: RunState,
  gen: number,
  samples: Map<string, number[]>,
  control: Control,
  train: Map<string, number[]>,
  seed: Map<string, number[]>,
  previous: Map<string, TermSums>,
): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const cg of state.coarse) {
    const size = control.sizes.get(cg.name) ?? 0;
    if (!(size > 0)) continue;
    const m = decompositionMetrics(decompose(samples.get(cg.name)!, control.histograms.get(cg.name)!, size, train.get(cg.name)!, liveIndices(seed.get(cg.name)!)));
    const before = previous.get(cg.name);
    out.set(cg.name, gen === 1 || before ? { ...m, ...addTerms(before ?? null, m) } : m);
  }
  return out;
}
