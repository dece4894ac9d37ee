// The run config: defaults, validation, normalisation. User input is a Partial;
// `normalizeRunConfig` rejects unknown keys and bad values with one clear line and returns a
// frozen full config, which is stored with the run and decides everything with the seed.

import { policies, type Policy } from './policy/index.js';
import type { Regime } from '../metrics/verdict.js';
import { COARSE_NAMES } from '../metrics/coarse.js';
import { UserError } from '../errors.js';
import { parseScorer } from './scorers.js';
import { MAX_CANDIDATES } from '../theory/select.js';
import type { ModelKind, SizePreset } from '../model/types.js';
import { normalizeRuleFields, samplingKeys, type SamplingRuleFields } from '../model/sampling.js';
import type { TokenizerKind } from '../tokenizer/types.js';

export type { Policy } from './policy/index.js';
export type Retrain = 'continue' | 'scratch';
/** The verdicts a run can stop on (the regimes of metrics/verdict.ts that are an end state). */
export type StopWhen = Exclude<Regime, 'drift' | 'undetermined'>;

export { policies } from './policy/index.js';
export const retrains: readonly Retrain[] = ['continue', 'scratch'];
export const stopWhens: readonly StopWhen[] = ['mode-collapse', 'heat-death', 'stable'];

/** The sampling rule's keys sit flat in the run config (model/sampling.ts owns and checks them). */
export interface RunConfig extends SamplingRuleFields {
  corpus: string;
  tokenizer: TokenizerKind;
  model: ModelKind;
  size: SizePreset;
  /** Transformer training threads, 1 or 2: only speed depends on it, never the results. */
  threads: number;
  /** n-gram order and hash buckets (ngram only). */
  order: number;
  buckets: number | null;
  /** λ: fraction of each generation's new documents drawn from real held-in data. */
  freshFraction: number;
  policy: Policy;
  /** S: documents each generation trains on under `accumulate-subsample` (its new ones plus a seeded subsample of earlier ones). */
  trainSize: number | null;
  /** Scorer that keeps the best of `candidates` samples per document (src/loop/select.ts); null = no selection. */
  select: string | null;
  /** M: candidates drawn per kept document when `select` is set. */
  candidates: number;
  /** A sample equal to a document of the training set, or to one already kept this generation, is not kept. */
  dedupe: boolean;
  retrain: Retrain;
  generations: number;
  /** N: new documents per generation. */
  samples: number;
  /** Optimizer steps per generation; null = the model preset's default. */
  steps: number | null;
  /** Passes over the training set per generation instead of fixed steps (cost grows with the data). */
  epochs: number | null;
  /** Optimizer steps for generation 0 and scratch retraining; null = the model preset's, else 2 × steps. */
  initialSteps: number | null;
  /** Optimizer step size for the fine-tuning generations (after 0, under --retrain continue); null = the model preset's. */
  learningRate: number | null;
  /** Step size for generation 0 and scratch retraining; null = the model preset's. */
  initialLearningRate: number | null;
  coarse: string[];
  seed: number;
  /** Longest sampled document in tokens; null = a little over the longest seed document. */
  maxLength: number | null;
  /** Checkpoints kept besides generation 0. */
  keepCheckpoints: number;
  /** Fraction of the seed corpus held out for validation (perplexity, classifier accuracy). */
  valFraction: number;
  /**
   * Size of each generation's control set: documents drawn at T = 1 from the model that drew the
   * generation, on their own random stream and never trained on, which separate the temperature
   * term from the model's error (metrics/decomposition.ts). 0 = none (`first` still has its
   * exact softmax).
   */
  controlSamples: number;
  /** Held-out documents scored each generation (a seeded subset, validation.ts); null = up to VAL_TOKEN_BUDGET tokens' worth. */
  valDocs: number | null;
  /** Estimate δ̂ of the retrained model for coarse-grainings other than `first` from T = 1 samples (costs a sampling pass). */
  measureDelta: boolean;
  stopWhen: StopWhen | null;
  /** Generations the stop-when verdict must hold before the run ends early. */
  patience: number;
  /** Coarse-graining the stop-when verdict is read on. */
  stopCoarse: string;
}

export const defaultRunConfig: Readonly<RunConfig> = Object.freeze({
  corpus: 'names',
  tokenizer: 'char',
  model: 'transformer',
  size: 'small',
  threads: 2,
  order: 3,
  buckets: null,
  temperature: 1,
  freshFraction: 0,
  policy: 'accumulate',
  trainSize: null,
  select: null,
  candidates: 4,
  dedupe: false,
  retrain: 'continue',
  generations: 10,
  samples: 1000,
  steps: null,
  epochs: null,
  initialSteps: null,
  learningRate: null,
  initialLearningRate: null,
  coarse: ['first', 'length', 'label'],
  seed: 1,
  maxLength: null,
  keepCheckpoints: 2,
  valFraction: 0.1,
  // 300 T = 1 draws: the temperature term's noise on entropy is then √(1/1000 + 1/300) ≈ 2.1×
  // a generation's own, and the pass adds ~2–4 % to a default GPT generation (BENCHMARKS.md).
  controlSamples: 300,
  valDocs: null,
  measureDelta: false,
  stopWhen: null,
  patience: 3,
  stopCoarse: 'first',
});

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new UserError(`unknown ${name} '${String(value)}' (choose from ${allowed.join(', ')})`);
  }
  return value as T;
}

function num(name: string, value: unknown, ok: (x: number) => boolean, rule: string): number {
  const x = typeof value === 'string' ? Number(value) : (value as number);
  if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) {
    throw new UserError(`--${name} must be ${rule}, got '${String(value)}'`);
  }
  return x;
}

const int = (x: number) => Number.isInteger(x);

export function normalizeRunConfig(input: Partial<RunConfig>): Readonly<RunConfig> {
  for (const key of Object.keys(input)) {
    if (!(key in defaultRunConfig) && !samplingKeys().includes(key)) throw new UserError(`unknown run option '${key}'`);
  }
  const c: RunConfig = { ...defaultRunConfig, ...(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<RunConfig>) };
  if (typeof c.corpus !== 'string' || c.corpus === '') throw new UserError('--corpus must name a corpus');
  c.tokenizer = oneOf('tokenizer', c.tokenizer, ['char', 'bpe']);
  c.model = oneOf('model', c.model, ['ngram', 'transformer']);
  c.size = oneOf('size', c.size, ['tiny', 'small', 'base']);
  c.threads = num('threads', c.threads, (x) => x === 1 || x === 2, '1 or 2');
  c.order = num('order', c.order, (x) => int(x) && x >= 1 && x <= 8, 'a whole number from 1 to 8');
  if (c.buckets !== null) c.buckets = num('buckets', c.buckets, (x) => int(x) && x >= 1 && x <= 1 << 22, 'a whole number from 1 to 4194304');
  normalizeRuleFields(c);
  c.freshFraction = num('fresh', c.freshFraction, (x) => x >= 0 && x <= 1, 'a number from 0 to 1');
  c.policy = oneOf('policy', c.policy, policies);
  if (c.trainSize !== null) c.trainSize = num('train-size', c.trainSize, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  if ((c.policy === 'accumulate-subsample') !== (c.trainSize !== null)) {
    throw new UserError(c.trainSize === null ? '--policy accumulate-subsample needs --train-size S' : '--train-size goes with --policy accumulate-subsample');
  }
  if (c.select !== null) c.select = parseScorer(String(c.select)).spec;
  c.candidates = num('candidates', c.candidates, (x) => int(x) && x >= 1 && x <= MAX_CANDIDATES, `a whole number from 1 to ${MAX_CANDIDATES}`);
  c.dedupe = Boolean(c.dedupe);
  c.retrain = oneOf('retrain', c.retrain, retrains);
  c.generations = num('generations', c.generations, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  c.samples = num('samples', c.samples, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  if (c.steps !== null) c.steps = num('steps', c.steps, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  if (c.epochs !== null) c.epochs = num('epochs', c.epochs, (x) => x > 0, 'a number > 0');
  if (c.steps !== null && c.epochs !== null) throw new UserError('give --steps or --epochs, not both');
  if (c.initialSteps !== null) c.initialSteps = num('initial-steps', c.initialSteps, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  if (c.learningRate !== null) c.learningRate = num('learning-rate', c.learningRate, (x) => x > 0 && x <= 10, 'a number in (0, 10]');
  if (c.initialLearningRate !== null) c.initialLearningRate = num('initial-learning-rate', c.initialLearningRate, (x) => x > 0 && x <= 10, 'a number in (0, 10]');
  const coarse = Array.isArray(c.coarse) ? c.coarse : String(c.coarse).split(',');
  c.coarse = [...new Set(coarse.map((s) => s.trim()).filter(Boolean))];
  if (c.coarse.length === 0) throw new UserError('--coarse needs at least one coarse-graining');
  for (const name of c.coarse) oneOf('coarse-graining', name, COARSE_NAMES);
  c.seed = num('seed', c.seed, (x) => int(x) && x >= 0 && x <= 2 ** 31 - 1, 'a whole number from 0 to 2147483647');
  if (c.maxLength !== null) c.maxLength = num('max-length', c.maxLength, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  c.keepCheckpoints = num('keep-checkpoints', c.keepCheckpoints, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  c.valFraction = num('val-fraction', c.valFraction, (x) => x > 0 && x < 0.5, 'a number in (0, 0.5)');
  c.controlSamples = num('control', c.controlSamples, (x) => int(x) && x >= 0, 'a whole number ≥ 0');
  if (c.valDocs !== null) c.valDocs = num('val-docs', c.valDocs, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  c.measureDelta = Boolean(c.measureDelta);
  if (c.stopWhen !== null) c.stopWhen = oneOf('stop-when', c.stopWhen, stopWhens);
  c.patience = num('patience', c.patience, (x) => int(x) && x >= 1, 'a whole number ≥ 1');
  c.stopCoarse = oneOf('stop-coarse', c.stopCoarse, COARSE_NAMES);
  if (c.stopWhen !== null && !c.coarse.includes(c.stopCoarse)) {
    throw new UserError(`--stop-coarse '${c.stopCoarse}' is not among the tracked coarse-grainings (${c.coarse.join(', ')})`);
  }
  return Object.freeze({ ...c, coarse: Object.freeze([...c.coarse]) as string[] });
}

/** A run name: safe in a file path (checkpoints live in models/<run>/) and not a bare id. */
export function checkRunName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name) || /^\d+$/.test(name)) {
    throw new UserError(`run name '${name}' must be letters, digits, '.', '_' or '-' (not only digits), at most 100 characters`);
  }
  return name;
}

/** A sweep id: the same rule, shorter (run names are built from it). */
export function checkSweepId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$/.test(id) || /^\d+$/.test(id)) {
    throw new UserError(`sweep id '${id}' must be letters, digits, '.', '_' or '-' (not only digits), at most 60 characters`);
  }
  return id;
}
