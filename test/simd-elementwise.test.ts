// The fused element-wise kernels (src/kernels/simd-elementwise.ts) against the tfjs expressions
// they replace in layers.ts, bit for bit: same float32 operations in the same order, so not one
// element may differ — on sizes with and without a partial last vector, and no tensor left behind.

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { simdElementwise } from '../src/kernels/simd-elementwise.js';
import { GELU_K } from '../src/model/gpt/layers.js';
import { rngFor } from '../src/rng.js';

beforeAll(async () => {
  await initBackend('wasm');
});

function rand(shape: number[], seed: string, scale = 1, shift = 0): tf.Tensor {
  const rng = rngFor(9, seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => shift + scale * rng.normal()), shape);
}

/** Elements that differ in any bit (-0 ≠ +0). */
function differing(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let n = x.length === y.length ? 0 : Math.max(x.length, y.length);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (!Object.is(x[i], y[i])) n++;
  return n;
}

describe('fused element-wise kernels, bit for bit', () => {
  it('geluGrad equals the tfjs chain dy·(s + (x·k)·(s·(1 − s)))', () => {
    const e = simdElementwise()!;
    expect(e).not.toBeNull();
    const before = tf.memory().numTensors;
    for (const shape of [[64, 512], [7, 3], [1, 1], [5, 9]]) {
      const x = rand(shape, `x${shape}`, 3);
      const dy = rand(shape, `dy${shape}`, 1e-3);
      const s = tf.tidy(() => tf.sigmoid(tf.mul(x, GELU_K)));
      const want = tf.tidy(() => tf.mul(dy, tf.add(s, tf.mul(tf.mul(x, GELU_K), tf.mul(s, tf.sub(1, s))))));
      const got = e.geluGrad(x, s, dy, GELU_K);
      expect(got.shape).toEqual(shape);
      expect(differing(got, want)).toBe(0);
      // and it is the derivative: against a central difference of x·σ(kx) at one element
      const x0 = x.dataSync()[0];
      const f = (v: number) => v / (1 + Math.exp(-GELU_K * v));
      expect(got.dataSync()[0]).toBeCloseTo(dy.dataSync()[0] * (f(x0 + 1e-4) - f(x0 - 1e-4)) / 2e-4, 5);
      tf.dispose([x, dy, s, want, got]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
