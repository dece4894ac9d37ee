// The one interface every model family implements. A document is a sequence of
// token ids *without* BOS/EOS; models add BOS in front and learn to emit EOS at the end.
// Models are chosen from a Record<ModelKind, ModelFactory> in src/model/index.ts.

import type { Rng } from '../rng.js';
import type { SamplingRule } from './sampling.js';

export type ModelKind = 'ngram' | 'transformer';
export type SizePreset = 'tiny' | 'small' | 'base';

/** Random access to the training documents, so a model never needs the whole set in memory. */
export interface TrainingSet {
  /** Number of documents. */
  readonly size: number;
  /** Token ids (no BOS/EOS) of the documents at these indices, in the same order. */
  docs(indices: readonly number[]): number[][];
}

export interface TrainOptions {
  /** Called after every optimizer step with the step's mean token loss (nats). */
  onStep?: (step: number, loss: number) => void;
  /** Optimizer step size for this call; the model's configured rate when absent. */
  learningRate?: number;
}

export interface TrainResult {
  steps: number;
  /** Mean token cross-entropy (nats) over the last min(steps, 20) steps. */
  loss: number;
  /** Tokens (predicted positions) processed. */
  tokens: number;
}

export interface SampleOptions {
  /** Longest document in tokens (EOS not counted); longer ones are cut there. */
  maxLength?: number;
  /** Batch size for models that sample in batches. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** What the closed loop needs to size a generation's training (the model's own defaults). */
export interface TrainingBudget {
  /** Optimizer steps per generation when the run gives neither --steps nor --epochs. */
  readonly steps: number;
  /** Steps to fit from scratch (generation 0, --retrain scratch); null: twice a generation's. */
  readonly initialSteps: number | null;
  /** Token positions one optimizer step reads (turns --epochs into steps). */
  readonly tokensPerStep: number;
}

export interface LanguageModel {
  readonly kind: ModelKind;
  /** The resolved, frozen config (stored with the run). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly budget: TrainingBudget;
  /** Vocabulary size including BOS and EOS. */
  readonly vocabSize: number;
  readonly paramCount: number;
  /**
   * `steps` optimizer steps on batches drawn from `data` with `rng`. Each call starts a fresh
   * optimizer state (Adam moments are not carried across calls), so a model reloaded from a
   * checkpoint continues exactly like the one kept in memory.
   */
  trainSteps(data: TrainingSet, steps: number, rng: Rng, options?: TrainOptions): Promise<TrainResult>;
  /** n documents sampled under the rule (model/sampling.ts: logits / T, truncation; BOS never drawn). */
  sample(n: number, rule: SamplingRule, rng: Rng, options?: SampleOptions): Promise<number[][]>;
  /** Per document: natural-log probability (BOS masked, as in sampling) of its tokens followed by EOS, and that token count. */
  logProbs(docs: readonly (readonly number[])[]): Promise<{ logProb: number; tokens: number }[]>;
  /** The model's own T = 1 distribution of the first token after BOS (length vocabSize; EOS = empty doc). */
  firstTokenDistribution(): Promise<Float64Array>;
  /** Writes model.json + weights into dir (created if missing). */
  save(dir: string): Promise<void>;
  dispose(): void;
}

export interface ModelSpec {
  vocabSize: number;
  bos: number;
  eos: number;
  /** Model-specific settings (a Partial of the model's config); unknown keys are rejected. */
  options?: Record<string, unknown>;
  /** Weight initialisation seed. */
  seed: number;
}

export interface ModelFactory {
  /** The run-config keys (src/loop/config.ts) this family takes as its options, e.g. order, buckets. */
  readonly runOptions: readonly string[];
  /** Resolves user options against the defaults; throws UserError on unknown keys or bad values. */
  normalize(spec: ModelSpec): Readonly<Record<string, unknown>>;
  create(spec: ModelSpec): LanguageModel;
  load(dir: string): Promise<LanguageModel>;
  /**
   * Which kernel computes this model's matrix products in this process ('wasm-simd-fma',
   * 'wasm-simd', 'tfjs'; 'none' for a model that computes none). FMA rounds differently from a
   * multiply then an add, so a run's exact numbers depend on it: the loop stores it with the run.
   */
  kernel(): string;
}
