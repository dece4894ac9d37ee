// Batched sampling with a KV cache: each step feeds one new token per active slot, and a slot
// whose document ends (EOS or maxLength) is refilled with the next document at once, so the batch
// stays full. Only the matrix products (simd.ts's kernel on wasm) and the MLP go through tfjs;
// the per-token glue — embedding lookup, LayerNorm, residuals — is plain JS, because at one row
// per slot a tfjs op costs ~30 µs of bookkeeping whatever its size. Attention over the cache is
// simd-attention.ts's decoding kernel on wasm (the cache lives in the backend's memory), JS
// elsewhere.
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
import { simdMatMul, type PackedMatrix, type SimdMatMul } from '../../kernels/simd.js';

/**
 * LayerNorm of each row in float64, stored as float32. Four rows at a time: their sums are four
 * independent chains (each row's in the same order as alone, so the same bits), which the CPU
 * overlaps instead of waiting on one chain of additions (1.6× the speed at 64 rows).
 */
function layerNormJs(x: Float32Array, rows: number, d: number, g: Float32Array, b: Float32Array): Float32Array {
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
    const rstd = (v: number) => 1 / Math.sqrt(v / d + LN_EPS);
    const s0 = rstd(v0);
    const s1 = rstd(v1);
    const s2 = rstd(v2);
    const s3 = rstd(v3);
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

/** The KV-cache decoder: weights read once, caches for `slots` concurrent documents. */
export class Decoder {
  private readonly d: number;
  private readonly wte: Float32Array;
  private readonly wpe: Float32Array;
  private readonly ln: Float32Array[];
  /** The caches: in the wasm backend's memory for its SIMD kernel, else JS arrays for attentionStep. */
  private readonly simd: SimdAttention | null;
  private readonly caches: KvCache[] = [];
  private readonly kCache: Float32Array[] = [];
  private readonly vCache: Float32Array[] = [];
  /** simd.ts's kernel on wasm, with each weight's packed panels (made on first use). */
  private readonly products: SimdMatMul | null = simdMatMul();
  private readonly packed = new Map<tf.Tensor, PackedMatrix>();

  constructor(
    private readonly p: GptParams,
    private readonly s: GptShape,
    slots: number,
  ) {
    this.d = s.dModel;
    this.wte = p.wte.dataSync() as Float32Array;
    this.wpe = p.wpe.dataSync() as Float32Array;
    this.ln = [...p.blocks.flatMap((b) => [b.ln1g, b.ln1b, b.ln2g, b.ln2b]), p.lnfg, p.lnfb].map((t) => t.dataSync() as Float32Array);
    this.simd = simdAttention({ d: s.dModel, heads: s.nHeads });
    if (this.simd) this.caches = this.simd.allocCaches(p.blocks.length, slots, s.context);
    else {
      const cacheSize = slots * s.context * s.dModel;
      this.kCache = p.blocks.map(() => new Float32Array(cacheSize));
      this.vCache = p.blocks.map(() => new Float32Array(cacheSize));
    }
  }

  /** Frees the caches and packed weights held in the backend's memory. */
  dispose(): void {
    this.simd?.freeCaches(this.caches.splice(0));
    for (const packed of this.packed.values()) this.products!.freePacked(packed);
    this.packed.clear();
  }

  /** x·W as a tensor: with W's panels packed once on wasm (they are read at every step), else tf.matMul. */
  private product(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
    if (!this.products) return tf.matMul(x, w);
    let packed = this.packed.get(w);
    if (!packed) this.packed.set(w, (packed = this.products.packB(w)));
    return this.products.matMulPacked(x, false, packed);
  }

  /** x [rows, k] · W; returns a fresh array. */
  private mm(x: Float32Array, rows: number, w: tf.Tensor2D): Float32Array {
    const y = tf.tidy(() => this.product(tf.tensor2d(x, [rows, w.shape[0]]), w));
    const out = y.dataSync() as Float32Array;
    y.dispose();
    return out;
  }

  /** The MLP on the backend, x·W1 → GELU → ·W2: the sigmoid there is vectorised, Math.exp in JS is not. */
  private mlp(x: Float32Array, rows: number, w1: tf.Tensor2D, w2: tf.Tensor2D): Float32Array {
    const y = tf.tidy(() => {
      const u = this.product(tf.tensor2d(x, [rows, w1.shape[0]]), w1);
      return this.product(tf.mul(u, tf.sigmoid(tf.mul(u, GELU_K))) as tf.Tensor2D, w2);
    });
    const out = y.dataSync() as Float32Array;
    y.dispose();
    return out;
  }

  /**
   * Logits [rows, V] for the tokens fed at positions pos[slot] (< context), filling the caches.
   * Only the first `rows` of the slots (default all) need logits: the others are re-priming
   * (their logits are never used), and past the last layer's keys and values they are not
   * computed. A row's values do not depend on the other rows, so the first rows' logits are the
   * same as when every row is computed.
   */
  step(slots: readonly number[], tokens: readonly number[], pos: Int32Array, rows = slots.length): Float32Array {
    const { d, s } = this;
    const m = slots.length;
    const x = new Float32Array(m * d);
    for (let r = 0; r < m; r++) {
      const te = tokens[r] * d;
      const pe = pos[slots[r]] * d;
      for (let c = 0; c < d; c++) x[r * d + c] = this.wte[te + c] + this.wpe[pe + c];
    }
    const last = this.p.blocks.length - 1;
    this.p.blocks.forEach((b, l) => {
      const [g1, b1, g2, b2] = this.ln.slice(4 * l, 4 * l + 4);
      const qkv = this.mm(layerNormJs(x, m, d, g1, b1), m, b.wqkv);
      const att = this.simd
        ? this.simd.decodeStep(qkv, slots, pos, this.caches[l], s.context)
        : attentionStep(qkv, slots, pos, this.kCache[l], this.vCache[l], s.context, { d, heads: s.nHeads });
      // After the last layer's keys and values (stored by the attention step) only the rows
      // that need logits go on.
      const n = l === last ? rows : m;
      if (n === 0) return;
      const proj = this.mm(att.subarray(0, n * d), n, b.wo);
      for (let i = 0; i < n * d; i++) x[i] += proj[i];
      const y = this.mlp(layerNormJs(x, n, d, g2, b2), n, b.w1, b.w2);
      for (let i = 0; i < n * d; i++) x[i] += y[i];
    });
    if (rows === 0) return new Float32Array(0);
    const nl = this.ln.length;
    return this.mm(layerNormJs(x, rows, d, this.ln[nl - 2], this.ln[nl - 1]), rows, this.p.head);
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
 * samples it (transformer.ts splits the seeds over two threads).
 */
export async function sampleDocuments(p: GptParams, s: GptShape, vocab: Vocab, job: SampleJob, seeds: readonly number[]): Promise<number[][]> {
  const { rule, maxLength } = job;
  const n = seeds.length;
  const slots = Math.max(1, Math.min(job.batchSize, n));
  const docs: number[][] = Array.from({ length: n }, () => []);
  const dec = new Decoder(p, s, slots);
  const slotDoc = new Int32Array(slots).fill(-1);
  const slotRng: Rng[] = new Array(slots);
  // The cache of a slot holds seq[start … start + pos − 1] of seq = [BOS, …document] at
  // positions 0 … pos − 1; a token is drawn once the cache covers the whole sequence.
  const pos = new Int32Array(slots);
  const start = new Int32Array(slots);
  const reprime = Math.max(1, s.context >> 1);
  const probs = new Float64Array(s.vocabSize);
  let next = 0;
  let done = 0;
  const refill = (slot: number) => {
    slotDoc[slot] = next < n ? next : -1;
    if (next < n) {
      slotRng[slot] = rngFor(seeds[next], 'doc');
      pos[slot] = 0;
      start[slot] = 0;
      next++;
    }
  };
  const tokenAt = (doc: readonly number[], i: number) => (i === 0 ? vocab.bos : doc[i - 1]);
  try {
    for (let k = 0; k < slots; k++) refill(k);
    for (let step = 1; done < n; step++) {
      // The slots that draw after this step first, then those still re-priming (no logits).
      const active: number[] = [];
      const priming: number[] = [];
      for (let k = 0; k < slots; k++) {
        if (slotDoc[k] < 0) continue;
        const doc = docs[slotDoc[k]];
        if (pos[k] === s.context) {
          // Cache full: start again from the last `reprime` tokens of the sequence.
          start[k] = doc.length + 1 - reprime;
          pos[k] = 0;
        }
        const draws = start[k] + pos[k] >= doc.length; // the token fed is the sequence's last
        (draws ? active : priming).push(k);
      }
      const fed = [...active, ...priming];
      const tokens = fed.map((k) => tokenAt(docs[slotDoc[k]], start[k] + pos[k]));
      const logits = dec.step(fed, tokens, pos, active.length);
      for (const k of priming) pos[k]++;
      let finished = false;
      active.forEach((k, r) => {
        pos[k]++;
        const doc = docs[slotDoc[k]];
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
