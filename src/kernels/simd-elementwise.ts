// Element-wise chains of the GPT's layers fused into one WebAssembly SIMD pass on the wasm
// backend's memory (see simd.ts for how tensors are addressed), where tfjs would run one kernel
// — one pass over memory and one new tensor — per operation. Each kernel performs the same
// float32 operations in the same order as the tfjs expression it replaces (layers.ts keeps that
// expression as the reference and the path on other backends), so results are identical bit for
// bit: IEEE single-precision add, subtract and multiply round the same in tfjs's kernels and here.

import * as tf from '@tensorflow/tfjs';
import { currentWasmBackend, WasmMemory } from './simd.js';
import { Code, encodeModule, F32, I32, V128, type FuncDef } from './wasm-encoder.js';

/**
 * For v = a (vector of 4 lanes) over n floats at the byte addresses in `ptrs`: the vector loop,
 * then the n mod 4 last elements one lane at a time (loaded by a splat, stored from lane 0 —
 * the same operations on one value).
 */
function elementLoop(c: Code, n: number, i: number, ptrs: number[], body: (c: Code, load: (ptr: number) => void, store: (ptr: number, value: (c: Code) => void) => void) => void): void {
  const vector = (b: Code) => body(b, (p) => b.get(p).v128Load(), (p, value) => {
    b.get(p);
    value(b);
    b.v128Store();
  });
  const scalar = (b: Code) => body(b, (p) => b.get(p).load32Splat(), (p, value) => {
    b.get(p);
    value(b);
    b.f32x4ExtractLane(0).f32Store();
  });
  for (const [width, emit] of [[4, vector], [1, scalar]] as const) {
    c.block((out) => out.loop((l) => {
      l.get(i).i32(width).add().get(n).leS().eqz().brIf(1);
      emit(l);
      for (const p of ptrs) l.get(p).i32(width * 4).add().set(p);
      l.get(i).i32(width).add().set(i);
      l.br(0);
    }));
  }
}

/**
 * geluGrad(x, s, dy, out, n, k): out = dy · (s + (x·k) · (s · (1 − s))) element-wise over n
 * floats — the gradient of x·σ(kx) given s = σ(kx), in layers.ts gelu's order of operations.
 */
function geluGradFunc(): FuncDef {
  const [x, s, dy, out, n, kf] = [0, 1, 2, 3, 4, 5];
  const [i, k, one, sv] = [6, 7, 8, 9];
  const code = new Code();
  code.i32(0).set(i);
  code.get(kf).f32x4Splat().set(k);
  code.f32(1).f32x4Splat().set(one);
  elementLoop(code, n, i, [x, s, dy, out], (c, load, store) => {
    load(s);
    c.set(sv);
    store(out, (v) => {
      load(dy);
      v.get(sv);
      load(x);
      v.get(k).f32x4Mul(); // x·k
      v.get(sv).get(one).get(sv).f32x4Sub().f32x4Mul(); // s·(1 − s)
      v.f32x4Mul().f32x4Add().f32x4Mul(); // dy · (s + (x·k)·(s·(1 − s)))
    });
  });
  return { name: 'geluGrad', params: [I32, I32, I32, I32, I32, F32], locals: [I32, V128, V128, V128], body: code };
}

interface ElementwiseExports {
  geluGrad(x: number, s: number, dy: number, out: number, n: number, k: number): void;
}

/** The fused element-wise kernels on one wasm backend. */
export class SimdElementwise {
  private constructor(
    private readonly mem: WasmMemory,
    private readonly fns: ElementwiseExports,
  ) {}

  static create(mem: WasmMemory): SimdElementwise | null {
    const bytes = encodeModule([geluGradFunc()]);
    if (!WebAssembly.validate(bytes)) return null;
    try {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem.memory } });
      return new SimdElementwise(mem, instance.exports as unknown as ElementwiseExports);
    } catch {
      return null; // tfjs's kernels then
    }
  }

  /** dy · (s + (x·k) · (s · (1 − s))) for float32 tensors of one shape (k is rounded to float32). */
  geluGrad(x: tf.Tensor, s: tf.Tensor, dy: tf.Tensor, k: number): tf.Tensor {
    const sizes = [x, s, dy].map((t) => t.size);
    if ([x, s, dy].some((t) => t.dtype !== 'float32') || sizes.some((z) => z !== x.size)) throw new Error('geluGrad: float32 tensors of one size');
    const [px, ps, pdy] = [x, s, dy].map((t) => this.mem.offset(t));
    return this.mem.compute(x.shape, (out) => this.fns.geluGrad(px, ps, pdy, out, x.size, Math.fround(k)));
  }
}

const bound = new WeakMap<object, SimdElementwise | null>();
/** The kernels for the current backend, or null when it is not wasm. */
export function simdElementwise(): SimdElementwise | null {
  const backend = currentWasmBackend();
  if (!backend) return null;
  if (!bound.has(backend)) bound.set(backend, SimdElementwise.create(new WasmMemory(backend)));
  return bound.get(backend)!;
}
