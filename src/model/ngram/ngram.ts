// The softmax n-gram: a learned table of logits, one row per context of n−1 tokens (hashed into
// `buckets` rows when there are more contexts than that), trained by cross-entropy with Adam.
// It is the fast model of the harness: a generation trains in seconds and samples millions of
// tokens a second, and its first-token distribution is exactly one softmax row, so the `first`
// coarse-graining sees τ_T itself. Finite buckets make the learned map non-surjective on purpose.
//
// The table lives in a Float32Array: training copies the rows a batch touches into TensorFlow.js
// for the loss and gradient (src/model/ngram/train.ts), and sampling reads it in plain JS with
// the caller's Rng, so no tensor call is paid per token.

import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../errors.js';
import { permutation, type Rng } from '../../rng.js';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { checkSamplingRule, ruleWeights, samplingRuleKey, type SamplingRule } from '../sampling.js';
import { LazyAdam, PositionStream, batchLossAndGrad, rowIndex, type RowIndex } from './train.js';
import type {
  LanguageModel,
  ModelFactory,
  ModelSpec,
  SampleOptions,
  TrainOptions,
  TrainResult,
  TrainingBudget,
  TrainingSet,
} from '../types.js';

// A type, not an interface: it must fit LanguageModel.config (a Record).
export type NgramConfig = {
  /** n: the next token is predicted from the previous n−1 tokens (BOS-padded at the start). */
  readonly order: number;
  /** Rows available to contexts; with more contexts than rows they are hashed and share rows. */
  readonly buckets: number;
  /** Token positions per optimizer step. */
  readonly batchSize: number;
  readonly learningRate: number;
  /** Optimizer steps per generation when the run gives no --steps. */
  readonly steps: number;
};

export const defaultNgramConfig: NgramConfig = Object.freeze({
  order: 3,
  // 2^16 rows: far more than the ~3k contexts of order-3 names, so collisions only start to
  // matter for larger vocabularies or orders (lowered for large vocabularies, see MAX_ENTRIES).
  buckets: 65536,
  batchSize: 512,
  // Adam's rate, decayed linearly to zero within each trainSteps call. Tuned on names (order 3,
  // 250 steps, 1,000 names held out): 0.1 reaches held-out 2.17 nats/token (a smoothed count
  // trigram: 2.15) with the first-token row within TV 0.02 of the training set; 0.05 is slower,
  // 0.2 starts to overfit rare contexts.
  learningRate: 0.1,
  // One pass over names is ~60k positions / 512 ≈ 115 steps: 250 steps ≈ two passes.
  steps: 250,
});

/** Table entries (rows × V) we allow: 2^24 floats = 64 MB, three times that while training (Adam). */
export const MAX_ENTRIES = 2 ** 24;
/** Documents cut here when sampling without a maxLength: a guard against endless text at high T. */
export const DEFAULT_MAX_LENGTH = 1024;
/** Documents fetched from the training set at a time (one docs() call, e.g. one SQL query). */
const DRAW_CHUNK = 256;

const bad = (msg: string) => new UserError(`ngram: ${msg}`, 'E_MODEL_OPTIONS');

function checkInt(key: string, x: unknown, lo: number, hi: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) {
    throw bad(`${key} must be a whole number from ${lo} to ${hi}, got ${JSON.stringify(x)}`);
  }
  return x;
}

export function normalizeNgram(spec: ModelSpec): NgramConfig {
  const V = checkInt('vocabSize', spec.vocabSize, 2, 2 ** 20);
  checkInt('bos', spec.bos, 0, V - 1);
  checkInt('eos', spec.eos, 0, V - 1);
  if (spec.bos === spec.eos) throw bad('bos and eos must be different tokens');
  const opts = spec.options ?? {};
  const known = Object.keys(defaultNgramConfig);
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw bad(`unknown option '${key}' (known: ${known.join(', ')})`);
  }
  const given = (key: keyof NgramConfig, fallback: number): unknown => opts[key] ?? fallback;
  // The default bucket count shrinks for large vocabularies so the table stays within MAX_ENTRIES.
  const maxBuckets = Math.floor(MAX_ENTRIES / V);
  const defaultBuckets = Math.min(defaultNgramConfig.buckets, 2 ** Math.floor(Math.log2(maxBuckets)));
  const lr = given('learningRate', defaultNgramConfig.learningRate);
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0 || lr > 10) {
    throw bad(`learningRate must be a number in (0, 10], got ${JSON.stringify(lr)}`);
  }
  return Object.freeze({
    order: checkInt('order', given('order', defaultNgramConfig.order), 1, 12),
    buckets: checkInt('buckets', given('buckets', defaultBuckets), 1, maxBuckets),
    batchSize: checkInt('batchSize', given('batchSize', defaultNgramConfig.batchSize), 1, 65536),
    learningRate: lr,
    steps: checkInt('steps', given('steps', defaultNgramConfig.steps), 0, 1e9),
  });
}

export class NgramModel implements LanguageModel {
  readonly kind = 'ngram' as const;
  readonly config: NgramConfig;
  readonly vocabSize: number;
  readonly paramCount: number;
  get budget(): TrainingBudget {
    return { steps: this.config.steps, initialSteps: null, tokensPerStep: this.config.batchSize };
  }
  /** rows × V logits, row-major. */
  readonly table: Float32Array;
  private readonly index: RowIndex;
  private readonly bos: number;
  private readonly eos: number;
  /**
   * Per-row cumulative weights under the sampling rule `cdfRule` (a samplingRuleKey), filled lazily on a row's first use
   * (`cdfReady`) and cleared whenever the table changes. One flat array rather than a Map of
   * rows: with tens of thousands of hashed rows the Map lookups made sampling 4× slower.
   */
  private cdfs: Float64Array | null = null;
  private cdfReady: Uint8Array | null = null;
  private cdfRule = '';
  private cdfRow: Float64Array;

  constructor(private readonly spec: ModelSpec) {
    this.config = normalizeNgram(spec);
    this.vocabSize = spec.vocabSize;
    this.bos = spec.bos;
    this.eos = spec.eos;
    this.index = rowIndex(this.config.order, this.vocabSize, this.config.buckets);
    this.paramCount = this.index.rows * this.vocabSize;
    // Zero logits: an untrained or unseen context predicts uniformly. Each row is a convex
    // softmax regression, so there is no symmetry to break and `spec.seed` is not needed.
    this.table = new Float32Array(this.paramCount);
    this.cdfRow = new Float64Array(this.vocabSize);
  }

  async trainSteps(data: TrainingSet, steps: number, rng: Rng, options: TrainOptions = {}): Promise<TrainResult> {
    checkInt('steps', steps, 0, 1e9);
    if (steps > 0 && data.size < 1) throw new UserError('ngram: the training set is empty', 'E_NO_DATA');
    const { batchSize, order } = this.config;
    const learningRate = options.learningRate ?? this.config.learningRate;
    const V = this.vocabSize;
    // Documents come in epochs, each a fresh random order of the whole set: over a pass every
    // document counts once, so the model fits the training set itself rather than a draw with
    // replacement from it (that draw alone put the first-token row ~0.02 TV off). The order is
    // drawn lazily, so a call costs what its steps read, not the size of the set (flat cost per
    // generation of a long `accumulate` run).
    let pass = permutation(rng, 0);
    let left = 0;
    let queue: readonly (readonly number[])[] = [];
    let q = 0;
    const nextDoc = () => {
      if (q >= queue.length) {
        if (left === 0) {
          pass = permutation(rng, data.size);
          left = data.size;
        }
        const chunk = Array.from({ length: Math.min(DRAW_CHUNK, left) }, () => pass());
        left -= chunk.length;
        queue = data.docs(chunk);
        q = 0;
      }
      return queue[q++];
    };
    const stream = new PositionStream(this.index, order, this.bos, this.eos, nextDoc);
    const adam = new LazyAdam(this.table.length, learningRate);
    const losses: number[] = [];
    this.invalidate();
    for (let step = 1; step <= steps; step++) {
      const batch = stream.batch(batchSize);
      const { loss, ids, grad } = batchLossAndGrad(this.table, V, this.bos, batch);
      // The rate decays linearly to zero over the call: Adam's steps do not shrink with the
      // gradient, so at a constant rate the busiest rows (the first token's) keep jittering
      // around the optimum (TV ≈ 0.05 on names); decaying lets them settle.
      adam.step(this.table, V, ids, grad, 1 - (step - 1) / steps);
      losses.push(loss);
      options.onStep?.(step, loss);
    }
    const last = losses.slice(-20);
    return { steps, loss: last.reduce((a, b) => a + b, 0) / last.length, tokens: steps * batchSize };
  }

  async sample(n: number, rule: SamplingRule, rng: Rng, options: SampleOptions = {}): Promise<number[][]> {
    checkSamplingRule(rule);
    checkInt('n', n, 0, 2 ** 31);
    const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
    checkInt('maxLength', maxLength, 0, 2 ** 24);
    const ctx = this.config.order - 1;
    const buf = new Int32Array(ctx + maxLength + 1).fill(this.bos, 0, ctx);
    this.prepareCdfs(rule);
    const out: number[][] = [];
    for (let i = 0; i < n; i++) {
      // Draw tokens until EOS or maxLength; the context is the last n−1 tokens of buf.
      let len = 0;
      while (len < maxLength) {
        const tok = this.draw(this.index.row(buf, ctx + len), rule, rng);
        if (tok === this.eos) break;
        buf[ctx + len++] = tok;
      }
      out.push(Array.from(buf.subarray(ctx, ctx + len)));
      if (options.onProgress && ((i + 1) % 4096 === 0 || i + 1 === n)) options.onProgress(i + 1, n);
    }
    return out;
  }

  /** One token from the row's weights under the rule, by binary search in its cached CDF. */
  private draw(row: number, rule: SamplingRule, rng: Rng): number {
    const cdf = this.cdfs!;
    if (!this.cdfReady![row]) this.fillCdf(row, rule);
    const base = row * this.vocabSize;
    const u = rng.next() * cdf[base + this.vocabSize - 1];
    let lo = base;
    let hi = base + this.vocabSize - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo - base;
  }

  /** Makes the CDF cache valid for this rule (allocated on first use). */
  private prepareCdfs(rule: SamplingRule): void {
    const key = samplingRuleKey(rule);
    if (!this.cdfs || !this.cdfReady) {
      this.cdfs = new Float64Array(this.table.length);
      this.cdfReady = new Uint8Array(this.index.rows);
    } else if (key !== this.cdfRule) {
      this.cdfReady.fill(0);
    }
    this.cdfRule = key;
  }

  private fillCdf(row: number, rule: SamplingRule): void {
    // The rule's weights for the row (BOS masked), accumulated: the draw scales by the total.
    const V = this.vocabSize;
    const base = row * V;
    const cdf = this.cdfs!;
    const w = ruleWeights(rule, this.table, base, V, this.bos, this.cdfRow);
    let acc = 0;
    for (let j = 0; j < V; j++) cdf[base + j] = acc += w[j];
    this.cdfReady![row] = 1;
  }

  /** log softmax of one row at T = 1, BOS masked (as in training and sampling). */
  private logSoftmax(row: number): Float64Array {
    const V = this.vocabSize;
    const base = row * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (j !== this.bos && this.table[base + j] > max) max = this.table[base + j];
    let z = 0;
    for (let j = 0; j < V; j++) if (j !== this.bos) z += Math.exp(this.table[base + j] - max);
    const lse = max + Math.log(z);
    const out = new Float64Array(V);
    for (let j = 0; j < V; j++) out[j] = j === this.bos ? -Infinity : this.table[base + j] - lse;
    return out;
  }

  async logProbs(docs: readonly (readonly number[])[]): Promise<{ logProb: number; tokens: number }[]> {
    const rows = new Map<number, Float64Array>();
    const ctx = this.config.order - 1;
    return docs.map((doc) => {
      const padded = new Int32Array(ctx + doc.length + 1).fill(this.bos, 0, ctx);
      padded.set(doc, ctx);
      padded[ctx + doc.length] = this.eos;
      let logProb = 0;
      for (let i = ctx; i < padded.length; i++) {
        const r = this.index.row(padded, i);
        let ls = rows.get(r);
        if (!ls) rows.set(r, (ls = this.logSoftmax(r)));
        logProb += ls[padded[i]];
      }
      return { logProb, tokens: doc.length + 1 };
    });
  }

  async firstTokenDistribution(): Promise<Float64Array> {
    const ctx = this.config.order - 1;
    const ls = this.logSoftmax(this.index.row(new Int32Array(ctx).fill(this.bos), ctx));
    return ls.map(Math.exp);
  }

  async save(dir: string): Promise<void> {
    const table = tf.tensor2d(this.table, [this.index.rows, this.vocabSize]);
    try {
      await saveCheckpoint(
        dir,
        { kind: this.kind, config: this.config, extra: { vocabSize: this.vocabSize, bos: this.bos, eos: this.eos, seed: this.spec.seed } },
        { table },
      );
    } finally {
      table.dispose();
    }
  }

  /** Replaces the weights (used by load); the shape must match this model's table. */
  setTable(values: Float32Array): void {
    if (values.length !== this.table.length) {
      throw new UserError(`ngram checkpoint has ${values.length} weights, expected ${this.table.length}`, 'E_CHECKPOINT');
    }
    this.table.set(values);
    this.invalidate();
  }

  private invalidate(): void {
    this.cdfReady?.fill(0);
  }

  /** Nothing lives on the backend between calls; dropping the cache frees its memory early. */
  dispose(): void {
    this.cdfs = null;
    this.cdfReady = null;
  }
}

export const ngramFactory: ModelFactory = {
  runOptions: ['order', 'buckets'],
  // Counting, a softmax table and lazy Adam in plain JS: no matrix products.
  kernel: () => 'none',
  normalize: (spec) => normalizeNgram(spec),
  create: (spec) => new NgramModel(spec),
  async load(dir) {
    const { meta, tensors } = loadCheckpoint(dir);
    try {
      if (meta.kind !== 'ngram') throw new UserError(`${dir} holds a '${meta.kind}' model, not an ngram`, 'E_CHECKPOINT');
      const extra = (meta.extra ?? {}) as { vocabSize: number; bos: number; eos: number; seed: number };
      const model = new NgramModel({ ...extra, options: { ...meta.config } });
      const table = tensors.table;
      if (!table) throw new UserError(`${dir}: checkpoint has no 'table' weights`, 'E_CHECKPOINT');
      model.setTable((await table.data()) as Float32Array);
      return model;
    } finally {
      tf.dispose(Object.values(tensors));
    }
  },
};
