// Batched sampling with a KV cache: each step feeds one new token per active slot, and a slot
// whose document ends (EOS or maxLength) is refilled with the next document at once, so the batch
// stays full. On wasm a step runs on buffers the decoder keeps in the backend's memory, without
// tfjs tensors (a tfjs op costs microseconds of bookkeeping whatever its size, and a step made
// ~30 of them): simd.ts's products, simd-attention.ts's decoding kernel over the cache, and
// simd-elementwise.ts's float64 LayerNorm, residual adds and GELU's two multiplications; only
// GELU's sigmoid is tfjs's kernel, whose bits are XNNPACK's, and the embedding lookup and the
// draw are JS. Elsewhere (and as the reference the wasm step is tested against) the products
// and the MLP are tfjs ops, LayerNorm and residuals JS, attention simd-attention.ts's kernel or
// attention.ts's JS.
// Past the context the cache is full: the slot is re-primed with the last context/2 tokens of
// its document at positions 0 … context/2 − 1 (fed through the same cached steps; the logits of
// all but the last are unused), and sampling goes on from the cache. That is how training sees
// long documents too (windows starting mid-document at position 0); it conditions on between
// context/2 and context tokens instead of always context, and costs context/2 − 1 re-priming
// rows per context/2 + 1 tokens drawn past the context (about one extra row per token) instead
// of a full forward pass over the window for every token (~30× the speed there). A re-priming
// row needs only the keys and values it leaves in the caches: it stops after the last layer's
// attention step (no output projection, MLP or logits: ~40 % of a row of `small`).
// Each document draws from its own RNG stream (seeded from the caller's rng up front), so the
// documents do not depend on the batch size.

import * as tf from '@tensorflow/tfjs';
import { drawIndex, rngFor, type Rng } from '../../rng.js';
import { attentionStep } from './attention.js';
import type { GptParams, GptShape } from './gpt.js';
import { GELU_K, LN_EPS } from './layers.js';
import type { Vocab } from './packing.js';
import { ruleWeights, type SamplingRule } from '../sampling.js';
import { simdAttention, type KvCache, type SimdAttention } from '../../kernels/simd-attention.js';
import { simdElementwise, type SimdElementwise } from '../../kernels/simd-elementwise.js';
import { currentWasmBackend, simdMatMul, WasmMemory, type PackedMatrix, type SimdMatMul, type WasmBackend } from '../../kernels/simd.js';

/**
 * LayerNorm of each row in float64, stored as float32. Four rows at a time: their sums are four
 * independent chains (each row's in the same order as alone, so the same bits), which the CPU
 * overlaps instead of waiting on one chain of additions (1.6× the speed at 64 rows).
 */
export function layerNormJs(x: Float32Array, rows: number, d: number, g: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(rows * d);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const o0 = r * d;
    const o1 = o0 + d;
    const o2 = o1 + d;
    const o3 = o2 + d;
    let m0 = 0;
    let m1 = 0;
    let m2 = 0;
    let m3 = 0;
    for (let c = 0; c < d; c++) {
      m0 += x[o0 + c];
      m1 += x[o1 + c];
      m2 += x[o2 + c];
      m3 += x[o3 + c];
    }
    m0 /= d;
    m1 /= d;
    m2 /= d;
    m3 /= d;
    let v0 = 0;
    let v1 = 0;
    let v2 = 0;
    let v3 = 0;
    for (let c = 0; c < d; c++) {
      const a0 = x[o0 + c] - m0;
      const a1 = x[o1 + c] - m1;
      const a2 = x[o2 + c] - m2;
      const a3 = x[o3 + c] - m3;
      v0 += a0 * a0;
      v1 += a1 * a1;
      v2 += a2 * a2;
      v3 += a3 * a3;
    }
    const s0 = 1 / Math.sqrt(v0 / d + LN_EPS);
    const s1 = 1 / Math.sqrt(v1 / d + LN_EPS);
    const s2 = 1 / Math.sqrt(v2 / d + LN_EPS);
    const s3 = 1 / Math.sqrt(v3 / d + LN_EPS);
    for (let c = 0; c < d; c++) {
      out[o0 + c] = (x[o0 + c] - m0) * s0 * g[c] + b[c];
      out[o1 + c] = (x[o1 + c] - m1) * s1 * g[c] + b[c];
      out[o2 + c] = (x[o2 + c] - m2) * s2 * g[c] + b[c];
      out[o3 + c] = (x[o3 + c] - m3) * s3 * g[c] + b[c];
    }
  }
  for (; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    for (let c = 0; c < d; c++) mean += x[o + c];
    mean /= d;
    let v = 0;
    for (let c = 0; c < d; c++) v += (x[o + c] - mean) * (x[o + c] - mean);
    const rstd = 1 / Math.sqrt(v / d + LN_EPS);
    for (let c = 0; c < d; c++) out[o + c] = (x[o + c] - mean) * rstd * g[c] + b[c];
  }
  return out;
}

/**
 * The operations of a decoding step on buffers of type B: JS arrays (tfjs ops and JS kernels),
 * or byte addresses in the wasm backend's memory (WasmStep). Decoder.step is written once
 * against them. A result may be a buffer the operations reuse: it is valid until the next call.
 */
interface StepOps<B> {
  /** The residual stream of m rows: token plus position embedding. */
  embed(tokens: readonly number[], positions: readonly number[]): B;
  /** LayerNorm number `i` (two per layer, then the final one) of x's first rows. */
  layerNorm(x: B, rows: number, i: number): B;
  /** x [rows, K] · W. */
  product(x: B, rows: number, w: tf.Tensor2D): B;
  /** Layer l's attention over its cache for the rows of qkv [m, 3d] (slot slots[r] at pos[slots[r]]). */
  attend(qkv: B, slots: readonly number[], pos: Int32Array, l: number): B;
  /** x · W1 → GELU → · W2. */
  mlp(x: B, rows: number, w1: tf.Tensor2D, w2: tf.Tensor2D): B;
  /** x += y over n floats. */
  addTo(x: B, y: B, n: number): void;
  /** The first n floats of x as a new array. */
  read(x: B, n: number): Float32Array;
  dispose(): void;
}

/** What both kinds of step operations share: the weights, and their packed panels on wasm. */
interface DecoderParts {
  p: GptParams;
  s: GptShape;
  wte: Float32Array;
  wpe: Float32Array;
  /** LayerNorm gains and biases: g, b of each LayerNorm in order. */
  ln: Float32Array[];
  /** x · W on wasm with W's panels packed once (they are read at every step), else null. */
  products: SimdMatMul | null;
  packedOf(w: tf.Tensor2D): PackedMatrix;
}

/** The token plus position embedding of each fed row into x. */
function embedInto(parts: DecoderParts, tokens: readonly number[], positions: readonly number[], x: Float32Array): void {
  const d = parts.s.dModel;
  for (let r = 0; r < tokens.length; r++) {
    const te = tokens[r] * d;
    const pe = positions[r] * d;
    for (let c = 0; c < d; c++) x[r * d + c] = parts.wte[te + c] + parts.wpe[pe + c];
  }
}

/** The step on JS arrays: products and the MLP as tfjs ops, attention in simd-attention.ts's kernel or attention.ts. */
class JsStep implements StepOps<Float32Array> {
  private readonly simd: SimdAttention | null;
  private readonly caches: KvCache[] = [];
  private readonly kCache: Float32Array[] = [];
  private readonly vCache: Float32Array[] = [];

  constructor(
    private readonly parts: DecoderParts,
    slots: number,
  ) {
    const { s, p } = parts;
    this.simd = simdAttention({ d: s.dModel, heads: s.nHeads });
    if (this.simd) this.caches = this.simd.allocCaches(p.blocks.length, slots, s.context);
    else {
      const cacheSize = slots * s.context * s.dModel;
      this.kCache = p.blocks.map(() => new Float32Array(cacheSize));
      this.vCache = p.blocks.map(() => new Float32Array(cacheSize));
    }
  }

  dispose(): void {
    this.simd?.freeCaches(this.caches.splice(0));
  }

  embed(tokens: readonly number[], positions: readonly number[]): Float32Array {
    const x = new Float32Array(tokens.length * this.parts.s.dModel);
    embedInto(this.parts, tokens, positions, x);
    return x;
  }

  layerNorm(x: Float32Array, rows: number, i: number): Float32Array {
    return layerNormJs(x, rows, this.parts.s.dModel, this.parts.ln[2 * i], this.parts.ln[2 * i + 1]);
  }

  /** x·W as a tensor: simd.ts's kernel on wasm, else tf.matMul. */
  private tensorProduct(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
    const { products } = this.parts;
    return products ? products.matMulPacked(x, false, this.parts.packedOf(w)) : tf.matMul(x, w);
  }

  private read2d(f: () => tf.Tensor2D): Float32Array {
    const y = tf.tidy(f);
    const out = y.dataSync() as Float32Array;
    y.dispose();
    return out;
  }

  /** The first rows of x, as many columns as W has rows, times W. */
  private rowsTimes(x: Float32Array, rows: number, w: tf.Tensor2D): tf.Tensor2D {
    return this.tensorProduct(tf.tensor2d(x.subarray(0, rows * w.shape[0]), [rows, w.shape[0]]), w);
  }

  product(x: Float32Array, rows: number, w: tf.Tensor2D): Float32Array {
    return this.read2d(() => this.rowsTimes(x, rows, w));
  }

  /** GELU's sigmoid on the backend: vectorised, where Math.exp in JS is not. */
  mlp(x: Float32Array, rows: number, w1: tf.Tensor2D, w2: tf.Tensor2D): Float32Array {
    return this.read2d(() => {
      const u = this.rowsTimes(x, rows, w1);
      return this.tensorProduct(tf.mul(u, tf.sigmoid(tf.mul(u, GELU_K))) as tf.Tensor2D, w2);
    });
  }

  attend(qkv: Float32Array, slots: readonly number[], pos: Int32Array, l: number): Float32Array {
    const { s } = this.parts;
    return this.simd
      ? this.simd.decodeStep(qkv, slots, pos, this.caches[l], s.context)
      : attentionStep(qkv, slots, pos, this.kCache[l], this.vCache[l], s.context, { d: s.dModel, heads: s.nHeads });
  }

  addTo(x: Float32Array, y: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) x[i] += y[i];
  }

  read(x: Float32Array, n: number): Float32Array {
    return x.slice(0, n);
  }
}

/**
 * The step on wasm without tfjs tensors: buffers of `slots` rows in the backend's memory (byte
 * addresses), simd.ts's products, simd-attention.ts's decoding kernel on caches beside them, and
 * simd-elementwise.ts's LayerNorm (the float64 one of layerNormJs, bit for bit), residual adds
 * and GELU's multiplications; GELU's sigmoid is tfjs's kernel on a tensor made in place. Every
 * operation is the float32 or float64 arithmetic of JsStep's, so the documents are the same.
 */
class WasmStep implements StepOps<number> {
  private readonly mem: WasmMemory;
  private readonly caches: KvCache[];
  private readonly block: number;
  /**
   * Buffers: the residual stream, a LayerNorm's output, the attention's output, a product's
   * output (qkv, the projections, the logits), the MLP's hidden layer before and after GELU.
   */
  private readonly x: number;
  private readonly normed: number;
  private readonly att: number;
  private readonly out: number;
  private readonly hidden: number;
  private readonly gelu: number;
  private readonly scratch: number;
  /** The LayerNorm gains and biases, copied in. */
  private readonly ln: number;

  private constructor(
    private readonly parts: DecoderParts,
    backend: WasmBackend,
    private readonly simd: SimdAttention,
    private readonly el: SimdElementwise,
    slots: number,
  ) {
    const { s, p } = parts;
    const d = s.dModel;
    this.mem = new WasmMemory(backend);
    const hidden = p.blocks[0].w1.shape[1];
    // Each buffer a whole number of vectors, so that the next starts 16-byte aligned.
    const floats = [d, d, d, Math.max(3 * d, s.vocabSize), hidden, hidden].map((w) => Math.ceil((slots * w) / 4) * 4);
    const lnFloats = parts.ln.length * d;
    this.block = this.mem.malloc((floats.reduce((a, b) => a + b, 0) + lnFloats) * 4 + simd.decodeScratchBytes(slots, s.context));
    const at = [this.block];
    for (const f of [...floats, lnFloats]) at.push(at[at.length - 1] + f * 4);
    [this.x, this.normed, this.att, this.out, this.hidden, this.gelu, this.ln, this.scratch] = at;
    parts.ln.forEach((v, i) => this.mem.heap().set(v, this.ln / 4 + i * d));
    try {
      this.caches = simd.allocCaches(p.blocks.length, slots, s.context);
    } catch (e) {
      this.mem.free(this.block);
      throw e;
    }
  }

  /** The wasm step where the backend is wasm and all three kernels exist (and d is a multiple of 4), else null. */
  static create(parts: DecoderParts, slots: number): WasmStep | null {
    const backend = currentWasmBackend();
    const simd = simdAttention({ d: parts.s.dModel, heads: parts.s.nHeads });
    const el = simdElementwise();
    if (!backend || !parts.products || !simd || !el || parts.s.dModel % 4 !== 0) return null;
    return new WasmStep(parts, backend, simd, el, slots);
  }

  dispose(): void {
    this.simd.freeCaches(this.caches.splice(0));
    this.mem.free(this.block);
  }

  embed(tokens: readonly number[], positions: readonly number[]): number {
    embedInto(this.parts, tokens, positions, new Float32Array(this.mem.memory.buffer, this.x, tokens.length * this.parts.s.dModel));
    return this.x;
  }

  layerNorm(x: number, rows: number, i: number): number {
    const d = this.parts.s.dModel;
    this.el.layerNormF64At(x, rows, d, this.ln + 2 * i * d * 4, this.ln + (2 * i + 1) * d * 4, this.normed, LN_EPS);
    return this.normed;
  }

  private productInto(x: number, rows: number, w: tf.Tensor2D, out: number): number {
    this.parts.products!.productAt(x, w.shape[0], false, rows, w.shape[0], this.parts.packedOf(w), out);
    return out;
  }

  product(x: number, rows: number, w: tf.Tensor2D): number {
    return this.productInto(x, rows, w, this.out);
  }

  mlp(x: number, rows: number, w1: tf.Tensor2D, w2: tf.Tensor2D): number {
    const n = rows * w1.shape[1];
    const u = this.productInto(x, rows, w1, this.hidden);
    // u · σ(k·u) as layers.ts's gelu: k·u into a tensor for tfjs's sigmoid, then u · σ.
    const ku = this.mem.compute<tf.Tensor2D>([rows, w1.shape[1]], (at) => this.el.scaleAt(u, n, GELU_K, at));
    let sig: tf.Tensor | null = null;
    try {
      sig = tf.sigmoid(ku);
      this.el.mulAt(u, this.mem.offset(sig), n, this.gelu);
    } finally {
      tf.dispose([ku, ...(sig ? [sig] : [])]);
    }
    return this.productInto(this.gelu, rows, w2, this.out);
  }

  attend(qkv: number, slots: readonly number[], pos: Int32Array, l: number): number {
    this.simd.decodeAt(qkv, slots, pos, this.caches[l], this.parts.s.context, this.att, this.scratch);
    return this.att;
  }

  addTo(x: number, y: number, n: number): void {
    this.el.addAt(x, y, n, x);
  }

  read(x: number, n: number): Float32Array {
    return this.mem.heap().slice(x / 4, x / 4 + n);
  }
}

/** The KV-cache decoder: weights read once, caches for `slots` concurrent documents. */
export class Decoder {
  private readonly parts: DecoderParts;
  private readonly packed = new Map<tf.Tensor, PackedMatrix>();
  private readonly ops: StepOps<unknown>;

  /** `reference`: the step through tfjs tensors and JS arrays even on wasm (what the wasm step is tested against). */
  constructor(p: GptParams, s: GptShape, slots: number, reference = false) {
    const products = simdMatMul();
    this.parts = {
      p,
      s,
      wte: p.wte.dataSync() as Float32Array,
      wpe: p.wpe.dataSync() as Float32Array,
      ln: [...p.blocks.flatMap((b) => [b.ln1g, b.ln1b, b.ln2g, b.ln2b]), p.lnfg, p.lnfb].map((t) => t.dataSync() as Float32Array),
      products,
      packedOf: (w) => {
        let packed = this.packed.get(w);
        if (!packed) this.packed.set(w, (packed = products!.packB(w)));
        return packed;
      },
    };
    this.ops = (reference ? null : WasmStep.create(this.parts, slots)) ?? new JsStep(this.parts, slots);
  }

  /** Whether the steps run on wasm buffers without tfjs tensors. */
  get onWasmBuffers(): boolean {
    return this.ops instanceof WasmStep;
  }

  /** Frees the caches, buffers and packed weights held in the backend's memory. */
  dispose(): void {
    this.ops.dispose();
    for (const packed of this.packed.values()) this.parts.products!.freePacked(packed);
    this.packed.clear();
  }

  /**
   * Logits [rows, V] for the tokens fed at positions pos[slot] (< context), filling the caches.
   * Only the first `rows` of the slots (default all) need logits: the others are re-priming
   * (their logits are never used), and past the last layer's keys and values they are not
   * computed. A row's values do not depend on the other rows, so the first rows' logits are the
   * same as when every row is computed.
   */
  step(slots: readonly number[], tokens: readonly number[], pos: Int32Array, rows = slots.length): Float32Array {
    const { p, s } = this.parts;
    const d = s.dModel;
    const ops = this.ops;
    const m = slots.length;
    const x = ops.embed(tokens, slots.map((k) => pos[k]));
    const last = p.blocks.length - 1;
    for (let l = 0; l <= last; l++) {
      const b = p.blocks[l];
      const att = ops.attend(ops.product(ops.layerNorm(x, m, 2 * l), m, b.wqkv), slots, pos, l);
      // After the last layer's keys and values (stored by the attention step) only the rows
      // that need logits go on.
      const n = l === last ? rows : m;
      if (n === 0) break;
      ops.addTo(x, ops.product(att, n, b.wo), n * d);
      ops.addTo(x, ops.mlp(ops.layerNorm(x, n, 2 * l + 1), n, b.w1, b.w2), n * d);
    }
    if (rows === 0) return new Float32Array(0);
    return ops.read(ops.product(ops.layerNorm(x, rows, 2 * p.blocks.length), rows, p.head), rows * s.vocabSize);
  }
}

export interface SampleJob {
  rule: SamplingRule;
  maxLength: number;
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
}

/** Lets timers and signal handlers run between steps of a long synchronous computation. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Decoding steps between two yields to the event loop. */
const STEPS_PER_YIELD = 16;

/** The seed of each of n documents' own RNG stream, drawn from the caller's rng up front. */
export function documentSeeds(n: number, rng: Rng): number[] {
  return Array.from({ length: n }, () => rng.uint32());
}

/**
 * Documents (token ids without BOS/EOS) sampled under the rule, one per seed of
 * documentSeeds: a document depends on its seed alone, not on the batch or on which thread
 * samples it.
 */
export async function sampleDocuments(p: GptParams, s: GptShape, vocab: Vocab, job: SampleJob, seeds: readonly number[]): Promise<number[][]> {
  const slots = sampleSlots(job, seeds.length);
  const sampled = await sampleClaimed(p, s, vocab, job, seeds, 0, Int32Array.of(slots));
  return seeds.map((_, i) => sampled.get(i)!);
}

/** The slots a sampler fills: the batch size, or fewer when there are fewer documents. */
export function sampleSlots(job: SampleJob, n: number): number {
  return Math.max(1, Math.min(job.batchSize, n));
}

/**
 * The documents of seeds first … first + slots − 1 (those below n: this thread's first fill of
 * its slots), then of the seeds whose indices it claims from `next` (the index of the next
 * unclaimed seed, taken with Atomics.add, starting past every thread's first fill) until none is
 * left, by index. With `next` in a SharedArrayBuffer two threads sample the seeds together
 * (transformer.ts): each takes the next document whenever one of its slots frees, so both finish
 * within about a document of each other however the lengths fall, and each has its first fill
 * whatever the timing; which thread samples a document does not change it.
 */
export async function sampleClaimed(p: GptParams, s: GptShape, vocab: Vocab, job: SampleJob, seeds: readonly number[], first: number, next: Int32Array): Promise<Map<number, number[]>> {
  const { rule, maxLength } = job;
  const n = seeds.length;
  const slots = sampleSlots(job, n);
  const docs = new Map<number, number[]>();
  const dec = new Decoder(p, s, slots);
  const slotDoc = new Int32Array(slots).fill(-1);
  const slotTokens: number[][] = new Array(slots);
  const slotRng: Rng[] = new Array(slots);
  // The cache of a slot holds seq[start … start + pos − 1] of seq = [BOS, …document] at
  // positions 0 … pos − 1; a token is drawn once the cache covers the whole sequence.
  const pos = new Int32Array(slots);
  const start = new Int32Array(slots);
  const reprime = Math.max(1, s.context >> 1);
  const probs = new Float64Array(s.vocabSize);
  let live = 0;
  let done = 0;
  const refill = (slot: number, i = Atomics.add(next, 0, 1)) => {
    slotDoc[slot] = i < n ? i : -1;
    if (i < n) {
      slotTokens[slot] = [];
      docs.set(i, slotTokens[slot]);
      slotRng[slot] = rngFor(seeds[i], 'doc');
      pos[slot] = 0;
      start[slot] = 0;
    } else live--;
  };
  const tokenAt = (doc: readonly number[], i: number) => (i === 0 ? vocab.bos : doc[i - 1]);
  try {
    live = slots;
    for (let k = 0; k < slots; k++) refill(k, first + k);
    for (let step = 1; live > 0; step++) {
      // The slots that draw after this step first, then those still re-priming (no logits).
      const active: number[] = [];
      const priming: number[] = [];
      for (let k = 0; k < slots; k++) {
        if (slotDoc[k] < 0) continue;
        const doc = slotTokens[k];
        if (pos[k] === s.context) {
          // Cache full: start again from the last `reprime` tokens of the sequence.
          start[k] = doc.length + 1 - reprime;
          pos[k] = 0;
        }
        const draws = start[k] + pos[k] >= doc.length; // the token fed is the sequence's last
        (draws ? active : priming).push(k);
      }
      const fed = [...active, ...priming];
      const tokens = fed.map((k) => tokenAt(slotTokens[k], start[k] + pos[k]));
      const logits = dec.step(fed, tokens, pos, active.length);
      for (const k of priming) pos[k]++;
      let finished = false;
      active.forEach((k, r) => {
        pos[k]++;
        const doc = slotTokens[k];
        // Draw the slot's next token; a finished document frees its slot for the next one.
        const t = drawIndex(slotRng[k], ruleWeights(rule, logits, r * s.vocabSize, s.vocabSize, vocab.bos, probs));
        const ends = t === vocab.eos;
        if (!ends) doc.push(t);
        if (ends || doc.length >= maxLength) {
          done++;
          finished = true;
          refill(k);
        }
      });
      if (finished) job.onProgress?.(done, n);
      if (step % STEPS_PER_YIELD === 0) await yieldToEventLoop();
    }
  } finally {
    dec.dispose();
  }
  return docs;
}
