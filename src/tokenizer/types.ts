// A tokenizer maps a document's text to token ids and back. Ids 0 and 1 are BOS and EOS;
// the corpus' own tokens follow densely from 2. The state is plain JSON, stored with the run.

export type TokenizerKind = 'char' | 'bpe';

export const BOS = 0;
export const EOS = 1;

export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** Vocabulary size including BOS and EOS. */
  readonly vocabSize: number;
  readonly bos: typeof BOS;
  readonly eos: typeof EOS;
  /** Token ids of the text, without BOS/EOS. */
  encode(text: string): number[];
  /** Text of token ids; BOS/EOS are skipped. */
  decode(ids: readonly number[]): string;
  /** A short printable name of one token (category names of the `first` coarse-graining). */
  tokenName(id: number): string;
  /** Plain JSON from which `loadTokenizer` rebuilds an identical tokenizer. */
  toJSON(): TokenizerState;
}

export interface TokenizerState {
  kind: TokenizerKind;
  [key: string]: unknown;
}
