// The fused element-wise kernels (src/kernels/simd-elementwise.ts) against the tfjs expressions
// they replace in layers.ts, bit for bit: same float32 operations in the same order, so not one
// element may differ — on sizes with and without a partial last vector, and no tensor left behind.

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { simdElementwise } from '../src/kernels/simd-elementwise.js';
import { GELU_K, LN_EPS } from '../src/model/gpt/layers.js';
import { rngFor } from '../src/rng.js';
import { differingBits } from './helpers/bits.js';

beforeAll(async () => {
  await initBackend('wasm');
});

function rand(shape: number[], seed: string, scale = 1, shift = 0): tf.Tensor {
  const rng = rngFor(9, seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => shift + scale * rng.normal()), shape);
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
      expect(differingBits(got, want)).toBe(0);
      // and it is the derivative: against a central difference of x·σ(kx) at one element
      const x0 = x.dataSync()[0];
      const f = (v: number) => v / (1 + Math.exp(-GELU_K * v));
      expect(got.dataSync()[0]).toBeCloseTo(dy.dataSync()[0] * (f(x0 + 1e-4) - f(x0 - 1e-4)) / 2e-4, 5);
      tf.dispose([x, dy, s, want, got]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('layerNorm and its gradient equal the tfjs expressions of layers.ts', () => {
    const e = simdElementwise()!;
    const before = tf.memory().numTensors;
    for (const [n, p] of [[64, 128], [5, 48], [3, 30], [2, 1]]) {
      const x = rand([n, p], `x${n}${p}`, 2, 0.7) as tf.Tensor2D;
      const g = rand([p], `g${p}`, 0.5, 1) as tf.Tensor1D;
      const b = rand([p], `b${p}`, 0.1) as tf.Tensor1D;
      const dy = rand([n, p], `dy${n}${p}`, 0.01) as tf.Tensor2D;
      // layers.ts layerNorm, forward and gradient, as tfjs kernels
      const want = tf.tidy(() => {
        const mean = tf.mean(x, 1, true);
        const xc = tf.sub(x, mean);
        const rstd = tf.rsqrt(tf.add(tf.div(tf.sum(tf.square(xc), 1, true), p), LN_EPS));
        const xhat = tf.mul(xc, rstd);
        const dxhat = tf.mul(dy, g);
        const m1 = tf.mean(dxhat, 1, true);
        const m2 = tf.mean(tf.mul(dxhat, xhat), 1, true);
        const dx = tf.mul(rstd, tf.sub(tf.sub(dxhat, m1), tf.mul(xhat, m2)));
        return { y: tf.add(tf.mul(xhat, g), b), xhat, rstd, dx, dyXhat: tf.mul(dy, xhat) };
      });
      const got = e.layerNorm(x, g, b, LN_EPS);
      expect(got.y.shape).toEqual([n, p]);
      expect(got.rstd.shape).toEqual([n, 1]);
      expect([differingBits(got.y, want.y), differingBits(got.xhat, want.xhat), differingBits(got.rstd, want.rstd)]).toEqual([0, 0, 0]);
      const grad = e.layerNormGrad(dy, got.xhat, got.rstd, g);
      expect([differingBits(grad.dx, want.dx), differingBits(grad.dyXhat, want.dyXhat)]).toEqual([0, 0]);
      // and it normalises: a row of xhat has mean ≈ 0 and mean square ≈ 1 (p > 1)
      if (p > 1) {
        const row = Array.from(got.xhat.dataSync() as Float32Array).slice(0, p);
        expect(Math.abs(row.reduce((s, v) => s + v, 0) / p)).toBeLessThan(1e-5);
        expect(row.reduce((s, v) => s + v * v, 0) / p).toBeCloseTo(1, 3);
      }
      tf.dispose([x, g, b, dy, Object.values(want), Object.values(got), Object.values(grad)].flat());
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
