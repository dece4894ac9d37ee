// Coarse-grainings and the label classifier: hand-built histograms, length buckets, JSON round
// trips that must categorise identically, and errors a user can act on.

import { describe, expect, it } from 'vitest';
import { isUserError } from '../src/errors.js';
import { trainClassifier, Classifier } from '../src/metrics/classifier.js';
import {
  buildCoarseGrainings,
  histogram,
  lengthBoundaries,
  loadCoarseGrainings,
  type CoarseState,
} from '../src/metrics/coarse.js';
import type { Tokenizer } from '../src/tokenizer/types.js';

// A character tokenizer over a fixed alphabet: a=2, b=3, c=4, space=5.
const ALPHABET = 'abc ';
const tokenizer: Tokenizer = {
  kind: 'char',
  vocabSize: 2 + ALPHABET.length,
  bos: 0,
  eos: 1,
  encode: (text) => [...text].map((ch) => 2 + ALPHABET.indexOf(ch)),
  decode: (ids) => ids.filter((i) => i > 1).map((i) => ALPHABET[i - 2]).join(''),
  tokenName: (id) => (id === 0 ? '<bos>' : id === 1 ? '<eos>' : ALPHABET[id - 2] === ' ' ? '␣' : ALPHABET[id - 2]),
  toJSON: () => ({ kind: 'char' }),
};
const doc = (text: string, label: string | null = null) => ({ text, tokens: tokenizer.encode(text), label });

function userErrorOf(f: () => unknown): { message: string; code: string } {
  try {
    f();
  } catch (e) {
    if (isUserError(e)) return { message: e.message, code: e.code };
    throw e;
  }
  throw new Error('expected a UserError');
}

describe('coarse-grainings', () => {
  const seedDocs = [doc('ab', 'x'), doc('ba', 'y'), doc('', 'x'), doc('c', 'y')];
  const ctx = { tokenizer, seedDocs };

  it('first: one category per token but BOS, EOS = the empty document', () => {
    const [first] = buildCoarseGrainings(['first'], ctx);
    expect(first.categories).toEqual(['<eos>', 'a', 'b', 'c', '␣']);
    expect(histogram(first, seedDocs)).toEqual([1, 1, 1, 1, 0]);
    expect(first.categoryOf(doc('cab'))).toBe(3);
  });

  it('token: every token of a document, EOS once per document', () => {
    const [token] = buildCoarseGrainings(['token'], ctx);
    expect(token.categoryOf(doc('ab'))).toBeNull();
    // a:2 b:2 c:1, four documents end with EOS
    expect(histogram(token, seedDocs)).toEqual([4, 2, 2, 1, 0]);
  });

  it('length buckets sit at seed quantiles, deduplicated, last open-ended', () => {
    expect(lengthBoundaries([1, 2, 3, 4, 5, 6, 7, 8], 4)).toEqual([3, 5, 7]);
    // order statistics 1..7 of the sorted lengths are 2 2 2 3 3 5 9: the 2s are the minimum
    const lengths = [2, 2, 2, 2, 3, 3, 5, 9];
    expect(lengthBoundaries(lengths)).toEqual([3, 5, 9]);
    const seed = lengths.map((n) => doc('a'.repeat(n)));
    const [length] = buildCoarseGrainings(['length'], { tokenizer, seedDocs: seed });
    expect(length.categories).toEqual(['0-2', '3-4', '5-8', '9+']);
    expect(histogram(length, seed)).toEqual([4, 2, 1, 1]);
    expect(length.categoryOf(doc(''))).toBe(0);
    expect(length.categoryOf(doc('a'.repeat(40)))).toBe(3);
    expect(lengthBoundaries([])).toEqual([]);
  });

  it('label: the classifier trained on the seed labels generated text', () => {
    const seed = [doc('aaa', 'x'), doc('aa a', 'x'), doc('bbb', 'y'), doc('b bb', 'y')];
    const [label] = buildCoarseGrainings(['label'], { tokenizer, seedDocs: seed });
    expect(label.categories).toEqual(['x', 'y']);
    expect(histogram(label, [doc('aaaa'), doc('bb'), doc('b')])).toEqual([1, 2]);
  });

  it('JSON round trips rebuild coarse-grainings that categorise identically', () => {
    const seed = ['ab', 'abc', 'b', 'ca', 'cab c', 'aa', 'bcbc', 'a b'].map((t, i) => doc(t, i % 2 ? 'x' : 'y'));
    const cgs = buildCoarseGrainings(['first', 'length', 'label', 'token'], { tokenizer, seedDocs: seed });
    const states = JSON.parse(JSON.stringify(cgs.map((c) => c.toJSON()))) as CoarseState[];
    const again = loadCoarseGrainings(states, { tokenizer });
    const probe = ['', 'a', 'ccc', 'abcabc', 'b a c', 'cc bb aa'].map((t) => doc(t));
    again.forEach((cg, i) => {
      expect(cg.name).toBe(cgs[i].name);
      expect(cg.categories).toEqual(cgs[i].categories);
      expect(histogram(cg, probe)).toEqual(histogram(cgs[i], probe));
    });
  });

  it('unknown names, unlabelled corpora and mismatched tokenizers are UserErrors', () => {
    const unknown = userErrorOf(() => buildCoarseGrainings(['first', 'bigram'], ctx));
    expect(unknown.message).toContain('first, length, label, token');
    const unlabelled = userErrorOf(() => buildCoarseGrainings(['label'], { tokenizer, seedDocs: [doc('ab')] }));
    expect(unlabelled.code).toBe('E_NO_LABELS');
    expect(userErrorOf(() => buildCoarseGrainings(['first', 'first'], ctx)).code).toBe('E_COARSE');
    const state = buildCoarseGrainings(['first'], ctx)[0].toJSON();
    const bigger = { ...tokenizer, vocabSize: 9 };
    expect(userErrorOf(() => loadCoarseGrainings([state], { tokenizer: bigger })).code).toBe('E_STATE');
  });
});

describe('naive-Bayes classifier', () => {
  const train = [doc('aaa', 'x'), doc('aa a', 'x'), doc('aaaa', 'x'), doc('bbb', 'y'), doc('bb', 'y'), doc('b bbb', 'y')];

  it('separates a separable example; confusion rows are true labels', () => {
    const clf = trainClassifier(train);
    expect(clf.labels).toEqual(['x', 'y']);
    expect(clf.predict('aa')).toBe('x');
    expect(clf.predict('bbbb')).toBe('y');
    const ev = clf.evaluate([doc('aa', 'x'), doc('bbbb', 'y'), doc('a', 'y'), doc('c', null), doc('a', 'z')]);
    expect(ev.n).toBe(3); // the unlabelled and the unknown-label documents are skipped
    expect(ev.confusion).toEqual([
      [1, 0],
      [1, 1],
    ]);
    expect(ev.accuracy).toBeCloseTo(2 / 3, 12);
    expect(ev.baseline).toBeCloseTo(1 / 3, 12); // the prior's mode is x (a tie, first label)
  });

  it('n-grams are taken inside space-padded words, case-folded', () => {
    // "A" and "a" are the same feature; the boundary bigram " a" tells x from y here.
    const clf = trainClassifier([doc('ab', 'x'), doc('ba', 'y')]);
    expect(clf.predict('AB')).toBe(clf.predict('ab'));
    const state = clf.toJSON();
    expect(state.features).toEqual(expect.arrayContaining(['a', 'b', ' a', 'ab', 'b ', ' ab', 'ab ']));
    expect(state.features).not.toContain(' ');
  });

  it('round-trips through JSON with identical predictions', () => {
    const clf = trainClassifier(train, { alpha: 0.5 });
    const back = Classifier.fromJSON(JSON.parse(JSON.stringify(clf.toJSON())));
    for (const t of ['a', 'b', 'ab', 'ba ab', 'ccc', '', 'b a']) expect(back.predict(t)).toBe(clf.predict(t));
    expect(userErrorOf(() => trainClassifier(train, { beta: 1 } as never)).code).toBe('E_CONFIG');
    expect(userErrorOf(() => Classifier.fromJSON({ kind: 'svm' } as never)).code).toBe('E_STATE');
  });
});
