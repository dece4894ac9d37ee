// Element-wise chains of the GPT's layers fused into one WebAssembly SIMD pass on the wasm
// backend's memory (see simd.ts for how tensors are addressed), where tfjs would run one kernel
// — one pass over memory and one new tensor — per operation. Each kernel performs the same
// float32 operations in the same order as the tfjs expression it replaces (layers.ts keeps that
// expression as the reference and the path on other backends), so results are identical bit for
// bit: IEEE single-precision add, subtract and multiply round the same in tfjs's kernels and here.

import * as tf from '@tensorflow/tfjs';
import { currentWasmBackend, WasmMemory } from './simd.js';
import { Code, encodeModule, F32, F64, I32, V128, type FuncDef } from './wasm-encoder.js';

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

/** scale(x, n, k, out): out = x · k element-wise over n floats (tf.mul by a float32 scalar). */
function scaleFunc(): FuncDef {
  const [x, n, kf, out] = [0, 1, 2, 3];
  const [i, k] = [4, 5];
  const code = new Code();
  code.i32(0).set(i);
  code.get(kf).f32x4Splat().set(k);
  elementLoop(code, n, i, [x, out], (c, load, store) => store(out, (v) => {
    load(x);
    v.get(k).f32x4Mul();
  }));
  return { name: 'scale', params: [I32, I32, F32, I32], locals: [I32, V128], body: code };
}

/**
 * name(a, b, n, out): out = a ∘ b element-wise over n floats, for ∘ the float32 multiply (`mul`:
 * tf.mul of two tensors, GELU's u · σ) or add (`add`: a residual connection).
 */
function binaryFunc(name: 'mul' | 'add'): FuncDef {
  const [a, b, n, out] = [0, 1, 2, 3];
  const i = 4;
  const code = new Code();
  code.i32(0).set(i);
  elementLoop(code, n, i, [a, b, out], (c, load, store) => store(out, (v) => {
    load(a);
    load(b);
    if (name === 'mul') v.f32x4Mul();
    else v.f32x4Add();
  }));
  return { name, params: [I32, I32, I32, I32], locals: [I32], body: code };
}

/**
 * layerNormF64(x, n, p, g, b, out, pf, eps): the sampler's LayerNorm (sampler.ts layerNormJs,
 * its reference) of the rows of x [n, p] into out, for p a multiple of 4, in float64 as JS
 * computes it: mean = (Σ x in order) / p, v = Σ (x − mean)² in order, s = 1 / √(v / p + eps),
 * out = float32(((x − mean) · s) · g + b). Four rows at a time (four independent chains of
 * sums, each in its row's order), then one; the last pass two columns at a time in f64x2 lanes.
 */
function layerNormF64Func(): FuncDef {
  const [x, n, p, g, b, out, pf, eps] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [r, c, ptr, rowBytes, px, pg, pb, po] = [8, 9, 10, 11, 12, 13, 14, 15];
  const sum = (k: number) => 16 + k; // f64: the mean's sums, then each row's mean
  const vs = (k: number) => 20 + k; // f64: the variance's sums, then each row's 1/√
  const tmp = 24; // f64
  const [xv, mV, sV, lo, hi, gv, bv] = [25, 26, 27, 28, 29, 30, 31];
  const code = new Code();
  code.get(p).i32(4).mul().set(rowBytes);
  code.i32(0).set(r);
  const group = (rows: number) => code.block((done) => done.loop((l) => {
    l.get(r).i32(rows).add().get(n).leS().eqz().brIf(1);
    const rowAt = (k: number) => l.get(x).get(r).i32(k).add().get(rowBytes).mul().add();
    const passOverColumns = (body: (k: number) => void) => {
      l.get(x).get(r).get(rowBytes).mul().add().set(ptr).i32(0).set(c);
      l.block((e) => e.loop((cl) => {
        cl.get(c).get(p).ltU().eqz().brIf(1);
        for (let k = 0; k < rows; k++) body(k);
        cl.get(ptr).i32(4).add().set(ptr);
        cl.get(c).i32(1).add().set(c);
        cl.br(0);
      }));
    };
    for (let k = 0; k < rows; k++) l.f64(0).set(sum(k)).f64(0).set(vs(k));
    // Σ x: row k's value at ptr + k·rowBytes.
    passOverColumns((k) => {
      l.get(sum(k));
      l.get(ptr).get(rowBytes).i32(k).mul().add().f32Load().f64PromoteF32();
      l.f64Add().set(sum(k));
    });
    for (let k = 0; k < rows; k++) l.get(sum(k)).get(pf).f64Div().set(sum(k));
    passOverColumns((k) => {
      l.get(ptr).get(rowBytes).i32(k).mul().add().f32Load().f64PromoteF32().get(sum(k)).f64Sub().set(tmp);
      l.get(vs(k)).get(tmp).get(tmp).f64Mul().f64Add().set(vs(k));
    });
    for (let k = 0; k < rows; k++) l.f64(1).get(vs(k)).get(pf).f64Div().get(eps).f64Add().f64Sqrt().f64Div().set(vs(k));
    // out = ((x − mean) · s) · g + b, four columns at a time as two f64x2 halves.
    for (let k = 0; k < rows; k++) {
      rowAt(k).set(px);
      l.get(out).get(r).i32(k).add().get(rowBytes).mul().add().set(po);
      l.get(g).set(pg).get(b).set(pb).i32(0).set(c);
      l.get(sum(k)).f64x2Splat().set(mV).get(vs(k)).f64x2Splat().set(sV);
      l.block((e) => e.loop((cl) => {
        cl.get(c).get(p).ltU().eqz().brIf(1);
        const half = (v: number, high: boolean) => {
          cl.get(v);
          if (high) cl.get(v).shuffle32([2, 3, 2, 3]);
          cl.f64x2PromoteLowF32x4();
        };
        const lanes = (high: boolean) => {
          half(xv, high);
          cl.get(mV).f64x2Sub().get(sV).f64x2Mul();
          half(gv, high);
          cl.f64x2Mul();
          half(bv, high);
          cl.f64x2Add().f32x4DemoteF64x2Zero();
        };
        cl.get(px).v128Load().set(xv).get(pg).v128Load().set(gv).get(pb).v128Load().set(bv);
        lanes(false);
        cl.set(lo);
        lanes(true);
        cl.set(hi);
        cl.get(po).get(lo).get(hi).shuffle32([0, 1, 4, 5]).v128Store();
        for (const q of [px, pg, pb, po]) cl.get(q).i32(16).add().set(q);
        cl.get(c).i32(4).add().set(c);
        cl.br(0);
      }));
    }
    l.get(r).i32(rows).add().set(r);
    l.br(0);
  }));
  group(4);
  group(1);
  return {
    name: 'layerNormF64',
    params: [I32, I32, I32, I32, I32, I32, F64, F64],
    locals: [...new Array(8).fill(I32), ...new Array(9).fill(F64), ...new Array(7).fill(V128)],
    body: code,
  };
}

/** Σ over p floats from the address in local `ptr` into f32 local `sum`, one at a time in order (tfjs's Sum and Mean). */
function sumInOrder(c: Code, ptr: number, cnt: number, p: number, sum: number, term: (c: Code) => void): void {
  c.f32(0).set(sum).get(p).set(cnt);
  c.block((b) => b.loop((l) => {
    l.get(cnt).eqz().brIf(1);
    l.get(sum);
    term(l);
    l.f32Add().set(sum);
    l.get(ptr).i32(4).add().set(ptr);
    l.get(cnt).i32(1).sub().set(cnt);
    l.br(0);
  }));
}

/**
 * layerNorm(x, g, b, n, p, y, xhat, rstd, pf, eps) over the rows of x [n, p] (pf = p as f32),
 * in layers.ts layerNorm's operations: mean = (Σ x in order) / p, xc = x − mean,
 * rstd = 1 / √((Σ xc·xc in order) / p + eps), xhat = xc · rstd, y = xhat · g + b.
 */
function layerNormFunc(): FuncDef {
  const [x, g, b, n, p, y, xh, rs, pf, eps] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [i, j, cnt, ptr, px, pg, pb, py, ph] = [10, 11, 12, 13, 14, 15, 16, 17, 18];
  const [sum, mean, c, r] = [19, 20, 21, 22];
  const [meanV, rV, t] = [23, 24, 25];
  const code = new Code();
  code.i32(0).set(i);
  code.block((done) => done.loop((rows) => {
    rows.get(i).get(n).ltU().eqz().brIf(1);
    // px = the row: x + i·p·4 (and the same offset into y and xhat)
    rows.get(i).get(p).mul().i32(4).mul().set(j);
    rows.get(x).get(j).add().tee(px).set(ptr);
    rows.get(y).get(j).add().set(py);
    rows.get(xh).get(j).add().set(ph);
    sumInOrder(rows, ptr, cnt, p, sum, (l) => l.get(ptr).f32Load());
    rows.get(sum).get(pf).f32Div().set(mean);
    rows.get(px).set(ptr);
    sumInOrder(rows, ptr, cnt, p, sum, (l) => l.get(ptr).f32Load().get(mean).f32Sub().tee(c).get(c).f32Mul());
    rows.f32(1).get(sum).get(pf).f32Div().get(eps).f32Add().f32Sqrt().f32Div().set(r);
    rows.get(rs).get(i).i32(4).mul().add().get(r).f32Store();
    rows.get(mean).f32x4Splat().set(meanV).get(r).f32x4Splat().set(rV);
    rows.get(g).set(pg).get(b).set(pb).i32(0).set(j);
    elementLoop(rows, p, j, [px, pg, pb, py, ph], (e, load, store) => {
      store(ph, (v) => {
        load(px);
        v.get(meanV).f32x4Sub().get(rV).f32x4Mul().tee(t);
      });
      store(py, (v) => {
        v.get(t);
        load(pg);
        v.f32x4Mul();
        load(pb);
        v.f32x4Add();
      });
    });
    rows.get(i).i32(1).add().set(i);
    rows.br(0);
  }));
  return { name: 'layerNorm', params: [...new Array(8).fill(I32), F32, F32], locals: [...new Array(9).fill(I32), F32, F32, F32, F32, V128, V128, V128], body: code };
}

/**
 * layerNormGrad(dy, xhat, rstd, g, n, p, dx, dyXhat, pf): layers.ts layerNorm's gradient with
 * respect to x, and dy·xhat (for the gain's column sums): dxhat = dy · g, m1 = (Σ dxhat in
 * order) / p, m2 = (Σ dxhat·xhat in order) / p, dx = rstd · ((dxhat − m1) − xhat · m2).
 */
function layerNormGradFunc(): FuncDef {
  const [dy, xh, rs, g, n, p, dx, dyxh, pf] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [i, j, cnt, pd, ph, pg, po, pq, rowOff] = [9, 10, 11, 12, 13, 14, 15, 16, 17];
  const [s1, s2, d] = [18, 19, 20];
  const [m1V, m2V, rV] = [21, 22, 23];
  const code = new Code();
  code.i32(0).set(i);
  code.block((done) => done.loop((rows) => {
    rows.get(i).get(n).ltU().eqz().brIf(1);
    rows.get(i).get(p).mul().i32(4).mul().set(rowOff);
    // the two sums, element by element in order (d = dy·g; Σ d and Σ d·xhat)
    rows.f32(0).set(s1).f32(0).set(s2).get(p).set(cnt);
    rows.get(dy).get(rowOff).add().set(pd).get(xh).get(rowOff).add().set(ph).get(g).set(pg);
    rows.block((b) => b.loop((l) => {
      l.get(cnt).eqz().brIf(1);
      l.get(pd).f32Load().get(pg).f32Load().f32Mul().set(d);
      l.get(s1).get(d).f32Add().set(s1);
      l.get(s2).get(d).get(ph).f32Load().f32Mul().f32Add().set(s2);
      for (const q of [pd, ph, pg]) l.get(q).i32(4).add().set(q);
      l.get(cnt).i32(1).sub().set(cnt);
      l.br(0);
    }));
    rows.get(s1).get(pf).f32Div().f32x4Splat().set(m1V);
    rows.get(s2).get(pf).f32Div().f32x4Splat().set(m2V);
    rows.get(rs).get(i).i32(4).mul().add().load32Splat().set(rV);
    rows.get(dy).get(rowOff).add().set(pd).get(xh).get(rowOff).add().set(ph).get(g).set(pg);
    rows.get(dx).get(rowOff).add().set(po).get(dyxh).get(rowOff).add().set(pq).i32(0).set(j);
    elementLoop(rows, p, j, [pd, ph, pg, po, pq], (e, load, store) => {
      store(po, (v) => {
        v.get(rV);
        load(pd);
        load(pg);
        v.f32x4Mul().get(m1V).f32x4Sub(); // dxhat − m1
        load(ph);
        v.get(m2V).f32x4Mul().f32x4Sub().f32x4Mul(); // rstd · ((dxhat − m1) − xhat·m2)
      });
      store(pq, (v) => {
        load(pd);
        load(ph);
        v.f32x4Mul();
      });
    });
    rows.get(i).i32(1).add().set(i);
    rows.br(0);
  }));
  return { name: 'layerNormGrad', params: [...new Array(8).fill(I32), F32], locals: [...new Array(9).fill(I32), F32, F32, F32, V128, V128, V128], body: code };
}

interface ElementwiseExports {
  geluGrad(x: number, s: number, dy: number, out: number, n: number, k: number): void;
  layerNorm(x: number, g: number, b: number, n: number, p: number, y: number, xhat: number, rstd: number, pf: number, eps: number): void;
  layerNormGrad(dy: number, xhat: number, rstd: number, g: number, n: number, p: number, dx: number, dyXhat: number, pf: number): void;
  scale(x: number, n: number, k: number, out: number): void;
  mul(a: number, b: number, n: number, out: number): void;
  add(a: number, b: number, n: number, out: number): void;
  layerNormF64(x: number, n: number, p: number, g: number, b: number, out: number, pf: number, eps: number): void;
}

/** The fused element-wise kernels on one wasm backend. */
export class SimdElementwise {
  private constructor(
    private readonly mem: WasmMemory,
    private readonly fns: ElementwiseExports,
  ) {}

  static create(mem: WasmMemory): SimdElementwise | null {
    const bytes = encodeModule([geluGradFunc(), layerNormFunc(), layerNormGradFunc(), scaleFunc(), binaryFunc('mul'), binaryFunc('add'), layerNormF64Func()]);
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

  /** LayerNorm of x [n, p] over its rows with gain g and bias b [p]: y, xhat [n, p] and rstd [n, 1]. */
  layerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): { y: tf.Tensor2D; xhat: tf.Tensor2D; rstd: tf.Tensor2D } {
    const [n, p] = x.shape;
    checkRows([x], [g, b], p);
    const [px, pg, pb] = [x, g, b].map((t) => this.mem.offset(t));
    const [y, xhat, rstd] = this.outputs([[n, p], [n, p], [n, 1]], ([py, ph, pr]) => this.fns.layerNorm(px, pg, pb, n, p, py, ph, pr, p, Math.fround(eps)));
    return { y, xhat, rstd };
  }

  /** The gradient of layerNorm with respect to x given dy, xhat, rstd and g; and dy·xhat. */
  layerNormGrad(dy: tf.Tensor2D, xhat: tf.Tensor2D, rstd: tf.Tensor2D, g: tf.Tensor1D): { dx: tf.Tensor2D; dyXhat: tf.Tensor2D } {
    const [n, p] = dy.shape;
    checkRows([dy, xhat], [g], p);
    if (rstd.size !== n || rstd.dtype !== 'float32') throw new Error('layerNormGrad: rstd must be [n, 1] float32');
    const [pd, ph, pr, pg] = [dy, xhat, rstd, g].map((t) => this.mem.offset(t));
    const [dx, dyXhat] = this.outputs([[n, p], [n, p]], ([po, pq]) => this.fns.layerNormGrad(pd, ph, pr, pg, n, p, po, pq, p));
    return { dx, dyXhat };
  }

  /** out = x · k over n floats at byte addresses (k rounded to float32: tf.mul by a scalar). */
  scaleAt(x: number, n: number, k: number, out: number): void {
    this.fns.scale(x, n, Math.fround(k), out);
  }

  /** out = a · b over n floats at byte addresses. */
  mulAt(a: number, b: number, n: number, out: number): void {
    this.fns.mul(a, b, n, out);
  }

  /** out = a + b over n floats at byte addresses. */
  addAt(a: number, b: number, n: number, out: number): void {
    this.fns.add(a, b, n, out);
  }

  /**
   * The sampler's float64 LayerNorm (sampler.ts layerNormJs, bit for bit) of x [n, p] at byte
   * address x with gain and bias [p] at g and b, into out; p must be a multiple of 4.
   */
  layerNormF64At(x: number, n: number, p: number, g: number, b: number, out: number, eps: number): void {
    if (p % 4 !== 0) throw new Error(`layerNormF64: rows of ${p} floats (a multiple of 4 needed)`);
    this.fns.layerNormF64(x, n, p, g, b, out, p, eps);
  }

  /** New float32 tensors of the given shapes, filled by f at their addresses (all disposed if f throws). */
  private outputs(shapes: [number, number][], f: (addresses: number[]) => void): tf.Tensor2D[] {
    const made: tf.Tensor2D[] = [];
    try {
      for (const shape of shapes) made.push(this.mem.compute<tf.Tensor2D>(shape, () => undefined));
      f(made.map((t) => this.mem.offset(t)));
      return made;
    } catch (e) {
      tf.dispose(made);
      throw e;
    }
  }
}

/** Matrices [n, p] of one shape and vectors [p], all float32. */
function checkRows(mats: tf.Tensor2D[], vecs: tf.Tensor1D[], p: number): void {
  if ([...mats, ...vecs].some((t) => t.dtype !== 'float32')) throw new Error('layerNorm: float32 tensors only');
  if (mats.some((m) => m.shape[0] !== mats[0].shape[0] || m.shape[1] !== p) || vecs.some((v) => v.size !== p)) throw new Error('layerNorm: shapes do not match');
}

const bound = new WeakMap<object, SimdElementwise | null>();
/** The kernels for the current backend, or null when it is not wasm. */
export function simdElementwise(): SimdElementwise | null {
  const backend = currentWasmBackend();
  if (!backend) return null;
  if (!bound.has(backend)) bound.set(backend, SimdElementwise.create(new WasmMemory(backend)));
  return bound.get(backend)!;
}
