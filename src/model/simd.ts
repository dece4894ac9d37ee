// Matrix products for the wasm backend in our own WebAssembly SIMD kernel, on tfjs's own memory.
// Why: tfjs-wasm's XNNPACK products run without fused multiply-add (wasm SIMD has none) at
// ~17–21 GFLOP/s per core here, a product with a transposed operand needs an explicit
// tf.transpose first (slow on wasm), and products are most of a training step. This kernel packs
// both operands into panels (reading either one transposed at no cost), then runs a 4 × 8
// register-blocked micro-kernel with relaxed-SIMD multiply-add, which V8 compiles to FMA
// instructions: ~35–45 GFLOP/s on this machine. Relaxed SIMD sits behind a V8 flag in Node 20,
// which is turned on before the module is compiled; where it cannot be, the kernel multiplies
// and adds (about tfjs's speed, still without the transposes).
//
// The module imports the wasm backend's WebAssembly.Memory, so operands are read where tfjs
// keeps them and the result is written straight into a new tensor's buffer: no copies. This
// uses three members of the backend that its custom-kernel API exposes (`wasm` with `_malloc`,
// `_free` and the instance's memory, `dataIdMap`, `makeOutput`); tfjs is pinned to 4.22.0.
// Other backends get tf.matMul (see layers.ts).

import * as tf from '@tensorflow/tfjs';
import v8 from 'node:v8';
import { Code, encodeModule, I32, V128, type FuncDef } from './wasm-encoder.js';

/** Rows and columns of the micro-kernel's output tile (4 × 2 vectors: 8 accumulators in registers). */
const MR = 4;
const NR = 8;
/** Depth of one pass over the packed panels, so that a pass's B panels stay in the core's cache. */
const KC = 256;

/**
 * gemm(ap, bp, cp, mPanels, nPanels, depth, aStride, bStride, crs, accumulate): C tiles
 * [MR, NR] at cp + i·MR·crs + j·NR·4 ← (C +) Σ_k A panel i [k][MR] ⊗ B panel j [k][NR], over
 * `depth` values of k. Panels are `aStride` / `bStride` bytes apart; crs is C's row stride in bytes.
 */
function gemmFunc(fma: boolean): FuncDef {
  const [ap, bp, cp, mPanels, nPanels, depth, aStride, bStride, crs, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [ip, jp, a, b, k, c, aRow, cRow] = [10, 11, 12, 13, 14, 15, 16, 17];
  const acc = (r: number, h: number) => 18 + r * 2 + h;
  const bv = (h: number) => 18 + MR * 2 + h;
  const av = 18 + MR * 2 + 2;
  const code = new Code();
  code.i32(0).set(ip).get(ap).set(aRow).get(cp).set(cRow);
  code.block((c0) => c0.loop((outer) => {
    outer.get(ip).get(mPanels).ltU().eqz().brIf(1);
    outer.i32(0).set(jp).get(bp).set(b);
    outer.block((c1) => c1.loop((inner) => {
      inner.get(jp).get(nPanels).ltU().eqz().brIf(1);
      for (let r = 0; r < MR; r++) for (let h = 0; h < 2; h++) inner.v128Zero().set(acc(r, h));
      inner.get(aRow).set(a).get(depth).set(k);
      // One k per iteration (unrolling makes V8 spill the accumulators): a row of 8 of B, MR of A.
      inner.loop((kl) => {
        for (let h = 0; h < 2; h++) kl.get(b).v128Load(h * 16).set(bv(h));
        for (let r = 0; r < MR; r++) {
          kl.get(a).load32Splat(r * 4).set(av);
          for (let h = 0; h < 2; h++) {
            if (fma) kl.get(av).get(bv(h)).get(acc(r, h)).f32x4RelaxedMadd().set(acc(r, h));
            else kl.get(av).get(bv(h)).f32x4Mul().get(acc(r, h)).f32x4Add().set(acc(r, h));
          }
        }
        kl.get(a).i32(MR * 4).add().set(a);
        kl.get(b).i32(NR * 4).add().set(b);
        kl.get(k).i32(1).sub().tee(k).brIf(0);
      });
      inner.get(cRow).get(jp).i32(NR * 4).mul().add().set(c);
      for (let r = 0; r < MR; r++) {
        for (let h = 0; h < 2; h++) {
          inner.get(accumulate).if((t) => t.get(c).v128Load(h * 16).get(acc(r, h)).f32x4Add().set(acc(r, h)));
          inner.get(c).get(acc(r, h)).v128Store(h * 16);
        }
        inner.get(c).get(crs).add().set(c);
      }
      // From the end of this panel's depth block to the same block of the next panel.
      inner.get(bp).get(jp).i32(1).add().tee(jp).get(bStride).mul().add().set(b);
      inner.br(0);
    }));
    outer.get(aRow).get(aStride).add().set(aRow);
    outer.get(cRow).get(crs).i32(MR).mul().add().set(cRow);
    outer.get(ip).i32(1).add().set(ip);
    outer.br(0);
  }));
  return { name: 'gemm', params: new Array(10).fill(I32), locals: [...new Array(8).fill(I32), ...new Array(MR * 2 + 3).fill(V128)], body: code };
}

/**
 * pack(src, rs, cs, R, K, dst, w): the matrix L[r, k] = f32 at src + r·rs + k·cs (strides in
 * bytes), R × K, into panels of w rows (w a multiple of 4), dst[p][k][l] = L[p·w + l, k],
 * written in order. Rows past R in the last panel are skipped (the caller zeroes them). Where
 * L's rows are adjacent floats (rs = 4), a full panel's w values per k are copied as vectors.
 */
function packFunc(): FuncDef {
  const [src, rs, cs, R, K, dst, w] = [0, 1, 2, 3, 4, 5, 6];
  const [p0, lw, s, d, k, l, step] = [7, 8, 9, 10, 11, 12, 13];
  const code = new Code();
  code.get(w).i32(4).mul().set(step);
  code.i32(0).set(p0).get(dst).set(d);
  code.block((c0) => c0.loop((panels) => {
    panels.get(p0).get(R).ltU().eqz().brIf(1);
    // lw = min(w, R − p0)
    panels.get(R).get(p0).sub().set(lw);
    panels.get(lw).get(w).ltU().eqz().if((t) => t.get(w).set(lw));
    panels.get(src).get(p0).get(rs).mul().add().set(s);
    panels.get(K).set(k);
    panels.block((c1) => c1.loop((ks) => {
      ks.get(k).eqz().brIf(1);
      ks.get(rs).i32(4).eq().get(lw).get(w).eq().and().ifElse(
        (vecs) => {
          vecs.i32(0).set(l);
          vecs.loop((lv) => {
            lv.get(d).get(l).add().get(s).get(l).add().v128Load().v128Store();
            lv.get(l).i32(16).add().tee(l).get(step).ltU().brIf(0);
          });
        },
        (scalars) => {
          scalars.i32(0).set(l);
          scalars.block((c2) => c2.loop((ls) => {
            ls.get(l).get(lw).ltU().eqz().brIf(1);
            ls.get(d).get(l).i32(4).mul().add().get(s).get(l).get(rs).mul().add().f32Load().f32Store();
            ls.get(l).i32(1).add().set(l);
            ls.br(0);
          }));
        },
      );
      ks.get(s).get(cs).add().set(s);
      ks.get(d).get(step).add().set(d);
      ks.get(k).i32(1).sub().set(k);
      ks.br(0);
    }));
    panels.get(p0).get(w).add().set(p0);
    panels.br(0);
  }));
  return { name: 'pack', params: new Array(7).fill(I32), locals: new Array(7).fill(I32), body: code };
}

interface KernelExports {
  gemm(ap: number, bp: number, cp: number, mPanels: number, nPanels: number, depth: number, aStride: number, bStride: number, crs: number, accumulate: number): void;
  pack(src: number, rs: number, cs: number, R: number, K: number, dst: number, w: number): void;
}

/** The parts of tfjs-backend-wasm's BackendWasm used here and in simd-attention.ts. */
export interface WasmBackend {
  wasm: { _malloc(bytes: number): number; _free(ptr: number): void; asm: { memory: WebAssembly.Memory } };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): tf.TensorInfo;
}

/** Tensors of a wasm backend seen as addresses in its memory. */
export class WasmMemory {
  constructor(readonly backend: WasmBackend) {}

  get memory(): WebAssembly.Memory {
    return this.backend.wasm.asm.memory;
  }

  /** Byte address of a tensor's values. */
  offset(t: tf.Tensor | tf.TensorInfo): number {
    const info = this.backend.dataIdMap.get(t.dataId);
    if (!info) throw new Error('a tensor is not on the wasm backend');
    return info.memoryOffset;
  }

  /** A view of the whole memory (a fresh one: the memory may have grown since the last). */
  heap(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  /** A new tensor's storage, to be filled and then wrapped by `tensor`. */
  output(shape: number[], dtype: 'float32' | 'int32' = 'float32'): tf.TensorInfo {
    return this.backend.makeOutput(shape, dtype);
  }

  tensor<T extends tf.Tensor>(info: tf.TensorInfo): T {
    return tf.engine().makeTensorFromTensorInfo(info) as T;
  }

  /** Scratch bytes (16-byte aligned) for the duration of f. */
  withScratch<T>(bytes: number, f: (ptr: number) => T): T {
    const raw = this.backend.wasm._malloc(bytes + 16);
    try {
      return f(Math.ceil(raw / 16) * 16);
    } finally {
      this.backend.wasm._free(raw);
    }
  }
}

let relaxedTried = false;
/** Turns on V8's relaxed-SIMD flag (once; harmless where it is on already or unknown). */
function enableRelaxedSimd(): void {
  if (relaxedTried) return;
  relaxedTried = true;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // an engine without the flag: the plain kernel is used
  }
}

/** The current backend when it is wasm, else null. */
export function currentWasmBackend(): WasmBackend | null {
  return tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmBackend) : null;
}

/** The kernel module's bytes: FMA variant when this engine validates it, else multiply + add. */
function kernelModule(): { module: WebAssembly.Module; fma: boolean } | null {
  for (const fma of [true, false]) {
    const bytes = encodeModule([gemmFunc(fma), packFunc()]);
    if (fma && !WebAssembly.validate(bytes)) enableRelaxedSimd();
    if (WebAssembly.validate(bytes)) return { module: new WebAssembly.Module(bytes), fma };
  }
  return null;
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/** The kernels bound to one wasm backend's memory. */
export class SimdMatMul {
  private constructor(
    private readonly mem: WasmMemory,
    private readonly fns: KernelExports,
    /** Whether the multiply-adds are relaxed-SIMD (fused on FMA hardware). */
    readonly fma: boolean,
  ) {}

  static create(backend: WasmBackend): SimdMatMul | null {
    const compiled = kernelModule();
    if (!compiled) return null;
    const mem = new WasmMemory(backend);
    const instance = new WebAssembly.Instance(compiled.module, { env: { memory: mem.memory } });
    return new SimdMatMul(mem, instance.exports as unknown as KernelExports, compiled.fma);
  }

  /** op(a)·op(b) for 2-D float32 tensors; op transposes where the flag is set. */
  matMul(a: tf.Tensor2D, b: tf.Tensor2D, transA: boolean, transB: boolean): tf.Tensor2D {
    const [aRows, aCols] = a.shape;
    const [bRows, bCols] = b.shape;
    const [M, K] = transA ? [aCols, aRows] : [aRows, aCols];
    const [K2, N] = transB ? [bCols, bRows] : [bRows, bCols];
    if (K !== K2) throw new Error(`matMul: inner dimensions ${K} and ${K2} differ`);
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error('matMul: float32 tensors only');
    const Mp = roundUp(M, MR);
    const Np = roundUp(N, NR);
    const direct = M === Mp && N === Np;
    const aBytes = Mp * K * 4;
    const bBytes = Np * K * 4;
    const cBytes = direct ? 0 : Mp * Np * 4;
    const mem = this.mem;
    const out = mem.output([M, N]);
    mem.withScratch(aBytes + bBytes + cBytes, (aPack) => {
      const bPack = aPack + aBytes;
      const c = direct ? mem.offset(out) : bPack + bBytes;
      // The last panels' rows past M and N must be zero.
      const heap = mem.heap();
      if (M !== Mp) heap.fill(0, (aPack + (Mp - MR) * K * 4) / 4, (aPack + aBytes) / 4);
      if (N !== Np) heap.fill(0, (bPack + (Np - NR) * K * 4) / 4, (bPack + bBytes) / 4);
      // A as L[i, k]; B as L[j, k] (B's columns are the panels' rows).
      this.fns.pack(mem.offset(a), transA ? 4 : aCols * 4, transA ? aCols * 4 : 4, M, K, aPack, MR);
      this.fns.pack(mem.offset(b), transB ? bCols * 4 : 4, transB ? 4 : bCols * 4, N, K, bPack, NR);
      if (K === 0) heap.fill(0, c / 4, c / 4 + Mp * Np);
      for (let k0 = 0; k0 < K; k0 += KC) {
        const kc = Math.min(KC, K - k0);
        this.fns.gemm(aPack + k0 * MR * 4, bPack + k0 * NR * 4, c, Mp / MR, Np / NR, kc, K * MR * 4, K * NR * 4, Np * 4, k0 > 0 ? 1 : 0);
      }
      if (!direct) {
        const h = mem.heap();
        const o = mem.offset(out) / 4;
        for (let i = 0; i < M; i++) h.copyWithin(o + i * N, c / 4 + i * Np, c / 4 + i * Np + N);
      }
    });
    return mem.tensor(out);
  }
}

const bound = new WeakMap<object, SimdMatMul | null>();
/** The kernels for the current backend, or null when it is not wasm (or wasm has no SIMD). */
export function simdMatMul(): SimdMatMul | null {
  const backend = currentWasmBackend();
  if (!backend) return null;
  if (!bound.has(backend)) bound.set(backend, SimdMatMul.create(backend));
  return bound.get(backend)!;
}

/** op(a)·op(b): simd.ts's kernel on wasm, tf.matMul on other backends. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D, transA = false, transB = false): tf.Tensor2D {
  const simd = simdMatMul();
  return simd ? simd.matMul(a, b, transA, transB) : tf.matMul(a, b, transA, transB);
}
