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

/**
 * Rows of the two micro-kernels' output tiles, and their columns (2 vectors). The 5-row tile has
 * 10 accumulators — as many multiply-adds as a core keeps in flight (2 FMA units × 5 cycles of
 * latency) — the 4-row one 8; the 4-row tile serves products of few rows (sampling one document),
 * where a fifth row would be mostly padding.
 */
const MR_WIDE = 5;
const MR_NARROW = 4;
const NR = 8;
/** Depth of one pass over the packed panels, so that a pass's B panels stay in the core's cache. */
const KC = 256;

/**
 * gemmMR(ap, bp, cp, mPanels, nPanels, depth, aStride, bStride, crs, accumulate): C tiles
 * [MR, NR] at cp + i·MR·crs + j·NR·4 ← (C +) Σ_k A panel i [k][MR] ⊗ B panel j [k][NR], over
 * `depth` values of k. Panels are `aStride` / `bStride` bytes apart; crs is C's row stride in bytes.
 * Every element of C is one running multiply-add over k in order (then + C when accumulating),
 * whatever the tile's shape: the tiles differ in speed only, never in a result bit.
 */
function gemmFunc(fma: boolean, MR: number): FuncDef {
  const [ap, bp, cp, mPanels, nPanels, depth, aStride, bStride, crs, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [ip, jp, a, b, k, c, aRow, cRow] = [10, 11, 12, 13, 14, 15, 16, 17];
  const acc = (r: number, h: number) => 18 + r * 2 + h;
  const bv = (h: number) => 18 + MR * 2 + h;
  const av = 18 + MR * 2 + 2;
  /** The 5-row kernel's first four A values as one vector, broadcast lane by lane. */
  const aQuad = av + 1;
  const code = new Code();
  code.i32(0).set(ip).get(ap).set(aRow).get(cp).set(cRow);
  code.block((c0) => c0.loop((outer) => {
    outer.get(ip).get(mPanels).ltU().eqz().brIf(1);
    outer.i32(0).set(jp).get(bp).set(b);
    outer.block((c1) => c1.loop((inner) => {
      inner.get(jp).get(nPanels).ltU().eqz().brIf(1);
      for (let r = 0; r < MR; r++) for (let h = 0; h < 2; h++) inner.v128Zero().set(acc(r, h));
      inner.get(aRow).set(a).get(depth).set(k);
      // One k per iteration: a row of 8 of B, MR of A. V8 issues a block's loads before its
      // arithmetic, so every loaded value is live at once: 5 broadcast loads beside 10
      // accumulators would spill (16 vector registers), hence one vector load of 4 A values
      // broadcast by shuffles (computed next to their use). Unrolling k spills the same way.
      inner.loop((kl) => {
        for (let h = 0; h < 2; h++) kl.get(b).v128Load(h * 16).set(bv(h));
        if (MR > 4) kl.get(a).v128Load().set(aQuad);
        for (let r = 0; r < MR; r++) {
          if (MR > 4 && r < 4) kl.get(aQuad).get(aQuad).shuffle32([r, r, r, r]).set(av);
          else kl.get(a).load32Splat(r * 4).set(av);
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
  return { name: `gemm${MR}`, params: new Array(10).fill(I32), locals: [...new Array(8).fill(I32), ...new Array(MR * 2 + 4).fill(V128)], body: code };
}

/**
 * Depth of the blocks pack() copies at a time when L's rows are adjacent (a transposed operand):
 * the source rows of a block stay in L1 across all panels. A row-major operand is read in order
 * panel by panel anyway and goes in one block.
 */
const PACK_KB = 16;

/**
 * pack(src, rs, cs, R, K, dst, w, kBlock): the matrix L[r, k] = f32 at src + r·rs + k·cs
 * (strides in bytes), R × K, into panels of w rows (w ≥ 4), dst[p][k][l] = L[p·w + l, k]. Rows
 * past R in the last panel are skipped (the caller zeroes them). Depth goes in blocks of kBlock
 * (a multiple of 4), all panels per block.
 * Where L's rows are adjacent floats (rs = 4) a full panel's values per k are copied as vectors;
 * where its columns are (cs = 4, a row-major operand) 4 × 4 blocks are transposed in registers;
 * otherwise element by element — and so are the last w mod 4 rows of a panel in the first two cases.
 */
function packFunc(): FuncDef {
  const [src, rs, cs, R, K, dst, w, kBlock] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [p0, lw, s, d, k, l, step, kb, sp, dp, k0, kn, wv] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const vr = (q: number) => 21 + q; // four loaded rows
  const vt = (q: number) => 25 + q; // and their interleaved halves
  const code = new Code();
  /** The 4 × 4 block of rows sp, sp + rs, … (4 floats each) as 4 columns stored at dp, dp + step, … */
  const transpose4 = (c: Code) => {
    for (let q = 0; q < 4; q++) c.get(sp).get(rs).i32(q).mul().add().v128Load().set(vr(q));
    c.get(vr(0)).get(vr(1)).shuffle32([0, 4, 1, 5]).set(vt(0));
    c.get(vr(0)).get(vr(1)).shuffle32([2, 6, 3, 7]).set(vt(1));
    c.get(vr(2)).get(vr(3)).shuffle32([0, 4, 1, 5]).set(vt(2));
    c.get(vr(2)).get(vr(3)).shuffle32([2, 6, 3, 7]).set(vt(3));
    const cols: [number, number, [number, number, number, number]][] = [[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]];
    cols.forEach(([x, y, lanes], q) => c.get(dp).get(step).i32(q).mul().add().get(vt(x)).get(vt(y)).shuffle32(lanes).v128Store());
  };
  /** for (v = from; v < bound; v += by) body — the bound re-read each time (a local). */
  const upTo = (c: Code, v: number, bound: (c: Code) => void, by: number, body: (c: Code) => void, from = (f: Code) => f.i32(0)) => {
    from(c);
    c.set(v);
    c.block((b) => b.loop((lp) => {
      lp.get(v);
      bound(lp);
      lp.ltU().eqz().brIf(1);
      body(lp);
      lp.get(v).i32(by).add().set(v);
      lp.br(0);
    }));
  };
  code.get(w).i32(4).mul().set(step);
  // wv: the rows of a panel that go in groups of 4
  code.get(w).i32(-4).and().set(wv);
  upTo(code, k0, (c) => c.get(K), 0, (blocks) => {
    // kn = min(kBlock, K − k0)
    blocks.get(K).get(k0).sub().set(kn);
    blocks.get(kn).get(kBlock).ltU().eqz().if((t) => t.get(kBlock).set(kn));
    upTo(blocks, p0, (c) => c.get(R), 0, (panels) => {
      // lw = min(w, R − p0)
      panels.get(R).get(p0).sub().set(lw);
      panels.get(lw).get(w).ltU().eqz().if((t) => t.get(w).set(lw));
      panels.get(src).get(p0).get(rs).mul().add().get(k0).get(cs).mul().add().set(s);
      panels.get(dst).get(p0).get(K).mul().i32(4).mul().add().get(k0).get(step).mul().add().set(d);
      panels.get(kn).set(k);
      // Row-major rows, a full panel: k in blocks of 4 by register transposes, the rest below.
      panels.get(cs).i32(4).eq().get(lw).get(w).eq().and().if((tr) => {
        tr.i32(0).set(kb);
        tr.block((c1) => c1.loop((kbs) => {
          kbs.get(kb).i32(4).add().get(kn).leS().eqz().brIf(1);
          upTo(kbs, l, (c) => c.get(wv), 4, (gs) => {
            gs.get(s).get(l).get(rs).mul().add().get(kb).i32(4).mul().add().set(sp);
            gs.get(d).get(kb).get(step).mul().add().get(l).i32(4).mul().add().set(dp);
            transpose4(gs);
          });
          upTo(kbs, l, (c) => c.get(w), 1, (rest) => {
            rest.get(s).get(l).get(rs).mul().add().get(kb).i32(4).mul().add().set(sp);
            rest.get(d).get(kb).get(step).mul().add().get(l).i32(4).mul().add().set(dp);
            for (let q = 0; q < 4; q++) rest.get(dp).get(step).i32(q).mul().add().get(sp).f32Load(q * 4).f32Store();
          }, (f) => f.get(wv));
          kbs.get(kb).i32(4).add().set(kb);
          kbs.br(0);
        }));
        tr.get(s).get(kb).i32(4).mul().add().set(s);
        tr.get(d).get(kb).get(step).mul().add().set(d);
        tr.get(kn).get(kb).sub().set(k);
      });
      panels.block((c1) => c1.loop((ks) => {
        ks.get(k).eqz().brIf(1);
        ks.get(rs).i32(4).eq().get(lw).get(w).eq().and().ifElse(
          (vecs) => {
            upTo(vecs, l, (c) => c.get(wv).i32(4).mul(), 16, (lv) => lv.get(d).get(l).add().get(s).get(l).add().v128Load().v128Store());
            upTo(vecs, l, (c) => c.get(w), 1, (ls) => ls.get(d).get(l).i32(4).mul().add().get(s).get(l).i32(4).mul().add().f32Load().f32Store(), (f) => f.get(wv));
          },
          (scalars) => upTo(scalars, l, (c) => c.get(lw), 1, (ls) => ls.get(d).get(l).i32(4).mul().add().get(s).get(l).get(rs).mul().add().f32Load().f32Store()),
        );
        ks.get(s).get(cs).add().set(s);
        ks.get(d).get(step).add().set(d);
        ks.get(k).i32(1).sub().set(k);
        ks.br(0);
      }));
      // next panel: p0 += w (upTo's step is the local w, added here)
      panels.get(p0).get(w).add().set(p0);
    });
    blocks.get(k0).get(kBlock).add().set(k0);
  });
  return { name: 'pack', params: new Array(8).fill(I32), locals: [...new Array(13).fill(I32), ...new Array(8).fill(V128)], body: code };
}

type Gemm = (ap: number, bp: number, cp: number, mPanels: number, nPanels: number, depth: number, aStride: number, bStride: number, crs: number, accumulate: number) => void;
interface KernelExports {
  gemm4: Gemm;
  gemm5: Gemm;
  pack(src: number, rs: number, cs: number, R: number, K: number, dst: number, w: number, kBlock: number): void;
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
    if (t instanceof tf.Tensor && t.isDisposed) throw new Error('a tensor was used after it was disposed');
    const info = this.backend.dataIdMap.get(t.dataId);
    if (!info) throw new Error('a tensor is not on the wasm backend');
    return info.memoryOffset;
  }

  /** A view of the whole memory (a fresh one: the memory may have grown since the last). */
  heap(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  /** A new tensor of the given shape, filled by f at its byte address (disposed if f throws). */
  compute<T extends tf.Tensor>(shape: number[], f: (address: number) => void, dtype: 'float32' | 'int32' = 'float32'): T {
    const t = tf.engine().makeTensorFromTensorInfo(this.backend.makeOutput(shape, dtype)) as T;
    try {
      f(this.offset(t));
      return t;
    } catch (e) {
      t.dispose();
      throw e;
    }
  }

  /** The blocks handed out by malloc: aligned address → what the backend's malloc returned. */
  private readonly blocks = new Map<number, number>();

  /** Bytes of the backend's heap at a 16-byte aligned address (its malloc aligns to 8), until free(). */
  malloc(bytes: number): number {
    // Addresses above 2 GiB come back as negative i32s (tfjs corrects them the same way); 0 is failure.
    const raw = bytes + 16 < 2 ** 32 ? this.backend.wasm._malloc(bytes + 16) >>> 0 : 0;
    if (raw === 0) throw new Error(`the wasm backend could not allocate ${bytes} bytes`);
    const ptr = Math.ceil(raw / 16) * 16;
    this.blocks.set(ptr, raw);
    return ptr;
  }

  free(ptr: number): void {
    const raw = this.blocks.get(ptr);
    if (raw === undefined) throw new Error('free of an address malloc did not return');
    this.blocks.delete(ptr);
    this.backend.wasm._free(raw);
  }

  /** Scratch bytes for the duration of f. */
  withScratch<T>(bytes: number, f: (ptr: number) => T): T {
    const ptr = this.malloc(bytes);
    try {
      return f(ptr);
    } finally {
      this.free(ptr);
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
    const bytes = encodeModule([gemmFunc(fma, MR_NARROW), gemmFunc(fma, MR_WIDE), packFunc()]);
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
    try {
      const instance = new WebAssembly.Instance(compiled.module, { env: { memory: mem.memory } });
      return new SimdMatMul(mem, instance.exports as unknown as KernelExports, compiled.fma);
    } catch {
      return null; // e.g. a backend build whose memory this module cannot import: tf.matMul then
    }
  }

  /** op(a)·op(b) for 2-D float32 tensors; op transposes where the flag is set. */
  matMul(a: tf.Tensor2D, b: tf.Tensor2D, transA: boolean, transB: boolean): tf.Tensor2D {
    const packed = this.packB(b, transB);
    try {
      return this.matMulPacked(a, transA, packed);
    } finally {
      this.freePacked(packed);
    }
  }

  /**
   * op(b) packed once for several products (the sampler's weights, used every step): the
   * matrix's panels in the backend's memory until freePacked.
   */
  packB(b: tf.Tensor2D, transB = false): PackedMatrix {
    if (b.dtype !== 'float32') throw new Error('matMul: float32 tensors only');
    const [bRows, bCols] = b.shape;
    const [K, N] = transB ? [bCols, bRows] : [bRows, bCols];
    const src = this.mem.offset(b);
    const ptr = this.mem.malloc(roundUp(N, NR) * K * 4);
    // B as L[j, k] = op(B)[k, j]: the stored matrix itself when transB, else its transpose.
    this.packPanels(src, bCols, !transB, N, K, ptr, NR);
    return { ptr, K, N };
  }

  /**
   * Packs L (R × K) into panels of w rows at dst, the last panel's missing rows zeroed. L is the
   * row-major matrix at src with `cols` columns, or its transpose when `transposed`.
   */
  private packPanels(src: number, cols: number, transposed: boolean, R: number, K: number, dst: number, w: number): void {
    const Rp = roundUp(R, w);
    if (R !== Rp) this.mem.heap().fill(0, (dst + (Rp - w) * K * 4) / 4, (dst + Rp * K * 4) / 4);
    // Rows of L adjacent in memory (a transposed L) are packed in depth blocks; see PACK_KB.
    const kBlock = transposed ? PACK_KB : roundUp(Math.max(K, 1), 4);
    this.fns.pack(src, transposed ? 4 : cols * 4, transposed ? cols * 4 : 4, R, K, dst, w, kBlock);
  }

  freePacked(p: PackedMatrix): void {
    this.mem.free(p.ptr);
  }

  /** op(a)·B for B packed by packB. */
  matMulPacked(a: tf.Tensor2D, transA: boolean, b: PackedMatrix): tf.Tensor2D {
    if (a.dtype !== 'float32') throw new Error('matMul: float32 tensors only');
    const [aRows, aCols] = a.shape;
    const [M, K] = transA ? [aCols, aRows] : [aRows, aCols];
    const { N } = b;
    if (K !== b.K) throw new Error(`matMul: inner dimensions ${K} and ${b.K} differ`);
    // The wide tile unless its padding rows would cost more than its speed gains (few rows).
    const MR = roundUp(M, MR_WIDE) <= roundUp(M, MR_NARROW) * 1.1 ? MR_WIDE : MR_NARROW;
    const gemm = MR === MR_WIDE ? this.fns.gemm5 : this.fns.gemm4;
    const Mp = roundUp(M, MR);
    const Np = roundUp(N, NR);
    // Full panels of A write straight into the result when its rows are whole tiles wide; the
    // last, partial panel (M mod MR rows) goes through a scratch tile, copied out at the end.
    const full = Math.floor(M / MR);
    const tail = M - full * MR;
    const direct = N === Np;
    const aBytes = Mp * K * 4;
    const mainBytes = direct ? 0 : full * MR * Np * 4;
    const tailBytes = tail > 0 ? MR * Np * 4 : 0;
    const mem = this.mem;
    const src = mem.offset(a);
    return mem.compute<tf.Tensor2D>([M, N], (out) => {
      mem.withScratch(aBytes + mainBytes + tailBytes, (aPack) => {
        const cMain = direct ? out : aPack + aBytes;
        const cTail = aPack + aBytes + mainBytes;
        this.packPanels(src, aCols, transA, M, K, aPack, MR);
        if (K === 0) {
          mem.heap().fill(0, out / 4, out / 4 + M * N);
          return;
        }
        for (let k0 = 0; k0 < K; k0 += KC) {
          const kc = Math.min(KC, K - k0);
          const acc = k0 > 0 ? 1 : 0;
          if (full > 0) gemm(aPack + k0 * MR * 4, b.ptr + k0 * NR * 4, cMain, full, Np / NR, kc, K * MR * 4, K * NR * 4, Np * 4, acc);
          if (tail > 0) gemm(aPack + (full * K + k0) * MR * 4, b.ptr + k0 * NR * 4, cTail, 1, Np / NR, kc, K * MR * 4, K * NR * 4, Np * 4, acc);
        }
        const h = mem.heap();
        if (!direct) for (let i = 0; i < full * MR; i++) h.copyWithin(out / 4 + i * N, cMain / 4 + i * Np, cMain / 4 + i * Np + N);
        for (let i = 0; i < tail; i++) h.copyWithin(out / 4 + (full * MR + i) * N, cTail / 4 + i * Np, cTail / 4 + i * Np + N);
      });
    });
  }
}

/** A right-hand operand packed into panels (SimdMatMul.packB): K × N, at ptr in the backend's memory. */
export interface PackedMatrix {
  ptr: number;
  K: number;
  N: number;
}

const bound = new WeakMap<object, SimdMatMul | null>();
/** The kernels for the current backend, or null when it is not wasm (or wasm has no SIMD). */
export function simdMatMul(): SimdMatMul | null {
  const backend = currentWasmBackend();
  if (!backend) return null;
  if (!bound.has(backend)) bound.set(backend, SimdMatMul.create(backend));
  return bound.get(backend)!;
}

/** Which kernel computes the matrix products here: ours with FMA, ours without, or tfjs's. */
export function productKernel(): 'wasm-simd-fma' | 'wasm-simd' | 'tfjs' {
  const simd = simdMatMul();
  return simd ? (simd.fma ? 'wasm-simd-fma' : 'wasm-simd') : 'tfjs';
}

/** op(a)·op(b): simd.ts's kernel on wasm, tf.matMul on other backends. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D, transA = false, transB = false): tf.Tensor2D {
  const simd = simdMatMul();
  return simd ? simd.matMul(a, b, transA, transB) : tf.matMul(a, b, transA, transB);
}
