// The exact category-level simulation reproduces the known results: the Pólya urn at T = 1,
// mode collapse for T < 1, heat death for T > 1, and the mean-field fixed point with λ > 0.
// Tolerances are standard errors over the replicates (4 SE unless said otherwise: a seeded
// test, but one that would still pass for nearly every seed).

import { describe, expect, it } from 'vitest';
import { normalizeSimConfig, recordedSteps, simulate } from '../src/theory/sim.js';
import { fixedPoint, meanFieldRecursion } from '../src/theory/ode.js';
import { UserError } from '../src/errors.js';

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
};

describe('sim', () => {
  it('T = 1, N = 1, counts (3, 1): a Pólya urn — mean 0.75, variance 3n/(80(n+4)), beta-binomial law', () => {
    const n = 200;
    const R = 4000;
    const { final } = simulate({ initial: [3, 1], temperature: 1, perStep: 1, steps: n, replicates: R, seed: 11 });
    const x = final.map((f) => f[0]);
    const v = variance(x);
    expect(Math.abs(mean(x) - 0.75)).toBeLessThan(4 * Math.sqrt(v / R));
    // SE of a sample variance: √((μ₄ − σ⁴)/R), with μ₄ estimated from the sample.
    const m = mean(x);
    const mu4 = mean(x.map((y) => (y - m) ** 4));
    const target = (3 * n) / (80 * (n + 4));
    expect(Math.abs(v - target)).toBeLessThan(4 * Math.sqrt((mu4 - v * v) / R));
    // θ₁ = (3 + X)/(n + 4) with X ~ BetaBinomial(n, 3, 1): compare P(θ₁ ≤ ½) with the exact law.
    let pk = 6 / ((n + 1) * (n + 2) * (n + 3)); // P(X = 0)
    let cdf = 0;
    for (let k = 0; (3 + k) / (n + 4) <= 0.5; k++) {
      cdf += pk;
      pk *= ((n - k) * (k + 3)) / ((k + 1) * (n - k));
    }
    const below = mean(x.map((y) => (y <= 0.5 ? 1 : 0)));
    expect(Math.abs(below - cdf)).toBeLessThan(4 * Math.sqrt((cdf * (1 - cdf)) / R));
  });

  it('T = 0.5, accumulate, λ = 0: the top share goes to 1 and V increases (mode collapse)', () => {
    const R = 200;
    const { trajectory, final } = simulate({ initial: [40, 30, 20, 10], temperature: 0.5, perStep: 100, steps: 1000, replicates: R, seed: 2 });
    for (let j = 1; j < trajectory.length; j++) {
      const [a, b] = [trajectory[j - 1], trajectory[j]];
      // Non-decreasing up to noise (the bound ignores the positive correlation, so it is loose).
      expect(b.V).toBeGreaterThan(a.V - 3 * Math.hypot(a.Vsd, b.Vsd) / Math.sqrt(R));
    }
    const last = trajectory[trajectory.length - 1];
    expect(last.step).toBe(1000);
    expect(last.V).toBeGreaterThan(trajectory[0].V + 0.5);
    // Every replicate collapses onto one category (nearly always the initially largest: the
    // early steps are noisy, and the limit of the urn is random).
    // The mean-field puts 0.998 on the top category at t = ln 1001; a replicate that ran a close
    // race early is still on its way, so the mean top share is checked, and most replicates.
    expect(last.top).toBeGreaterThan(0.95);
    expect(final.filter((f) => Math.max(...f) > 0.95).length).toBeGreaterThan(0.9 * R);
    expect(last.mean[0]).toBeGreaterThan(0.9);
  });

  it('T = 2, accumulate, λ = 0: V decreases toward 0 (heat death)', () => {
    const R = 200;
    const { trajectory } = simulate({ initial: [40, 30, 20, 10], temperature: 2, perStep: 100, steps: 1000, replicates: R, seed: 3 });
    for (let j = 1; j < trajectory.length; j++) {
      const [a, b] = [trajectory[j - 1], trajectory[j]];
      expect(b.V).toBeLessThan(a.V + 3 * Math.hypot(a.Vsd, b.Vsd) / Math.sqrt(R));
    }
    const last = trajectory[trajectory.length - 1];
    // V₀ = 0.3; the mean-field predicts V ≈ 0.3·e^{−(1−1/T)t} ≈ 0.01 at t = ln 1001, plus a noise floor.
    expect(last.V + 4 * last.Vsd / Math.sqrt(R)).toBeLessThan(0.3 / 10);
    expect(last.entropy).toBeGreaterThan(Math.log(4) - 0.01);
  });

  it.each([
    [0.5, 0.3, 'accumulate'],
    [2, 0.2, 'accumulate'],
    [0.5, 0.3, 'replace'],
    [2, 0.2, 'replace'],
  ] as const)('T = %f, λ = %f, %s: the long-run mean matches the mean-field fixed point', (T, lambda, policy) => {
    const R = 100;
    // accumulate: ℓ = 1000 keeps the early noise (and its nonlinear bias) small; it converges in
    // log time, so what the deterministic skeleton has not covered by step K is added to the
    // tolerance. replace forgets geometrically; N = 10⁵ makes its O(1/N) bias ≪ 1 SE.
    const [initial, N, K] = policy === 'accumulate' ? [[400, 300, 200, 100], 1000, 2000] : [[4, 3, 2, 1], 100_000, 60];
    const theta0 = [0.4, 0.3, 0.2, 0.1];
    const { trajectory } = simulate({ initial, temperature: T, freshFraction: lambda, policy, perStep: N, steps: K, replicates: R, seed: 5 });
    const last = trajectory[trajectory.length - 1];
    const field = { temperature: T, freshFraction: lambda, anchor: theta0 };
    const fp = fixedPoint(theta0, field).theta;
    const skeleton = meanFieldRecursion(theta0, field, policy, 1000, N, K)[K];
    fp.forEach((x, i) => {
      const unconverged = Math.abs(skeleton[i] - x);
      expect(Math.abs(last.mean[i] - x)).toBeLessThan(4 * (last.sd[i] / Math.sqrt(R)) + unconverged);
    });
  });

  it('replicate r is the same stream whatever R is, and the trajectory keeps its last step', () => {
    const a = simulate({ initial: [5, 3, 2], temperature: 0.8, freshFraction: 0.25, perStep: 7, steps: 50, replicates: 3, seed: 9 });
    const b = simulate({ initial: [5, 3, 2], temperature: 0.8, freshFraction: 0.25, perStep: 7, steps: 50, replicates: 6, seed: 9 });
    expect(b.final.slice(0, 3)).toEqual(a.final);
    const steps = recordedSteps(100_000, 400);
    expect(steps[0]).toBe(0);
    expect(steps[steps.length - 1]).toBe(100_000);
    expect(steps.length).toBeLessThanOrEqual(400);
    expect(new Set(steps).size).toBe(steps.length);
  });

  it('replace: counts are the new N documents only', () => {
    const { final } = simulate({ initial: [1, 1], policy: 'replace', perStep: 10, steps: 3, replicates: 50, seed: 1 });
    for (const f of final) expect(Math.abs(f[0] * 10 - Math.round(f[0] * 10))).toBeLessThan(1e-9);
  });

  it('rejects bad configs with a UserError naming the option', () => {
    const bad: [object, RegExp][] = [
      [{ temperature: 0 }, /--temperature/],
      [{ temperature: NaN }, /--temperature/],
      [{ freshFraction: 1.5 }, /--fresh/],
      [{ initial: [] }, /--initial/],
      [{ initial: [3, -1] }, /--initial/],
      [{ initial: [0, 0] }, /--initial/],
      [{ steps: 0 }, /--steps/],
      [{ perStep: 0.5 }, /--per-step/],
      [{ replicates: 0 }, /--replicates/],
      [{ policy: 'augment' }, /policy/],
      [{ colour: 'red' }, /unknown sim option/],
    ];
    for (const [input, message] of bad) {
      expect(() => normalizeSimConfig(input as never)).toThrow(UserError);
      expect(() => normalizeSimConfig(input as never)).toThrow(message);
    }
  });
});
