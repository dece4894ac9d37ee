// Throughput of a model on this machine and backend: training tokens/s (median over single
// optimizer steps after a warm-up) and sampling tokens/s at batch 1 and at batch 64 (median of
// three rounds after one not counted). Works for
// any LanguageModel from the registry, on synthetic documents of random tokens (only their
// lengths matter to the speed). The caller passes the clocks: library code never reads one.

import { rngFor } from '../rng.js';
import { models } from './index.js';
import type { LanguageModel, ModelKind, SizePreset, TrainingSet } from './types.js';

export interface BenchOptions {
  kind: ModelKind;
  /** Transformer preset; other model kinds use their defaults. */
  size?: SizePreset;
  /** Transformer training threads (1 or 2); default: the model's own. */
  threads?: number;
  /** Wall clock in milliseconds (e.g. performance.now). */
  clock: () => number;
  /** CPU time of this process in milliseconds, if the caller has one: shows what a busy machine hides. */
  cpuClock?: () => number;
  /** Mean document length in tokens (lengths are uniform on 1 … 2·mean − 1). Default 8, like names. */
  docLength?: number;
  /** Vocabulary size including BOS and EOS. Default 30, like a character vocabulary. */
  vocabSize?: number;
  warmupSteps?: number;
  timedSteps?: number;
  seed?: number;
}

export interface Rate {
  tokens: number;
  ms: number;
  tokensPerSecond: number;
  /** The same rate per CPU-second of this process (when a cpuClock was given). */
  cpuTokensPerSecond?: number;
}

export interface BenchResult {
  model: ModelKind;
  config: Readonly<Record<string, unknown>>;
  params: number;
  vocabSize: number;
  docLength: number;
  /** Median optimizer step; tokens are the positions one step trains. */
  train: Rate & { steps: number };
  /** Sampling at batch 1 and 64 (each the median of `rounds`); tokens are new tokens including each document's EOS. */
  sample: { batch1: Rate & { docs: number }; batch64: Rate & { docs: number }; maxLength: number; rounds: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Timed rounds of each sampling figure (the median is reported), after one round not counted. */
const SAMPLE_ROUNDS = 3;

function rate(tokens: number, ms: number, cpuMs?: number): Rate {
  const r: Rate = { tokens, ms, tokensPerSecond: (tokens / ms) * 1000 };
  if (cpuMs !== undefined && cpuMs > 0) r.cpuTokensPerSecond = (tokens / cpuMs) * 1000;
  return r;
}

/** Random documents of uniform length 1 … 2·mean − 1 over the non-special tokens 2 … V − 1. */
export function syntheticDocs(n: number, meanLength: number, vocabSize: number, seed: number): number[][] {
  const rng = rngFor(seed, 'bench-docs');
  return Array.from({ length: n }, () => Array.from({ length: 1 + rng.int(2 * meanLength - 1) }, () => 2 + rng.int(vocabSize - 2)));
}

async function timeSampling(m: LanguageModel, n: number, batchSize: number, maxLength: number, o: BenchOptions, seed: number) {
  const rng = rngFor(seed, 'bench-sample', batchSize);
  const c0 = o.cpuClock?.();
  const t0 = o.clock();
  const docs = await m.sample(n, { temperature: 1 }, rng, { batchSize, maxLength });
  const ms = o.clock() - t0;
  const cpu = c0 === undefined ? undefined : o.cpuClock!() - c0;
  const tokens = docs.reduce((a, d) => a + d.length + (d.length < maxLength ? 1 : 0), 0);
  return { ...rate(tokens, ms, cpu), docs: n };
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const seed = o.seed ?? 1;
  const vocabSize = o.vocabSize ?? 30;
  const docLength = o.docLength ?? 8;
  const warmup = o.warmupSteps ?? 3;
  const timed = o.timedSteps ?? 7;
  const options = o.kind === 'transformer' ? { size: o.size ?? 'small', ...(o.threads === undefined ? {} : { threads: o.threads }) } : {};
  const m = models[o.kind].create({ vocabSize, bos: 0, eos: 1, seed, options });
  try {
    const docs = syntheticDocs(4000, docLength, vocabSize, seed);
    const data: TrainingSet = { size: docs.length, docs: (ix) => ix.map((i) => docs[i]) };

    // Training: one call of warmup + timed steps, each step timed from the previous one's end.
    const stamps: number[] = [];
    const cpuStamps: number[] = [];
    const mark = () => {
      stamps.push(o.clock());
      if (o.cpuClock) cpuStamps.push(o.cpuClock());
    };
    mark();
    const res = await m.trainSteps(data, warmup + timed, rngFor(seed, 'bench-train'), { onStep: mark });
    const tokensPerStep = res.tokens / res.steps;
    const durations = stamps.slice(1).map((t, i) => t - stamps[i]).slice(warmup);
    const cpuDurations = cpuStamps.slice(1).map((t, i) => t - cpuStamps[i]).slice(warmup);
    const train = { ...rate(tokensPerStep, median(durations), o.cpuClock ? median(cpuDurations) : undefined), steps: timed };

    // Sampling: stay within the context so the transformer uses its KV cache throughout. Each
    // figure is the median of SAMPLE_ROUNDS rounds of the same documents after one round not
    // counted (the engine compiles its hot code in the first: on two threads, in both).
    const context = typeof m.config.context === 'number' ? m.config.context : 64;
    const maxLength = context - 1;
    const rounds = async (n: number, batchSize: number) => {
      await timeSampling(m, n, batchSize, maxLength, o, seed);
      const timed: (Rate & { docs: number })[] = [];
      for (let r = 0; r < SAMPLE_ROUNDS; r++) timed.push(await timeSampling(m, n, batchSize, maxLength, o, seed));
      return timed.sort((a, b) => a.ms - b.ms)[SAMPLE_ROUNDS >> 1];
    };
    const batch1 = await rounds(32, 1);
    const batch64 = await rounds(512, 64);
    return { model: o.kind, config: m.config, params: m.paramCount, vocabSize, docLength, train, sample: { batch1, batch64, maxLength, rounds: SAMPLE_ROUNDS } };
  } finally {
    m.dispose();
  }
}
