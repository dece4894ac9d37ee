// Corpora: the three built-ins (sizes, labels, Brown's detokenization), user files and their
// errors, the hash split and the content hash.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detokenize, parseBrownFile } from '../src/corpus/brown.js';
import {
  BROWN_GENRES,
  BUILTIN_CORPORA,
  SYNTHETIC_PROPORTIONS,
  SYNTHETIC_TOPICS,
  corpusHash,
  loadCorpus,
  splitCorpus,
  type Corpus,
} from '../src/corpus/index.js';
import { listCorpora } from '../src/corpus/summary.js';
import { generateSyntheticDocs } from '../src/corpus/synthetic.js';
import { UserError } from '../src/errors.js';
import { rngFor, shuffle } from '../src/rng.js';

let dir: string;
const load = (name: string): Corpus => loadCorpus(name, { corporaDir: dir });
const share = (c: Corpus, label: string) => c.docs.filter((d) => d.label === label).length / c.docs.length;

/** The UserError a call throws (fails the test if it throws nothing or something else). */
function userError(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected a UserError');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'heatdeath-corpus-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('built-in corpora', () => {
  it('names: 8849 names, about 56% female / 44% male', () => {
    const names = load('names');
    expect(names.docs.length).toBe(4951 + 3898);
    expect(names.labels).toEqual(['female', 'male']);
    expect(share(names, 'female')).toBeCloseTo(4951 / 8849, 6);
    expect(share(names, 'female')).toBeGreaterThan(0.55);
    expect(share(names, 'female')).toBeLessThan(0.57);
    expect(names.docs.some((d) => d.text === 'Aaren' && d.label === 'female')).toBe(true);
  });

  it('is cached per process and frozen', () => {
    expect(load('names')).toBe(load('names'));
    expect(Object.isFrozen(load('names').docs)).toBe(true);
  });

  it('brown: 57340 sentences, 4 groups, 15 genres, the real first sentence of ca01', () => {
    const brown = load('brown');
    expect(brown.docs.length).toBe(57340);
    expect(brown.labels).toEqual(['fiction', 'learned', 'nonfiction', 'press']);
    expect(new Set(brown.docs.map((d) => d.fineLabel))).toEqual(new Set(BROWN_GENRES));
    expect(brown.docs[0]).toEqual({
      text: 'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
      label: 'press',
      fineLabel: 'news',
    });
    // "Jr./np ./." ends sentence 3: one period, not two.
    expect(brown.docs[2].text.endsWith('won by Mayor-nominate Ivan Allen Jr.')).toBe(true);
    expect(brown.docs[3].text).toBe(
      '"Only a relative handful of such reports was received", the jury said, "considering the widespread interest in the election, the number of voters and the size of this city".',
    );
    // No tags, no tokeniser quotes, no space before punctuation anywhere.
    for (const bad of ['/nn', '-tl', '-hl', '``', ' ,', ' .', ' ;', ' ?', ' !', '( ', ' )']) {
      expect(brown.docs.filter((d) => d.text.includes(bad)).length, bad).toBe(0);
    }
    // Learned (j) is 80 of 500 files; its share of sentences is close to that.
    expect(share(brown, 'learned')).toBeCloseTo(7734 / 57340, 6);
  });

  it('synthetic: 4000 documents, topic shares within 0.02 of the true proportions, same every time', () => {
    const synthetic = load('synthetic');
    expect(synthetic.docs.length).toBe(4000);
    expect(synthetic.labels).toEqual([...SYNTHETIC_TOPICS].sort());
    const total = Object.values(SYNTHETIC_PROPORTIONS).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 12);
    for (const topic of SYNTHETIC_TOPICS) {
      expect(Math.abs(share(synthetic, topic) - SYNTHETIC_PROPORTIONS[topic])).toBeLessThan(0.02);
    }
    expect(generateSyntheticDocs()).toEqual(synthetic.docs);
    expect(generateSyntheticDocs(4000, 'another seed')).not.toEqual(synthetic.docs);
    expect(synthetic.docs.every((d) => /^[A-Z][a-z ]+\.$/.test(d.text))).toBe(true);
  });
});

describe('detokenize', () => {
  it('joins punctuation, quotes and brackets the way text is written', () => {
    expect(detokenize(['He', 'said', ',', '``', 'Go', '!', "''", 'and', 'left', '.'])).toBe('He said, "Go!" and left.');
    expect(detokenize(['a', '(', 'b', ')', ';', 'c', ':', 'd', '?'])).toBe('a (b); c: d?');
    expect(detokenize(['the', "'", 'Met', "'", 'is', 'back'])).toBe("the 'Met' is back");
    expect(detokenize(['do', "n't", 'go', ',', 'it', "'s", 'late'])).toBe("don't go, it's late");
    expect(detokenize(['give', "'em", 'hell', '--', 'now'])).toBe("give 'em hell -- now");
  });

  it('strips tags with their suffixes and keeps capitalisation', () => {
    const content = '\n\n\tThe/at City/nn-tl of/in-tl Atlanta/np-tl ,/,-hl said/vbd ``/`` yes/rb \'\'/\'\' ./.\n\n\tNext/ap one/cd ./.\n';
    expect(parseBrownFile(content)).toEqual(['The City of Atlanta, said "yes".', 'Next one.']);
  });
});

describe('user corpora', () => {
  it('reads .txt (one document a line, blank lines skipped) and finds it by base name', () => {
    writeFileSync(join(dir, 'mine.txt'), 'first line\n\n  second line  \r\n\n');
    const mine = load('mine');
    expect(mine.name).toBe('mine');
    expect(mine.source).toBe(join(dir, 'mine.txt'));
    expect(mine.docs).toEqual([
      { text: 'first line', label: null },
      { text: 'second line', label: null },
    ]);
    expect(mine.labels).toEqual([]);
    expect(loadCorpus(join(dir, 'mine.txt'), { corporaDir: '/nonexistent' }).docs.length).toBe(2);
  });

  it('reads .jsonl with labels', () => {
    writeFileSync(join(dir, 'lab.jsonl'), '{"text":"a b","label":"x"}\n\n{"text":"c","label":null}\n{"text":"d"}\n');
    const lab = load('lab');
    expect(lab.docs).toEqual([
      { text: 'a b', label: 'x' },
      { text: 'c', label: null },
      { text: 'd', label: null },
    ]);
    expect(lab.labels).toEqual(['x']);
  });

  it('names the file and line of a malformed .jsonl line', () => {
    const cases: [string, RegExp][] = [
      ['{"text":"ok"}\n{"text": oops}\n', /bad\.jsonl:2: not valid JSON/],
      ['{"text":"ok"}\n\n["x"]\n', /bad\.jsonl:3: expected an object/],
      ['{"label":"x"}\n', /bad\.jsonl:1: "text" must be a non-empty string/],
      ['{"text":"a","label":3}\n', /bad\.jsonl:1: "label" must be a string or null/],
    ];
    for (const [content, message] of cases) {
      writeFileSync(join(dir, 'bad.jsonl'), content);
      const e = userError(() => load('bad'));
      expect(e.message).toMatch(message);
      expect(e.code).toBe('E_CORPUS_LINE');
      expect(e.message).not.toContain('\n');
    }
    rmSync(join(dir, 'bad.jsonl'));
  });

  it('rejects unknown names with one line listing the built-ins, and ambiguous names', () => {
    const e = userError(() => load('nope'));
    expect(e.message).toContain("'nope'");
    for (const name of BUILTIN_CORPORA) expect(e.message).toContain(name);
    expect(e.message).not.toContain('\n');
    expect(userError(() => load(join(dir, 'missing.txt'))).message).toContain('missing.txt');
    writeFileSync(join(dir, 'twice.txt'), 'a\n');
    writeFileSync(join(dir, 'twice.jsonl'), '{"text":"a"}\n');
    expect(userError(() => load('twice')).message).toMatch(/ambiguous/);
    expect(load('twice.jsonl').docs.length).toBe(1);
    writeFileSync(join(dir, 'empty.txt'), '\n\n');
    expect(userError(() => load('empty')).message).toMatch(/no documents/);
    rmSync(join(dir, 'twice.txt'));
    rmSync(join(dir, 'twice.jsonl'));
    rmSync(join(dir, 'empty.txt'));
  });

  it('listCorpora lists the built-ins, then user files, and reports unreadable ones', () => {
    writeFileSync(join(dir, 'broken.jsonl'), '{nope\n');
    const list = listCorpora(dir);
    expect(list.map((c) => c.name)).toEqual(['names', 'brown', 'synthetic', 'broken.jsonl', 'lab', 'mine']);
    const mine = list.find((c) => c.name === 'mine')!;
    expect(mine.documents).toBe(2);
    expect(mine.charTokens).toBe('first line'.length + 'second line'.length);
    expect(mine.bpeTokens).toBeUndefined();
    expect(list.find((c) => c.name === 'broken.jsonl')!.error).toMatch(/broken\.jsonl:1/);
    expect(list.find((c) => c.name === 'lab')!.labels).toEqual([{ label: 'x', count: 1, share: 1 / 3 }]);
    rmSync(join(dir, 'broken.jsonl'));
  });
});

describe('splitCorpus and corpusHash', () => {
  it('splits ~10% to validation, the same every time and in any document order', () => {
    for (const name of BUILTIN_CORPORA) {
      const corpus = load(name);
      const a = splitCorpus(corpus);
      const b = splitCorpus(corpus);
      expect(a).toEqual(b);
      expect(a.train.length + a.val.length).toBe(corpus.docs.length);
      const fraction = a.val.length / corpus.docs.length;
      expect(fraction).toBeGreaterThan(0.085);
      expect(fraction).toBeLessThan(0.115);
      // Same membership after shuffling the documents.
      const shuffled: Corpus = { ...corpus, docs: shuffle(rngFor(7, name), [...corpus.docs]) };
      const valTexts = (docs: { text: string }[]) => docs.map((d) => d.text).sort();
      expect(valTexts(splitCorpus(shuffled).val)).toEqual(valTexts(a.val));
      // A text is on one side only (names has 421 names on both lists).
      const trainTexts = new Set(a.train.map((d) => d.text));
      expect(a.val.filter((d) => trainTexts.has(d.text)).length).toBe(0);
    }
    expect(splitCorpus(load('names'), 0).val.length).toBe(0);
    expect(splitCorpus(load('names'), 0.5).val.length / 8849).toBeCloseTo(0.5, 1);
    expect(() => splitCorpus(load('names'), 1)).toThrow(UserError);
  });

  it('hashes content: stable, sensitive to texts, labels and order, not to the name', () => {
    const names = load('names');
    const hash = corpusHash(names);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(corpusHash({ ...names, name: 'other', source: 'x' })).toBe(hash);
    const docs = [...names.docs];
    expect(corpusHash({ ...names, docs: docs.reverse() })).not.toBe(hash);
    const relabelled = names.docs.map((d, i) => (i === 0 ? { ...d, label: 'male' } : d));
    expect(corpusHash({ ...names, docs: relabelled })).not.toBe(hash);
    const edited = names.docs.map((d, i) => (i === 5 ? { ...d, text: d.text + 'x' } : d));
    expect(corpusHash({ ...names, docs: edited })).not.toBe(hash);
    expect(new Set(BUILTIN_CORPORA.map((n) => corpusHash(load(n)))).size).toBe(3);
  });
});
