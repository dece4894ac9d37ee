// The BPE tokenizer: GPT's byte-pair encoding from gpt-tokenizer, with the cl100k_base encoding
// (GPT-3.5/4: common English words and their leading space are single tokens). Its 100k ids
// are far more than a small model can afford, so only the ids that occur in the corpus are
// kept, compacted to the dense range 2…vocabSize-1 in ascending order of their original id.
// gpt-tokenizer is loaded on first use: it costs ~200 ms, and char runs never need it.

import { createRequire } from 'node:module';
import { UserError } from '../errors.js';
import { FIRST_TOKEN_ID, printable } from './char.js';
import { BOS, EOS, type Tokenizer, type TokenizerState } from './types.js';

/** The only encoding we use; stored in the state so that a future change is detected. */
export const BPE_ENCODING = 'cl100k_base';

type Encoding = typeof import('gpt-tokenizer/encoding/cl100k_base');

export interface BpeTokenizerState extends TokenizerState {
  kind: 'bpe';
  encoding: typeof BPE_ENCODING;
  /** Original cl100k_base ids in compacted order: ids[i] has id i + 2. */
  ids: number[];
}

let encoding: Encoding | null = null;

function gpt(): Encoding {
  if (encoding === null) {
    const require = createRequire(import.meta.url);
    encoding = require('gpt-tokenizer/encoding/cl100k_base') as Encoding;
  }
  return encoding;
}

// Text that looks like a special token ("<|endoftext|>") is ordinary text in a corpus: encode
// it as plain pieces instead of throwing or emitting the special id.
const PLAIN_TEXT = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

/** The original (uncompacted) cl100k_base ids of a text. */
export function encodeBpeOriginal(text: string): number[] {
  return gpt().encode(text, PLAIN_TEXT);
}

/** The BPE tokenizer whose vocabulary is every cl100k_base token occurring in `texts`. */
export function buildBpeTokenizer(texts: readonly string[]): Tokenizer {
  const seen = new Set<number>();
  for (const text of texts) for (const id of encodeBpeOriginal(text)) seen.add(id);
  return bpeTokenizerFromState({ kind: 'bpe', encoding: BPE_ENCODING, ids: [...seen].sort((a, b) => a - b) });
}

/** Rebuilds a BPE tokenizer from its JSON state, checking the state is well formed. */
export function bpeTokenizerFromState(state: TokenizerState): Tokenizer {
  if (state.encoding !== BPE_ENCODING) {
    throw new UserError(`BPE tokenizer state uses encoding '${String(state.encoding)}'; only '${BPE_ENCODING}' is supported`, 'E_TOKENIZER');
  }
  const ids = state.ids;
  if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw new UserError('BPE tokenizer state is malformed: "ids" must be a list of token ids', 'E_TOKENIZER');
  }
  const original: readonly number[] = Object.freeze([...(ids as number[])]);
  const compact = new Map<number, number>();
  original.forEach((id, i) => compact.set(id, i + FIRST_TOKEN_ID));
  if (compact.size !== original.length) throw new UserError('BPE tokenizer state is malformed: duplicate ids', 'E_TOKENIZER');
  const vocabSize = original.length + FIRST_TOKEN_ID;

  const originalOf = (id: number): number => {
    const orig = original[id - FIRST_TOKEN_ID];
    if (orig === undefined) throw new RangeError(`token id ${id} is outside the BPE vocabulary (size ${vocabSize})`);
    return orig;
  };

  return {
    kind: 'bpe',
    vocabSize,
    bos: BOS,
    eos: EOS,
    encode(text: string): number[] {
      return encodeBpeOriginal(text).map((orig) => {
        const id = compact.get(orig);
        if (id === undefined) {
          const piece = printable(gpt().decode([orig]));
          throw new UserError(`BPE token '${piece}' (in ${JSON.stringify(text.slice(0, 40))}) is not in the tokenizer's vocabulary (built from the corpus)`, 'E_OOV');
        }
        return id;
      });
    },
    decode(tokenIds: readonly number[]): string {
      // Decode the whole sequence at once: a multi-byte character may span two tokens.
      const orig: number[] = [];
      for (const id of tokenIds) if (id !== BOS && id !== EOS) orig.push(originalOf(id));
      return gpt().decode(orig);
    },
    tokenName(id: number): string {
      if (id === BOS) return '<bos>';
      if (id === EOS) return '<eos>';
      const orig = originalOf(id);
      const piece = gpt().decode([orig]);
      // A token holding part of a multi-byte character decodes to U+FFFD or to nothing (the
      // decoder waits for the rest of the bytes): name it by its original id instead.
      return piece === '' || piece.includes('\uFFFD') ? `<bpe:${orig}>` : printable(piece);
    },
    toJSON(): BpeTokenizerState {
      return { kind: 'bpe', encoding: BPE_ENCODING, ids: [...original] };
    },
  };
}
