// Causal multi-head self-attention over packed documents, wrapped as a tf.customGrad op. Why not
// tfjs matMuls: a batched matMul ([B·H, T, T]) is not an XNNPACK kernel on wasm and runs a naive
// loop (~1 GFLOP/s), and the mask would make half or more of that work wasted. Here each
// position i attends only to positions j in [segStart[i], i] — its own document (or window) and
// causally — so for short documents (names) the work is a small fraction of the dense T×T
// product, and never more than half of it. The kernels below are plain JS on Float32Arrays: the
// reference, and the path on backends other than wasm; on wasm simd-attention.ts runs the same
// algorithm as SIMD kernels in the backend's memory (5–8× faster).
//
// Layout: qkv is [n, 3d] row-major (the fused projection's output: q | k | v, heads contiguous
// inside each), the output is [n, d]; n = rows × positions, and segStart holds absolute indices
// into those n positions. No transposes or head reshapes are needed.

import * as tf from '@tensorflow/tfjs';
import { simdAttention, type AttentionShape } from '../../kernels/simd-attention.js';

export type { AttentionShape };

/**
 * a[0..len) · b[o..o+len) with four partial sums, so that consecutive multiply-adds do not all
 * wait on one running sum (the latency of a floating-point add bounds such a loop).
 */
function dot4(a: Float64Array, b: Float32Array, o: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let c = 0;
  for (; c + 3 < len; c += 4) {
    s0 += a[c] * b[o + c];
    s1 += a[c + 1] * b[o + c + 1];
    s2 += a[c + 2] * b[o + c + 2];
    s3 += a[c + 3] * b[o + c + 3];
  }
  for (; c < len; c++) s0 += a[c] * b[o + c];
  return s0 + s1 + s2 + s3;
}

/** Offsets of each position's block of probabilities (one per attended key) in a flat array. */
function pairOffsets(segStart: Int32Array): { off: Int32Array; total: number } {
  const off = new Int32Array(segStart.length);
  let total = 0;
  for (let i = 0; i < segStart.length; i++) {
    off[i] = total;
    total += i - segStart[i] + 1;
  }
  return { off, total };
}

/** Forward pass; returns the output and the attention probabilities (kept for the backward pass). */
export function attentionForward(qkv: Float32Array, segStart: Int32Array, shape: AttentionShape) {
  const { off, total } = pairOffsets(segStart);
  const probs = new Float32Array(shape.heads * total);
  const out = new Float32Array(segStart.length * shape.d);
  forwardKernel(qkv, segStart, off, total, shape.d, shape.heads, probs, out);
  return { out, probs };
}

// The kernels take plain numbers and arrays and return nothing: V8 optimises their loops on
// stack replacement, and named property accesses that ran only outside the loop would throw
// the optimised code away at every call.
function forwardKernel(qkv: Float32Array, segStart: Int32Array, off: Int32Array, total: number, d: number, heads: number, probs: Float32Array, out: Float32Array): void {
  const n = segStart.length;
  const dh = (d / heads) | 0;
  const d3 = 3 * d;
  const scale = 1 / Math.sqrt(dh);
  // The query and the output accumulator of the current (position, head) live in small local
  // arrays: fewer loads per key, and float64 accumulation.
  const q = new Float64Array(dh);
  const acc = new Float64Array(dh);
  for (let i = 0; i < n; i++) {
    const s0 = segStart[i];
    for (let h = 0; h < heads; h++) {
      const po = h * total + off[i] - s0;
      for (let c = 0; c < dh; c++) q[c] = qkv[i * d3 + h * dh + c] * scale;
      // Scores q·k / √dh over the attended keys, then a stable softmax.
      let max = -Infinity;
      for (let j = s0; j <= i; j++) {
        const dot = dot4(q, qkv, j * d3 + d + h * dh, dh);
        probs[po + j] = dot;
        if (dot > max) max = dot;
      }
      let sum = 0;
      for (let j = s0; j <= i; j++) {
        const e = Math.exp(probs[po + j] - max);
        probs[po + j] = e;
        sum += e;
      }
      // Output: the probability-weighted sum of the values.
      acc.fill(0);
      for (let j = s0; j <= i; j++) {
        const p = (probs[po + j] /= sum);
        const vo = j * d3 + 2 * d + h * dh;
        for (let c = 0; c < dh; c++) acc[c] += p * qkv[vo + c];
      }
      const oo = i * d + h * dh;
      for (let c = 0; c < dh; c++) out[oo + c] = acc[c];
    }
  }
}

/** Backward pass: the gradient with respect to qkv given the output gradient dOut [n, d]. */
export function attentionBackward(
  qkv: Float32Array,
  probs: Float32Array,
  dOut: Float32Array,
  segStart: Int32Array,
  shape: AttentionShape,
): Float32Array {
  const { off, total } = pairOffsets(segStart);
  const dqkv = new Float32Array(segStart.length * 3 * shape.d);
  backwardKernel(qkv, probs, dOut, segStart, off, total, shape.d, shape.heads, dqkv);
  return dqkv;
}

function backwardKernel(
  qkv: Float32Array,
  probs: Float32Array,
  dOut: Float32Array,
  segStart: Int32Array,
  off: Int32Array,
  total: number,
  d: number,
  heads: number,
  dqkv: Float32Array,
): void {
  const n = segStart.length;
  const dh = (d / heads) | 0;
  const d3 = 3 * d;
  const scale = 1 / Math.sqrt(dh);
  const dP = new Float64Array(n);
  const g = new Float64Array(dh); // dOut of (i, h)
  const q = new Float64Array(dh); // q_i · scale
  const dq = new Float64Array(dh);
  for (let i = 0; i < n; i++) {
    const s0 = segStart[i];
    for (let h = 0; h < heads; h++) {
      const qo = i * d3 + h * dh;
      const po = h * total + off[i] - s0;
      for (let c = 0; c < dh; c++) {
        g[c] = dOut[i * d + h * dh + c];
        q[c] = qkv[qo + c] * scale;
      }
      // dP_j = dOut_i · v_j, and dv_j += p_j · dOut_i
      let pdp = 0;
      for (let j = s0; j <= i; j++) {
        const vo = j * d3 + 2 * d + h * dh;
        const p = probs[po + j];
        const dot = dot4(g, qkv, vo, dh);
        for (let c = 0; c < dh; c++) dqkv[vo + c] += p * g[c];
        dP[j] = dot;
        pdp += p * dot;
      }
      // Softmax backward dS_j = p_j (dP_j − Σ p·dP), then dq_i += dS_j k_j / √dh and dk_j += dS_j q_i / √dh.
      dq.fill(0);
      for (let j = s0; j <= i; j++) {
        const ds = probs[po + j] * (dP[j] - pdp);
        const ko = j * d3 + d + h * dh;
        for (let c = 0; c < dh; c++) {
          dq[c] += ds * qkv[ko + c];
          dqkv[ko + c] += ds * q[c];
        }
      }
      for (let c = 0; c < dh; c++) dqkv[qo + c] += dq[c] * scale;
    }
  }
}

/**
 * The attention op on tensors: qkv [n, 3d] → [n, d], differentiable with respect to qkv. On the
 * wasm backend the SIMD kernels of simd-attention.ts compute it in place; elsewhere the JS
 * kernels above, through copies.
 */
export function attention(qkv: tf.Tensor2D, segStart: Int32Array, shape: AttentionShape): tf.Tensor2D {
  const n = segStart.length;
  const simd = simdAttention(shape);
  const op = tf.customGrad(((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
    if (simd) {
      const { out, probs, seg } = simd.forward(x, segStart);
      save([x, probs, seg]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor2D, [xs, ps, sg]: tf.Tensor[]) => simd.backward(xs as tf.Tensor2D, ps as tf.Tensor1D, dy, sg as tf.Tensor1D),
      };
    }
    save([]);
    const data = x.dataSync() as Float32Array;
    const { out, probs } = attentionForward(data, segStart, shape);
    return {
      value: tf.tensor2d(out, [n, shape.d]),
      gradFunc: (dy: tf.Tensor) => tf.tensor2d(attentionBackward(data, probs, dy.dataSync() as Float32Array, segStart, shape), [n, 3 * shape.d]),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(qkv) as tf.Tensor2D;
}

/**
 * One decoding step with a KV cache, for sampling. For each active slot s (at position pos[s]),
 * qkv row r = rows[s] holds the new token's q, k, v; its k and v are written into the slot's
 * cache (kCache/vCache are [slots, context, d]) and the output attends over positions 0..pos[s].
 */
export function attentionStep(
  qkv: Float32Array,
  slots: readonly number[],
  pos: Int32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  context: number,
  shape: AttentionShape,
): Float32Array {
  const out = new Float32Array(slots.length * shape.d);
  stepKernel(qkv, slots, pos, kCache, vCache, context, shape.d, shape.heads, out);
  return out;
}

function stepKernel(
  qkv: Float32Array,
  slots: readonly number[],
  pos: Int32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  context: number,
  d: number,
  heads: number,
  out: Float32Array,
): void {
  const dh = (d / heads) | 0;
  const d3 = 3 * d;
  const scale = 1 / Math.sqrt(dh);
  const w = new Float64Array(context);
  const q = new Float64Array(dh);
  const acc = new Float64Array(dh);
  for (let r = 0; r < slots.length; r++) {
    const s = slots[r];
    const t = pos[s];
    const base = s * context * d;
    for (let c = 0; c < d; c++) {
      kCache[base + t * d + c] = qkv[r * d3 + d + c];
      vCache[base + t * d + c] = qkv[r * d3 + 2 * d + c];
    }
    for (let h = 0; h < heads; h++) {
      // The query and the output accumulator live in small local arrays (fewer loads per key).
      for (let c = 0; c < dh; c++) q[c] = qkv[r * d3 + h * dh + c] * scale;
      let max = -Infinity;
      for (let j = 0; j <= t; j++) {
        const dot = dot4(q, kCache, base + j * d + h * dh, dh);
        w[j] = dot;
        if (dot > max) max = dot;
      }
      let sum = 0;
      for (let j = 0; j <= t; j++) {
        const e = Math.exp(w[j] - max);
        w[j] = e;
        sum += e;
      }
      acc.fill(0);
      for (let j = 0; j <= t; j++) {
        const p = w[j] / sum;
        const vo = base + j * d + h * dh;
        for (let c = 0; c < dh; c++) acc[c] += p * vCache[vo + c];
      }
      const oo = r * d + h * dh;
      for (let c = 0; c < dh; c++) out[oo + c] = acc[c];
    }
  }
}
