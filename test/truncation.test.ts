// The built-in truncations of the sampling rule (top-k, top-p, min-p) against hand-computed rows:
// the cut, ties at the cut (kept together, so the kept set depends on the weights only), the
// order (temperature first, then top-k, top-p, min-p), the values that truncate nothing
// (bit-identical to no truncation), T → large, and BOS never drawn by either sampler.

import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { normalizeRunConfig } from '../src/loop/config.js';
import { ngramFactory } from '../src/model/ngram/ngram.js';
import { describeRule, ruleWeights, samplingRuleKey, samplingRuleOf, type SamplingRule } from '../src/model/sampling.js';
import { transformerFactory } from '../src/model/gpt/transformer.js';
import type { TrainingSet } from '../src/model/types.js';
import { rngFor } from '../src/rng.js';

/** The rule's weights for probabilities p (logits log p), no mask: exactly, and to 12 decimals (hand-computed rows). */
const rawRow = (rule: SamplingRule, p: number[], mask = -1) => Array.from(ruleWeights(rule, p.map(Math.log), 0, p.length, mask, new Float64Array(p.length)));
const row = (rule: SamplingRule, p: number[], mask = -1) => rawRow(rule, p, mask).map((w) => Math.round(w * 1e12) / 1e12);
const of = (x: object) => samplingRuleOf(x as never);
const r = (x: Partial<Record<'temperature' | 'topK' | 'topP' | 'minP', number>>) => samplingRuleOf({ temperature: 1, ...x });

// p = (0.4, 0.3, 0.2, 0.1): weights exp(log p − log 0.4) = (1, 0.75, 0.5, 0.25), total 2.5.
const P4 = [0.4, 0.3, 0.2, 0.1];

describe('top-k', () => {
  it('keeps the K largest weights', () => {
    expect(row(r({ topK: 1 }), P4)).toEqual([1, 0, 0, 0]);
    expect(row(r({ topK: 2 }), P4)).toEqual([1, 0.75, 0, 0]);
    expect(row(r({ topK: 3 }), [0.1, 0.4, 0.2, 0.3])).toEqual([0, 1, 0.5, 0.75]);
  });
  it('keeps every token tied with the K-th (the kept set does not depend on token order)', () => {
    expect(row(r({ topK: 2 }), [0.4, 0.2, 0.2, 0.1])).toEqual([1, 0.5, 0.5, 0]);
    expect(row(r({ topK: 2 }), [0.2, 0.1, 0.4, 0.2])).toEqual([0.5, 0, 1, 0.5]);
    expect(row(r({ topK: 1 }), [0.3, 0.3, 0.3, 0.1]).filter((w) => w > 0)).toHaveLength(3);
  });
  it('K at or above the live tokens, and K = 0, change nothing, bit for bit', () => {
    const free = rawRow(r({}), [0.37, 0.29, 0.21, 0.13]);
    for (const topK of [0, 4, 5, 1000]) expect(rawRow(r({ topK }), [0.37, 0.29, 0.21, 0.13])).toEqual(free);
    // −∞ logits (zero probability) are not live: K = 2 with two live tokens keeps both.
    expect(row(r({ topK: 2 }), [0.5, 0, 0.5, 0])).toEqual([1, 0, 1, 0]);
  });
});

describe('top-p', () => {
  it('keeps the fewest largest weights whose share reaches P', () => {
    expect(row(r({ topP: 0.35 }), P4)).toEqual([1, 0, 0, 0]); // 0.4 ≥ 0.35
    expect(row(r({ topP: 0.65 }), P4)).toEqual([1, 0.75, 0, 0]); // 0.4 < 0.65 ≤ 0.7
    expect(row(r({ topP: 0.75 }), P4)).toEqual([1, 0.75, 0.5, 0]); // 0.7 < 0.75 ≤ 0.9
    expect(row(r({ topP: 0.95 }), P4)).toEqual([1, 0.75, 0.5, 0.25]);
  });
  it('keeps every token tied with the last one it needs', () => {
    // (0.4, 0.2, 0.2, 0.1)/0.9: P = 0.5 needs 0.4 + one 0.2; the other 0.2 is tied and stays.
    expect(row(r({ topP: 0.5 }), [0.4, 0.2, 0.2, 0.1])).toEqual([1, 0.5, 0.5, 0]);
  });
  it('P = 1 changes nothing, bit for bit', () => {
    expect(rawRow(r({ topP: 1 }), [0.37, 0.29, 0.21, 0.13])).toEqual(rawRow(r({}), [0.37, 0.29, 0.21, 0.13]));
  });
});

describe('min-p', () => {
  it('keeps the weights ≥ P × the largest', () => {
    expect(row(r({ minP: 0.5 }), P4)).toEqual([1, 0.75, 0.5, 0]); // 0.2 = 0.5 × 0.4 is kept
    expect(row(r({ minP: 0.6 }), P4)).toEqual([1, 0.75, 0, 0]);
    expect(row(r({ minP: 0.99 }), [0.3, 0.3, 0.2, 0.2])).toEqual([1, 1, 0, 0]);
  });
  it('min-p = 0 changes nothing, bit for bit', () => {
    expect(rawRow(r({ minP: 0 }), [0.37, 0.29, 0.21, 0.13])).toEqual(rawRow(r({}), [0.37, 0.29, 0.21, 0.13]));
  });
});

describe('the order and the rule as a whole', () => {
  it('temperature comes first: at T = 2 the weights are √(p/0.4), and min-p 0.6 keeps three', () => {
    const w = row(r({ temperature: 2, minP: 0.6 }), P4);
    expect(w[0]).toBe(1);
    expect(w[1]).toBeCloseTo(Math.sqrt(0.75), 11);
    expect(w[2]).toBeCloseTo(Math.sqrt(0.5), 11);
    expect(w[3]).toBe(0); // √0.25 = 0.5 < 0.6
  });
  it('top-k, then top-p on what top-k kept, then min-p', () => {
    // top-k 3 → (1, 0.75, 0.5) of total 2.25; top-p 0.6 needs 1.35: 1 + 0.75; min-p 0.8 then drops 0.75.
    expect(row(r({ topK: 3, topP: 0.6 }), P4)).toEqual([1, 0.75, 0, 0]);
    expect(row(r({ topK: 3, topP: 0.6, minP: 0.8 }), P4)).toEqual([1, 0, 0, 0]);
  });
  it('T → large: top-k keeps K near-equal tokens, top-p the fewest whose count share reaches P, min-p all', () => {
    const p = [0.05, 0.4, 0.15, 0.1, 0.3];
    const hot = (x: Parameters<typeof r>[0]) => row(r({ temperature: 1e6, ...x }), p);
    const k2 = hot({ topK: 2 });
    expect(k2.map((w) => w > 0)).toEqual([false, true, false, false, true]);
    expect(k2[4]).toBeCloseTo(1, 5);
    // Near-uniform over 5: P = 0.5 needs 3 of them (2/5 < 0.5 ≤ 3/5), the 3 most likely.
    expect(hot({ topP: 0.5 }).map((w) => w > 0)).toEqual([false, true, true, false, true]);
    expect(hot({ minP: 0.9 }).every((w) => w > 0.99999)).toBe(true);
  });
  it('a masked index (BOS) gets 0 before any cut, and the cut is among the others', () => {
    // BOS (index 0) has the largest logit; top-k 1 keeps the largest of the rest.
    expect(row(r({ topK: 1 }), [0.5, 0.2, 0.3], 0)).toEqual([0, 0, 1]);
    expect(row(r({ topP: 0.5 }), [0.5, 0.2, 0.3], 0)).toEqual([0, 0, 1]);
    expect(row(r({ minP: 0.5 }), [0.5, 0.2, 0.3], 0)).toEqual([0, 0.666666666667, 1]);
  });
  it('the options: checked with one line naming them, off values dropped, keyed and described', () => {
    expect(of({ temperature: 1, topK: 0, topP: 1, minP: 0 })).toEqual({ temperature: 1 });
    expect(samplingRuleOf({ temperature: '1.5', topK: '5', topP: '0.9', minP: '0.05' } as never)).toEqual({ temperature: 1.5, topK: 5, topP: 0.9, minP: 0.05 });
    expect(() => of({ temperature: 1, topK: 2.5 })).toThrow(/^--top-k must be a whole number ≥ 1 \(0 for off\), got '2.5'$/);
    expect(() => of({ temperature: 1, topK: -1 })).toThrow(/--top-k/);
    for (const topP of [0, -0.1, 1.5, NaN]) expect(() => of({ temperature: 1, topP })).toThrow(/^--top-p must be a number with 0 < P ≤ 1/);
    for (const minP of [1, -0.1, 2]) expect(() => of({ temperature: 1, minP })).toThrow(/^--min-p must be a number with 0 ≤ P < 1/);
    expect(samplingRuleKey(r({ topK: 5, minP: 0.1 }))).toBe('1,topK=5,minP=0.1');
    expect(describeRule(r({ temperature: 1.5, topK: 5, topP: 0.9 }))).toBe('T = 1.5, top-k 5, top-p 0.9');
    // The run config stores exactly the rule used: off values are not there at all.
    const c = normalizeRunConfig({ topK: '0', topP: '1', minP: '0.1' } as never);
    expect('topK' in c || 'topP' in c).toBe(false);
    expect(c.minP).toBe(0.1);
  });
});

// Tokens: BOS = 0, EOS = 1, letters 2…5; BOS is never a training target, so it is never drawn.
const V = 6;
const corpus = [...Array(40).fill([2, 3]), ...Array(25).fill([3, 4]), ...Array(20).fill([4, 2]), ...Array(15).fill([5])] as number[][];
const data: TrainingSet = { size: corpus.length, docs: (ix) => ix.map((i) => corpus[i]) };

describe('the samplers', () => {
  beforeAll(async () => {
    await initBackend('auto');
  });
  it('n-gram: top-k 2 draws only the two most likely first tokens, top-p 1 / top-k 99 / min-p 0 draw what no truncation draws, never BOS', async () => {
    const m = ngramFactory.create({ vocabSize: V, bos: 0, eos: 1, seed: 1, options: { order: 2 } });
    await m.trainSteps(data, 200, rngFor(1, 'train'));
    const free = await m.sample(500, { temperature: 1.5 }, rngFor(2));
    expect(await m.sample(500, r({ temperature: 1.5, topK: 99, topP: 1, minP: 0 }), rngFor(2))).toEqual(free);
    const k2 = await m.sample(500, r({ temperature: 1.5, topK: 2 }), rngFor(3));
    expect(new Set(k2.map((d) => d[0])).size).toBe(2);
    expect(new Set(k2.map((d) => d[0]))).toEqual(new Set([2, 3]));
    for (const d of [...free, ...k2]) expect(d).not.toContain(0);
    m.dispose();
  });
  it('GPT: min-p 0.999 is greedy-like at T = 3 (each step keeps the top token and exact ties only), never BOS', async () => {
    const m = transformerFactory.create({ vocabSize: V, bos: 0, eos: 1, seed: 2, options: { size: 'tiny' } });
    const docs = await m.sample(40, r({ temperature: 3, minP: 0.999 }), rngFor(4), { maxLength: 4 });
    expect(new Set(docs.map((d) => d.join())).size).toBe(1);
    const hot = await m.sample(200, r({ temperature: 3 }), rngFor(4), { maxLength: 4 });
    for (const d of [...docs, ...hot]) expect(d).not.toContain(0);
    m.dispose();
  });
});
