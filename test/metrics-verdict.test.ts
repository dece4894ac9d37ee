// The regime verdict on trajectories of the exact category-level closed loop (an exact learner:
// the model *is* the training set's histogram, sampled through τ_T), plus hand-built ones.

import { describe, expect, it } from 'vitest';
import { regimeVerdict, verdictSoFar } from '../src/metrics/verdict.js';
import { normalize, tau } from '../src/theory/core.js';
import { drawIndex, rngFor, type Rng } from '../src/rng.js';

function multinomial(rng: Rng, p: readonly number[], n: number): number[] {
  const c = new Array<number>(p.length).fill(0);
  for (let i = 0; i < n; i++) c[drawIndex(rng, p)]++;
  return c;
}

/**
 * Histogram 0: N seed draws from p0. Generation g: N draws, a fraction λ fresh from the seed
 * histogram and the rest from τ_T(training histogram); the histogram stored is the whole
 * generation's. Accumulate: the training set grows by every generation.
 */
function trajectory(seed: number, T: number, lambda: number, gens: number, N = 1000): number[][] {
  const p0 = [0.3, 0.2, 0.15, 0.12, 0.1, 0.07, 0.04, 0.02];
  const rng = rngFor(seed, 'verdict-test');
  const seedCounts = multinomial(rng, p0, N);
  const hs = [seedCounts];
  let train = seedCounts.slice();
  for (let g = 1; g <= gens; g++) {
    const fresh = multinomial(rng, normalize(seedCounts), Math.round(lambda * N));
    const synthetic = multinomial(rng, tau(normalize(train), T), N - Math.round(lambda * N));
    const gen = fresh.map((x, i) => x + synthetic[i]);
    hs.push(gen);
    train = train.map((x, i) => x + gen[i]);
  }
  return hs;
}

describe('regime verdict', () => {
  const seeds = [1, 2, 3, 4, 5];

  it('T = 0.6 collapses onto the mode', () => {
    for (const s of seeds) {
      const v = regimeVerdict(trajectory(s, 0.6, 0, 8));
      expect(v.verdict, v.reasons).toBe('mode-collapse');
      expect(v.numbers.top - v.numbers.top0).toBeGreaterThan(3 * v.numbers.sigma_top);
    }
  });

  it('T = 1.6 flattens into heat death', () => {
    for (const s of seeds) {
      const v = regimeVerdict(trajectory(s, 1.6, 0, 8));
      expect(v.verdict, v.reasons).toBe('heat-death');
      expect(v.numbers.V).toBeLessThan(v.numbers.V0);
      expect(v.numbers.H_live).toBeGreaterThan(v.numbers.H_live0);
    }
  });

  it('T = 1 with all-fresh data (λ = 1), and T = 1 accumulating (a Pólya urn), are stable', () => {
    for (const s of seeds) {
      for (const lambda of [1, 0]) {
        const v = regimeVerdict(trajectory(s, 1, lambda, 8));
        expect(v.verdict, `λ=${lambda}: ${v.reasons}`).toBe('stable');
        expect(v.numbers.tv).toBeLessThanOrEqual(v.numbers.tv_limit);
      }
    }
  });

  it('fewer than 3 generations is undetermined', () => {
    const hs = trajectory(1, 0.6, 0, 2);
    expect(regimeVerdict(hs).verdict).toBe('undetermined');
    expect(regimeVerdict(hs.slice(0, 1)).verdict).toBe('undetermined');
    expect(regimeVerdict([]).verdict).toBe('undetermined');
    expect(verdictSoFar(hs)).toBe('undetermined (2/3 gens)');
    // A seed with a single live category has no regime to speak of.
    expect(regimeVerdict([[5, 0], [5, 0], [5, 0], [5, 0]]).verdict).toBe('undetermined');
  });

  it('a permutation of the seed shares is drift; a tolerated δ makes it stable', () => {
    // Same top share, entropy and V; TV to the seed = (.3 + .1 + .1 + .3) / 2 = 0.4.
    const seed = [400, 300, 200, 100];
    const moved = [100, 200, 300, 400];
    const hs = [seed, moved, moved, moved];
    const v = regimeVerdict(hs);
    expect(v.verdict, v.reasons).toBe('drift');
    expect(v.numbers.tv).toBeCloseTo(0.4, 12);
    expect(regimeVerdict(hs, undefined, { delta: 0.4 }).verdict).toBe('stable');
    expect(verdictSoFar(hs)).toMatch(/^drift TV 0\.400>0\.0\d\d$/);
  });

  it('uses the given sample sizes for the noise: tiny N cannot tell a shift from noise', () => {
    const seed = [40, 30, 20, 10];
    const gen = [50, 25, 15, 10];
    const hs = [seed, gen, gen, gen];
    expect(regimeVerdict(hs, [1e6, 1e6, 1e6, 1e6]).verdict).not.toBe('stable');
    expect(regimeVerdict(hs, [5, 5, 5, 5]).verdict).toBe('stable');
    expect(() => regimeVerdict(hs, undefined, { zz: 1 } as never)).toThrow(/zz/);
  });
});
