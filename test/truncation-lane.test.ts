// The exact lane under truncation: the category-level simulation and the mean field apply the
// same rule to θ and reproduce the shapes theory predicts. T = 1.5 with top-k k ends uniform over
// at most k survivors; with top-p P every survivor of a fixed point (without ties at the cut) has
// share > 1 − P, so fewer than 1/(1 − P) survive. And probe-tau's math sees a truncation for what
// it is: order kept only weakly, the tail sent to zero, no temperature that fits.

import { describe, expect, it } from 'vitest';
import { simulate } from '../src/theory/sim.js';
import { fixedPoint } from '../src/theory/ode.js';
import { normalize, tau } from '../src/theory/core.js';
import { probeTau } from '../src/theory/probe.js';
import { survival } from '../src/metrics/histogram.js';

const live = (theta: number[]) => theta.filter((x) => x > 0);
const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
// Thirteen categories with distinct shares (no ties anywhere, so no cut lands on a tie).
const C13 = [14, 12, 11, 10, 9.5, 9, 8, 7, 6, 5, 4, 3, 1.5];
const field = (x: object) => ({ temperature: 1, freshFraction: 0, anchor: normalize(C13), ...x });

describe('exact simulation (replace, N = 2,000, 60 steps, 6 replicates)', () => {
  const sim = (x: object) => simulate({ initial: C13, policy: 'replace', perStep: 2000, steps: 60, replicates: 6, seed: 5, ...x } as never).final;

  it('T = 1.5, top-k 3 and top-k 6: uniform over exactly k survivors, the k largest', () => {
    for (const k of [3, 6]) {
      for (const theta of sim({ temperature: 1.5, topK: k })) {
        expect(live(theta)).toHaveLength(k);
        expect(theta.slice(0, k).every((x) => x > 0)).toBe(true);
        // Uniform up to multinomial noise: sd of a share ≈ √(1/k · (1 − 1/k) / 2000) ≤ 0.011.
        expect(spread(live(theta))).toBeLessThan(0.06);
      }
    }
  });

  it('T = 1.5, top-p 0.9 / 0.7 / 0.5: fewer than 1/(1 − P) survive, each with share near or above 1 − P', () => {
    for (const [P, most] of [[0.9, 9], [0.7, 3], [0.5, 1]] as const) {
      for (const theta of sim({ temperature: 1.5, topP: P })) {
        const alive = live(theta);
        expect(alive.length).toBeGreaterThanOrEqual(1);
        expect(alive.length).toBeLessThanOrEqual(most);
        // The last draw is multinomial around the fixed point: 4 sd below 1/|alive| > 1 − P at most.
        for (const x of alive) expect(x).toBeGreaterThan(1 - P - 4 * Math.sqrt(0.25 / 2000));
      }
    }
  });

  it('T = 1: drift alone leaves at least 10 of the 13 categories; top-p 0.7 leaves at most 3, each above 0.3', () => {
    expect(Math.min(...sim({}).map((t) => live(t).length))).toBeGreaterThanOrEqual(10);
    for (const theta of sim({ topP: 0.7 })) {
      expect(live(theta).length).toBeLessThanOrEqual(3);
      for (const x of live(theta)) expect(x).toBeGreaterThan(0.3);
    }
  });
});

describe('mean-field fixed points under truncation', () => {
  it('T = 1.5, top-k k: uniform over the k largest of θ₀ (accumulate ODE and replace map alike)', () => {
    for (const k of [1, 2, 5, 12]) {
      const fp = fixedPoint(C13, field({ temperature: 1.5, topK: k }));
      expect(fp.residual).toBeLessThan(1e-9);
      expect(fp.theta.map((x) => x > 0)).toEqual(C13.map((_, i) => i < k));
      for (const x of live(fp.theta)) expect(x).toBeCloseTo(1 / k, 8);
    }
  });

  it('top-p P at T = 1 and T = 1.5: every survivor has share > 1 − P, fewer than 1/(1 − P) survive', () => {
    for (const T of [1, 1.5]) {
      for (const P of [0.95, 0.9, 0.8, 0.7, 0.5, 0.3]) {
        const fp = fixedPoint(C13, field({ temperature: T, topP: P }));
        expect(fp.residual).toBeLessThan(1e-9);
        const alive = live(fp.theta);
        for (const x of alive) expect(x).toBeGreaterThan(1 - P);
        expect(alive.length).toBeLessThan(1 / (1 - P));
        // And it is a fixed point of the rule itself: τ keeps every survivor.
        expect(live(tau(fp.theta, { temperature: T, topP: P } as never))).toHaveLength(alive.length);
      }
    }
    // T = 1.5, P = 0.7: exactly 3 (1/3 > 0.3 ≥ 1/4), uniform.
    const fp = fixedPoint(C13, field({ temperature: 1.5, topP: 0.7 }));
    expect(live(fp.theta).map((x) => x.toFixed(6))).toEqual(['0.333333', '0.333333', '0.333333']);
  });

  it('T < 1 collapses onto the mode whatever the truncation; no truncation keeps the old closed forms', () => {
    for (const x of [{ topK: 3 }, { topP: 0.9 }, { minP: 0.2 }, {}]) {
      expect(fixedPoint(C13, field({ temperature: 0.7, ...x })).theta.map((v) => (v > 0.5 ? 1 : 0))).toEqual(C13.map((_, i) => (i === 0 ? 1 : 0)));
    }
    expect(fixedPoint(C13, field({ temperature: 1.5 })).theta.every((x) => Math.abs(x - 1 / 13) < 1e-12)).toBe(true);
  });
});

describe('probe-tau math on exact distributions', () => {
  const theta = normalize(C13);
  const probe = (rule: object) => probeTau(theta, tau(theta, { temperature: 1, ...rule } as never), { temperature: (rule as { temperature?: number }).temperature ?? 1, baseSamples: Infinity, temperedSamples: Infinity });

  it('a temperature: order kept strictly, nothing sent to zero, V contracts at T = 1.5, T* = 1.5 fits', () => {
    const r = probe({ temperature: 1.5 });
    expect(r.order.strict).toBe(true);
    expect(r.zeroed.categories).toEqual([]);
    expect(r.V.sign).toBe('contracting');
    expect(r.fit.temperature).toBeCloseTo(1.5, 6);
    expect(r.fit.fits).toBe(true);
  });

  it('top-k 4 at T = 1: weak order only (9 categories sent to zero together), V unchanged on the survivors, no temperature fits; among the survivors T* = 1', () => {
    const r = probe({ topK: 4 });
    expect(r.order.preserved).toBe(true);
    expect(r.order.strict).toBe(false);
    expect(r.zeroed.significant).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(r.zeroed.baseMass).toBeCloseTo(1 - 47 / 100, 12);
    // 36 ordered pairs among the 9 cut categories are made equal (both 0).
    expect(r.order.merged).toHaveLength(36);
    expect(r.V.sign).toBe('neutral');
    expect(r.fit.fits).toBe(false);
    expect(r.survivorFit.temperature).toBeCloseTo(1, 6);
    expect(r.survivorFit.fits).toBe(true);
  });

  it('with finite samples, a zero the temperature would rarely fill is not counted as sent to zero', () => {
    // 1,000 draws: category 12 (share 1.5/100) is expected 15 times, a rare one (0.001) once.
    const base = [600, 385, 15, 0].map((x, i) => (i === 3 ? 0 : x));
    const b = [590, 384, 15, 1];
    const t = [600, 385, 15, 0];
    const r = probeTau(b, t, { temperature: 1 });
    expect(r.zeroed.categories).toEqual([3]);
    expect(r.zeroed.significant).toEqual([]);
    expect(base).toHaveLength(4);
  });
});

describe('survival', () => {
  it('is the share of the seed live categories alive, and ignores categories the seed lacks', () => {
    expect(survival([5, 0, 3, 0, 7], [1, 2, 3, 4, 0])).toBe(0.5);
    expect(survival([0, 0, 0], [0, 0, 0])).toBe(0);
    expect(survival([1, 1], [1, 1])).toBe(1);
  });
});
