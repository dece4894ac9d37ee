// The character tokenizer: one token per Unicode code point of the corpus (never per UTF-16
// unit, so an emoji or an accented letter outside the BMP is one token, not two halves).
// The vocabulary is the sorted set of code points; ids follow BOS and EOS from 2 upward.

import { UserError } from '../errors.js';
import { BOS, EOS, type Tokenizer, type TokenizerState } from './types.js';

/** First id of a corpus token: 0 and 1 are BOS and EOS. */
export const FIRST_TOKEN_ID = 2;

export interface CharTokenizerState extends TokenizerState {
  kind: 'char';
  /** Code points in id order: chars[i] has id i + 2. */
  chars: string[];
}

/** A token's text made printable: spaces and control characters shown visibly. */
export function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === ' ') out += '␣';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f || ch === '\uFFFD') out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return out;
}

/** Describes a character for an error message: 'é' (U+00E9). */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return `'${printable(ch)}' (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

/** Sorted by code point (not UTF-16 order): the same vocabulary order on every machine. */
function byCodePoint(a: string, b: string): number {
  return a.codePointAt(0)! - b.codePointAt(0)!;
}

/** The char tokenizer whose vocabulary is every code point occurring in `texts`. */
export function buildCharTokenizer(texts: readonly string[]): Tokenizer {
  const seen = new Set<string>();
  for (const text of texts) for (const ch of text) seen.add(ch);
  return charTokenizerFromState({ kind: 'char', chars: [...seen].sort(byCodePoint) });
}

/** Rebuilds a char tokenizer from its JSON state, checking the state is well formed. */
export function charTokenizerFromState(state: TokenizerState): Tokenizer {
  const chars = state.chars;
  if (!Array.isArray(chars) || !chars.every((c) => typeof c === 'string' && [...c].length === 1)) {
    throw new UserError('char tokenizer state is malformed: "chars" must be a list of single characters', 'E_TOKENIZER');
  }
  const vocab: readonly string[] = Object.freeze([...chars]);
  const idOf = new Map<string, number>();
  vocab.forEach((ch, i) => idOf.set(ch, i + FIRST_TOKEN_ID));
  if (idOf.size !== vocab.length) throw new UserError('char tokenizer state is malformed: duplicate characters', 'E_TOKENIZER');
  const vocabSize = vocab.length + FIRST_TOKEN_ID;

  return {
    kind: 'char',
    vocabSize,
    bos: BOS,
    eos: EOS,
    encode(text: string): number[] {
      const ids: number[] = [];
      for (const ch of text) {
        const id = idOf.get(ch);
        // A silent drop would make decode(encode(x)) differ from x without anyone noticing.
        if (id === undefined) {
          throw new UserError(`character ${describeChar(ch)} is not in the char tokenizer's vocabulary (built from the corpus)`, 'E_OOV');
        }
        ids.push(id);
      }
      return ids;
    },
    decode(ids: readonly number[]): string {
      let out = '';
      for (const id of ids) {
        if (id === BOS || id === EOS) continue;
        const ch = vocab[id - FIRST_TOKEN_ID];
        if (ch === undefined) throw new RangeError(`token id ${id} is outside the char vocabulary (size ${vocabSize})`);
        out += ch;
      }
      return out;
    },
    tokenName(id: number): string {
      if (id === BOS) return '<bos>';
      if (id === EOS) return '<eos>';
      const ch = vocab[id - FIRST_TOKEN_ID];
      if (ch === undefined) throw new RangeError(`token id ${id} is outside the char vocabulary (size ${vocabSize})`);
      return printable(ch);
    },
    toJSON(): CharTokenizerState {
      return { kind: 'char', chars: [...vocab] };
    },
  };
}
