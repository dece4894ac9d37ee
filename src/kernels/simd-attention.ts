// The causal packed-document attention of attention.ts as WebAssembly SIMD kernels on the wasm
// backend's memory (see simd.ts for how tensors are addressed): the same algorithm — position i
// attends to [segStart[i], i] — with each head's dot products and weighted sums done four lanes
// at a time. ~5–8× the JS kernels, which stay as the reference and the path on other backends.
// A module is generated per (d, heads), with the head width a multiple of 4; e^x is wasm-exp.ts's
// Math.exp in the module (the same bits as calling out to Math.exp, without the crossing).
//
// Probabilities are kept for the backward pass in a float32 tensor laid out [i][h][j − s0].

import * as tf from '@tensorflow/tfjs';
import { currentWasmBackend, WasmMemory } from './simd.js';
import { Code, encodeModule, F32, F64, I32, V128, type FuncDef } from './wasm-encoder.js';
import { expFunc } from './wasm-exp.js';

/** The attention a kernel computes: model width d split into `heads` heads. */
export interface AttentionShape {
  d: number;
  heads: number;
}

const EXP = 0; // wasm-exp.ts's exp, the module's first function: f64 → f64

/** Horizontal sum of the v128 in local t, as an f32 on the stack. */
function hsum(c: Code, t: number): void {
  c.get(t).f32x4ExtractLane(0).get(t).f32x4ExtractLane(1).f32Add().get(t).f32x4ExtractLane(2).f32Add().get(t).f32x4ExtractLane(3).f32Add();
}

/**
 * Loops j from local `j0` to local `i` inclusive (at least once: j0 ≤ i), running body and then
 * adding `step` to each pointer local in `advance`.
 */
function forKeys(c: Code, j: number, j0: number, i: number, advance: [number, number][], body: (b: Code) => void): void {
  c.get(j0).set(j);
  c.loop((l) => {
    body(l);
    for (const [ptr, step] of advance) l.get(ptr).i32(step).add().set(ptr);
    l.get(j).i32(1).add().tee(j).get(i).leS().brIf(0);
  });
}

/** Local indices used by attendOne. */
interface AttendLocals {
  j: number;
  j0: number;
  jEnd: number;
  pp: number;
  kp: number;
  max: number;
  p: number;
  inv: number;
  sum: number;
  e: number;
  t: number;
  ps: number;
  q: (v: number) => number;
  acc: (v: number) => number;
}

/**
 * The softmax attention of one query (its V vectors in locals q, already scaled) over the keys
 * j0 … jEnd: keys at `keys` + kOff, values at `values` + vOff, both `stride` bytes apart. Leaves
 * the probabilities at `probs` (f32, one per key; pp ends just past them) and Σ p_j v_j in acc.
 */
function attendOne(c: Code, L: AttendLocals, V: number, at: { probs: (c: Code) => void; keys: (c: Code) => void; values: (c: Code) => void }, kOff: number, vOff: number, stride: number): void {
  // scores q·k_j and their max
  c.f32(-Infinity).set(L.max);
  at.probs(c);
  c.set(L.pp);
  at.keys(c);
  c.set(L.kp);
  forKeys(c, L.j, L.j0, L.jEnd, [[L.pp, 4], [L.kp, stride]], (l) => {
    for (let v = 0; v < V; v++) {
      l.get(L.q(v)).get(L.kp).v128Load(kOff + 16 * v).f32x4Mul();
      if (v > 0) l.f32x4Add();
    }
    l.set(L.t);
    hsum(l, L.t);
    l.set(L.p).get(L.pp).get(L.p).f32Store().get(L.max).get(L.p).f32Max().set(L.max);
  });
  // exp(score − max) and their sum
  c.f64(0).set(L.sum);
  at.probs(c);
  c.set(L.pp);
  forKeys(c, L.j, L.j0, L.jEnd, [[L.pp, 4]], (l) => {
    l.get(L.pp).f32Load().get(L.max).f32Sub().f64PromoteF32().call(EXP).set(L.e);
    l.get(L.pp).get(L.e).f32DemoteF64().f32Store();
    l.get(L.sum).get(L.e).f64Add().set(L.sum);
  });
  c.f64(1).get(L.sum).f64Div().f32DemoteF64().set(L.inv);
  // probabilities, and the output Σ p_j v_j
  for (let v = 0; v < V; v++) c.v128Zero().set(L.acc(v));
  at.probs(c);
  c.set(L.pp);
  at.values(c);
  c.set(L.kp);
  forKeys(c, L.j, L.j0, L.jEnd, [[L.pp, 4], [L.kp, stride]], (l) => {
    l.get(L.pp).f32Load().get(L.inv).f32Mul().set(L.p).get(L.pp).get(L.p).f32Store();
    l.get(L.p).f32x4Splat().set(L.ps);
    for (let v = 0; v < V; v++) l.get(L.acc(v)).get(L.ps).get(L.kp).v128Load(vOff + 16 * v).f32x4Mul().f32x4Add().set(L.acc(v));
  });
}

/**
 * For each position i < n (segment start s0 = seg[i]) and each head (byte offset ho within a
 * row's q, k or v), in the order the probabilities are laid out: runs body with pp = po at the
 * start of the (i, h) block; body leaves pp just past it, where the next block starts.
 */
function eachQuery(c: Code, L: { n: number; seg: number; i: number; s0: number; ho: number; pp: number; po: number }, headBytes: number, rowHeadsBytes: number, body: (c: Code) => void): void {
  c.i32(0).set(L.i);
  c.block((b0) => b0.loop((li) => {
    li.get(L.i).get(L.n).ltU().eqz().brIf(1);
    li.get(L.seg).get(L.i).i32(4).mul().add().i32Load().set(L.s0);
    li.i32(0).set(L.ho);
    li.block((b1) => b1.loop((lh) => {
      lh.get(L.ho).i32(rowHeadsBytes).ltU().eqz().brIf(1);
      lh.get(L.po).set(L.pp);
      body(lh);
      lh.get(L.pp).set(L.po);
      lh.get(L.ho).i32(headBytes).add().set(L.ho);
      lh.br(0);
    }));
    li.get(L.i).i32(1).add().set(L.i);
    li.br(0);
  }));
}

/**
 * forward(qkv, seg, n, probs, out, scale) and backward(qkv, probs, dOut, seg, n, dqkv, dP, scale)
 * for model width d and `heads` heads. qkv/dqkv rows are [q | k | v] (3d floats), out/dOut rows
 * d floats; seg holds n int32 segment starts; dP is scratch for one row of probabilities.
 */
function attentionFuncs(d: number, heads: number): FuncDef[] {
  const dh = d / heads;
  const V = dh / 4;
  const row = 3 * d * 4; // bytes per qkv row
  const K = d * 4; // byte offset of k within a row (v at 2K)

  // forward --------------------------------------------------------------------------------
  const f = new Code();
  {
    const [qkv, seg, n, probs, out, scale] = [0, 1, 2, 3, 4, 5];
    const [i, ho, s0, j, pp, kp, po] = [6, 7, 8, 9, 10, 11, 12];
    const [max, p, inv] = [13, 14, 15]; // f32
    const [sum, e] = [16, 17]; // f64
    const q = (v: number) => 18 + v;
    const acc = (v: number) => 18 + V + v;
    const [t, ps] = [18 + 2 * V, 19 + 2 * V];
    f.get(probs).set(po);
    eachQuery(f, { n, seg, i, s0, ho, pp, po }, dh * 4, K, (lh) => {
      // q of (i, h), scaled by 1/√dh
      for (let v = 0; v < V; v++) lh.get(qkv).get(i).i32(row).mul().add().get(ho).add().v128Load(16 * v).get(scale).f32x4Splat().f32x4Mul().set(q(v));
      const keys = (c: Code) => c.get(qkv).get(s0).i32(row).mul().add().get(ho).add();
      attendOne(lh, { j, j0: s0, jEnd: i, pp, kp, max, p, inv, sum, e, t, ps, q, acc }, V, { probs: (c) => c.get(po), keys, values: keys }, K, 2 * K, row);
      for (let v = 0; v < V; v++) lh.get(out).get(i).i32(d * 4).mul().add().get(ho).add().get(acc(v)).v128Store(16 * v);
    });
  }
  const forward: FuncDef = {
    name: 'forward',
    params: [I32, I32, I32, I32, I32, F32],
    locals: [...new Array(7).fill(I32), F32, F32, F32, F64, F64, ...new Array(2 * V + 2).fill(V128)],
    body: f,
  };

  // backward -------------------------------------------------------------------------------
  const g = new Code();
  {
    const [qkv, probs, dOut, seg, n, dqkv, dP, scale] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [i, ho, s0, j, pp, r, dr, dpp, po] = [8, 9, 10, 11, 12, 13, 14, 15, 16];
    const [pdp, p, dot] = [17, 18, 19]; // f32
    const gv = (v: number) => 20 + v;
    const q = (v: number) => 20 + V + v;
    const acc = (v: number) => 20 + 2 * V + v;
    const [t, ps] = [20 + 3 * V, 21 + 3 * V];
    const start = (c: Code) => {
      c.get(po).set(pp).get(dP).set(dpp);
      c.get(qkv).get(s0).i32(row).mul().add().get(ho).add().set(r);
      c.get(dqkv).get(s0).i32(row).mul().add().get(ho).add().set(dr);
    };
    g.get(probs).set(po);
    eachQuery(g, { n, seg, i, s0, ho, pp, po }, dh * 4, K, (lh) => {
      for (let v = 0; v < V; v++) {
        lh.get(dOut).get(i).i32(d * 4).mul().add().get(ho).add().v128Load(16 * v).set(gv(v));
        lh.get(qkv).get(i).i32(row).mul().add().get(ho).add().v128Load(16 * v).get(scale).f32x4Splat().f32x4Mul().set(q(v));
      }
      // dP_j = dOut_i · v_j, Σ p·dP, and dv_j += p_j · dOut_i
      lh.f32(0).set(pdp);
      start(lh);
      forKeys(lh, j, s0, i, [[pp, 4], [dpp, 4], [r, row], [dr, row]], (l) => {
        for (let v = 0; v < V; v++) {
          l.get(gv(v)).get(r).v128Load(2 * K + 16 * v).f32x4Mul();
          if (v > 0) l.f32x4Add();
        }
        l.set(t);
        hsum(l, t);
        l.set(dot).get(dpp).get(dot).f32Store();
        l.get(pp).f32Load().set(p);
        l.get(pdp).get(p).get(dot).f32Mul().f32Add().set(pdp);
        l.get(p).f32x4Splat().set(ps);
        for (let v = 0; v < V; v++) l.get(dr).get(dr).v128Load(2 * K + 16 * v).get(ps).get(gv(v)).f32x4Mul().f32x4Add().v128Store(2 * K + 16 * v);
      });
      // dS_j = p_j (dP_j − Σ p·dP); dq_i += dS_j k_j; dk_j += dS_j q_i (both / √dh)
      for (let v = 0; v < V; v++) lh.v128Zero().set(acc(v));
      start(lh);
      forKeys(lh, j, s0, i, [[pp, 4], [dpp, 4], [r, row], [dr, row]], (l) => {
        l.get(pp).f32Load().get(dpp).f32Load().get(pdp).f32Sub().f32Mul().f32x4Splat().set(ps);
        for (let v = 0; v < V; v++) {
          l.get(acc(v)).get(ps).get(r).v128Load(K + 16 * v).f32x4Mul().f32x4Add().set(acc(v));
          l.get(dr).get(dr).v128Load(K + 16 * v).get(ps).get(q(v)).f32x4Mul().f32x4Add().v128Store(K + 16 * v);
        }
      });
      lh.get(dqkv).get(i).i32(row).mul().add().get(ho).add().set(dr);
      for (let v = 0; v < V; v++) lh.get(dr).get(dr).v128Load(16 * v).get(acc(v)).get(scale).f32x4Splat().f32x4Mul().f32x4Add().v128Store(16 * v);
    });
  }
  const backward: FuncDef = {
    name: 'backward',
    params: [I32, I32, I32, I32, I32, I32, I32, F32],
    locals: [...new Array(9).fill(I32), F32, F32, F32, ...new Array(3 * V + 2).fill(V128)],
    body: g,
  };

  // decode: one new position per slot against the KV cache (sampling) ----------------------
  const c = new Code();
  {
    const [qkv, m, slotIds, pos, kc, vc, context, out, w, scale] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const [r, t, base, qr, ho, j, zero, kp, wp] = [10, 11, 12, 13, 14, 15, 16, 17, 18];
    const [max, p, inv] = [19, 20, 21]; // f32
    const [sum, e] = [22, 23]; // f64
    const q = (v: number) => 24 + v;
    const acc = (v: number) => 24 + V + v;
    const [tv, ps] = [24 + 2 * V, 25 + 2 * V];
    c.i32(0).set(zero).i32(0).set(r);
    c.block((b0) => b0.loop((lr) => {
      lr.get(r).get(m).ltU().eqz().brIf(1);
      // t = pos[slot]; base = slot's cache (bytes); qr = row r of qkv
      lr.get(pos).get(slotIds).get(r).i32(4).mul().add().i32Load().tee(base).i32(4).mul().add().i32Load().set(t);
      lr.get(base).get(context).mul().i32(d * 4).mul().set(base);
      lr.get(qkv).get(r).i32(row).mul().add().set(qr);
      lr.i32(0).set(ho);
      lr.block((b1) => b1.loop((lh) => {
        lh.get(ho).i32(K).ltU().eqz().brIf(1);
        // head h = ho / (4 dh) of the slot's cache: [context, dh] floats at base + ho · context,
        // for k and for v; the new k and v at position t
        lh.get(base).get(ho).get(context).mul().add().get(t).i32(dh * 4).mul().add().set(kp);
        for (let v = 0; v < V; v++) {
          lh.get(kc).get(kp).add().get(qr).get(ho).add().v128Load(K + 16 * v).v128Store(16 * v);
          lh.get(vc).get(kp).add().get(qr).get(ho).add().v128Load(2 * K + 16 * v).v128Store(16 * v);
        }
        for (let v = 0; v < V; v++) lh.get(qr).get(ho).add().v128Load(16 * v).get(scale).f32x4Splat().f32x4Mul().set(q(v));
        const at = {
          probs: (c: Code) => c.get(w),
          keys: (c: Code) => c.get(kc).get(base).add().get(ho).get(context).mul().add(),
          values: (c: Code) => c.get(vc).get(base).add().get(ho).get(context).mul().add(),
        };
        attendOne(lh, { j, j0: zero, jEnd: t, pp: wp, kp, max, p, inv, sum, e, t: tv, ps, q, acc }, V, at, 0, 0, dh * 4);
        for (let v = 0; v < V; v++) lh.get(out).get(r).i32(d * 4).mul().add().get(ho).add().get(acc(v)).v128Store(16 * v);
        lh.get(ho).i32(dh * 4).add().set(ho);
        lh.br(0);
      }));
      lr.get(r).i32(1).add().set(r);
      lr.br(0);
    }));
  }
  const decode: FuncDef = {
    name: 'decode',
    params: [...new Array(9).fill(I32), F32],
    locals: [...new Array(9).fill(I32), F32, F32, F32, F64, F64, ...new Array(2 * V + 2).fill(V128)],
    body: c,
  };
  return [expFunc(), forward, backward, decode];
}

interface AttentionExports {
  forward(qkv: number, seg: number, n: number, probs: number, out: number, scale: number): void;
  backward(qkv: number, probs: number, dOut: number, seg: number, n: number, dqkv: number, dP: number, scale: number): void;
  decode(qkv: number, m: number, slotIds: number, pos: number, kCache: number, vCache: number, context: number, out: number, w: number, scale: number): void;
}

/**
 * One layer's KV cache in the backend's memory: [slots, heads, context, dh] floats each for k and
 * v, so the keys a head attends over are one contiguous run (read at every step).
 */
export interface KvCache {
  k: number;
  v: number;
}

/** The attention kernels for one (d, heads) on one wasm backend. */
export class SimdAttention {
  private constructor(
    private readonly mem: WasmMemory,
    private readonly fns: AttentionExports,
    private readonly shape: AttentionShape,
  ) {}

  static create(mem: WasmMemory, shape: AttentionShape): SimdAttention | null {
    const dh = shape.d / shape.heads;
    if (!Number.isInteger(dh) || dh % 4 !== 0) return null;
    const bytes = encodeModule(attentionFuncs(shape.d, shape.heads));
    if (!WebAssembly.validate(bytes)) return null;
    try {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem.memory } });
      return new SimdAttention(mem, instance.exports as unknown as AttentionExports, shape);
    } catch {
      return null; // the JS kernels then
    }
  }

  private scale(): number {
    return 1 / Math.sqrt(this.shape.d / this.shape.heads);
  }

  /**
   * out [n, d] of qkv [n, 3d] with segment starts segStart (0 ≤ segStart[i] ≤ i), and what the
   * backward pass needs: the probabilities and segStart as an int32 tensor.
   */
  forward(qkv: tf.Tensor2D, segStart: Int32Array): { out: tf.Tensor2D; probs: tf.Tensor1D; seg: tf.Tensor1D } {
    const n = qkv.shape[0];
    if (segStart.length !== n || qkv.shape[1] !== 3 * this.shape.d) throw new Error(`attention: qkv is [${qkv.shape}], segStart has ${segStart.length}`);
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      if (!(segStart[i] >= 0 && segStart[i] <= i)) throw new Error(`attention: segStart[${i}] = ${segStart[i]} is not in [0, ${i}]`);
      pairs += i - segStart[i] + 1;
    }
    const { mem } = this;
    const src = mem.offset(qkv);
    const made: tf.Tensor[] = [];
    try {
      const seg = tf.tensor1d(segStart, 'int32');
      made.push(seg);
      const probs = mem.compute<tf.Tensor1D>([this.shape.heads * pairs], () => {});
      made.push(probs);
      const out = mem.compute<tf.Tensor2D>([n, this.shape.d], (o) => this.fns.forward(src, mem.offset(seg), n, mem.offset(probs), o, this.scale()));
      return { out, probs, seg };
    } catch (e) {
      tf.dispose(made);
      throw e;
    }
  }

  /** The gradient with respect to qkv, from forward's probs and seg. */
  backward(qkv: tf.Tensor2D, probs: tf.Tensor1D, dOut: tf.Tensor2D, seg: tf.Tensor1D): tf.Tensor2D {
    const n = qkv.shape[0];
    const { mem } = this;
    const [q, p, g, s] = [qkv, probs, dOut, seg].map((t) => mem.offset(t));
    return mem.compute<tf.Tensor2D>([n, 3 * this.shape.d], (dqkv) => {
      mem.heap().fill(0, dqkv / 4, dqkv / 4 + n * 3 * this.shape.d);
      mem.withScratch(n * 4, (dP) => this.fns.backward(q, p, g, s, n, dqkv, dP, this.scale()));
    });
  }

  /** KV caches for `layers` layers of `slots` × `context` positions (zeroed); free them with freeCaches. */
  allocCaches(layers: number, slots: number, context: number): KvCache[] {
    const bytes = slots * context * this.shape.d * 4;
    const blocks: number[] = [];
    try {
      for (let i = 0; i < 2 * layers; i++) {
        blocks.push(this.mem.malloc(bytes));
        new Uint8Array(this.mem.memory.buffer).fill(0, blocks[i], blocks[i] + bytes);
      }
    } catch (e) {
      for (const b of blocks) this.mem.free(b);
      throw e;
    }
    return Array.from({ length: layers }, (_, l) => ({ k: blocks[2 * l], v: blocks[2 * l + 1] }));
  }

  freeCaches(caches: readonly KvCache[]): void {
    for (const c of caches) {
      this.mem.free(c.k);
      this.mem.free(c.v);
    }
  }

  /** Bytes of the scratch decodeAt needs for `slots` slots. */
  decodeScratchBytes(slots: number, context: number): number {
    return (2 * slots + context) * 4;
  }

  /**
   * One decoding step (attention.ts's attentionStep on the cache in the backend's memory): row r
   * of qkv [m, 3d] at byte address `qkv` is slot slots[r] at position pos[slots[r]] (< context);
   * the attention of each row goes to [m, d] at `out`. `scratch` holds decodeScratchBytes(pos.length, context).
   */
  decodeAt(qkv: number, slots: readonly number[], pos: Int32Array, cache: KvCache, context: number, out: number, scratch: number): void {
    // The kernel writes into the cache at these places: check them here.
    for (const s of slots) {
      if (!(s >= 0 && s < pos.length && pos[s] >= 0 && pos[s] < context)) throw new Error(`decode step: slot ${s} at position ${pos[s]} is outside the cache`);
    }
    const m = slots.length;
    const ids = scratch;
    const ps = ids + m * 4;
    const w = ps + pos.length * 4;
    const buf = this.mem.memory.buffer;
    new Int32Array(buf, ids, m).set(slots);
    new Int32Array(buf, ps, pos.length).set(pos);
    this.fns.decode(qkv, m, ids, ps, cache.k, cache.v, context, out, w, this.scale());
  }

  /** decodeAt for qkv [m, 3d] in a JS array; returns the attention [m, d] as a new array. */
  decodeStep(qkv: Float32Array, slots: readonly number[], pos: Int32Array, cache: KvCache, context: number): Float32Array {
    const m = slots.length;
    const { d } = this.shape;
    if (qkv.length !== m * 3 * d) throw new Error(`decodeStep: qkv has ${qkv.length} values for ${m} rows`);
    const qkvBytes = m * 3 * d * 4;
    const outBytes = m * d * 4;
    return this.mem.withScratch(qkvBytes + outBytes + this.decodeScratchBytes(pos.length, context), (at) => {
      const out = at + qkvBytes;
      new Float32Array(this.mem.memory.buffer, at, m * 3 * d).set(qkv);
      this.decodeAt(at, slots, pos, cache, context, out, out + outBytes);
      return new Float32Array(this.mem.memory.buffer, out, m * d).slice();
    });
  }
}

const bound = new WeakMap<object, Map<string, SimdAttention | null>>();
/** The kernels for the current backend and shape, or null when not on wasm (or dh % 4 ≠ 0). */
export function simdAttention(shape: AttentionShape): SimdAttention | null {
  const backend = currentWasmBackend();
  if (!backend) return null;
  let byShape = bound.get(backend);
  if (!byShape) bound.set(backend, (byShape = new Map()));
  const key = `${shape.d}/${shape.heads}`;
  if (!byShape.has(key)) byShape.set(key, SimdAttention.create(new WasmMemory(backend), shape));
  return byShape.get(key)!;
}
