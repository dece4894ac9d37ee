// The options of `run`, shared with `sweep`, which accepts a comma list for each.
// Values stay strings here; normalizeRunConfig validates them all with one clear line each.

import type { Command } from 'commander';
import { defaultRunConfig, policies, type RunConfig } from '../loop/config.js';
import { samplingTruncations } from '../model/sampling.js';
import { VAL_TOKEN_BUDGET } from '../loop/validation.js';
import { DEFAULT_CORPORA_DIR, DEFAULT_DB, DEFAULT_MODELS_DIR, parseNumber } from './common.js';

/** option flag → RunConfig key, with its help line. */
export const runOptionTable: [flag: string, key: keyof RunConfig, help: string][] = [
  ['--corpus <name|path>', 'corpus', 'names, brown, synthetic, or a .txt / .jsonl file'],
  ['--tokenizer <kind>', 'tokenizer', 'char or bpe'],
  ['--model <kind>', 'model', 'ngram or transformer'],
  ['--size <preset>', 'size', 'transformer preset: tiny, small, base'],
  ['--threads <n>', 'threads', 'transformer training threads: 1 or 2 (same results, 2 is faster on two free cores)'],
  ['--order <n>', 'order', 'n-gram order'],
  ['--buckets <n>', 'buckets', 'n-gram hashed context rows'],
  ['--temperature <T>', 'temperature', 'sampling temperature, T > 0'],
  ...samplingTruncations().map((t): [string, keyof RunConfig, string] => [t.flag, t.key as keyof RunConfig, t.help]),
  ['--fresh <λ>', 'freshFraction', 'fraction of new documents drawn from real data, 0 ≤ λ ≤ 1'],
  ['--policy <policy>', 'policy', policies.join(', ')],
  ['--train-size <S>', 'trainSize', 'documents each generation trains on under accumulate-subsample'],
  ['--select <scorer>', 'select', 'curated loop: keep the best of --candidates samples per document by gen0-likelihood, label:<L>, label-prob:<L>, length:<n> or random (add @noise=σ for a noisy verifier)'],
  ['--candidates <M>', 'candidates', 'candidates drawn per kept document with --select'],
  ['--retrain <mode>', 'retrain', 'continue (fine-tune) or scratch (re-initialise)'],
  ['--generations <G>', 'generations', 'generations after the initial model'],
  ['--samples <N>', 'samples', 'new documents per generation'],
  ['--steps <S>', 'steps', 'optimizer steps per generation (keeps cost per generation flat)'],
  ['--epochs <e>', 'epochs', 'passes over the training set per generation instead (cost grows with the data)'],
  ['--initial-steps <S>', 'initialSteps', 'steps for generation 0 and for scratch retraining'],
  ['--learning-rate <η>', 'learningRate', 'optimizer step size when fine-tuning (generations ≥ 1 under --retrain continue)'],
  ['--initial-learning-rate <η>', 'initialLearningRate', 'step size for generation 0 and for scratch retraining'],
  ['--coarse <list>', 'coarse', 'coarse-grainings to track: first, length, label, token'],
  ['--seed <n>', 'seed', 'one seed decides everything'],
  ['--max-length <n>', 'maxLength', 'longest sampled document in tokens'],
  ['--keep-checkpoints <n>', 'keepCheckpoints', 'checkpoints kept besides generation 0'],
  ['--val-fraction <f>', 'valFraction', 'held-out share of the seed corpus'],
  ['--control <n>', 'controlSamples', 'T = 1 control draws per generation (never trained on) that separate the temperature term from the model error'],
  ['--val-docs <n>', 'valDocs', 'held-out documents scored each generation: a fixed seeded subset of the split (standard error reported beside the loss)'],
  ['--stop-when <verdict>', 'stopWhen', 'end early once this verdict holds: mode-collapse, heat-death, stable'],
  ['--patience <n>', 'patience', 'generations the --stop-when verdict must hold'],
  ['--stop-coarse <name>', 'stopCoarse', 'coarse-graining read by --stop-when'],
];

function describeDefault(key: keyof RunConfig): string {
  const truncation = samplingTruncations().find((t) => t.key === key);
  if (truncation) return `${truncation.off} (off)`;
  const d = defaultRunConfig[key];
  if (key === 'buckets') return 'model preset: 65536, fewer for large vocabularies';
  if (d === null) return key === 'steps' || key === 'learningRate' || key === 'initialLearningRate' ? 'model preset' : key === 'initialSteps' ? 'model preset, else 2 × steps' : key === 'maxLength' ? '1.5 × longest seed document' : key === 'valDocs' ? `as many as fit ${VAL_TOKEN_BUDGET.toLocaleString('en')} tokens` : 'off';
  return Array.isArray(d) ? d.join(',') : String(d);
}

/** Adds the run options to a command; `list` says each may be a comma list (sweep). */
export function addRunOptions(cmd: Command, list = false): Command {
  for (const [flag, key, help] of runOptionTable) {
    cmd.option(flag, `${help}${list && key !== 'coarse' ? ' (comma list)' : ''} (default: ${describeDefault(key)})`);
  }
  return cmd
    .option('--dedupe', 'a sample equal to a training document, or to one already kept this generation, is not kept')
    .option('--measure-delta', 'estimate δ̂ for every coarse-graining from T = 1 samples (slower)')
    .option('--name <name>', 'run name, unique per database (default: generated from the settings)')
    .option('--backend <name>', 'tfjs backend: auto, node, wasm, cpu', 'auto')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--models-dir <dir>', 'checkpoint folder', DEFAULT_MODELS_DIR)
    .option('--corpora-dir <dir>', 'folder of user corpora', DEFAULT_CORPORA_DIR);
}

/** commander option values → a Partial<RunConfig> (strings; validated by normalizeRunConfig). */
export function configFromOptions(opts: Record<string, unknown>): Partial<RunConfig> {
  const out: Record<string, unknown> = {};
  for (const [flag, key] of runOptionTable) {
    const prop = optionProp(flag);
    if (opts[prop] !== undefined) out[key] = opts[prop];
  }
  if (opts.measureDelta) out.measureDelta = true;
  if (opts.dedupe) out.dedupe = true;
  return out as Partial<RunConfig>;
}

/** commander's property (camelCase) of an option flag: `--top-k <K>` → `topK`. */
export function optionProp(flag: string): string {
  return flag.slice(2, flag.indexOf(' ')).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The truncation options (`--top-k`, `--top-p`, `--min-p`, from the sampling rule's registry) for
 * the commands that take a sampling rule without the run options: sim, theory, probe-tau.
 */
export function addTruncationOptions(cmd: Command): Command {
  for (const t of samplingTruncations()) cmd.option(t.flag, `${t.help} (default: ${t.off} (off))`);
  return cmd;
}

/** The exact lane's curated-loop options (sim, theory): best of M by a category-level reward. */
export function addSelectionOptions(cmd: Command): Command {
  return cmd
    .option('--select <label:k>', "keep the best of --candidates samples by a reward for category k (index from 0), as the loop's --select label:<L>")
    .option('--candidates <M>', 'candidates per kept document with --select', parseNumber, defaultRunConfig.candidates);
}

/** The truncation values given on the command line, by rule key (strings; samplingRuleOf checks them). */
export function truncationsFromOptions(opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const t of samplingTruncations()) if (opts[optionProp(t.flag)] !== undefined) out[t.key] = opts[optionProp(t.flag)];
  return out;
}
