// The GPT transformer as a LanguageModel: config presets and their validation, training with
// Adam on packed batches, held-out log-probabilities, KV-cache sampling and checkpoints. The
// network itself is in gpt.ts, its custom-gradient layers in layers.ts and attention.ts, the
// batching in packing.ts and the sampler in sampler.ts.

import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../errors.js';
import { currentBackend } from '../../backend.js';
import type { Rng } from '../../rng.js';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { FlatAdam } from './adam.js';
import { GradientReplica, loadParams, paramLayout, partGradients, splitBatch, writeParams } from './data-parallel.js';
import { initParams, namedParams, paramCount, paramsFromTensors, targetLogProbs, type GptParams, type GptShape } from './gpt.js';
import { concatRows, packEval, packTraining, type PackedRows, type Vocab } from './packing.js';
import { Decoder, documentSeeds, sampleClaimed, sampleDocuments, sampleSlots, yieldToEventLoop } from './sampler.js';
import { checkSamplingRule, defaultSamplingRule, ruleWeights, type SamplingRule } from '../sampling.js';
import { productKernel } from '../../kernels/simd.js';
import type {
  LanguageModel,
  ModelFactory,
  ModelSpec,
  SampleOptions,
  SizePreset,
  TrainingSet,
  TrainOptions,
  TrainResult,
  TrainingBudget,
} from '../types.js';

export interface TransformerConfig {
  size: SizePreset;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Longest window the model sees (positions 0 … context − 1). */
  context: number;
  /** Rows of `context` positions per optimizer step. */
  batchSize: number;
  learningRate: number;
  /** Default optimizer steps per generation of the closed loop, fine-tuning (when --steps is not given). */
  steps: number;
  /** Default steps to fit from scratch: generation 0 and `--retrain scratch` (when --initial-steps is not given). */
  initialSteps: number;
  /**
   * Training threads, 1 or 2 (data-parallel.ts). Two are used on the wasm backend only (tfjs-node
   * has threads of its own). Results are identical whatever the count: it only changes speed.
   */
  threads: number;
}

type Preset = Omit<TransformerConfig, 'size' | 'batchSize' | 'threads'>;

// Steps and learning rates from learning curves on names (char tokens, 500 held out; see
// BENCHMARKS.md): tiny reaches 2.20 nats/token held out after 300 steps, small 2.10 after 400
// (≈15 passes over ~7,400 names; still improving slowly, 2.04 at 600). base is not tuned: the
// usual smaller rate for a wider model; its step costs ~16× small's (2× the tokens, 8× the weights).
export const transformerPresets: Readonly<Record<SizePreset, Preset>> = Object.freeze({
  // A generation under `continue` fine-tunes on N new documents (~8k tokens for 1,000 names):
  // 30–60 steps are several passes' worth of them at a fraction of a full fit's cost. small fits
  // from scratch in 400 steps (held-out 2.10 on names, against 2.20 after 200): ~80 s on two
  // threads since the SIMD kernels (it had been cut to 200 when a step took three times as long).
  tiny: { dModel: 32, nLayers: 1, nHeads: 2, context: 32, learningRate: 3e-3, steps: 60, initialSteps: 300 },
  small: { dModel: 128, nLayers: 2, nHeads: 4, context: 64, learningRate: 2e-3, steps: 30, initialSteps: 400 },
  base: { dModel: 256, nLayers: 4, nHeads: 8, context: 128, learningRate: 1e-3, steps: 40, initialSteps: 300 },
});

export const defaultTransformerConfig: Readonly<TransformerConfig> = Object.freeze({
  size: 'small',
  batchSize: 32,
  // Two threads train faster than one on two free cores (the figures: data-parallel.ts and
  // BENCHMARKS.md); a busy machine hides it. Results do not depend on it.
  threads: 2,
  ...transformerPresets.small,
});

/** Documents fetched from the TrainingSet per request. */
const FETCH = 64;
/**
 * Rows of `context` positions per evaluation batch: large enough that a tfjs kernel's fixed cost
 * is small against its work, small enough that short held-out sets (names) still make two
 * batches for two threads.
 */
const EVAL_ROWS = 64;
/** Default maxLength for sampling, in multiples of the context (past it, sampling takes the slow path). */
const MAX_LENGTH_CONTEXTS = 2;

function positiveInt(key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UserError(`transformer option ${key} must be a whole number ≥ 1 (got ${String(v)})`, 'E_CONFIG');
  return v;
}

export function normalizeTransformerConfig(options: Record<string, unknown> = {}): Readonly<TransformerConfig> {
  const known = Object.keys(defaultTransformerConfig);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new UserError(`unknown transformer option '${key}' (known: ${known.join(', ')})`, 'E_CONFIG');
  }
  const size = (options.size ?? defaultTransformerConfig.size) as SizePreset;
  if (!(size in transformerPresets)) throw new UserError(`unknown transformer size '${String(size)}' (choose from tiny, small, base)`, 'E_CONFIG');
  const c = { ...defaultTransformerConfig, ...transformerPresets[size], ...options, size } as TransformerConfig;
  for (const key of ['dModel', 'nLayers', 'nHeads', 'context', 'batchSize', 'steps', 'threads', 'initialSteps'] as const) positiveInt(key, c[key]);
  if (c.threads > 2) throw new UserError(`transformer threads must be 1 or 2 (got ${c.threads})`, 'E_CONFIG');
  if (c.dModel % c.nHeads !== 0) throw new UserError(`transformer dModel (${c.dModel}) must be a multiple of nHeads (${c.nHeads})`, 'E_CONFIG');
  if (typeof c.learningRate !== 'number' || !(c.learningRate > 0) || !Number.isFinite(c.learningRate)) {
    throw new UserError(`transformer learningRate must be a number > 0 (got ${String(c.learningRate)})`, 'E_CONFIG');
  }
  return Object.freeze(c);
}

interface VocabInfo extends Vocab {
  seed: number;
}

export class Transformer implements LanguageModel {
  readonly kind = 'transformer' as const;
  readonly paramCount: number;
  private readonly shape: GptShape;
  /**
   * How many documents the main thread and the worker sampled in the last sample() call. The
   * split depends on timing; the documents do not.
   */
  sampledByThread: [number, number] = [0, 0];
  /** The second training thread, started by the first trainSteps that uses it, ended by dispose(). */
  private replica: Promise<GradientReplica> | null = null;
  /** The optimizer's weights, gradients and moments, shared with the worker. */
  private flat: FlatAdam | null = null;

  constructor(
    readonly config: Readonly<TransformerConfig>,
    private readonly vocab: VocabInfo,
    private params: GptParams,
  ) {
    this.shape = { vocabSize: vocab.vocabSize, ...config };
    this.paramCount = paramCount(params);
  }

  get vocabSize(): number {
    return this.vocab.vocabSize;
  }

  get budget(): TrainingBudget {
    const c = this.config;
    return { steps: c.steps, initialSteps: c.initialSteps, tokensPerStep: c.batchSize * c.context };
  }

  async trainSteps(data: TrainingSet, steps: number, rng: Rng, options: TrainOptions = {}): Promise<TrainResult> {
    if (!Number.isInteger(steps) || steps < 0) throw new UserError(`training steps must be a whole number ≥ 0 (got ${steps})`);
    if (data.size === 0) throw new UserError('no training documents', 'E_NO_DATA');
    const { batchSize, context } = this.config;
    const learningRate = options.learningRate ?? this.config.learningRate;
    const vars = this.vars();
    // A fresh optimizer per call: a model reloaded from a checkpoint continues exactly alike.
    // The shared weights are the master copy during the call.
    const flat = this.flatAdam();
    const layout = paramLayout(this.params);
    flat.reset();
    writeParams(vars, layout, flat.weights);
    const queue: (readonly number[])[] = [];
    const nextDoc = () => {
      if (queue.length === 0) queue.push(...data.docs(Array.from({ length: FETCH }, () => rng.int(data.size))).reverse());
      return queue.pop()!;
    };
    const local = (part: PackedRows, total: number, into: Float32Array) => {
      const r = partGradients(this.params, this.shape, part, total);
      writeParams(r.grads, layout, into);
      tf.dispose(r.grads);
      return r.loss;
    };
    const losses: number[] = [];
    // On wasm the batch is always computed in two parts (the second on the worker thread, if
    // any, while this thread computes the first) and the gradients added first + second, so one
    // thread gives the same sums as two. Elsewhere the thread count does not apply.
    const wasm = currentBackend() === 'wasm';
    const replica = steps > 0 && wasm ? await this.startReplica() : null;
    for (let step = 0; step < steps; step++) {
      const batch = packTraining(batchSize, context, nextDoc, this.vocab, rng);
      const total = batch.weights.reduce((a, b) => a + b, 0);
      const [first, second] = wasm ? splitBatch(batch) : [batch];
      const remote = replica && second ? replica.gradients(second, total) : null;
      remote?.catch(() => {}); // awaited below; an error meanwhile must not go unhandled
      let loss = local(first, total, flat.grads[0]);
      if (second) loss += await (remote ?? local(second, total, flat.grads[1]));
      // Adam: with the worker, each thread updates half of the elements.
      const t = step + 1;
      const parts = second ? 2 : 1;
      if (remote) {
        const half = flat.size >> 1;
        const other = replica!.adam(t, learningRate, half, flat.size);
        other.catch(() => {});
        flat.step(t, learningRate, parts, 0, half);
        await other;
      } else flat.step(t, learningRate, parts);
      loadParams(vars, layout, flat.weights);
      if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${step} (loss ${loss})`);
      losses.push(loss);
      options.onStep?.(step, loss);
      await yieldToEventLoop();
    }
    const tail = losses.slice(-20);
    return { steps, loss: tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : NaN, tokens: steps * batchSize * context };
  }

  async sample(n: number, rule: SamplingRule, rng: Rng, options: SampleOptions = {}): Promise<number[][]> {
    checkSamplingRule(rule);
    if (!Number.isInteger(n) || n < 0) throw new UserError(`number of samples must be a whole number ≥ 0 (got ${n})`);
    const maxLength = options.maxLength ?? MAX_LENGTH_CONTEXTS * this.config.context;
    const batchSize = options.batchSize ?? 64;
    if (!(maxLength >= 1) || !(batchSize >= 1)) throw new UserError('maxLength and batchSize must be ≥ 1');
    // Each document depends on its own seed alone: with two threads both take documents from the
    // seeds, and the documents are the same as on one. A rule naming a truncation the worker does
    // not know (registered at run time here) is sampled here alone.
    const seeds = documentSeeds(n, rng);
    const worker = n >= 2 ? await this.startReplica() : null;
    const replica = worker?.knowsRule(rule) ? worker : null;
    const job = { rule, maxLength, batchSize };
    if (!replica) {
      this.sampledByThread = [n, 0];
      return sampleDocuments(this.params, this.shape, this.vocab, { ...job, onProgress: options.onProgress }, seeds);
    }
    // Each thread fills its slots (at most half of the documents) with documents of its own, then
    // both take the next document from one shared count (sampler.ts sampleClaimed).
    const shared = { ...job, batchSize: Math.min(batchSize, Math.ceil(n / 2)) };
    const slots = sampleSlots(shared, n);
    const next = new Int32Array(new SharedArrayBuffer(4));
    next[0] = 2 * slots;
    const done = [0, 0];
    const progress = (i: number) => (k: number) => {
      done[i] = k;
      options.onProgress?.(done[0] + done[1], n);
    };
    const remote = replica.sample(this.vars(), { kind: 'sample', seeds, first: slots, next, job: shared, vocab: this.vocab }, progress(1));
    remote.catch(() => {}); // awaited below; an error meanwhile must not go unhandled
    const here = await sampleClaimed(this.params, this.shape, this.vocab, { ...shared, onProgress: progress(0) }, seeds, 0, next);
    const there = await remote;
    this.sampledByThread = [here.size, there.length];
    for (const [i, doc] of there) here.set(i, doc);
    return seeds.map((_, i) => here.get(i)!);
  }

  /**
   * log p of each document under the model. The documents' windows are packed into fixed
   * batches of EVAL_ROWS rows; with two threads the worker scores the second half of the
   * batches, and the sums are taken in batch order, so one and two threads agree exactly.
   */
  async logProbs(docs: readonly (readonly number[])[]): Promise<{ logProb: number; tokens: number }[]> {
    const out = docs.map((d) => ({ logProb: 0, tokens: d.length + 1 }));
    const rows = packEval(docs, this.config.context, this.vocab);
    const batches: PackedRows[] = [];
    for (let r0 = 0; r0 < rows.length; r0 += EVAL_ROWS) batches.push(concatRows(rows.slice(r0, r0 + EVAL_ROWS)));
    const replica = batches.length >= 2 ? await this.startReplica() : null;
    const half = replica ? Math.ceil(batches.length / 2) : batches.length;
    // Owners are kept before the worker's batches are transferred away.
    const owners = batches.map((b) => b.owner.slice());
    const remote = replica ? replica.logProbs(this.vars(), batches.slice(half), this.vocab.bos) : Promise.resolve([]);
    remote.catch(() => {}); // awaited below
    const scores = batches.slice(0, half).map((b) => targetLogProbs(this.params, this.shape, b, this.vocab.bos));
    scores.push(...(await remote));
    scores.forEach((lp, j) => {
      const owner = owners[j];
      for (let i = 0; i < owner.length; i++) if (owner[i] >= 0) out[owner[i]].logProb += lp[i];
    });
    return out;
  }

  async firstTokenDistribution(): Promise<Float64Array> {
    const dec = new Decoder(this.params, this.shape, 1);
    try {
      const logits = dec.step([0], [this.vocab.bos], new Int32Array(1));
      const w = ruleWeights(defaultSamplingRule, logits, 0, this.vocabSize, this.vocab.bos, new Float64Array(this.vocabSize));
      const total = w.reduce((a, b) => a + b, 0);
      return w.map((x) => x / total);
    } finally {
      dec.dispose();
    }
  }

  async save(dir: string): Promise<void> {
    const { vocabSize, bos, eos, seed } = this.vocab;
    await saveCheckpoint(dir, { kind: this.kind, config: this.config, extra: { vocabSize, bos, eos, seed } }, Object.fromEntries(namedParams(this.params)));
  }

  private vars(): tf.Variable[] {
    return namedParams(this.params).map(([, v]) => v);
  }

  /** The optimizer's shared arrays, made on first use. */
  private flatAdam(): FlatAdam {
    this.flat ??= FlatAdam.create(this.paramCount);
    return this.flat;
  }

  /** The worker thread, when two threads are configured, the backend is wasm and batches split. */
  private startReplica(): Promise<GradientReplica> | null {
    if (this.config.threads < 2 || this.config.batchSize < 2 || currentBackend() !== 'wasm') return null;
    this.replica ??= GradientReplica.start(this.params, this.shape, 'wasm', this.flatAdam());
    return this.replica;
  }

  dispose(): void {
    tf.dispose(namedParams(this.params).map(([, v]) => v));
    // The worker never keeps the process alive between requests, so its end need not be awaited.
    this.replica?.then((r) => r.terminate()).catch(() => {});
    this.replica = null;
  }
}

export const transformerFactory: ModelFactory = {
  runOptions: ['size', 'threads'],
  kernel: productKernel,
  normalize(spec: ModelSpec) {
    return normalizeTransformerConfig(spec.options);
  },
  create(spec: ModelSpec): Transformer {
    const config = normalizeTransformerConfig(spec.options);
    if (!Number.isInteger(spec.vocabSize) || spec.vocabSize < 3) throw new UserError(`vocabulary size must be ≥ 3 (got ${spec.vocabSize})`);
    for (const [name, id] of [['bos', spec.bos], ['eos', spec.eos]] as const) {
      if (!Number.isInteger(id) || id < 0 || id >= spec.vocabSize) throw new UserError(`${name} id ${id} is outside the vocabulary`);
    }
    if (spec.bos === spec.eos) throw new UserError('bos and eos must be different tokens');
    const vocab = { vocabSize: spec.vocabSize, bos: spec.bos, eos: spec.eos, seed: spec.seed };
    return new Transformer(config, vocab, initParams({ vocabSize: spec.vocabSize, ...config }, spec.seed));
  },
  async load(dir: string): Promise<Transformer> {
    const { meta, tensors } = loadCheckpoint(dir);
    if (meta.kind !== 'transformer') {
      tf.dispose(Object.values(tensors));
      throw new UserError(`${dir} holds a ${meta.kind} checkpoint, not a transformer`);
    }
    const config = normalizeTransformerConfig(meta.config as Record<string, unknown>);
    const vocab = meta.extra as unknown as VocabInfo;
    if (!vocab || !Number.isInteger(vocab.vocabSize)) {
      tf.dispose(Object.values(tensors));
      throw new UserError(`${dir}: the checkpoint does not record its vocabulary`);
    }
    return new Transformer(config, vocab, paramsFromTensors({ vocabSize: vocab.vocabSize, ...config }, tensors));
  },
};
