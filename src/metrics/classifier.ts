// The classifier behind the `label` coarse-graining: multinomial naive Bayes over character
// 1–3-grams of space-padded words, Laplace-smoothed. Trained once on the seed corpus, it labels
// generated text (gender of a name, genre group of a sentence); its held-out confusion matrix is
// stored with the run so a reader knows how far to trust the label histograms. The state is plain
// JSON so a resumed run labels exactly as before.

import { UserError } from '../errors.js';

export interface ClassifierOptions {
  /** Additive (Laplace) smoothing of the per-label n-gram counts. */
  alpha: number;
  /** Longest character n-gram, 1–3. */
  maxN: number;
  /** Fold case first: a name's capital initial says nothing about its label. */
  lowercase: boolean;
}

export const defaultClassifierOptions: Readonly<ClassifierOptions> = Object.freeze({
  alpha: 1,
  maxN: 3,
  lowercase: true,
});

export interface ClassifierState {
  kind: 'naive-bayes';
  options: ClassifierOptions;
  labels: string[];
  /** Training documents per label (the prior). */
  docCounts: number[];
  /** The n-gram strings, e.g. " ma" (a space marks a word boundary). */
  features: string[];
  /** Row-major features × labels: occurrences of each n-gram in each label's documents. */
  counts: number[];
}

export interface Evaluation {
  /** Labelled documents evaluated (documents whose label the classifier does not know are skipped). */
  n: number;
  accuracy: number;
  /** Accuracy of always answering the most frequent training label, for comparison. */
  baseline: number;
  labels: string[];
  /** confusion[true][predicted] counts, indices into `labels`. */
  confusion: number[][];
}

// Characters get small dense ids (space = 1; 0 = a character the classifier never saw), so the
// n-gram of ids i1..i3 is the integer Σ i_k·K^(n−k): 1-, 2- and 3-grams land in disjoint ranges
// below 2^30, which V8 keeps as small integers, and a Map<number> replaces string keys.
const K = 1024;
const SPACE_ID = 1;

class Alphabet {
  private readonly ids = new Int32Array(65536); // UTF-16 code unit → id
  readonly codes: number[] = [0, 32]; // id → code unit

  constructor() {
    this.ids[32] = SPACE_ID;
  }

  /** The id of a code unit; `grow` assigns the next free one (0 once all K − 1 are taken). */
  id(code: number, grow: boolean): number {
    let i = this.ids[code];
    if (i === 0 && grow && this.codes.length < K) {
      i = this.codes.length;
      this.ids[code] = i;
      this.codes.push(code);
    }
    return i;
  }

  keyOf(s: string, grow: boolean): number {
    let k = 0;
    for (let i = 0; i < s.length; i++) k = k * K + this.id(s.charCodeAt(i), grow);
    return k;
  }

  stringOf(key: number): string {
    const codes: number[] = [];
    for (let k = key; k > 0; k = Math.floor(k / K)) codes.unshift(this.codes[k % K]);
    return String.fromCharCode(...codes);
  }
}

/** Calls `emit` with the key of every character n-gram (n ≤ maxN) of the space-padded words. */
function forEachFeature(text: string, maxN: number, abc: Alphabet, grow: boolean, emit: (key: number) => void): void {
  let inWord = false;
  let prev1 = 0; // ids of the two previous characters of the padded word (0 = none or unknown)
  let prev2 = 0;
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    const raw = i < n ? text.charCodeAt(i) : 32;
    const white = raw <= 32 || raw === 160;
    if (white && !inWord) continue; // between words
    if (!inWord) {
      inWord = true; // a word starts: its left padding
      prev1 = SPACE_ID;
      prev2 = 0;
    }
    const c = white ? SPACE_ID : abc.id(raw, grow);
    // An n-gram with an unknown character was never seen in training: skip it.
    if (c > 0) {
      if (!white) emit(c);
      if (maxN >= 2 && prev1 > 0) emit(prev1 * K + c);
      if (maxN >= 3 && prev1 > 0 && prev2 > 0) emit((prev2 * K + prev1) * K + c);
    }
    if (white) {
      inWord = false; // the word ended with its right padding
    } else {
      prev2 = prev1;
      prev1 = c;
    }
  }
}

export class Classifier {
  private readonly index = new Map<number, number>();
  private readonly abc = new Alphabet();
  private readonly logLikelihood: Float64Array; // features × labels
  private readonly logPrior: Float64Array;

  private constructor(private readonly state: ClassifierState) {
    const { labels, docCounts, features, counts, options } = state;
    const L = labels.length;
    features.forEach((f, i) => this.index.set(this.abc.keyOf(f, true), i));
    const totals = new Float64Array(L);
    for (let i = 0; i < counts.length; i++) totals[i % L] += counts[i];
    // log P(n-gram | label) = log((count + α) / (total_label + α·F)); unseen n-grams are ignored.
    const denom = Array.from(totals, (t) => Math.log(t + options.alpha * features.length));
    this.logLikelihood = new Float64Array(counts.length);
    for (let i = 0; i < counts.length; i++) {
      this.logLikelihood[i] = Math.log(counts[i] + options.alpha) - denom[i % L];
    }
    const docs = docCounts.reduce((a, b) => a + b, 0);
    this.logPrior = Float64Array.from(docCounts, (c) => Math.log(c / docs));
  }

  /** Builds a classifier from its JSON state. */
  static fromJSON(state: ClassifierState): Classifier {
    if (state?.kind !== 'naive-bayes' || !Array.isArray(state.labels) || !Array.isArray(state.counts) || !(state.options?.alpha > 0)) {
      throw new UserError('stored classifier state is not a naive-Bayes state', 'E_STATE');
    }
    if (state.counts.length !== state.features.length * state.labels.length) {
      throw new UserError('stored classifier state is inconsistent (counts vs features × labels)', 'E_STATE');
    }
    return new Classifier(state);
  }

  /** The labels, sorted; `predictIndex` returns an index into them. */
  get labels(): readonly string[] {
    return this.state.labels;
  }

  /** Index of the most probable label (ties go to the first). */
  predictIndex(text: string): number {
    const scores = this.logScores(text);
    let best = 0;
    for (let l = 1; l < scores.length; l++) if (scores[l] > scores[best]) best = l;
    return best;
  }

  /** P(label | text) under the model, one per label (a reward for `--select label:<L>`). */
  probabilities(text: string): number[] {
    const scores = this.logScores(text);
    const max = Math.max(...scores);
    const e = Array.from(scores, (x) => Math.exp(x - max));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  }

  /** log P(label) + Σ log P(n-gram | label), one per label (unnormalised log posterior). */
  private logScores(text: string): Float64Array {
    const L = this.state.labels.length;
    const scores = Float64Array.from(this.logPrior);
    const ll = this.logLikelihood;
    const folded = this.state.options.lowercase ? text.toLowerCase() : text;
    forEachFeature(folded, this.state.options.maxN, this.abc, false, (key) => {
      const f = this.index.get(key);
      if (f === undefined) return;
      const row = f * L;
      for (let l = 0; l < L; l++) scores[l] += ll[row + l];
    });
    return scores;
  }

  predict(text: string): string {
    return this.state.labels[this.predictIndex(text)];
  }

  /** Accuracy and confusion matrix on labelled documents the classifier was not trained on. */
  evaluate(docs: readonly { text: string; label: string | null }[]): Evaluation {
    const labels = this.state.labels;
    const L = labels.length;
    const pos = new Map(labels.map((l, i) => [l, i]));
    const confusion = Array.from({ length: L }, () => new Array<number>(L).fill(0));
    let n = 0,
      correct = 0;
    for (const d of docs) {
      const t = d.label === null ? undefined : pos.get(d.label);
      if (t === undefined) continue;
      const p = this.predictIndex(d.text);
      confusion[t][p]++;
      n++;
      if (p === t) correct++;
    }
    const major = this.state.docCounts.indexOf(Math.max(...this.state.docCounts));
    const majorCount = n > 0 ? confusion[major].reduce((a, b) => a + b, 0) : 0;
    return {
      n,
      accuracy: n > 0 ? correct / n : 0,
      baseline: n > 0 ? majorCount / n : 0,
      labels: [...labels],
      confusion,
    };
  }

  toJSON(): ClassifierState {
    return this.state;
  }
}

/**
 * Trains on the labelled documents (documents with a null label are skipped). Labels are the
 * sorted distinct labels. Throws a UserError when no document has a label.
 */
export function trainClassifier(
  docs: readonly { text: string; label: string | null }[],
  opts: Partial<ClassifierOptions> = {},
): Classifier {
  for (const k of Object.keys(opts)) {
    if (!(k in defaultClassifierOptions)) throw new UserError(`unknown classifier option '${k}'`, 'E_CONFIG');
  }
  const options: ClassifierOptions = { ...defaultClassifierOptions, ...opts };
  if (![1, 2, 3].includes(options.maxN)) throw new UserError(`classifier maxN must be 1, 2 or 3, got ${options.maxN}`, 'E_CONFIG');
  if (!(options.alpha > 0)) throw new UserError(`classifier alpha must be > 0, got ${options.alpha}`, 'E_CONFIG');
  const labelled = docs.filter((d): d is { text: string; label: string } => d.label !== null);
  if (labelled.length === 0) throw new UserError('cannot train a label classifier: the corpus has no labels', 'E_NO_LABELS');
  const labels = [...new Set(labelled.map((d) => d.label))].sort();
  const L = labels.length;
  const pos = new Map(labels.map((l, i) => [l, i]));

  // One pass: feature ids in order of first appearance, counts grown a row at a time.
  const index = new Map<number, number>();
  const keys: number[] = [];
  const counts: number[] = [];
  const docCounts = new Array<number>(L).fill(0);
  const abc = new Alphabet();
  for (const d of labelled) {
    const l = pos.get(d.label)!;
    docCounts[l]++;
    forEachFeature(options.lowercase ? d.text.toLowerCase() : d.text, options.maxN, abc, true, (key) => {
      let f = index.get(key);
      if (f === undefined) {
        f = keys.length;
        index.set(key, f);
        keys.push(key);
        for (let j = 0; j < L; j++) counts.push(0);
      }
      counts[f * L + l]++;
    });
  }
  return Classifier.fromJSON({
    kind: 'naive-bayes',
    options,
    labels,
    docCounts,
    features: keys.map((k) => abc.stringOf(k)),
    counts,
  });
}
