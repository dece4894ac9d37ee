// The sampling rule (src/model/sampling.ts): one function from a row of logits to the weights a
// token is drawn with, BOS masked. Its extension point: a truncation registered in one place here
// (a test-only "keep the k largest") is honoured by the n-gram, the GPT, the theory lane (τ and
// the exact simulation) and the run config, with nothing else changed.

import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { UserError } from '../src/errors.js';
import { normalizeRunConfig } from '../src/loop/config.js';
import { ngramFactory } from '../src/model/ngram/ngram.js';
import { addTruncation, ruleWeights, samplingRuleKey, samplingRuleOf, type SamplingRule, type Weights } from '../src/model/sampling.js';
import { transformerFactory } from '../src/model/gpt/transformer.js';
import type { TrainingSet } from '../src/model/types.js';
import { rngFor } from '../src/rng.js';
import { tau } from '../src/theory/core.js';
import { simulate } from '../src/theory/sim.js';

/** Test-only truncation: zero all but the k largest weights (ties: the lower index wins). */
function keepLargest(w: Weights, n: number, k: number): void {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => w[b] - w[a] || a - b);
  for (const i of order.slice(k)) w[i] = 0;
}

addTruncation({
  key: 'keepTop',
  flag: '--keep-top <k>',
  help: 'keep the k most likely tokens (test only)',
  tag: 'kt',
  off: 0,
  check: (x) => (Number.isInteger(x) && x >= 0 ? null : 'a whole number ≥ 0'),
  apply: keepLargest,
});

const keep = (k: number, temperature = 1) => ({ temperature, keepTop: k }) as unknown as SamplingRule;

// Tokens: BOS = 0, EOS = 1, letters 2…5. Documents start with 2 most often, then 3, 4, 5.
const V = 6;
const corpus = [...Array(40).fill([2, 3]), ...Array(25).fill([3, 4]), ...Array(20).fill([4, 2]), ...Array(15).fill([5])] as number[][];
const data: TrainingSet = { size: corpus.length, docs: (ix) => ix.map((i) => corpus[i]) };
const firsts = (docs: number[][]) => new Set(docs.map((d) => (d.length ? d[0] : 1)));

beforeAll(async () => {
  await initBackend('auto');
});

describe('ruleWeights', () => {
  it('tempers (l − max) / T and masks BOS', () => {
    const out = ruleWeights({ temperature: 2 }, [9, Math.log(4), 0, -Infinity], 0, 4, 0, new Float64Array(4));
    expect(Array.from(out)).toEqual([0, 1, Math.exp(-Math.log(4) / 2), 0]);
  });
  it('rejects a temperature that is not a finite number > 0, naming the option', () => {
    for (const T of [0, -1, NaN, Infinity, 'abc']) expect(() => samplingRuleOf({ temperature: T })).toThrow(/--temperature must be a number > 0/);
  });
});

describe('a truncation added in one place', () => {
  it('is part of the rule: checked, keyed, and off by default', () => {
    expect(samplingRuleOf({ temperature: 1.5, keepTop: '2' } as never)).toEqual({ temperature: 1.5, keepTop: 2 });
    expect(samplingRuleOf({ temperature: 1.5, keepTop: 0 } as never)).toEqual({ temperature: 1.5 });
    expect(() => samplingRuleOf({ temperature: 1, keepTop: 1.5 } as never)).toThrow(/--keep-top must be a whole number ≥ 0, got '1.5'/);
    expect(samplingRuleKey(keep(2, 1.5))).toBe('1.5,keepTop=2');
    expect(samplingRuleKey({ temperature: 1.5 })).toBe('1.5');
  });

  it('is accepted and stored by the run config', () => {
    expect(normalizeRunConfig({ keepTop: '3' } as never)).toMatchObject({ temperature: 1, keepTop: 3 });
    expect('keepTop' in normalizeRunConfig({})).toBe(false);
    expect(() => normalizeRunConfig({ keepTop: -1 } as never)).toThrow(UserError);
  });

  it('is honoured by the n-gram sampler, after the temperature', async () => {
    const m = ngramFactory.create({ vocabSize: V, bos: 0, eos: 1, seed: 1, options: { order: 2 } });
    await m.trainSteps(data, 200, rngFor(1, 'train'));
    const free = await m.sample(400, { temperature: 3 }, rngFor(2));
    expect(firsts(free).size).toBeGreaterThanOrEqual(4);
    // Greedy even at T = 3: the same document every time, starting with the most common token.
    const greedy = await m.sample(50, keep(1, 3), rngFor(2));
    expect(new Set(greedy.map((d) => d.join())).size).toBe(1);
    expect(greedy[0][0]).toBe(2);
    expect([...firsts(await m.sample(400, keep(2, 3), rngFor(3)))].sort()).toEqual([2, 3]);
    // The CDF cache follows the rule: back to the free rule, the same draws as before.
    expect(await m.sample(400, { temperature: 3 }, rngFor(2))).toEqual(free);
    m.dispose();
  });

  it('is honoured by the GPT sampler', async () => {
    const m = transformerFactory.create({ vocabSize: V, bos: 0, eos: 1, seed: 2, options: { size: 'tiny' } });
    const free = await m.sample(200, { temperature: 2 }, rngFor(4), { maxLength: 4 });
    expect(firsts(free).size).toBeGreaterThanOrEqual(4);
    const greedy = await m.sample(30, keep(1, 2), rngFor(4), { maxLength: 4, batchSize: 7 });
    expect(new Set(greedy.map((d) => d.join())).size).toBe(1);
    const p = await m.firstTokenDistribution();
    const top = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b);
    expect(firsts(greedy)).toEqual(new Set([top[0]]));
    expect([...firsts(await m.sample(200, keep(2, 2), rngFor(5), { maxLength: 4 }))].sort()).toEqual(top.slice(0, 2).sort());
    m.dispose();
  });

  it('is honoured by the theory lane: τ and the exact simulation', () => {
    expect(tau([0.5, 0.3, 0.2], keep(2))).toEqual([expect.closeTo(0.625, 14), expect.closeTo(0.375, 14), 0]);
    expect(tau([0.2, 0.5, 0.3], keep(1, 0.5))).toEqual([0, 1, 0]);
    // Greedy sampling of the categories: every new document goes to the mode.
    const { final } = simulate({ initial: [5, 3, 2], temperature: 1, keepTop: 1, perStep: 10, steps: 3, replicates: 2 } as never);
    for (const theta of final) expect(theta).toEqual([35 / 40, 3 / 40, 2 / 40]);
  });
});
