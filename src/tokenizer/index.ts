// Tokenizers by kind: `buildTokenizer` learns the vocabulary from the corpus texts,
// `loadTokenizer` rebuilds it from the JSON state stored with a run (same ids, always).
//
//   const tok = buildTokenizer('char', corpus.docs.map((d) => d.text));
//   const again = loadTokenizer(JSON.parse(JSON.stringify(tok.toJSON())));

import { UserError } from '../errors.js';
import { bpeTokenizerFromState, buildBpeTokenizer, encodeBpeOriginal } from './bpe.js';
import { buildCharTokenizer, charTokenizerFromState } from './char.js';
import type { Tokenizer, TokenizerKind, TokenizerState } from './types.js';

export { BOS, EOS } from './types.js';
export type { Tokenizer, TokenizerKind, TokenizerState } from './types.js';
export { BPE_ENCODING, encodeBpeOriginal } from './bpe.js';
export { FIRST_TOKEN_ID, printable } from './char.js';

interface TokenizerFactory {
  build(texts: readonly string[]): Tokenizer;
  load(state: TokenizerState): Tokenizer;
}

// Chosen from a record, not an if/else chain.
const FACTORIES: Readonly<Record<TokenizerKind, TokenizerFactory>> = {
  char: { build: buildCharTokenizer, load: charTokenizerFromState },
  bpe: { build: buildBpeTokenizer, load: bpeTokenizerFromState },
};

export const TOKENIZER_KINDS: readonly TokenizerKind[] = Object.freeze(Object.keys(FACTORIES) as TokenizerKind[]);

function factory(kind: unknown): TokenizerFactory {
  if (typeof kind !== 'string' || !Object.hasOwn(FACTORIES, kind)) {
    throw new UserError(`unknown tokenizer '${String(kind)}' (expected ${TOKENIZER_KINDS.join(' or ')})`, 'E_TOKENIZER');
  }
  return FACTORIES[kind as TokenizerKind];
}

/** A tokenizer of the given kind whose vocabulary is exactly the tokens occurring in `texts`. */
export function buildTokenizer(kind: TokenizerKind, texts: readonly string[]): Tokenizer {
  return factory(kind).build(texts);
}

/** The tokenizer a `toJSON()` state describes; an unknown kind or malformed state → UserError. */
export function loadTokenizer(state: TokenizerState): Tokenizer {
  if (typeof state !== 'object' || state === null) {
    throw new UserError('tokenizer state is malformed: expected an object with a "kind"', 'E_TOKENIZER');
  }
  return factory(state.kind).load(state);
}

/** Number of char tokens (code points) in the texts, without BOS/EOS, and distinct ones. */
export function countCharTokens(texts: Iterable<string>): { tokens: number; vocab: number } {
  let tokens = 0;
  const seen = new Set<string>();
  for (const text of texts) {
    for (const ch of text) {
      seen.add(ch);
      tokens++;
    }
  }
  return { tokens, vocab: seen.size };
}

/** Number of BPE tokens in the texts, without BOS/EOS, and distinct ones (the compacted vocabulary). */
export function countBpeTokens(texts: Iterable<string>): { tokens: number; vocab: number } {
  let tokens = 0;
  const seen = new Set<number>();
  for (const text of texts) {
    for (const id of encodeBpeOriginal(text)) {
      seen.add(id);
      tokens++;
    }
  }
  return { tokens, vocab: seen.size };
}
