// The wasm SIMD kernels against references: the matrix product (src/kernels/simd.ts) against
// tf.matMul — every transpose combination, shapes that are not multiples of the 4 × 8 tile,
// depths past one 256-deep pass — and the attention (simd-attention.ts) against the JS kernels
// of attention.ts on a packed batch of the `small` shape; no tensor left behind.

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { attentionBackward, attentionForward, attentionStep } from '../src/model/gpt/attention.js';
import { packTraining } from '../src/model/gpt/packing.js';
import { simdAttention } from '../src/kernels/simd-attention.js';
import { simdMatMul } from '../src/kernels/simd.js';
import { rngFor } from '../src/rng.js';

let backend = '';
beforeAll(async () => {
  backend = await initBackend('wasm');
});

function rand(shape: [number, number], seed: string): tf.Tensor2D {
  const rng = rngFor(3, seed);
  return tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()), shape);
}

describe('SIMD matMul on the wasm backend', () => {
  it('is used on wasm and equals tf.matMul for every transpose and awkward shapes', () => {
    expect(backend).toBe('wasm');
    const simd = simdMatMul();
    expect(simd).not.toBeNull();
    const before = tf.memory().numTensors;
    // [M, K, N]: tile multiples, ragged edges, a single row/column, depth 1, depth > 256.
    const shapes: [number, number, number][] = [[8, 16, 16], [7, 13, 30], [1, 5, 1], [5, 1, 9], [33, 300, 17], [64, 600, 24]];
    for (const [m, k, n] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = rand(transA ? [k, m] : [m, k], `a${m}${k}${transA}`);
          const b = rand(transB ? [n, k] : [k, n], `b${k}${n}${transB}`);
          const got = simd!.matMul(a, b, transA, transB);
          const want = tf.matMul(a, b, transA, transB);
          expect(got.shape).toEqual([m, n]);
          const scale = Math.sqrt(k);
          const err = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
          expect(err / scale).toBeLessThan(1e-5);
          tf.dispose([a, b, got, want]);
        }
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('frees its scratch: the backend memory stops growing over repeated products', () => {
    const a = rand([256, 300], 'g1');
    const b = rand([200, 300], 'g2');
    const memory = () => (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory.buffer.byteLength;
    for (let i = 0; i < 5; i++) simdMatMul()!.matMul(a, b, false, true).dispose();
    const settled = memory();
    // ~0.6 MB of panels per call: 200 leaked calls would add ~120 MB
    for (let i = 0; i < 200; i++) simdMatMul()!.matMul(a, b, false, true).dispose();
    expect(memory()).toBe(settled);
    tf.dispose([a, b]);
  });

  it('gives bit-identical results on repeated calls (training on one or two threads relies on it)', () => {
    const a = rand([37, 290], 'r1');
    const b = rand([290, 45], 'r2');
    const x = simdMatMul()!.matMul(a, b, false, false);
    const y = simdMatMul()!.matMul(a, b, false, false);
    expect(Array.from(x.dataSync())).toEqual(Array.from(y.dataSync()));
    tf.dispose([a, b, x, y]);
  });
});

describe('SIMD attention on the wasm backend', () => {
  it('equals the JS kernels, output and gradient, on a packed batch (d 128, 4 heads)', () => {
    const shape = { d: 128, heads: 4 };
    const simd = simdAttention(shape);
    expect(simd).not.toBeNull();
    const rng = rngFor(5, 'attn');
    // Documents of 1 … 40 tokens (a window longer than the row's rest included), 4 rows of 64.
    const docs = Array.from({ length: 40 }, () => Array.from({ length: 1 + rng.int(40) }, () => 2 + rng.int(20)));
    let k = 0;
    const batch = packTraining(4, 64, () => docs[k++ % docs.length], { vocabSize: 30, bos: 0, eos: 1 }, rng);
    const n = batch.segStart.length;
    const qkvData = Float32Array.from({ length: n * 3 * shape.d }, () => rng.normal());
    const dOutData = Float32Array.from({ length: n * shape.d }, () => rng.normal());
    const before = tf.memory().numTensors;
    const qkv = tf.tensor2d(qkvData, [n, 3 * shape.d]);
    const dOut = tf.tensor2d(dOutData, [n, shape.d]);
    const { out, probs, seg } = simd!.forward(qkv, batch.segStart);
    const dqkv = simd!.backward(qkv, probs, dOut, seg);
    const js = attentionForward(qkvData, batch.segStart, shape);
    const jsGrad = attentionBackward(qkvData, js.probs, dOutData, batch.segStart, shape);
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
      return m;
    };
    expect(out.shape).toEqual([n, shape.d]);
    expect(maxDiff(out.dataSync(), js.out)).toBeLessThan(1e-5);
    expect(maxDiff(dqkv.dataSync(), jsGrad)).toBeLessThan(1e-4);
    tf.dispose([qkv, dOut, seg, out, probs, dqkv]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('SIMD decoding step on the wasm backend', () => {
  it('equals attentionStep over several steps of several slots (KV cache in the backend memory)', () => {
    const shape = { d: 128, heads: 4 };
    const context = 16;
    const slots = 3;
    const simd = simdAttention(shape)!;
    const caches = simd.allocCaches(1, slots, context);
    const kJs = new Float32Array(slots * context * shape.d);
    const vJs = new Float32Array(slots * context * shape.d);
    const rng = rngFor(9, 'decode');
    const pos = new Int32Array(slots);
    let worst = 0;
    try {
      for (let step = 0; step < 12; step++) {
        // slot 1 sits out every third step, as a finished slot would
        const active = [0, 1, 2].filter((s) => s !== 1 || step % 3 !== 2);
        const qkv = Float32Array.from({ length: active.length * 3 * shape.d }, () => rng.normal());
        const got = simd.decodeStep(qkv, active, pos, caches[0], context);
        const want = attentionStep(qkv, active, pos, kJs, vJs, context, shape);
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        for (const s of active) pos[s]++;
      }
    } finally {
      simd.freeCaches(caches);
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('refuses what would make a kernel write outside its buffers, and leaves nothing behind', () => {
    const shape = { d: 16, heads: 2 };
    const simd = simdAttention(shape)!;
    const before = tf.memory().numTensors;
    const qkv = tf.zeros([4, 48]) as tf.Tensor2D;
    expect(() => simd.forward(qkv, Int32Array.from([0, 0, 3, 2]))).toThrow(/segStart\[2\] = 3/);
    expect(() => simd.forward(qkv, Int32Array.from([0, 0, 0]))).toThrow(/segStart has 3/);
    qkv.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const caches = simd.allocCaches(1, 2, 4);
    try {
      const pos = Int32Array.from([4, 0]);
      expect(() => simd.decodeStep(new Float32Array(48), [0], pos, caches[0], 4)).toThrow(/outside the cache/);
      expect(() => simd.decodeStep(new Float32Array(48), [2], pos, caches[0], 4)).toThrow(/outside the cache/);
    } finally {
      simd.freeCaches(caches);
    }
  });
});
