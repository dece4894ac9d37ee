// The Adam step of adam.ts as WebAssembly, on the shared memory that holds the optimizer's flat
// arrays (both training threads instantiate it on the same memory). Why: the JS loop cost ~13 ns
// an element (5.5 ms a step for `small`'s 410k parameters, on the critical path of every step);
// this kernel 1.9 ms.
//
// Bit for bit the JS loop: the same float64 operations in the same order (IEEE-754 add, multiply,
// divide and square root are exactly rounded in wasm as in JS), the gradient sum g1 + g2 as a
// float32 add (the float32 rounding of their float64 sum, which is what Math.fround gives), and
// the same roundings to float32 where the JS stores into a Float32Array. test/adam-kernel.test.ts
// compares the two element for element.

import { Code, encodeModule, F64, I32, V128, type FuncDef } from './wasm-encoder.js';

/** The optimizer's constants, given by adam.ts (where they are defined). */
export interface AdamConstants {
  beta1: number;
  beta2: number;
  eps: number;
}

/**
 * step(w, g1, g2, m, v, n, parts, lr, c1, c2): Adam on n float32 elements at the byte addresses
 * w, g1, g2, m, v (the gradient g1 + g2 when parts = 2, else g1); c1, c2 the bias corrections.
 * Four elements at a time (two float64 lanes for each half), the last n mod 4 one by one.
 */
function stepFunc(k: AdamConstants): FuncDef {
  const [w, g1, g2, m, v, n, parts, lr, c1, c2] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [end, end4] = [10, 11]; // i32
  const [g, mi, vi] = [12, 13, 14]; // f64
  // v128: the four float32s of g, m, v, w; the splatted constants; one half's float64 values and
  // the float32 results of the low half
  const [G, M, V, W, B1, OB1, B2, OB2, LR, C1, C2, EPS, gh, mh, vh, mLo, vLo, wLo] = Array.from({ length: 18 }, (_, i) => 15 + i);
  const b = new Code();
  b.get(w).get(n).i32(4).mul().add().set(end);
  b.get(w).get(n).i32(-4).and().i32(4).mul().add().set(end4);
  for (const [local, value] of [[B1, k.beta1], [OB1, 1 - k.beta1], [B2, k.beta2], [OB2, 1 - k.beta2], [EPS, k.eps]] as const) b.f64(value).f64x2Splat().set(local);
  for (const [local, param] of [[LR, lr], [C1, c1], [C2, c2]] as const) b.get(param).f64x2Splat().set(local);
  // One half (low lanes, or high lanes moved down) of the four: the new m, v and w as float32s
  // in the low two lanes of the values left on the stack, in the order m, v, w.
  const half = (c: Code, high: boolean) => {
    const lanes = (x: number) => {
      c.get(x);
      if (high) c.get(x).shuffle32([2, 3, 0, 1]);
      c.f64x2PromoteLowF32x4();
    };
    lanes(G);
    c.set(gh);
    c.get(B1);
    lanes(M);
    c.f64x2Mul().get(OB1).get(gh).f64x2Mul().f64x2Add().set(mh);
    c.get(B2);
    lanes(V);
    c.f64x2Mul().get(OB2).get(gh).f64x2Mul().get(gh).f64x2Mul().f64x2Add().set(vh);
    c.get(mh).f32x4DemoteF64x2Zero();
    c.get(vh).f32x4DemoteF64x2Zero();
    lanes(W);
    c.get(LR).get(mh).get(C1).f64x2Div().f64x2Mul();
    c.get(vh).get(C2).f64x2Div().f64x2Sqrt().get(EPS).f64x2Add();
    c.f64x2Div().f64x2Sub().f32x4DemoteF64x2Zero();
  };
  b.block((out) => out.loop((l) => {
    l.get(w).get(end4).ltU().eqz().brIf(1);
    l.get(parts).i32(2).eq().ifElse(
      (two) => two.get(g1).v128Load().get(g2).v128Load().f32x4Add().set(G),
      (one) => one.get(g1).v128Load().set(G),
    );
    l.get(m).v128Load().set(M).get(v).v128Load().set(V).get(w).v128Load().set(W);
    half(l, false);
    l.set(wLo).set(vLo).set(mLo);
    half(l, true);
    // stack: m, v, w of the high half; each joined to the low half's and stored
    l.set(W).set(V).set(M);
    for (const [ptr, lo, hi] of [[m, mLo, M], [v, vLo, V], [w, wLo, W]] as const) l.get(ptr).get(lo).get(hi).shuffle32([0, 1, 4, 5]).v128Store();
    for (const p of [w, g1, g2, m, v]) l.get(p).i32(16).add().set(p);
    l.br(0);
  }));
  b.block((out) => out.loop((l) => {
    l.get(w).get(end).ltU().eqz().brIf(1);
    // g = g1 + g2 (float32) or g1
    l.get(parts).i32(2).eq().ifElse(
      (two) => two.get(g1).f32Load().get(g2).f32Load().f32Add().f64PromoteF32().set(g),
      (one) => one.get(g1).f32Load().f64PromoteF32().set(g),
    );
    // mi = β1·m + (1 − β1)·g ; vi = β2·v + (1 − β2)·g·g ; both stored as float32, used as float64
    l.f64(k.beta1).get(m).f32Load().f64PromoteF32().f64Mul().f64(1 - k.beta1).get(g).f64Mul().f64Add().set(mi);
    l.f64(k.beta2).get(v).f32Load().f64PromoteF32().f64Mul().f64(1 - k.beta2).get(g).f64Mul().get(g).f64Mul().f64Add().set(vi);
    l.get(m).get(mi).f32DemoteF64().f32Store();
    l.get(v).get(vi).f32DemoteF64().f32Store();
    // w −= (lr·(mi / c1)) / (√(vi / c2) + ε)
    l.get(w).get(w).f32Load().f64PromoteF32();
    l.get(lr).get(mi).get(c1).f64Div().f64Mul();
    l.get(vi).get(c2).f64Div().f64Sqrt().f64(k.eps).f64Add();
    l.f64Div().f64Sub().f32DemoteF64().f32Store();
    for (const p of [w, g1, g2, m, v]) l.get(p).i32(4).add().set(p);
    l.br(0);
  }));
  return { name: 'step', params: [I32, I32, I32, I32, I32, I32, I32, F64, F64, F64], locals: [I32, I32, F64, F64, F64, ...new Array(18).fill(V128)], body: b };
}

export interface AdamKernel {
  step(w: number, g1: number, g2: number, m: number, v: number, n: number, parts: number, lr: number, c1: number, c2: number): void;
}

const compiled = new Map<string, WebAssembly.Module | null>();

/** The kernel on `memory` (a shared WebAssembly.Memory), or null where this engine cannot build it. */
export function adamKernel(memory: WebAssembly.Memory, k: AdamConstants): AdamKernel | null {
  const key = `${k.beta1}/${k.beta2}/${k.eps}`;
  if (!compiled.has(key)) {
    const bytes = encodeModule([stepFunc(k)], { sharedMemory: true });
    compiled.set(key, WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null);
  }
  const module = compiled.get(key);
  if (!module) return null;
  try {
    return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as AdamKernel;
  } catch {
    return null; // the JS loop then
  }
}
