// The `names` corpus as the bench scripts use it: the library's own corpus loader, split and
// char tokenizer (BOS = 0, EOS = 1), the training split as a TrainingSet, the held-out split.

import { loadCorpus, splitCorpus } from '../src/corpus/index.js';
import { buildTokenizer } from '../src/tokenizer/index.js';
import type { TrainingSet } from '../src/model/types.js';

const corpus = loadCorpus('names', { corporaDir: 'corpora' });
const tokenizer = buildTokenizer('char', corpus.docs.map((d) => d.text));
const split = splitCorpus(corpus);

export const vocabSize = tokenizer.vocabSize;
export const train = split.train.map((d) => tokenizer.encode(d.text));
export const val = split.val.map((d) => tokenizer.encode(d.text));
export const data: TrainingSet = { size: train.length, docs: (ix) => ix.map((i) => train[i]) };
