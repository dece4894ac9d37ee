// Adam over flat arrays of all parameters (in namedParams order, see ParamLayout): the weights,
// the two batch parts' gradients and the moments live in one shared WebAssembly memory, so the
// two training threads of data-parallel.ts each update half of the elements at the same time,
// with no copy between them and no reduction on one thread alone. Element-wise, so an element's
// update is the same arithmetic whichever thread does it: one and two threads give bit-identical
// weights. The step runs in kernels/adam-kernel.ts's WebAssembly (the same arithmetic as the JS
// loop below, which is the kernel's reference and the path where the kernel's module cannot be
// built; the shared memory itself is required, as the SharedArrayBuffers before it were).
// Used by transformer.ts (the main thread's half, or all of it on one thread) and
// data-parallel-worker.ts (the other half).
//
// Why not tfjs's optimizer: it runs ~10 kernels per parameter tensor (~300 a step for `small`,
// each with tfjs's fixed cost), and only on the thread that owns the variables.

import { adamKernel, type AdamKernel } from '../../kernels/adam-kernel.js';

/** Adam moments; β₂ = 0.99 rather than 0.999 because each trainSteps call starts fresh (see types.ts). */
export const BETA1 = 0.9;
export const BETA2 = 0.99;
export const ADAM_EPS = 1e-8;

/**
 * The arrays of a FlatAdam, as handed to the worker thread: one shared memory holding, `size`
 * float32s each and in this order, the weights, the first and the second part's gradient (the
 * second unused on one part), and the two moments.
 */
export interface FlatBuffers {
  memory: WebAssembly.Memory;
  size: number;
}

const ARRAYS = 5;

/** Adam's bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ at step t (from 1). */
const biasCorrections = (t: number): [number, number] => [1 - BETA1 ** t, 1 - BETA2 ** t];
const PAGE = 65536;

export class FlatAdam {
  readonly weights: Float32Array;
  readonly grads: [Float32Array, Float32Array];
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private readonly kernel: AdamKernel | null;

  constructor(readonly buffers: FlatBuffers) {
    const { memory, size } = buffers;
    const [w, g1, g2, m, v] = Array.from({ length: ARRAYS }, (_, i) => new Float32Array(memory.buffer, i * size * 4, size));
    this.weights = w;
    this.grads = [g1, g2];
    this.m = m;
    this.v = v;
    this.kernel = adamKernel(memory, { beta1: BETA1, beta2: BETA2, eps: ADAM_EPS });
  }

  static create(total: number): FlatAdam {
    const pages = Math.max(1, Math.ceil((ARRAYS * total * 4) / PAGE));
    return new FlatAdam({ memory: new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }), size: total });
  }

  get size(): number {
    return this.buffers.size;
  }

  /** Whether the step runs in the wasm kernel (else in stepJs). */
  get usesKernel(): boolean {
    return this.kernel !== null;
  }

  /** A fresh optimizer: moments back to zero. */
  reset(): void {
    this.m.fill(0);
    this.v.fill(0);
  }

  /**
   * Adam step t (from 1) on elements from … to − 1, with the gradient first + second part (in
   * that order, rounded to float32 as a float32 add is) or the first alone when parts = 1.
   */
  step(t: number, learningRate: number, parts: 1 | 2, from = 0, to = this.size): void {
    // The kernel writes where it is told, and the five arrays share one memory: check the range.
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= this.size)) {
      throw new Error(`Adam step over elements ${from} … ${to} of ${this.size}`);
    }
    if (!this.kernel) return this.stepJs(t, learningRate, parts, from, to);
    const at = (array: number) => (array * this.size + from) * 4; // byte address of element `from`
    const [c1, c2] = biasCorrections(t);
    this.kernel.step(at(0), at(1), at(2), at(3), at(4), to - from, parts, learningRate, c1, c2);
  }

  /** The same step in JS: the reference the kernel is held to, and the path without it. */
  stepJs(t: number, learningRate: number, parts: 1 | 2, from = 0, to = this.size): void {
    const { weights: w, m, v } = this;
    const [g1, g2] = this.grads;
    const [c1, c2] = biasCorrections(t);
    // The moments are computed in float64 and stored in float32; the update uses the float64
    // values. Either way the same arithmetic on every thread.
    for (let i = from; i < to; i++) {
      const g = parts === 2 ? Math.fround(g1[i] + g2[i]) : g1[i];
      const mi = (m[i] = BETA1 * m[i] + (1 - BETA1) * g);
      const vi = (v[i] = BETA2 * v[i] + (1 - BETA2) * g * g);
      w[i] -= (learningRate * (mi / c1)) / (Math.sqrt(vi / c2) + ADAM_EPS);
    }
  }
}
