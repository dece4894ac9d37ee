// Adam over flat arrays of all parameters (in namedParams order, see ParamLayout): the weights,
// the two batch parts' gradients and the moments live in SharedArrayBuffers, so the two training
// threads of data-parallel.ts each update half of the elements at the same time, with no copy
// between them and no reduction on one thread alone. Element-wise, so an element's update is the
// same arithmetic whichever thread does it: one and two threads give bit-identical weights.
// Used by transformer.ts (the main thread's half, or all of it on one thread) and
// data-parallel-worker.ts (the other half).
//
// Why not tfjs's optimizer: it runs ~10 kernels per parameter tensor (~300 a step for `small`,
// each with tfjs's fixed cost), and only on the thread that owns the variables.

/** Adam moments; β₂ = 0.99 rather than 0.999 because each trainSteps call starts fresh (see types.ts). */
export const BETA1 = 0.9;
export const BETA2 = 0.99;
export const ADAM_EPS = 1e-8;

/** The buffers of a FlatAdam, as handed to the worker thread. */
export interface FlatBuffers {
  weights: SharedArrayBuffer;
  /** Gradient of the first and of the second part of a batch (the second unused on one part). */
  grads: [SharedArrayBuffer, SharedArrayBuffer];
  m: SharedArrayBuffer;
  v: SharedArrayBuffer;
}

export class FlatAdam {
  readonly weights: Float32Array;
  readonly grads: [Float32Array, Float32Array];
  private readonly m: Float32Array;
  private readonly v: Float32Array;

  constructor(readonly buffers: FlatBuffers) {
    this.weights = new Float32Array(buffers.weights);
    this.grads = [new Float32Array(buffers.grads[0]), new Float32Array(buffers.grads[1])];
    this.m = new Float32Array(buffers.m);
    this.v = new Float32Array(buffers.v);
  }

  static create(total: number): FlatAdam {
    const buf = () => new SharedArrayBuffer(total * 4);
    return new FlatAdam({ weights: buf(), grads: [buf(), buf()], m: buf(), v: buf() });
  }

  get size(): number {
    return this.weights.length;
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
    const { weights: w, m, v } = this;
    const [g1, g2] = this.grads;
    const c1 = 1 - BETA1 ** t;
    const c2 = 1 - BETA2 ** t;
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
