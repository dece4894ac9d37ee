// The fused element-wise kernels (src/kernels/simd-elementwise.ts) against the tfjs expressions
// they replace in layers.ts, bit for bit: same float32 operations in the same order, so not one
// element may differ — on sizes with and without a partial last vector, and no tensor left behind.
// Then the sampler's kernels against its JS reference: the float64 LayerNorm, GELU's
// multiplications, residual adds, and a whole decoding step on wasm buffers against the step
// through tfjs tensors.

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { simdElementwise } from '../src/kernels/simd-elementwise.js';
import { currentWasmBackend, WasmMemory } from '../src/kernels/simd.js';
import { initParams } from '../src/model/gpt/gpt.js';
import { GELU_K, LN_EPS } from '../src/model/gpt/layers.js';
import { Decoder, layerNormJs } from '../src/model/gpt/sampler.js';
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

describe("the sampler's kernels, bit for bit", () => {
  /** n floats at a fresh address, run f, read m floats back from the address f names. */
  function onHeap(inputs: Float32Array[], outFloats: number, f: (addresses: number[], out: number) => void): Float32Array {
    const mem = new WasmMemory(currentWasmBackend()!);
    const total = inputs.reduce((a, x) => a + x.length, 0) + outFloats;
    const at = mem.malloc(total * 4);
    try {
      const addresses: number[] = [];
      let o = at;
      for (const x of inputs) {
        mem.heap().set(x, o / 4);
        addresses.push(o);
        o += x.length * 4;
      }
      f(addresses, o);
      return mem.heap().slice(o / 4, o / 4 + outFloats);
    } finally {
      mem.free(at);
    }
  }
  const floats = (n: number, seed: string, scale = 1, shift = 0) => {
    const rng = rngFor(4, seed);
    return Float32Array.from({ length: n }, () => shift + scale * rng.normal());
  };
  const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

  it("layerNormF64 is the sampler's float64 layerNormJs", () => {
    const e = simdElementwise()!;
    let compared = 0;
    for (const p of [4, 32, 128, 256]) {
      for (const n of [1, 3, 4, 5, 8, 11, 64]) {
        // rows of very different scales, and a constant row (variance 0) among them
        const x = floats(n * p, `x${n}/${p}`, 10 ** (n % 4), n % 3);
        x.fill(2.5, 0, p);
        const g = floats(p, `g${p}`, 0.5, 1);
        const b = floats(p, `b${p}`, 0.1);
        const want = layerNormJs(x, n, p, g, b);
        const got = onHeap([x, g, b], n * p, ([px, pg, pb], out) => e.layerNormF64At(px, n, p, pg, pb, out, LN_EPS));
        expect(same(got, want)).toBe(true);
        compared += n * p;
      }
    }
    expect(compared).toBe(96 * (4 + 32 + 128 + 256));
    expect(() => e.layerNormF64At(0, 1, 30, 0, 0, 0, LN_EPS)).toThrow(/multiple of 4/);
  });

  it("scale, mul and add are float32 arithmetic, the partial last vector too", () => {
    const e = simdElementwise()!;
    for (const n of [1, 7, 64, 1027]) {
      const a = floats(n, `a${n}`, 3);
      const b = floats(n, `b${n}`, 1e-3);
      const k = GELU_K;
      expect(same(onHeap([a], n, ([pa], out) => e.scaleAt(pa, n, k, out)), a.map((x) => Math.fround(x * Math.fround(k))))).toBe(true);
      expect(same(onHeap([a, b], n, ([pa, pb], out) => e.mulAt(pa, pb, n, out)), a.map((x, i) => Math.fround(x * b[i])))).toBe(true);
      expect(same(onHeap([a, b], n, ([pa, pb], out) => e.addAt(pa, pb, n, out)), a.map((x, i) => Math.fround(x + b[i])))).toBe(true);
    }
  });

  it("the sampler's step on wasm buffers gives the tensor step's logits, bit for bit", () => {
    const shape = { vocabSize: 30, dModel: 64, nLayers: 2, nHeads: 4, context: 8 };
    const p = initParams(shape, 21);
    const before = tf.memory().numTensors;
    const fast = new Decoder(p, shape, 5);
    const ref = new Decoder(p, shape, 5, true);
    expect([fast.onWasmBuffers, ref.onWasmBuffers]).toEqual([true, false]);
    const pos = [new Int32Array(5), new Int32Array(5)];
    let compared = 0;
    for (let t = 0; t < 24; t++) {
      // a changing set of slots in a changing order, some rows without logits (re-priming)
      const slots = [4, 0, 2, 1, 3].filter((k) => (t + k) % 4 !== 0);
      const tokens = slots.map((k) => 2 + ((t * 5 + k * 11) % 28));
      const rows = t % (slots.length + 1);
      const a = fast.step(slots, tokens, pos[0], rows);
      const b = ref.step(slots, tokens, pos[1], rows);
      expect(a.length).toBe(rows * 30);
      expect(same(a, b)).toBe(true);
      compared += a.length;
      for (const q of pos) for (const k of slots) q[k] = (q[k] + 1) % shape.context;
    }
    expect(compared).toBeGreaterThan(1000);
    fast.dispose();
    ref.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(p as unknown as tf.TensorContainer);
  });
});
