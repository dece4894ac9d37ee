// What `heatdeath corpora` reports for each corpus: documents, token counts for both tokenizers,
// and label proportions. A user file that cannot be read is listed with its error instead of
// hiding the other corpora.

import { basename } from 'node:path';
import { isUserError } from '../errors.js';
import { countBpeTokens, countCharTokens } from '../tokenizer/index.js';
import { BUILTIN_CORPORA, loadCorpus } from './index.js';
import type { Corpus, CorpusSummary, Doc, LabelCount } from './types.js';
import { userCorpusFiles } from './user.js';

export interface SummaryOptions {
  /** Also count BPE tokens (about a second for Brown; cheap for the others). */
  bpe?: boolean;
}

/** Label counts, most frequent first (ties by name); shares are of all documents. */
export function labelCounts(docs: readonly Doc[], key: (d: Doc) => string | null | undefined): LabelCount[] {
  const counts = new Map<string, number>();
  for (const doc of docs) {
    const label = key(doc);
    if (label !== null && label !== undefined) counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([label, count]) => ({ label, count, share: count / docs.length }));
}

export function summarizeCorpus(corpus: Corpus, opts: SummaryOptions = {}): CorpusSummary {
  const texts = corpus.docs.map((d) => d.text);
  const chars = countCharTokens(texts);
  const summary: CorpusSummary = {
    name: corpus.name,
    source: corpus.source,
    description: corpus.description,
    documents: corpus.docs.length,
    charTokens: chars.tokens,
    charVocab: chars.vocab,
    labels: labelCounts(corpus.docs, (d) => d.label),
  };
  if (opts.bpe) {
    const bpe = countBpeTokens(texts);
    summary.bpeTokens = bpe.tokens;
    summary.bpeVocab = bpe.vocab;
  }
  const fine = labelCounts(corpus.docs, (d) => d.fineLabel);
  if (fine.length > 0) summary.fineLabels = fine;
  return summary;
}

/**
 * Every built-in corpus, then every .txt / .jsonl file in `corporaDir` (sorted by file name).
 * A user file whose base name is a built-in's is listed by its file name, which is how
 * `loadCorpus` reaches it.
 */
export function listCorpora(corporaDir: string, opts: SummaryOptions = {}): CorpusSummary[] {
  const summaries = BUILTIN_CORPORA.map((name) => summarizeCorpus(loadCorpus(name, { corporaDir }), opts));
  for (const path of userCorpusFiles(corporaDir)) {
    try {
      const corpus = loadCorpus(path, { corporaDir });
      const shadowed = BUILTIN_CORPORA.includes(corpus.name);
      const name = shadowed ? basename(path) : corpus.name;
      summaries.push({ ...summarizeCorpus(corpus, opts), name });
    } catch (e) {
      if (!isUserError(e)) throw e;
      const empty = { documents: 0, charTokens: 0, charVocab: 0, labels: [] };
      summaries.push({ name: basename(path), source: path, description: 'unreadable user corpus', ...empty, error: e.message });
    }
  }
  return summaries;
}
