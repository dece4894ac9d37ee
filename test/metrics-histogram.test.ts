// Histogram and text metrics against values computed by hand.

import { describe, expect, it } from 'vitest';
import {
  HISTOGRAM_METRIC_KEYS,
  histogramMetrics,
  klDivergence,
  l2Distance,
  liveNormalizedEntropy,
  liveV,
  normalizedEntropy,
  supportSize,
  topShare,
  totalVariation,
} from '../src/metrics/histogram.js';
import { TEXT_METRIC_KEYS, copyRate, distinctN, meanLength, textMetrics } from '../src/metrics/text.js';

describe('histogram metrics', () => {
  it('entropy of (2,1,1) is ½ln2 + ½ln4 = 1.0397 nats', () => {
    const m = histogramMetrics([2, 1, 1], [1, 1, 1]);
    expect(m.entropy).toBeCloseTo(1.0397, 4);
    expect(m.entropy_norm).toBeCloseTo(1.0397 / Math.log(3), 4); // 0.9464
    expect(normalizedEntropy([2, 1, 1])).toBeCloseTo(0.94639, 4);
  });

  it('V and normalised entropy are taken over the live categories', () => {
    // (0,5,3,2): live shares .5 .3 .2 → V = .5 − .2; H = 1.02965 nats over ln 3
    expect(liveV([0, 5, 3, 2])).toBeCloseTo(0.3, 12);
    expect(liveNormalizedEntropy([0, 5, 3, 2])).toBeCloseTo(1.02965 / Math.log(3), 4);
    // One survivor: no spread left (V = 0 and live entropy 0 by definition).
    expect(liveV([0, 7, 0])).toBe(0);
    expect(liveNormalizedEntropy([0, 7, 0])).toBe(0);
  });

  it('support counts shares ≥ 1/(10m); live counts ≥ 1; top share', () => {
    // m = 4, floor = 0.025: shares .97 .02 .01 → one supported, three alive
    expect(supportSize([97, 2, 1, 0])).toBe(1);
    const m = histogramMetrics([97, 2, 1, 0], [25, 25, 25, 25]);
    expect(m.live).toBe(3);
    expect(m.support).toBe(1);
    expect(m.top_share).toBeCloseTo(0.97, 12);
    expect(topShare([0, 0])).toBe(0);
  });

  it('TV, L2 and KL between distributions', () => {
    expect(totalVariation([1, 1], [2, 0])).toBeCloseTo(0.5, 12);
    expect(l2Distance([1, 1], [2, 0])).toBeCloseTo(Math.SQRT1_2, 12);
    // q = (1,0) + ½ → (.75,.25): KL = ½ln(.5/.75) + ½ln(.5/.25) = 0.143841
    expect(klDivergence([1, 1], [1, 0])).toBeCloseTo(0.143841, 5);
    expect(klDivergence([1, 1], [1, 0], 0)).toBe(Infinity);
    expect(klDivergence([3, 1], [6, 2], 0)).toBe(0);
    expect(() => totalVariation([1], [1, 2])).toThrow(RangeError);
  });

  it('histogramMetrics returns every documented key, distances to seed and uniform', () => {
    const m = histogramMetrics([2, 1, 1], [1, 1, 2]);
    expect(Object.keys(m)).toEqual([...HISTOGRAM_METRIC_KEYS]);
    expect(m.n).toBe(4);
    expect(m.tv_seed).toBeCloseTo(0.25, 12); // |.5−.25| + 0 + |.25−.5|, halved
    expect(m.tv_uniform).toBeCloseTo(1 / 6, 12); // (|.5−⅓| + 2·|.25−⅓|) / 2 = (1/6 + 1/6) / 2
    expect(m.kl_uniform).toBeCloseTo(Math.log(3) - 1.0397208, 6); // 0.058892
    // seed (1,1,2) smoothed by ½ each: q = (1.5, 1.5, 2.5) / 5.5
    const q = [1.5 / 5.5, 1.5 / 5.5, 2.5 / 5.5];
    const kl = 0.5 * Math.log(0.5 / q[0]) + 0.25 * Math.log(0.25 / q[1]) + 0.25 * Math.log(0.25 / q[2]);
    expect(m.kl_seed).toBeCloseTo(kl, 12);
    expect(m.V).toBeCloseTo(0.25, 12);
  });

  it('an empty histogram gives zeros, never NaN', () => {
    const m = histogramMetrics([0, 0, 0], [1, 2, 3]);
    for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true);
    expect(m.tv_seed).toBe(0);
  });
});

describe('text metrics', () => {
  const samples = [
    { text: 'abc', tokens: [2, 3, 4] },
    { text: 'ab', tokens: [2, 3] },
    { text: 'd', tokens: [5] },
  ];

  it('distinct-n pools n-grams over samples without crossing documents', () => {
    const toks = samples.map((s) => s.tokens);
    expect(distinctN(toks, 1)).toBeCloseTo(4 / 6, 12); // 2 3 4 2 3 5
    expect(distinctN(toks, 2)).toBeCloseTo(2 / 3, 12); // (2,3) (3,4) (2,3)
    expect(distinctN(toks, 3)).toBe(1); // (2,3,4)
    expect(distinctN([[1], [2]], 2)).toBe(0); // no bigram at all
  });

  it('copy rate, mean length and the keyed record', () => {
    const train = new Set(['abc', 'zzz']);
    expect(copyRate(samples, (t) => train.has(t))).toBeCloseTo(1 / 3, 12);
    expect(meanLength(samples.map((s) => s.tokens))).toBe(2);
    const m = textMetrics([...samples, { text: '', tokens: [] }], (t) => train.has(t));
    expect(Object.keys(m)).toEqual([...TEXT_METRIC_KEYS]);
    expect(m.copy_rate).toBeCloseTo(1 / 4, 12);
    expect(m.mean_length).toBeCloseTo(6 / 4, 12);
    expect(m.empty_rate).toBeCloseTo(1 / 4, 12);
    expect(textMetrics([], () => true).copy_rate).toBe(0);
  });
});
