// The matrix-product kernels' bit-for-bit contract (src/kernels/gemm-kernels.ts): an element of
// a product is the same multiply-add chain over k whichever tile computed it, so a row of a
// product is identical whether it is computed alone (the 4-row tile) or among many (5-row tiles,
// a partial last panel), for every transpose and depths past one pass; and the colsum kernel
// equals the ones-row product it replaces, bit for bit. Behaviour-pin holds the trained result.

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { simdMatMul } from '../src/kernels/simd.js';
import { columnSums } from '../src/model/gpt/layers.js';
import { rngFor } from '../src/rng.js';
import { differingBits } from './helpers/bits.js';

beforeAll(async () => {
  await initBackend('wasm');
});

function rand(shape: [number, number], seed: string): tf.Tensor2D {
  const rng = rngFor(5, seed);
  return tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()), shape);
}

describe('SIMD product kernels, bit for bit', () => {
  it('a row of a product is the same computed alone as among many rows', () => {
    const simd = simdMatMul()!;
    expect(simd).not.toBeNull();
    const before = tf.memory().numTensors;
    // [M, K, N]: M = 5·k + r for each r, depth past one 256-deep pass, N off the 8-column tile.
    for (const [m, k, n] of [[23, 300, 16], [64, 128, 40], [12, 600, 30], [5, 17, 8]] as const) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = rand(transA ? [k, m] : [m, k], `a${m}${k}`);
          const b = rand(transB ? [n, k] : [k, n], `b${k}${n}`);
          const all = simd.matMul(a, b, transA, transB);
          const whole = all.dataSync() as Float32Array;
          let diff = 0;
          for (const i of [0, 1, m - 2, m - 1]) {
            const row = tf.tidy(() => {
              const ai = transA ? tf.slice(a, [0, i], [k, 1]) : tf.slice(a, [i, 0], [1, k]);
              return simd.matMul(ai as tf.Tensor2D, b, transA, transB).dataSync() as Float32Array;
            });
            diff += differingBits(row, whole.subarray(i * n, (i + 1) * n));
          }
          expect(diff).toBe(0);
          tf.dispose([a, b, all]);
        }
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('column sums equal the ones-row product bit for bit, and leave no tensor', () => {
    const simd = simdMatMul()!;
    const before = tf.memory().numTensors;
    for (const [n, p] of [[2048, 128], [1, 16], [257, 48], [600, 30], [0, 16]] as const) {
      const x = rand([n, p], `x${n}${p}`);
      const want = tf.tidy(() => simd.matMul(tf.ones([n, 1]), x, true, false).dataSync() as Float32Array);
      // The kernel where p is a multiple of 16, else (null from it) layers.ts's ones-row product.
      const direct = simd.columnSums(x);
      expect(direct === null).toBe(p % 16 !== 0);
      direct?.dispose();
      const got = columnSums(x);
      expect(got.shape).toEqual([p]);
      expect(differingBits(got.dataSync() as Float32Array, want)).toBe(0);
      // and they are sums: against float64 sums, within float32 rounding of n terms
      const xs = x.dataSync();
      const col0 = Array.from({ length: n }, (_, i) => xs[i * p]).reduce((s, v) => s + v, 0);
      if (n > 0) expect(Math.abs(got.dataSync()[0] - col0)).toBeLessThan(1e-4 * Math.sqrt(n));
      tf.dispose([x, got]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
