// The training machinery of the softmax n-gram (src/model/ngram/ngram.ts): which table row a context
// uses, how a batch of token positions is cut from documents, the loss and its gradient on the
// rows a batch touches, and a lazy (sparse) Adam update.
//
// Why not `tf.gather(table, rows)` under `tf.variableGrads`: the gradient of gather needs the
// UnsortedSegmentSum kernel, which the wasm backend lacks, and a dense gradient followed by a
// dense Adam update would touch every one of up to 2^16 rows on every step, while a batch
// touches a few hundred. So a step copies the touched rows into a dense sub-table, lets
// TensorFlow.js differentiate the loss with respect to that sub-table (a gather whose gradient
// we supply as a scatterND, which wasm has and which sums positions that share a row), and
// applies Adam to those rows only, in plain JS on the Float32Array table.

import * as tf from '@tensorflow/tfjs';

/** Maps a context (the n−1 tokens before a position) to a row of the parameter table. */
export interface RowIndex {
  readonly rows: number;
  /** True when every possible context has its own row (V^(n−1) ≤ buckets); else contexts are hashed. */
  readonly exact: boolean;
  /** Row of the context buf[end−n+1 .. end−1]; the caller pads the start with n−1 BOS. */
  row(buf: ArrayLike<number>, end: number): number;
}

export function rowIndex(order: number, vocabSize: number, buckets: number): RowIndex {
  const width = order - 1;
  const contexts = vocabSize ** width;
  if (contexts <= buckets) {
    // Small vocabulary and order: a mixed-radix number is a collision-free row.
    return {
      rows: contexts,
      exact: true,
      row(buf, end) {
        let r = 0;
        for (let j = end - width; j < end; j++) r = r * vocabSize + buf[j];
        return r;
      },
    };
  }
  return {
    rows: buckets,
    exact: false,
    row(buf, end) {
      // Multiply-xorshift per token, then murmur3's finaliser: small ids spread over all buckets.
      let h = 0x9e3779b9;
      for (let j = end - width; j < end; j++) {
        h = Math.imul(h ^ buf[j], 0x85ebca6b);
        h ^= h >>> 15;
      }
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      return (h >>> 0) % buckets;
    },
  };
}

/** One batch: the table row and the next token of each predicted position. */
export interface Batch {
  rows: Int32Array;
  targets: Int32Array;
}

/**
 * Cuts exactly `batchSize` positions from a stream of documents. A document may continue into
 * the next batch, so every position of every drawn document is used once and a long document
 * cannot blow up one step. `next()` supplies the following document (token ids, no BOS/EOS).
 */
export class PositionStream {
  private padded: Int32Array = new Int32Array(0);
  private pos = 0;
  private end = 0;

  constructor(
    private readonly index: RowIndex,
    private readonly order: number,
    private readonly bos: number,
    private readonly eos: number,
    private readonly next: () => readonly number[],
  ) {}

  batch(batchSize: number): Batch {
    const rows = new Int32Array(batchSize);
    const targets = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) {
      if (this.pos >= this.end) this.load(this.next());
      rows[i] = this.index.row(this.padded, this.pos);
      targets[i] = this.padded[this.pos];
      this.pos++;
    }
    return { rows, targets };
  }

  /** [BOS × (n−1), doc…, EOS]: the targets are the doc's tokens and EOS, never BOS. */
  private load(doc: readonly number[]): void {
    const start = this.order - 1;
    const need = start + doc.length + 1;
    if (this.padded.length < need) this.padded = new Int32Array(Math.max(need, 2 * this.padded.length));
    this.padded.fill(this.bos, 0, start);
    for (let i = 0; i < doc.length; i++) this.padded[start + i] = doc[i];
    this.padded[start + doc.length] = this.eos;
    this.pos = start;
    this.end = need;
  }
}

/** The distinct rows of a batch and, per position, its index among them. */
export function touchedRows(rows: Int32Array): { ids: Int32Array; local: Int32Array } {
  const seen = new Map<number, number>();
  const local = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    let k = seen.get(rows[i]);
    if (k === undefined) {
      k = seen.size;
      seen.set(rows[i], k);
    }
    local[i] = k;
  }
  return { ids: Int32Array.from(seen.keys()), local };
}

/**
 * tf.gather(x, idx) along rows with its gradient written out: scatterND of the upstream
 * gradient, which sums the rows of positions sharing an index (checked against tfjs's own
 * gather gradient in test/ngram.test.ts). Measured on wasm, B = 512, U = 400, V = 55: 4.7 ms a
 * step, against 24 ms for selecting rows by a matMul with a one-hot [B, U] matrix.
 */
export function gatherRows(x: tf.Tensor, idx: tf.Tensor1D): tf.Tensor2D {
  const shape = x.shape as [number, number];
  const gather = tf.customGrad((...args) => ({
    value: tf.gather(args[0] as tf.Tensor, idx),
    gradFunc: (dy: tf.Tensor) => tf.scatterND(tf.reshape(idx, [idx.shape[0], 1]), dy, shape),
  }));
  return gather(x) as tf.Tensor2D;
}

/**
 * Mean softmax cross-entropy of a batch and its gradient with respect to the touched rows
 * (ids.length × V, in the order of `ids`). BOS is masked out of every softmax: it is never a
 * target and never sampled, so it gets no probability mass.
 */
export function batchLossAndGrad(
  table: Float32Array,
  vocabSize: number,
  bos: number,
  batch: Batch,
): { loss: number; ids: Int32Array; grad: Float32Array } {
  const { ids, local } = touchedRows(batch.rows);
  const sub = new Float32Array(ids.length * vocabSize);
  for (let k = 0; k < ids.length; k++) {
    sub.set(table.subarray(ids[k] * vocabSize, (ids[k] + 1) * vocabSize), k * vocabSize);
  }
  const mask = new Float32Array(vocabSize);
  mask[bos] = -1e9;
  const [loss, grad] = tf.tidy(() => {
    const w = tf.tensor2d(sub, [ids.length, vocabSize]);
    const idx = tf.tensor1d(local, 'int32');
    // oneHot is cast from its int32 result: oneHot(…, 'float32') gives garbage on wasm.
    const target = tf.cast(tf.oneHot(tf.tensor1d(batch.targets, 'int32'), vocabSize), 'float32');
    const maskT = tf.tensor2d(mask, [1, vocabSize]);
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => {
      const logits = tf.add(gatherRows(x, idx), maskT);
      return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1)));
    })(w);
    return [value, grad];
  });
  const out = { loss: loss.dataSync()[0], ids, grad: grad.dataSync() as Float32Array };
  tf.dispose([loss, grad]);
  return out;
}

/**
 * Adam applied lazily: only the rows a step touched have their moments and parameters updated
 * (TensorFlow's LazyAdam). Bias correction uses the global step count. A fresh instance per
 * trainSteps call: moments are never carried across calls, so a reloaded model trains alike.
 */
export class LazyAdam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(
    size: number,
    private readonly learningRate: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** One update of the rows `ids` (grad is ids.length × V); `scale` multiplies the learning rate. */
  step(table: Float32Array, vocabSize: number, ids: Int32Array, grad: Float32Array, scale = 1): void {
    this.t++;
    const { m, v, beta1, beta2, epsilon } = this;
    const rate = (scale * this.learningRate * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    for (let k = 0; k < ids.length; k++) {
      const base = ids[k] * vocabSize;
      for (let j = 0; j < vocabSize; j++) {
        const g = grad[k * vocabSize + j];
        const i = base + j;
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        table[i] -= (rate * m[i]) / (Math.sqrt(v[i]) + epsilon);
      }
    }
  }
}
