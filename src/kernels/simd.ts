// Matrix products for the wasm backend in our own WebAssembly SIMD kernel, on tfjs's own memory.
// Why: tfjs-wasm's XNNPACK products run without fused multiply-add (wasm SIMD has none) at
// ~17–21 GFLOP/s per core here, a product with a transposed operand needs an explicit
// tf.transpose first (slow on wasm), and products are most of a training step. This kernel packs
// both operands into panels (reading either one transposed at no cost), then runs a 5 × 8 (or,
// for products of few rows, 4 × 8) register-blocked micro-kernel with relaxed-SIMD multiply-add,
// which V8 compiles to FMA instructions: ~38–41 GFLOP/s on this machine (gemm-kernels.ts has the
// kernels and the bit-for-bit contract they keep). Relaxed SIMD sits behind a V8 flag in Node 20,
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
import { encodeModule } from './wasm-encoder.js';
import { KC, MR_NARROW, MR_WIDE, NR, PACK_KB, productFuncs, type KernelExports } from './gemm-kernels.js';

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
export function enableRelaxedSimd(): void {
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
    const bytes = encodeModule(productFuncs(fma));
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

  /**
   * Column sums of x [n, p] as [p], bit for bit the ones-row product 1ᵀ·x (the reference the
   * other backends compute, see layers.ts columnSums): read in place by the colsum kernel when p
   * is a multiple of 16 — no packing, no padding rows — else null (the caller takes the product).
   */
  columnSums(x: tf.Tensor2D): tf.Tensor1D | null {
    const [n, p] = x.shape;
    if (x.dtype !== 'float32' || p % 16 !== 0) return null;
    const src = this.mem.offset(x);
    return this.mem.compute<tf.Tensor1D>([p], (out) => this.fns.colsum(src, n, p, out));
  }

  /** op(a)·B for B packed by packB. */
  matMulPacked(a: tf.Tensor2D, transA: boolean, b: PackedMatrix): tf.Tensor2D {
    if (a.dtype !== 'float32') throw new Error('matMul: float32 tensors only');
    const [aRows, aCols] = a.shape;
    const [M, K] = transA ? [aCols, aRows] : [aRows, aCols];
    return this.mem.compute<tf.Tensor2D>([M, b.N], (out) => this.productAt(this.mem.offset(a), aCols, transA, M, K, b, out));
  }

  /**
   * op(A)·B into [M, N] at byte address `out`, for A the row-major matrix at byte address `src`
   * with `aCols` columns (op(A) is M × K: A itself, or its transpose when transA) and B packed by
   * packB. The products of matMulPacked, for callers that keep their operands in the backend's
   * memory themselves (the sampler).
   */
  productAt(src: number, aCols: number, transA: boolean, M: number, K: number, b: PackedMatrix, out: number): void {
    const { N } = b;
    if (K !== b.K) throw new Error(`matMul: inner dimensions ${K} and ${b.K} differ`);
    // The wide tile unless its padding rows would cost more than its speed gains (few rows).
    const MR = roundUp(M, MR_WIDE) <= roundUp(M, MR_NARROW) * 1.1 ? MR_WIDE : MR_NARROW;
    const wide = MR === MR_WIDE ? 1 : 0;
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
        if (full > 0) this.fns.gemm(aPack + k0 * MR * 4, b.ptr + k0 * NR * 4, cMain, full, Np / NR, kc, K * MR * 4, K * NR * 4, Np * 4, acc, wide);
        if (tail > 0) this.fns.gemm(aPack + (full * K + k0) * MR * 4, b.ptr + k0 * NR * 4, cTail, 1, Np / NR, kc, K * MR * 4, K * NR * 4, Np * 4, acc, wide);
      }
      const h = mem.heap();
      if (!direct) for (let i = 0; i < full * MR; i++) h.copyWithin(out / 4 + i * N, cMain / 4 + i * Np, cMain / 4 + i * Np + N);
      for (let i = 0; i < tail; i++) h.copyWithin(out / 4 + (full * MR + i) * N, cTail / 4 + i * Np, cTail / 4 + i * Np + N);
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
