// Tokenizers: exact round trips on the built-in corpora, dense deterministic ids, state
// round trips, and clear errors for text outside the vocabulary.

import { describe, expect, it } from 'vitest';
import { loadCorpus, type Corpus } from '../src/corpus/index.js';
import { UserError } from '../src/errors.js';
import { rngFor, shuffle } from '../src/rng.js';
import { BOS, EOS, buildTokenizer, loadTokenizer, type Tokenizer, type TokenizerKind } from '../src/tokenizer/index.js';

const corpus = (name: string): Corpus => loadCorpus(name, { corporaDir: 'corpora' });
const texts = (name: string): string[] => corpus(name).docs.map((d) => d.text);

/** Every sentence index ≡ 0 mod 19: about 3000 Brown sentences spread over all 15 genres. */
const brownSample = (): string[] => texts('brown').filter((_, i) => i % 19 === 0);

/** Number of texts whose round trip differs, and checks ids are in range and dense. */
function checkRoundTrips(tok: Tokenizer, xs: readonly string[]): number {
  let bad = 0;
  const used = new Uint8Array(tok.vocabSize + 1); // one past the end catches an out-of-range id
  for (const x of xs) {
    const ids = tok.encode(x);
    for (const id of ids) used[id] = 1;
    if (tok.decode(ids) !== x) bad++;
  }
  // Dense: exactly the ids 2…vocabSize-1 occur in the corpus the tokenizer was built from.
  expect([...used].map((u, id) => (u ? id : -1)).filter((id) => id >= 0)).toEqual(
    Array.from({ length: tok.vocabSize - 2 }, (_, i) => i + 2),
  );
  return bad;
}

/** A copy through JSON text, as a run stores it. */
const reload = (tok: Tokenizer): Tokenizer => loadTokenizer(JSON.parse(JSON.stringify(tok.toJSON())));

describe('char tokenizer', () => {
  it.each([
    ['names', 53],
    ['brown', 84],
    ['synthetic', 32],
  ])('round-trips every document of %s (%i distinct characters)', (name, distinct) => {
    const xs = texts(name);
    const tok = buildTokenizer('char', xs);
    expect(tok.kind).toBe('char');
    expect(tok.vocabSize).toBe(distinct + 2);
    expect(checkRoundTrips(tok, xs)).toBe(0);
  });

  it('iterates by code point, orders the vocabulary by code point, names tokens visibly', () => {
    const tok = buildTokenizer('char', ['b a', 'é😀\n']);
    expect(tok.toJSON()).toEqual({ kind: 'char', chars: ['\n', ' ', 'a', 'b', 'é', '😀'] });
    expect(tok.encode('😀')).toEqual([7]); // one token, not two surrogate halves
    expect(tok.decode([BOS, 5, 3, 4, EOS])).toBe('b a');
    expect([0, 1, 2, 3, 4, 7].map((id) => tok.tokenName(id))).toEqual(['<bos>', '<eos>', '\\n', '␣', 'a', '😀']);
    expect(() => tok.decode([8])).toThrow(RangeError);
  });

  it('does not depend on document order, and its state rebuilds identical ids', () => {
    const xs = texts('names');
    const tok = buildTokenizer('char', xs);
    expect(buildTokenizer('char', shuffle(rngFor(1, 'order'), [...xs])).toJSON()).toEqual(tok.toJSON());
    const again = reload(tok);
    expect(again.vocabSize).toBe(tok.vocabSize);
    for (const x of xs.slice(0, 500)) expect(again.encode(x)).toEqual(tok.encode(x));
  });

  it('refuses characters outside the vocabulary with a UserError', () => {
    const tok = buildTokenizer('char', texts('synthetic'));
    expect(() => tok.encode('the ñ')).toThrow(UserError);
    expect(() => tok.encode('the ñ')).toThrow(/'ñ' \(U\+00F1\)/);
  });
});

describe('bpe tokenizer (cl100k_base, compacted)', () => {
  it.each([
    ['names', 3019],
    ['synthetic', 120],
  ])('round-trips every document of %s (%i distinct BPE tokens)', (name, distinct) => {
    const xs = texts(name);
    const tok = buildTokenizer('bpe', xs);
    expect(tok.vocabSize).toBe(distinct + 2);
    expect(checkRoundTrips(tok, xs)).toBe(0);
  });

  it('round-trips ~3000 Brown sentences from every genre', () => {
    const xs = brownSample();
    expect(xs.length).toBe(3018);
    const tok = buildTokenizer('bpe', xs);
    expect(tok.vocabSize).toBeGreaterThan(5000);
    expect(tok.vocabSize).toBeLessThan(20000);
    expect(checkRoundTrips(tok, xs)).toBe(0);
    // Common words with their leading space are single tokens.
    const ids = tok.encode('The jury said');
    expect(ids.map((id) => tok.tokenName(id))).toEqual(['The', '␣jury', '␣said']);
  });

  it('orders ids by original id, so document order does not matter; state rebuilds identical ids', () => {
    const xs = texts('synthetic');
    const tok = buildTokenizer('bpe', xs);
    const state = tok.toJSON();
    expect(state.encoding).toBe('cl100k_base');
    const ids = state.ids as number[];
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(buildTokenizer('bpe', shuffle(rngFor(2, 'order'), [...xs])).toJSON()).toEqual(tok.toJSON());
    const again = reload(tok);
    for (const x of xs.slice(0, 500)) expect(again.encode(x)).toEqual(tok.encode(x));
  });

  it('treats special-token text as plain text and splits multi-byte characters losslessly', () => {
    const xs = ['a <|endoftext|> b', '日本語 😀 café'];
    const tok = buildTokenizer('bpe', xs);
    expect(checkRoundTrips(tok, xs)).toBe(0);
    // Every token has a short printable name; byte fragments are named by their original id.
    const names = Array.from({ length: tok.vocabSize }, (_, id) => tok.tokenName(id));
    expect(names.slice(0, 2)).toEqual(['<bos>', '<eos>']);
    expect(names.every((n) => n.length > 0 && !n.includes(' ') && !n.includes('\uFFFD'))).toBe(true);
    expect(names.filter((n) => n.startsWith('<bpe:')).length).toBeGreaterThan(0); // 語 spans two tokens
    expect(tok.decode([BOS, ...tok.encode('a <|endoftext|> b'), EOS])).toBe('a <|endoftext|> b');
  });

  it('refuses tokens outside the compacted vocabulary with a UserError', () => {
    const tok = buildTokenizer('bpe', texts('synthetic'));
    expect(() => tok.encode('The zebra boils.')).toThrow(UserError);
    expect(() => tok.encode('The zebra boils.')).toThrow(/not in the tokenizer's vocabulary/);
  });
});

describe('buildTokenizer / loadTokenizer', () => {
  it('rejects unknown kinds and malformed states with a UserError', () => {
    expect(() => buildTokenizer('wordpiece' as TokenizerKind, ['a'])).toThrow(/unknown tokenizer 'wordpiece'/);
    expect(() => loadTokenizer({ kind: 'wordpiece' as TokenizerKind })).toThrow(UserError);
    expect(() => loadTokenizer({ kind: 'char', chars: ['ab'] })).toThrow(UserError);
    expect(() => loadTokenizer({ kind: 'char', chars: ['a', 'a'] })).toThrow(/duplicate/);
    expect(() => loadTokenizer({ kind: 'bpe', encoding: 'o200k_base', ids: [1] })).toThrow(/only 'cl100k_base'/);
    expect(() => loadTokenizer({ kind: 'bpe', encoding: 'cl100k_base', ids: [-1] })).toThrow(UserError);
  });

  it('an empty corpus gives a vocabulary of BOS and EOS only', () => {
    for (const kind of ['char', 'bpe'] as const) {
      const tok = buildTokenizer(kind, []);
      expect(tok.vocabSize).toBe(2);
      expect(tok.encode('')).toEqual([]);
      expect(tok.decode([BOS, EOS])).toBe('');
    }
  });
});
