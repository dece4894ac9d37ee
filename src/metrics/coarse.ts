// Coarse-grainings (Remark 2 of the paper): maps from a document to one of m categories, fixed at
// run start so that the histograms of all generations are comparable. Built once from the
// tokenizer and the seed documents; their JSON state is stored with the run and
// `loadCoarseGrainings` rebuilds identical ones on resume.
//
//   first   the first token; categories = every token id but BOS (EOS = the empty document)
//   length  length in tokens, bucketed at quantiles of the seed lengths
//   label   the label a classifier trained on the seed corpus predicts
//   token   the unigram histogram: a document adds each of its tokens, and EOS once

import { UserError } from '../errors.js';
import { BOS, EOS, type Tokenizer } from '../tokenizer/types.js';
import { Classifier, trainClassifier, type ClassifierState } from './classifier.js';

export type CoarseName = 'first' | 'length' | 'label' | 'token';
export const COARSE_NAMES: readonly CoarseName[] = ['first', 'length', 'label', 'token'];

/**
 * Whether each document falls in exactly one category, so a histogram of N documents is N draws
 * from one distribution (the theory's setting). Not `token`: a document adds each of its tokens.
 */
export function onePerDocument(name: string): boolean {
  return name !== 'token';
}

/** Most length buckets; equal quantiles may merge, so a corpus can get fewer. */
export const LENGTH_BUCKETS = 8;

/** A document as the coarse-grainings see it: token ids without BOS/EOS. */
export interface CoarseDoc {
  text: string;
  tokens: readonly number[];
}

export type CoarseState =
  | { name: 'first' | 'token'; vocabSize: number; categories: string[] }
  | { name: 'length'; boundaries: number[]; categories: string[] }
  | { name: 'label'; classifier: ClassifierState; categories: string[] };

export interface CoarseGraining {
  readonly name: CoarseName;
  /** Category names; a histogram is a count per category, in this order. */
  readonly categories: readonly string[];
  /** The category of a document, or null for `token` (a document adds many tokens). */
  categoryOf(doc: CoarseDoc): number | null;
  /** Adds the document to a histogram of length categories.length. */
  addTo(counts: number[], doc: CoarseDoc): void;
  toJSON(): CoarseState;
}

export interface CoarseContext {
  tokenizer: Tokenizer;
  /** The seed documents (lengths for `length`, labels for `label`). */
  seedDocs: readonly { text: string; tokens: readonly number[]; label: string | null }[];
  /** The `label` classifier; trained on seedDocs when absent. */
  classifier?: Classifier;
}

/** The histogram of the documents over the coarse-graining's categories. */
export function histogram(cg: CoarseGraining, docs: Iterable<CoarseDoc>): number[] {
  const counts = new Array<number>(cg.categories.length).fill(0);
  for (const d of docs) cg.addTo(counts, d);
  return counts;
}

/** A single-category coarse-graining from a category function. */
function single(name: CoarseName, categories: string[], of: (doc: CoarseDoc) => number, state: () => CoarseState): CoarseGraining {
  return {
    name,
    categories,
    categoryOf: of,
    addTo: (counts, doc) => {
      counts[of(doc)]++;
    },
    toJSON: state,
  };
}

// Token id t ≥ 1 is category t − 1: BOS (id 0) never occurs inside a document, and EOS (id 1)
// is category 0, which `first` reads as "the empty document".
const EOS_CATEGORY = EOS - 1;

function tokenCategories(tokenizer: Tokenizer): string[] {
  const names: string[] = [];
  for (let id = EOS; id < tokenizer.vocabSize; id++) names.push(tokenizer.tokenName(id));
  // Histograms are stored by category name: make the names unique.
  const seen = new Map<string, number>();
  for (const n of names) seen.set(n, (seen.get(n) ?? 0) + 1);
  return names.map((n, i) => (seen.get(n)! > 1 ? `${n}#${i + 1}` : n));
}

function tokenCategory(t: number, vocabSize: number): number {
  if (!(Number.isInteger(t) && t > BOS && t < vocabSize)) throw new RangeError(`token id ${t} is not a document token (vocabulary ${vocabSize})`);
  return t - 1;
}

function firstCoarse(tokenizer: Tokenizer): CoarseGraining {
  const V = tokenizer.vocabSize;
  const categories = tokenCategories(tokenizer);
  return single(
    'first',
    categories,
    (doc) => (doc.tokens.length > 0 ? tokenCategory(doc.tokens[0], V) : EOS_CATEGORY),
    () => ({ name: 'first', vocabSize: V, categories }),
  );
}

function tokenCoarse(tokenizer: Tokenizer): CoarseGraining {
  const V = tokenizer.vocabSize;
  const categories = tokenCategories(tokenizer);
  return {
    name: 'token',
    categories,
    categoryOf: () => null,
    addTo: (counts, doc) => {
      for (const t of doc.tokens) counts[tokenCategory(t, V)]++;
      counts[EOS_CATEGORY]++;
    },
    toJSON: () => ({ name: 'token', vocabSize: V, categories }),
  };
}

/**
 * Lower edges of the length buckets after the first: the seed-length quantiles at k/buckets
 * (k = 1..buckets−1, the order statistic at ⌊k·n/buckets⌋), deduplicated, and dropping those at
 * or below the shortest seed document so that no bucket is empty on the seed.
 */
export function lengthBoundaries(lengths: readonly number[], buckets = LENGTH_BUCKETS): number[] {
  const sorted = [...lengths].sort((a, b) => a - b);
  const out: number[] = [];
  for (let k = 1; k < buckets && sorted.length > 0; k++) {
    const q = sorted[Math.floor((k * sorted.length) / buckets)];
    if (q > sorted[0] && q !== out[out.length - 1]) out.push(q);
  }
  return out;
}

function lengthCoarse(boundaries: number[]): CoarseGraining {
  // Bucket i holds lengths in [lo_i, lo_{i+1}); lo_0 = 0 and the last bucket is open-ended.
  const lows = [0, ...boundaries];
  const categories = lows.map((lo, i) => {
    if (i === lows.length - 1) return `${lo}+`;
    const hi = lows[i + 1] - 1;
    return hi === lo ? `${lo}` : `${lo}-${hi}`;
  });
  const of = (doc: CoarseDoc): number => {
    let i = 0;
    while (i < boundaries.length && doc.tokens.length >= boundaries[i]) i++;
    return i;
  };
  return single('length', categories, of, () => ({ name: 'length', boundaries: [...boundaries], categories }));
}

function labelCoarse(classifier: Classifier): CoarseGraining {
  const categories = [...classifier.labels];
  return single(
    'label',
    categories,
    (doc) => classifier.predictIndex(doc.text),
    () => ({ name: 'label', classifier: classifier.toJSON(), categories }),
  );
}

function checkName(name: string): CoarseName {
  if (!(COARSE_NAMES as readonly string[]).includes(name)) {
    throw new UserError(`unknown coarse-graining '${name}' (valid: ${COARSE_NAMES.join(', ')})`, 'E_COARSE');
  }
  return name as CoarseName;
}

function seedClassifier(ctx: CoarseContext): Classifier {
  if (ctx.classifier) return ctx.classifier;
  if (!ctx.seedDocs.some((d) => d.label !== null)) {
    throw new UserError("the 'label' coarse-graining needs a labelled corpus, and this one has no labels", 'E_NO_LABELS');
  }
  return trainClassifier(ctx.seedDocs);
}

/** Builds the named coarse-graining from the tokenizer and the seed documents. */
export function buildCoarseGraining(name: string, ctx: CoarseContext): CoarseGraining {
  switch (checkName(name)) {
    case 'first':
      return firstCoarse(ctx.tokenizer);
    case 'token':
      return tokenCoarse(ctx.tokenizer);
    case 'length':
      return lengthCoarse(lengthBoundaries(ctx.seedDocs.map((d) => d.tokens.length)));
    case 'label':
      return labelCoarse(seedClassifier(ctx));
  }
}

/** Builds the named coarse-grainings; unknown or repeated names are a UserError. */
export function buildCoarseGrainings(names: readonly string[], ctx: CoarseContext): CoarseGraining[] {
  names.forEach(checkName);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new UserError(`coarse-graining '${dup}' is listed twice`, 'E_COARSE');
  return names.map((n) => buildCoarseGraining(n, ctx));
}

/**
 * Rebuilds coarse-grainings from their stored states. Only the tokenizer is needed (seed
 * documents are not re-read); a tokenizer that no longer matches the stored state is an error.
 */
export function loadCoarseGrainings(states: readonly CoarseState[], ctx: Pick<CoarseContext, 'tokenizer'>): CoarseGraining[] {
  return states.map((s) => {
    let cg: CoarseGraining;
    switch (checkName(s.name)) {
      case 'first':
      case 'token': {
        const st = s as Extract<CoarseState, { name: 'first' | 'token' }>;
        if (st.vocabSize !== ctx.tokenizer.vocabSize) {
          throw new UserError(`stored '${s.name}' coarse-graining has ${st.vocabSize} tokens but the tokenizer has ${ctx.tokenizer.vocabSize}`, 'E_STATE');
        }
        cg = s.name === 'first' ? firstCoarse(ctx.tokenizer) : tokenCoarse(ctx.tokenizer);
        break;
      }
      case 'length':
        cg = lengthCoarse([...(s as Extract<CoarseState, { name: 'length' }>).boundaries]);
        break;
      case 'label':
        cg = labelCoarse(Classifier.fromJSON((s as Extract<CoarseState, { name: 'label' }>).classifier));
        break;
    }
    if (JSON.stringify(cg.categories) !== JSON.stringify(s.categories)) {
      throw new UserError(`stored '${s.name}' coarse-graining does not match its rebuild (categories differ)`, 'E_STATE');
    }
    return cg;
  });
}
