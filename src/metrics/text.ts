// Metrics of one generation's samples as text: n-gram diversity (distinct-n), the share copied
// verbatim from the training set (makemore's in-train / new split) and the mean length.
// Pure functions over arrays; the caller owns the training-text set and can grow it
// incrementally, so the copy test is a predicate.

/** One generated document: its text and its token ids (without BOS/EOS). */
export interface TextSample {
  text: string;
  tokens: readonly number[];
}

/**
 * distinct-n: the number of distinct token n-grams divided by the number of all token n-grams,
 * pooled over the samples (n-grams never cross a document boundary). 1 = no n-gram repeats;
 * near 0 = the samples repeat themselves. 0 when no sample has n tokens.
 */
export function distinctN(samples: readonly (readonly number[])[], n: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`n must be an integer ≥ 1, got ${n}`);
  const seen = new Set<string>();
  let total = 0;
  for (const toks of samples) {
    for (let i = 0; i + n <= toks.length; i++) {
      // Token ids are small integers: a comma-joined key is unambiguous.
      let key = String(toks[i]);
      for (let j = 1; j < n; j++) key += ',' + toks[i + j];
      seen.add(key);
      total++;
    }
  }
  return total > 0 ? seen.size / total : 0;
}

/** Share of samples whose text is exactly a training document (0 for no samples). */
export function copyRate(
  samples: readonly { text: string }[],
  isInTraining: (text: string) => boolean,
): number {
  if (samples.length === 0) return 0;
  let copied = 0;
  for (const s of samples) if (isInTraining(s.text)) copied++;
  return copied / samples.length;
}

/** Mean length in tokens (EOS not counted; 0 for no samples). */
export function meanLength(samples: readonly (readonly number[])[]): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const t of samples) sum += t.length;
  return sum / samples.length;
}

/** Share of empty samples (the model emitted EOS first). */
export function emptyRate(samples: readonly (readonly number[])[]): number {
  if (samples.length === 0) return 0;
  let empty = 0;
  for (const t of samples) if (t.length === 0) empty++;
  return empty / samples.length;
}

/**
 * The text metrics of one generation, under the key names stored in the metrics table:
 *
 * - `distinct_1`, `distinct_2`, `distinct_3`  distinct-n over tokens (see distinctN)
 * - `copy_rate`    share of samples whose text is exactly a training document
 * - `mean_length`  mean length in tokens (EOS not counted)
 * - `empty_rate`   share of empty samples
 *
 * `isInTraining` accepts a Set's `has` bound to it, e.g. `(t) => trainTexts.has(t)`.
 */
export function textMetrics(
  samples: readonly TextSample[],
  isInTraining: (text: string) => boolean,
): Record<string, number> {
  const toks = samples.map((s) => s.tokens);
  return {
    distinct_1: distinctN(toks, 1),
    distinct_2: distinctN(toks, 2),
    distinct_3: distinctN(toks, 3),
    copy_rate: copyRate(samples, isInTraining),
    mean_length: meanLength(toks),
    empty_rate: emptyRate(toks),
  };
}

/** The key names of `textMetrics`, in a stable order (report columns). */
export const TEXT_METRIC_KEYS = [
  'distinct_1',
  'distinct_2',
  'distinct_3',
  'copy_rate',
  'mean_length',
  'empty_rate',
] as const;
