// The regime verdict on closed loops of an exact learner (the model *is* the training set's
// histogram, sampled through τ_T) and of a learner with a known error (it learns a flattened
// copy of its training set): temperature must name the regime, model error must read `drift`.

import { describe, expect, it } from 'vitest';
import { regimeVerdict, termsInput, verdictSoFar } from '../src/metrics/verdict.js';
import { decompose, decompositionMetrics, type TermMetrics } from '../src/metrics/decomposition.js';
import { liveIndices } from '../src/metrics/histogram.js';
import { multinomial } from '../src/theory/binomial.js';
import { normalize, tau } from '../src/theory/core.js';
import { rngFor } from '../src/rng.js';

const P0 = [0.3, 0.2, 0.15, 0.12, 0.1, 0.07, 0.04, 0.02];

/**
 * Histogram 0: 1,000 seed draws from P0. Generation g: the model q = learn(θ) (θ the training
 * set's shares) draws N samples at T and a control of 300 at T = 1; a fraction λ of the new
 * training documents is fresh (from the seed shares). Accumulate.
 */
function loop(seed: number, T: number, opts: { lambda?: number; gens?: number; N?: number; learn?: (theta: number[]) => number[] } = {}) {
  const { lambda = 0, gens = 8, N = 1000, learn = (t: number[]) => t } = opts;
  const rng = rngFor(seed, 'verdict-test');
  const seedCounts = multinomial(rng, 1000, P0);
  const live = liveIndices(seedCounts);
  const hs: number[][] = [seedCounts];
  const terms: (TermMetrics | null)[] = [null];
  let train = seedCounts.slice();
  for (let g = 1; g <= gens; g++) {
    const q = learn(normalize(train));
    const nFresh = Math.round(lambda * N);
    // N samples at T: N − nFresh are trained on, nFresh are replaced by fresh seed documents.
    const trained = multinomial(rng, N - nFresh, tau(q, T));
    const h = multinomial(rng, nFresh, tau(q, T)).map((x, i) => x + trained[i]);
    const control = multinomial(rng, 300, q);
    terms.push(decompositionMetrics(decompose(h, control, 300, train, live)));
    hs.push(h);
    const fresh = multinomial(rng, nFresh, normalize(seedCounts));
    train = train.map((x, i) => x + trained[i] + fresh[i]);
  }
  return { histograms: hs, ...termsInput(terms, gens), freshFraction: lambda };
}

describe('regime verdict', () => {
  const seeds = [1, 2, 3, 4, 5];

  it('T = 0.6 collapses onto the mode, and the temperature term says temperature did it', () => {
    for (const s of seeds) {
      const v = regimeVerdict(loop(s, 0.6));
      expect(v.verdict, v.reasons).toBe('mode-collapse');
      expect(v.numbers.top_rise).toBeGreaterThan(v.numbers.top_rise_limit);
      expect(v.numbers.tau_z).toBeLessThan(-v.numbers.z);
    }
  });

  it('T = 1.6 flattens into heat death', () => {
    for (const s of seeds) {
      const v = regimeVerdict(loop(s, 1.6));
      expect(v.verdict, v.reasons).toBe('heat-death');
      expect(v.numbers.V_fall).toBeGreaterThan(v.numbers.V_fall_limit);
      expect(v.numbers.tau_z).toBeGreaterThan(v.numbers.z);
    }
  });

  it('T = 1 with all-fresh data (λ = 1), and T = 1 accumulating (a Pólya urn), are stable', () => {
    for (const s of seeds) {
      for (const lambda of [1, 0]) {
        const v = regimeVerdict(loop(s, 1, { lambda }));
        expect(v.verdict, `λ=${lambda}: ${v.reasons}`).toBe('stable');
        expect(v.numbers.tv).toBeLessThanOrEqual(v.numbers.tv_limit);
      }
    }
  });

  it('a learner that flattens what it learns, at T = 1, moves the histogram like heat death: that is drift, with δ̂ in the reason', () => {
    const flatten = (t: number[]) => tau(t, 1.6); // the model's error, not the sampling temperature
    for (const s of seeds) {
      const v = regimeVerdict(loop(s, 1, { learn: flatten }));
      expect(v.verdict, v.reasons).toBe('drift');
      expect(v.numbers.V_fall).toBeGreaterThan(v.numbers.V_fall_limit); // it did flatten
      expect(Math.abs(v.numbers.tau_z)).toBeLessThan(v.numbers.z);
      expect(v.numbers.err_tv).toBeGreaterThan(0.05);
      expect(v.reasons).toMatch(/not by temperature: model error δ̂ = 0\.\d{3}/);
    }
  });

  it('without a measured temperature term no regime is named', () => {
    const { histograms } = loop(1, 0.6);
    const v = regimeVerdict({ histograms });
    expect(v.verdict).toBe('drift');
    expect(v.reasons).toMatch(/no temperature term measured/);
    expect(verdictSoFar(loop(1, 0.6))).toMatch(/^mode-collapse top \+0\.\d{3} τ -\d+\.\dσ$/);
  });

  it('replace wanders further than accumulate: its T = 1 limits are wider', () => {
    const h = loop(1, 1).histograms;
    const acc = regimeVerdict({ histograms: h, policy: 'accumulate' });
    const rep = regimeVerdict({ histograms: h, policy: 'replace' });
    expect(rep.numbers.tv_limit).toBeGreaterThan(1.5 * acc.numbers.tv_limit);
    expect(rep.numbers.dH_fall_limit).toBeGreaterThan(1.5 * acc.numbers.dH_fall_limit);
  });

  it('fewer than 3 generations, or a seed with one category, is undetermined', () => {
    const { histograms } = loop(1, 0.6, { gens: 2 });
    expect(regimeVerdict({ histograms }).verdict).toBe('undetermined');
    expect(regimeVerdict({ histograms: histograms.slice(0, 1) }).verdict).toBe('undetermined');
    expect(regimeVerdict({ histograms: [] }).verdict).toBe('undetermined');
    expect(verdictSoFar({ histograms })).toBe('undetermined (2/3 gens)');
    expect(regimeVerdict({ histograms: [[5, 0], [5, 0], [5, 0], [5, 0]] }).verdict).toBe('undetermined');
    expect(() => regimeVerdict({ histograms }, { zz: 1 } as never)).toThrow(/zz/);
  });
});
