// The shape of a data policy: which generations' documents the model of generation g trains on
// (its window), and optionally a seeded choice among them. Everything else about the training set
// — the SQL, the id ranges of the copy check, the id list, the training histogram, the report's
// mean-field prediction — is derived from this in src/loop/dataset.ts and src/report/data.ts.

/** What a policy's choice may read of the run config: the seed, S (`--train-size`) and N. */
export interface PolicyParams {
  readonly seed: number;
  readonly trainSize: number | null;
  readonly samples: number;
}

/** Generations from … to (inclusive); their documents marked in_train belong to the window. */
export type GenRange = readonly [from: number, to: number];

export interface DataPolicy {
  readonly name: string;
  /** One line for help texts. */
  readonly about: string;
  /**
   * The window of generation `gen`: ranges in increasing order, not overlapping. Generation 0 is
   * the seed corpus; every policy's window(0) is [[0, 0]].
   */
  window(gen: number): readonly GenRange[];
  /**
   * Optional: a seeded choice among the window's committed document ids (in id order), e.g. a
   * fixed-size subsample. Without it the whole window trains. Generation gen's own new documents
   * train on top of the choice.
   */
  select?(ids: Int32Array, gen: number, params: PolicyParams): Int32Array;
}
