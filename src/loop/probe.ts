// The measured temperature map of a trained model (probe-tau): sample n documents at T = 1 and
// n at T from the same checkpoint, build each coarse-graining's histograms θ̂ and τ̂, and test the
// paper's assumptions on them (order preserved, V contracting/expanding) and fit the effective
// temperature T* with τ_{T*}(θ̂) ≈ τ̂. On `first` the sampling map is exactly a softmax at T, so
// T* ≈ T there is a check of the whole pipeline; elsewhere it is a measurement.

import type { LanguageModel } from '../model/types.js';
import { defaultSamplingRule, samplingRuleKey, type SamplingRule } from '../model/sampling.js';
import { rngFor } from '../rng.js';
import { histogram, onePerDocument } from '../metrics/coarse.js';
import { probeTau, type ProbeResult } from '../theory/probe.js';
import type { RunView } from './view.js';

export interface ProbeCoarse {
  coarse: string;
  categories: readonly string[];
  base: number[];
  tempered: number[];
  result: ProbeResult;
}

export async function probeModel(
  model: LanguageModel,
  view: RunView,
  opts: { rule: SamplingRule; samples: number; seed: number; maxLength: number; onProgress?: (done: number, total: number) => void },
): Promise<ProbeCoarse[]> {
  const draw = async (rule: SamplingRule, key: string) => {
    const tokens = await model.sample(opts.samples, rule, rngFor(opts.seed, 'probe', key), { maxLength: opts.maxLength, onProgress: opts.onProgress });
    return tokens.map((t) => ({ text: view.tokenizer.decode(t), tokens: t }));
  };
  // The base draw is the identity rule (T = 1, nothing truncated): the model's own distribution.
  const base = await draw(defaultSamplingRule, 'base');
  const tempered = await draw(opts.rule, `T${samplingRuleKey(opts.rule)}`);
  return view.coarse
    .filter((cg) => onePerDocument(cg.name)) // else counts are not n draws
    .map((cg) => {
      const b = histogram(cg, base);
      const t = histogram(cg, tempered);
      return { coarse: cg.name, categories: cg.categories, base: b, tempered: t, result: probeTau(b, t, { temperature: opts.rule.temperature }) };
    });
}
