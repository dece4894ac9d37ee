// Support shrinkage: whether a histogram lost more of the seed's live categories than sampling
// alone explains. The null is one draw of the same size from the seed's own shares: category i
// (seed share p_i) is missing from n draws with probability q_i = (1 − p_i)^n, so the expected
// number missing is Σ q_i with variance Σ q_i(1 − q_i) (categories taken as independent, which
// overstates the variance slightly: the counts are negatively correlated). The loop's verdicts
// append the finding to their reasons, naming the truncation when the sampling rule has one.
//
// What the null leaves out: drift of the model between generations. At T = 1 with `replace`
// that drift alone loses rare categories (a Wright–Fisher process); with `accumulate` the seed
// stays in the training data and drift is slow. A loss beyond this null is therefore "more than
// one generation's sampling", not by itself proof of a truncation; the rule says whether one cut.

export interface SupportShrink {
  /** Categories alive (count > 0) in the seed and in the histogram. */
  seedLive: number;
  live: number;
  /** Seed categories missing from the histogram. */
  lost: number;
  /** Expected number of seed categories missing from a same-size draw from the seed's shares, and its sd. */
  expectedLost: number;
  sd: number;
  /** lost > expectedLost + z·sd + 1. */
  beyondSampling: boolean;
}

export function supportShrink(counts: ArrayLike<number>, seedCounts: ArrayLike<number>, z = 3): SupportShrink {
  let n = 0,
    n0 = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  for (let i = 0; i < seedCounts.length; i++) n0 += seedCounts[i];
  let seedLive = 0,
    live = 0,
    lost = 0,
    expectedLost = 0,
    variance = 0;
  for (let i = 0; i < seedCounts.length; i++) {
    if (counts[i] > 0) live++;
    if (!(seedCounts[i] > 0)) continue;
    seedLive++;
    if (!(counts[i] > 0)) lost++;
    const q = Math.pow(1 - seedCounts[i] / n0, n);
    expectedLost += q;
    variance += q * (1 - q);
  }
  const sd = Math.sqrt(variance);
  return { seedLive, live, lost, expectedLost, sd, beyondSampling: n > 0 && lost > expectedLost + z * sd + 1 };
}

/** The reason a verdict appends, e.g. "support 26 → 6 categories, 20 lost where sampling would lose 0.0 ± 0.1". */
export function supportReason(s: SupportShrink, truncation: string | null): string | null {
  if (!s.beyondSampling) return null;
  const cause = truncation ? `; ${truncation} sends the tail to zero` : '';
  return `support ${s.seedLive} → ${s.live} categories: ${s.lost} of the seed's lost, where sampling alone would lose ${s.expectedLost.toFixed(1)} ± ${s.sd.toFixed(1)}${cause}`;
}
