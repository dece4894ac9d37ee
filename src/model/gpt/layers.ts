// Differentiable building blocks of the GPT decoder, each a tf.customGrad with a hand-written
// gradient. Why not tfjs's own gradients: on the wasm backend the built-in matMul gradient uses
// matMul's transpose flags, which fall back to a naive loop, `tf.gather`'s gradient needs a
// kernel wasm lacks, and tanh/erf are ~15× slower than sigmoid. The products go through
// simd.ts's kernel on wasm (transposed operands at no cost) and tf.matMul elsewhere. Every
// gradient here is checked against tfjs's autodiff in test/layers.test.ts. All tensors are 2-D
// [rows, features]: rows = batch × positions.

import * as tf from '@tensorflow/tfjs';
import { matMul, simdMatMul } from '../../kernels/simd.js';
import { simdElementwise, type SimdElementwise } from '../../kernels/simd-elementwise.js';

type Grad = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
type CustomOp = (...args: tf.Tensor[]) => tf.Tensor;

/** tf.customGrad with the loose typing its overloads need; `save` keeps tensors for the backward pass. */
function custom(f: (save: (ts: tf.Tensor[]) => void, ...inputs: tf.Tensor[]) => { value: tf.Tensor; gradFunc: Grad }): CustomOp {
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as (ts: tf.Tensor[]) => void;
    return f(save, ...(args as tf.Tensor[]));
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op as unknown as CustomOp;
}

/**
 * Column sums of x [n, p] as [p]: the ones-row product 1ᵀ·x (`tf.sum(x, 0)` transposes x
 * first), which on wasm simd.ts's colsum kernel computes bit for bit without the product.
 */
export function columnSums(x: tf.Tensor2D): tf.Tensor1D {
  const sums = simdMatMul()?.columnSums(x);
  if (sums) return sums;
  return tf.tidy(() => tf.reshape(matMul(tf.ones([x.shape[0], 1]), x, true, false), [x.shape[1]]));
}

/** y = x·W for x [n, k], W [k, m] (no bias: the GPT here has bias-free linear layers). */
export const linear = custom((save, x, w) => {
  save([x, w]);
  return {
    value: matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy, [xs, ws]) => [matMul(dy as tf.Tensor2D, ws as tf.Tensor2D, false, true), matMul(xs as tf.Tensor2D, dy as tf.Tensor2D, true, false)],
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** The sigmoid form of GELU, x·σ(1.702x) (Hendrycks & Gimpel 2016): sigmoid is an XNNPACK kernel, tanh and erf are not. */
export const GELU_K = 1.702;
export const gelu = custom((save, x) => {
  const s = tf.sigmoid(tf.mul(x, GELU_K));
  save([x, s]);
  return {
    value: tf.mul(x, s),
    // d/dx x·σ(kx) = σ + k·x·σ·(1 − σ); on wasm the same operations fused in one pass
    gradFunc: (dy, [xs, ss]) => {
      const fused = simdElementwise();
      if (fused) return [fused.geluGrad(xs, ss, dy, GELU_K)];
      return [tf.mul(dy, tf.add(ss, tf.mul(tf.mul(xs, GELU_K), tf.mul(ss, tf.sub(1, ss)))))];
    },
  };
}) as (x: tf.Tensor2D) => tf.Tensor2D;

export const LN_EPS = 1e-5;

/** LayerNorm over the last axis with gain g and bias b, both [p]. */
export const layerNorm = custom((save, x, g, b) => {
  const fused = simdElementwise();
  if (fused) return fusedLayerNorm(fused, save, x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D);
  const p = x.shape[1] as number;
  const mean = tf.mean(x, 1, true);
  const xc = tf.sub(x, mean);
  const rstd = tf.rsqrt(tf.add(tf.div(tf.sum(tf.square(xc), 1, true), p), LN_EPS));
  const xhat = tf.mul(xc, rstd);
  save([xhat, rstd, g]);
  return {
    value: tf.add(tf.mul(xhat, g), b),
    gradFunc: (dy, [xh, rs, gs]) => {
      // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)), with dx̂ = dy · g
      const dxhat = tf.mul(dy, gs);
      const m1 = tf.mean(dxhat, 1, true);
      const m2 = tf.mean(tf.mul(dxhat, xh), 1, true);
      const dx = tf.mul(rs, tf.sub(tf.sub(dxhat, m1), tf.mul(xh, m2)));
      return [dx, columnSums(tf.mul(dy, xh) as tf.Tensor2D), columnSums(dy as tf.Tensor2D)];
    },
  };
}) as (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D;

/**
 * layerNorm on wasm: the same operations in one pass each way (simd-elementwise.ts, bit for bit
 * the tfjs expressions above), dy·x̂ from the gradient pass for the gain's column sums.
 */
function fusedLayerNorm(fused: SimdElementwise, save: (ts: tf.Tensor[]) => void, x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D): { value: tf.Tensor; gradFunc: Grad } {
  const { y, xhat, rstd } = fused.layerNorm(x, g, b, LN_EPS);
  save([xhat, rstd, g]);
  return {
    value: y,
    gradFunc: (dy, [xh, rs, gs]) => {
      const { dx, dyXhat } = fused.layerNormGrad(dy as tf.Tensor2D, xh as tf.Tensor2D, rs as tf.Tensor2D, gs as tf.Tensor1D);
      const dg = columnSums(dyXhat);
      dyXhat.dispose();
      return [dx, dg, columnSums(dy as tf.Tensor2D)];
    },
  };
}

/**
 * Embedding as a product with a one-hot matrix [n, r] (a constant, built in JS: `tf.oneHot` to
 * float is unreliable on wasm) and the table [r, d]; only the table gets a gradient.
 */
export function embed(oneHot: tf.Tensor2D, table: tf.Tensor2D): tf.Tensor2D {
  const op = custom((save, w) => {
    // Constants used by a gradient must be saved: the forward pass runs in its own tidy scope.
    save([oneHot]);
    return { value: matMul(oneHot, w as tf.Tensor2D), gradFunc: (dy, [oh]) => [matMul(oh as tf.Tensor2D, dy as tf.Tensor2D, true, false)] };
  });
  return op(table) as tf.Tensor2D;
}

/**
 * Weighted mean softmax cross-entropy (nats): Σ w_i·(−log softmax(logits_i)[y_i]) / Σ w_i, with
 * the targets as a constant one-hot [n, V] and the weights [n, 1] (0 for unused positions).
 */
export function crossEntropy(logits: tf.Tensor2D, targetsOneHot: tf.Tensor2D, weights: tf.Tensor2D, totalWeight: number): tf.Scalar {
  const op = custom((save, z) => {
    const lsm = logSoftmax(z as tf.Tensor2D);
    save([lsm, targetsOneHot, weights]);
    const loss = tf.div(tf.neg(tf.sum(tf.mul(tf.mul(lsm, targetsOneHot), weights))), totalWeight);
    return {
      value: loss,
      // d loss / d logits = (softmax − onehot) · w / Σw
      gradFunc: (dy, [l, y, w]) => [tf.mul(tf.mul(tf.sub(tf.exp(l), y), tf.div(w, totalWeight)), dy)],
    };
  });
  return op(logits) as tf.Scalar;
}

/** log softmax over the last axis, shifted by the row max for stability. */
export function logSoftmax(z: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const shifted = tf.sub(z, tf.max(z, 1, true));
    return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), 1, true)));
  });
}
