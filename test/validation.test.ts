// The held-out estimate (src/loop/validation.ts): which documents `--val-docs` scores, and the
// standard error beside the loss, checked against a jackknife computed independently here.

import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { normalizeRunConfig } from '../src/loop/config.js';
import { REFERENCE_TOKEN_BUDGET, referenceSubset, VAL_TOKEN_BUDGET, validationLoss, validationSubset } from '../src/loop/validation.js';
import { syntheticDocs } from '../src/model/bench.js';
import { ngramFactory } from '../src/model/ngram/ngram.js';
import { rngFor } from '../src/rng.js';

const V = 30;
const split = syntheticDocs(2000, 60, V, 3).map((tokens, i) => ({ tokens, id: i }));
const short = syntheticDocs(300, 6, V, 4).map((tokens, i) => ({ tokens, id: i }));
const scored = (docs: { tokens: readonly number[] }[]) => docs.reduce((a, d) => a + d.tokens.length + 1, 0);

beforeAll(async () => {
  await initBackend('wasm');
});

describe('validation subset', () => {
  it('takes n seeded documents in split order, the same for the same seed', () => {
    const a = validationSubset(split, 100, 1);
    expect(a).toHaveLength(100);
    expect(a.map((d) => d.id)).toEqual([...a.map((d) => d.id)].sort((x, y) => x - y));
    expect(validationSubset(split, 100, 1)).toEqual(a);
    const b = validationSubset(split, 100, 2);
    expect(b.map((d) => d.id)).not.toEqual(a.map((d) => d.id));
    // Not the first 100 of the split: a corpus in genre order would bias that.
    expect(a[a.length - 1].id).toBeGreaterThan(500);
    expect(validationSubset(split, 5000, 1)).toHaveLength(split.length);
  });

  it('by default fills the token budget: all of a short-document split, part of a long one', () => {
    expect(validationSubset(short, null, 1)).toHaveLength(short.length);
    const part = validationSubset(split, null, 1);
    expect(part.length).toBeLessThan(split.length);
    expect(scored(part)).toBeLessThanOrEqual(VAL_TOKEN_BUDGET);
    expect(scored(part)).toBeGreaterThan(VAL_TOKEN_BUDGET - 2 * 60);
  });

  it('the generation-0 reference: every training document within its budget, else a seeded subset filling it', () => {
    expect(referenceSubset(short, 1)).toEqual(short.map((_, i) => i));
    const big = syntheticDocs(8000, 30, V, 7).map((tokens) => ({ tokens }));
    const a = referenceSubset(big, 1);
    expect(a.length).toBeLessThan(big.length);
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect(scored(a.map((i) => big[i]))).toBeLessThanOrEqual(REFERENCE_TOKEN_BUDGET);
    expect(scored(a.map((i) => big[i]))).toBeGreaterThan(REFERENCE_TOKEN_BUDGET - 2 * 30);
    expect(referenceSubset(big, 1)).toEqual(a);
    expect(referenceSubset(big, 2)).not.toEqual(a);
  });

  it('--val-docs goes through the run config', () => {
    expect(normalizeRunConfig({}).valDocs).toBeNull();
    expect(normalizeRunConfig({ valDocs: '50' as unknown as number }).valDocs).toBe(50);
    expect(() => normalizeRunConfig({ valDocs: 0 })).toThrow(/--val-docs must be a whole number ≥ 1/);
    expect(() => normalizeRunConfig({ valDocs: 2.5 })).toThrow(/--val-docs/);
  });
});

describe('validation loss', () => {
  it('is Σ nats / Σ tokens, with the standard error of a ratio estimator (≈ the jackknife)', async () => {
    const m = ngramFactory.create({ vocabSize: V, bos: 0, eos: 1, seed: 1, options: {} });
    const train = syntheticDocs(500, 8, V, 5);
    await m.trainSteps({ size: train.length, docs: (ix) => ix.map((i) => train[i]) }, 20, rngFor(1, 'train'));
    const docs = syntheticDocs(400, 8, V, 6).map((tokens) => ({ tokens }));
    const r = (await validationLoss(m, docs))!;
    const lp = await m.logProbs(docs.map((d) => d.tokens));
    const nats = lp.map((x) => -x.logProb);
    const toks = lp.map((x) => x.tokens);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(r.loss).toBeCloseTo(sum(nats) / sum(toks), 12);
    // Jackknife: leave one document out at a time.
    const n = docs.length;
    const loo = nats.map((_, i) => (sum(nats) - nats[i]) / (sum(toks) - toks[i]));
    const mean = sum(loo) / n;
    const jack = Math.sqrt(((n - 1) / n) * sum(loo.map((x) => (x - mean) ** 2)));
    expect(r.se!).toBeGreaterThan(0);
    expect(Math.abs(r.se! - jack) / jack).toBeLessThan(0.05);
    // A quarter of the documents: about twice the error.
    const q = (await validationLoss(m, docs.slice(0, 100)))!;
    expect(q.se! / r.se!).toBeGreaterThan(1.4);
    expect(q.se! / r.se!).toBeLessThan(2.8);
    expect((await validationLoss(m, docs.slice(0, 1)))!.se).toBeNull();
    expect(await validationLoss(m, [])).toBeNull();
    m.dispose();
  });
});
