// Everything a run needs besides its model, built once when the run is created and stored
// (tokenizer, coarse-grainings, classifier) so that `resume` rebuilds exactly the same objects.
// The corpus itself is re-read and checked against the stored hash.

import type Database from 'better-sqlite3';
import { loadCorpus, splitCorpus, corpusHash } from '../corpus/index.js';
import type { Doc } from '../corpus/types.js';
import { buildTokenizer, loadTokenizer } from '../tokenizer/index.js';
import type { Tokenizer, TokenizerState } from '../tokenizer/types.js';
import { trainClassifier, Classifier, type ClassifierState } from '../metrics/classifier.js';
import { buildCoarseGrainings, loadCoarseGrainings, type CoarseGraining } from '../metrics/coarse.js';
import { UserError } from '../errors.js';
import { getRunState, setRunState } from '../store/runs.js';
import type { RunConfig } from './config.js';
import { validationSubset } from './validation.js';

/** A seed document, tokenized. */
export interface SeedDoc {
  text: string;
  tokens: number[];
  label: string | null;
}

export interface RunState {
  tokenizer: Tokenizer;
  classifier: Classifier | null;
  coarse: CoarseGraining[];
  seedTrain: SeedDoc[];
  seedVal: SeedDoc[];
  corpusHash: string;
  /** Longest sampled document (tokens). */
  maxLength: number;
  /** The classifier's held-out evaluation (a new run only; stored with it). */
  classifierEval?: unknown;
}

function tokenize(tokenizer: Tokenizer, docs: readonly Doc[]): SeedDoc[] {
  return docs.map((d) => ({ text: d.text, tokens: tokenizer.encode(d.text), label: d.label }));
}

function loadSplit(config: Readonly<RunConfig>, corporaDir: string) {
  const corpus = loadCorpus(config.corpus, { corporaDir });
  if (corpus.docs.length < 20) throw new UserError(`corpus '${config.corpus}' has ${corpus.docs.length} documents; heatdeath needs at least 20`);
  return { corpus, split: splitCorpus(corpus, config.valFraction), hash: corpusHash(corpus) };
}

function finish(config: Readonly<RunConfig>, tokenizer: Tokenizer, classifier: Classifier | null, coarse: CoarseGraining[], split: ReturnType<typeof loadSplit>['split'], hash: string, seedTrain: SeedDoc[]): RunState {
  const seedVal = validationSubset(tokenize(tokenizer, split.val), config.valDocs, config.seed);
  let longest = 0;
  for (const d of seedTrain) longest = Math.max(longest, d.tokens.length);
  // A little room past the longest real document, so over-long samples are visible but bounded.
  const maxLength = config.maxLength ?? Math.ceil(longest * 1.5) + 2;
  return { tokenizer, classifier, coarse, seedTrain, seedVal, corpusHash: hash, maxLength };
}

/**
 * Builds the state of a new run without writing anything, so every refusal comes before the
 * first write. A corpus without labels cannot be coarse-grained by `label`: when the user named
 * `label` that is refused; when it is only the default (`labelIsDefault`), it is dropped and
 * `droppedLabel` says so (the caller stores the config without it and tells the user).
 */
export function buildRunState(config: Readonly<RunConfig>, corporaDir: string, labelIsDefault = false): { state: RunState; droppedLabel: boolean } {
  const { corpus, split, hash } = loadSplit(config, corporaDir);
  const tokenizer = buildTokenizer(config.tokenizer, corpus.docs.map((d) => d.text));
  const seedTrain = tokenize(tokenizer, split.train);
  const labelled = corpus.labels.length > 0;
  const droppedLabel = !labelled && labelIsDefault && config.coarse.includes('label');
  const names = droppedLabel ? config.coarse.filter((c) => c !== 'label') : config.coarse;
  if (names.includes('label') && !labelled) {
    throw new UserError(`corpus '${corpus.name}' has no labels, so the 'label' coarse-graining is unavailable (use --coarse first,length)`);
  }
  const classifier = labelled ? trainClassifier(split.train) : null;
  const coarse = buildCoarseGrainings(names, { tokenizer, seedDocs: seedTrain, classifier: classifier ?? undefined });
  const state = finish(config, tokenizer, classifier, coarse, split, hash, seedTrain);
  if (classifier) state.classifierEval = classifier.evaluate(split.val);
  return { state, droppedLabel };
}

/** Stores a state built by buildRunState under `runId` (inside the caller's transaction). */
export function storeRunState(db: Database.Database, runId: number, state: RunState): void {
  setRunState(db, runId, 'tokenizer', state.tokenizer.toJSON());
  if (state.classifier) {
    setRunState(db, runId, 'classifier', state.classifier.toJSON());
    setRunState(db, runId, 'classifier_eval', state.classifierEval);
  }
  setRunState(db, runId, 'coarse', state.coarse.map((c) => c.toJSON()));
  setRunState(db, runId, 'max_length', state.maxLength);
}

/** Rebuilds the stored state of a run; refuses when the corpus changed since the run started. */
export function restoreRunState(db: Database.Database, runId: number, config: Readonly<RunConfig>, storedHash: string, corporaDir: string): RunState {
  const { corpus, split, hash } = loadSplit(config, corporaDir);
  if (hash !== storedHash) {
    throw new UserError(`corpus '${corpus.name}' has changed since this run started (hash ${hash.slice(0, 12)} ≠ ${storedHash.slice(0, 12)}); cannot resume`);
  }
  const tokenizer = loadTokenizer(getRunState<TokenizerState>(db, runId, 'tokenizer')!);
  const cstate = getRunState<ClassifierState>(db, runId, 'classifier');
  const classifier = cstate ? Classifier.fromJSON(cstate) : null;
  const seedTrain = tokenize(tokenizer, split.train);
  const coarse = loadCoarseGrainings(getRunState(db, runId, "coarse")!, { tokenizer });
  return finish(config, tokenizer, classifier, coarse, split, hash, seedTrain);
}
