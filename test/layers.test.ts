// The transformer's hand-written gradients against tfjs's own autodiff of the same functions
// (to 1e-5), the JS attention against a dense masked reference, and the document packing.

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { attention } from '../src/model/gpt/attention.js';
import { columnSums, crossEntropy, embed, gelu, GELU_K, layerNorm, linear, LN_EPS, logSoftmax } from '../src/model/gpt/layers.js';
import { packEval, packTraining } from '../src/model/gpt/packing.js';
import { rngFor } from '../src/rng.js';

beforeAll(async () => {
  await initBackend('auto');
});

function rand(shape: number[], seed: string): tf.Tensor {
  const rng = rngFor(7, seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Gradients of Σ f(inputs)·R (R a fixed random tensor) with respect to every input. */
function grads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], outShape: number[]): tf.Tensor[] {
  const r = rand(outShape, 'cotangent');
  const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs);
  r.dispose();
  return g;
}

function expectSameGrads(custom: (...xs: tf.Tensor[]) => tf.Tensor, reference: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]) {
  const out = reference(...inputs);
  expect(maxAbsDiff(custom(...inputs), out)).toBeLessThan(1e-5);
  const a = grads(custom, inputs, out.shape);
  const b = grads(reference, inputs, out.shape);
  a.forEach((g, i) => expect(maxAbsDiff(g, b[i])).toBeLessThan(1e-5));
  tf.dispose([out, ...a, ...b]);
}

describe('custom gradients equal tfjs autodiff', () => {
  it('linear, and column sums', () => {
    const x = rand([12, 5], 'x');
    const w = rand([5, 7], 'w');
    expectSameGrads((a, b) => linear(a as tf.Tensor2D, b as tf.Tensor2D), (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), [x, w]);
    expect(maxAbsDiff(columnSums(x as tf.Tensor2D), tf.sum(x, 0))).toBeLessThan(1e-5);
    tf.dispose([x, w]);
  });

  it('GELU (sigmoid form)', () => {
    const x = tf.mul(rand([9, 6], 'g'), 3);
    expectSameGrads((a) => gelu(a as tf.Tensor2D), (a) => tf.mul(a, tf.sigmoid(tf.mul(a, GELU_K))), [x]);
    x.dispose();
  });

  it('LayerNorm', () => {
    const x = tf.add(tf.mul(rand([10, 8], 'ln'), 2), 0.5);
    const g = tf.add(rand([8], 'g'), 1);
    const b = rand([8], 'b');
    const reference = (a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const { mean, variance } = tf.moments(a, 1, true);
      return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, LN_EPS))), gg), bb);
    };
    expectSameGrads((a, gg, bb) => layerNorm(a as tf.Tensor2D, gg as tf.Tensor1D, bb as tf.Tensor1D), reference, [x, g, b]);
    tf.dispose([x, g, b]);
  });

  it('embedding through a one-hot product', () => {
    const ids = [3, 0, 2, 2, 1];
    const oneHot = tf.tensor2d(ids.flatMap((t) => [0, 1, 2, 3].map((k) => (k === t ? 1 : 0))), [5, 4]);
    const table = rand([4, 6], 'emb');
    expectSameGrads((w) => embed(oneHot, w as tf.Tensor2D), (w) => tf.matMul(oneHot, w as tf.Tensor2D), [table]);
    tf.dispose([oneHot, table]);
  });

  it('weighted softmax cross-entropy', () => {
    const logits = tf.mul(rand([6, 5], 'ce'), 2);
    const targets = tf.tensor2d([0, 3, 1, 4, 2, 2].flatMap((t) => [0, 1, 2, 3, 4].map((k) => (k === t ? 1 : 0))), [6, 5]);
    const w = tf.tensor2d([1, 1, 0, 1, 1, 0], [6, 1]);
    const reference = (z: tf.Tensor) => tf.div(tf.neg(tf.sum(tf.mul(tf.mul(logSoftmax(z as tf.Tensor2D), targets), w))), 4);
    expectSameGrads((z) => crossEntropy(z as tf.Tensor2D, targets, w, 4), reference, [logits]);
    tf.dispose([logits, targets, w]);
  });
});

describe('block-diagonal causal attention', () => {
  // Two rows of 6 positions; row 0 holds documents [0..2] and [3..5], row 1 one window.
  const segStart = Int32Array.from([0, 0, 0, 3, 3, 3, 6, 6, 6, 6, 6, 6]);
  function dense(qkv: tf.Tensor, shape: { d: number; heads: number }): tf.Tensor {
    const n = segStart.length;
    const { d, heads } = shape;
    const dh = d / heads;
    const mask = tf.tensor2d(Array.from({ length: n * n }, (_, k) => {
      const i = Math.floor(k / n);
      const j = k % n;
      return j >= segStart[i] && j <= i ? 0 : -1e9;
    }), [n, n]);
    const split = (o: number) => tf.transpose(tf.reshape(tf.slice(qkv, [0, o], [n, d]), [n, heads, dh]), [1, 0, 2]) as tf.Tensor3D;
    const scores = tf.add(tf.mul(tf.matMul(split(0), split(d), false, true), 1 / Math.sqrt(dh)), mask);
    const out = tf.matMul(tf.softmax(scores), split(2 * d));
    return tf.reshape(tf.transpose(out, [1, 0, 2]), [n, d]);
  }

  // Head widths 4 and 8 take the wasm SIMD kernels (on wasm), 3 the JS ones (four lanes plus a tail).
  it.each([{ d: 8, heads: 2 }, { d: 16, heads: 2 }, { d: 6, heads: 2 }])('matches the dense masked computation, values and gradients (%o)', (shape) => {
    const qkv = rand([segStart.length, 3 * shape.d], 'qkv');
    expectSameGrads((x) => attention(x as tf.Tensor2D, segStart, shape), (x) => dense(x, shape), [qkv]);
    qkv.dispose();
  });
});

describe('packing', () => {
  const v = { vocabSize: 10, bos: 0, eos: 1 };

  it('fills training rows with BOS-started segments whose targets are the next tokens', () => {
    const docs = [[2, 3], [4, 5, 6], [7]];
    let k = 0;
    const p = packTraining(2, 8, () => docs[k++ % docs.length], v, rngFor(1, 'pack'));
    // Row 0: BOS 2 3 | BOS 4 5 6 | BOS(prefix of [7]) ; targets 2 3 EOS | 4 5 6 EOS | 7
    expect(Array.from(p.inputs.slice(0, 8))).toEqual([0, 2, 3, 0, 4, 5, 6, 0]);
    expect(Array.from(p.targets.slice(0, 8))).toEqual([2, 3, 1, 4, 5, 6, 1, 7]);
    expect(Array.from(p.positions.slice(0, 8))).toEqual([0, 1, 2, 0, 1, 2, 3, 0]);
    expect(Array.from(p.segStart.slice(0, 8))).toEqual([0, 0, 0, 3, 3, 3, 3, 7]);
    expect(Array.from(p.weights)).toEqual(new Array(16).fill(1));
    // Row 1 starts with the next document, [2, 3], at absolute index 8.
    expect(Array.from(p.inputs.slice(8, 11))).toEqual([0, 2, 3]);
    expect(p.segStart[9]).toBe(8);
  });

  it('counts every evaluation target exactly once, windows included', () => {
    const long = Array.from({ length: 13 }, (_, i) => 2 + (i % 8));
    const rows = packEval([[2, 3], long], 6, v);
    const counted = [0, 0];
    for (const r of rows) r.owner.forEach((o, i) => o >= 0 && r.weights[i] === 1 && counted[o]++);
    expect(counted).toEqual([3, 14]);
  });

  it('rejects tokens outside the vocabulary', () => {
    expect(() => packEval([[2, 10]], 6, v)).toThrow(/outside the model's vocabulary/);
  });
});
