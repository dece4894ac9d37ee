// The theory lane's pure math: τ_T, V_I, entropy against hand values; Lemma 1; the exact
// binomial sampler against its pmf; the mean-field ODE and fixed point; the probe-tau math.

import { describe, expect, it } from 'vitest';
import { rngFor } from '../src/rng.js';
import { entropy, lyapunovV, normalize, tau } from '../src/theory/core.js';
import { binomial, multinomial } from '../src/theory/binomial.js';
import { fixedPoint, generationTimes, integrate, meanFieldRecursion, predictTrajectory } from '../src/theory/ode.js';
import { UserError } from '../src/errors.js';
import { probeTau } from '../src/theory/probe.js';

describe('core', () => {
  it('τ_T matches hand values', () => {
    // τ_2(0.64, 0.36) = (0.8, 0.6)/1.4
    const t = tau([0.64, 0.36], 2);
    expect(t[0]).toBeCloseTo(0.8 / 1.4, 12);
    expect(t[1]).toBeCloseTo(0.6 / 1.4, 12);
    expect(t[0]).toBeCloseTo(0.5714285714, 9);
    expect(tau([0.5, 0.3, 0.2], 1)).toEqual([0.5, 0.3, 0.2].map((x) => expect.closeTo(x, 14)));
    expect(tau([0, 0.5, 0.5], 0.3)).toEqual([0, 0.5, 0.5]);
    expect(() => tau([1], 0)).toThrow(/temperature/);
  });

  it('V_I matches hand values, over all indices and a subset', () => {
    expect(lyapunovV([0.5, 0.3, 0.2])).toBeCloseTo(0.3, 14);
    expect(lyapunovV([0.5, 0.3, 0.2], [1, 2])).toBeCloseTo(0.2, 14); // (0.3 − 0.2)/0.5
    expect(lyapunovV([1, 0, 0], [0])).toBe(0);
  });

  it('entropy in nats', () => {
    expect(entropy([1, 1, 1, 1])).toBeCloseTo(Math.log(4), 14);
    expect(entropy([5, 0])).toBe(0);
    expect(entropy([0.5, 0.25, 0.25])).toBeCloseTo(1.5 * Math.log(2), 14);
  });

  it('Lemma 1: V(τ_T(θ)) < V(θ) for T > 1 and > V(θ) for T < 1, on random θ', () => {
    const rng = rngFor(7, 'lemma1');
    for (let trial = 0; trial < 500; trial++) {
      const m = 2 + rng.int(9);
      const theta = normalize(Array.from({ length: m }, () => -Math.log(1 - rng.next()))); // Dirichlet(1,…,1)
      const V = lyapunovV(theta);
      const hot = 1 + 0.01 + 3 * rng.next();
      const cold = 0.1 + 0.89 * rng.next();
      expect(lyapunovV(tau(theta, hot))).toBeLessThan(V);
      expect(lyapunovV(tau(theta, cold))).toBeGreaterThan(V);
    }
  });
});

describe('binomial sampler', () => {
  /** Exact Binomial(n, p) pmf by the ratio recurrence in log space. */
  function pmf(n: number, p: number): number[] {
    const logs = [n * Math.log1p(-p)];
    for (let k = 0; k < n; k++) logs.push(logs[k] + Math.log((n - k) / (k + 1)) + Math.log(p / (1 - p)));
    return logs.map(Math.exp);
  }

  // Both regimes: inversion (n·p < 10), BTRS (n·p ≥ 10), and the mirrored p > ½.
  it.each([
    [20, 0.2],
    [60, 0.3],
    [1000, 0.5],
    [400, 0.93],
    [5000, 0.01],
  ])('Binomial(%i, %f) passes a chi-square test against the exact pmf', (n, p) => {
    const rng = rngFor(3, 'binomial', n, p);
    const draws = 100_000;
    const hist = new Array<number>(n + 1).fill(0);
    for (let i = 0; i < draws; i++) hist[binomial(rng, n, p)]++;
    // Bins with expected count ≥ 5; the tails are pooled into the neighbouring bins.
    const expected = pmf(n, p).map((q) => q * draws);
    let chi2 = 0,
      bins = 0,
      accE = 0,
      accO = 0;
    for (let k = 0; k <= n; k++) {
      accE += expected[k];
      accO += hist[k];
      if (accE >= 5 && (k === n || expected.slice(k + 1).reduce((s, x) => s + x, 0) >= 5)) {
        chi2 += (accO - accE) ** 2 / accE;
        bins++;
        accE = accO = 0;
      }
    }
    if (accE > 0) chi2 += (accO - accE) ** 2 / accE;
    const df = bins - 1;
    // χ²(df) has mean df and sd √(2df): 5 sd above is a false alarm rate below 1e-5.
    expect(chi2).toBeLessThan(df + 5 * Math.sqrt(2 * df));
  });

  it('multinomial conserves n and respects zero-probability categories', () => {
    const rng = rngFor(1, 'multinomial');
    for (let i = 0; i < 1000; i++) {
      const x = multinomial(rng, 137, [0.5, 0, 0.3, 1e-9, 0.2]);
      expect(x.reduce((s, v) => s + v, 0)).toBe(137);
      expect(x[1]).toBe(0);
    }
  });
});

describe('mean-field ODE', () => {
  it('RK4 matches the closed form at T = 1: θ(t) = p₀ + (θ₀ − p₀)e^{−λt}', () => {
    const theta0 = [0.7, 0.2, 0.1];
    const anchor = [0.2, 0.3, 0.5];
    const lambda = 0.4;
    const times = [0, 0.5, 1, 3, 10];
    const out = integrate(theta0, { temperature: 1, freshFraction: lambda, anchor }, times);
    times.forEach((t, g) => out[g].forEach((x, i) => expect(x).toBeCloseTo(anchor[i] + (theta0[i] - anchor[i]) * Math.exp(-lambda * t), 10)));
  });

  it('generation times: ln((ℓ + gN)/ℓ) for accumulate, g for replace', () => {
    expect(generationTimes('accumulate', 100, 50, 2)).toEqual([0, Math.log(1.5), Math.log(2)]);
    expect(generationTimes('replace', 100, 50, 2)).toEqual([0, 1, 2]);
  });

  it('the fixed point with λ > 0 satisfies θ = (1−λ)τ_T(θ) + λθ₀ to 1e-9', () => {
    for (const [T, lambda] of [
      [0.5, 0.3],
      [2, 0.1],
      [0.8, 0.05],
      [1, 0.5],
    ]) {
      const theta0 = [0.4, 0.3, 0.2, 0.1];
      const fp = fixedPoint(theta0, { temperature: T, freshFraction: lambda, anchor: theta0 });
      const t = tau(fp.theta, T);
      fp.theta.forEach((x, i) => expect(Math.abs(x - ((1 - lambda) * t[i] + lambda * theta0[i]))).toBeLessThan(1e-9));
      expect(fp.theta.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
      // It is the point the flow from θ₀ reaches.
      const [far] = integrate(theta0, { temperature: T, freshFraction: lambda, anchor: theta0 }, [200], 0.01);
      far.forEach((x, i) => expect(x).toBeCloseTo(fp.theta[i], 6));
    }
  });

  it('λ = 0: heat death for T > 1, mode collapse for T < 1, θ₀ itself at T = 1', () => {
    const theta0 = [0.4, 0.3, 0.2, 0.1, 0];
    const f = (T: number) => fixedPoint(theta0, { temperature: T, freshFraction: 0, anchor: theta0 }).theta;
    expect(f(2)).toEqual([0.25, 0.25, 0.25, 0.25, 0]);
    expect(f(0.5)).toEqual([1, 0, 0, 0, 0]);
    f(1).forEach((x, i) => expect(x).toBeCloseTo(theta0[i], 14));
  });

  it('predictTrajectory: G + 1 points from θ₀; the recursion and the ODE agree when gains are small', () => {
    const common = { theta0: [0.4, 0.3, 0.2, 0.1], temperature: 0.7, fresh: 0.2, policy: 'accumulate' as const, initialSize: 10_000, perStep: 10, generations: 3000 };
    const ode = predictTrajectory(common);
    const rec = predictTrajectory({ ...common, method: 'recursion' });
    expect(ode).toHaveLength(3001);
    ode[0].forEach((x, i) => expect(x).toBeCloseTo([0.4, 0.3, 0.2, 0.1][i], 14));
    // Gains N/(ℓ + gN) ≤ 1e-3: the Euler-like recursion is within O(gain) of the ODE.
    ode[3000].forEach((x, i) => expect(Math.abs(x - rec[3000][i])).toBeLessThan(1e-3));
    // replace iterates the map: after many generations it sits on the fixed point.
    const rep = meanFieldRecursion([0.4, 0.3, 0.2, 0.1], { temperature: 0.7, freshFraction: 0.2, anchor: [0.4, 0.3, 0.2, 0.1] }, 'replace', 1, 1, 500);
    const fp = fixedPoint([0.4, 0.3, 0.2, 0.1], { temperature: 0.7, freshFraction: 0.2, anchor: [0.4, 0.3, 0.2, 0.1] });
    rep[500].forEach((x, i) => expect(x).toBeCloseTo(fp.theta[i], 9));
  });

  it('predictTrajectory rejects bad input with a UserError naming the option', () => {
    const ok = { theta0: [0.5, 0.5], temperature: 1, fresh: 0, policy: 'accumulate' as const, initialSize: 10, perStep: 1, generations: 5 };
    const bad: [object, RegExp][] = [
      [{ temperature: -1 }, /--temperature/],
      [{ fresh: -0.1 }, /--fresh/],
      [{ theta0: [] }, /--initial/],
      [{ theta0: [0.5, Number.NaN] }, /--initial/],
      [{ generations: 0 }, /--steps/],
      [{ perStep: 0 }, /--per-step/],
      [{ policy: 'augment' }, /policy/],
    ];
    for (const [change, message] of bad) {
      expect(() => predictTrajectory({ ...ok, ...change })).toThrow(UserError);
      expect(() => predictTrajectory({ ...ok, ...change })).toThrow(message);
    }
  });
});

describe('probe-tau math', () => {
  const theta = normalize([30, 22, 15, 11, 8, 6, 5, 3]);

  it('exact τ̂ = τ_1.5(θ̂): T* = 1.5 to 1e-6, order kept, V contracts', () => {
    const r = probeTau(theta, tau(theta, 1.5), { temperature: 1.5, baseSamples: Infinity, temperedSamples: Infinity });
    expect(Math.abs(r.fit.temperature! - 1.5)).toBeLessThan(1e-6);
    expect(r.fit.kl).toBeLessThan(1e-12);
    expect(r.order.preserved).toBe(true);
    expect(r.order.pairsCompared).toBe(28);
    expect(r.V.sign).toBe('contracting');
    expect(r.V.expected).toBe('contracting');
    const tv = probeTau(theta, tau(theta, 0.6), { baseSamples: Infinity, temperedSamples: Infinity, criterion: 'tv' });
    expect(Math.abs(tv.fit.temperature! - 0.6)).toBeLessThan(1e-6);
    expect(tv.V.sign).toBe('expanding');
  });

  it('with multinomial noise from 5,000 draws, T* is within 0.1', () => {
    for (const [T, seed] of [
      [1.5, 1],
      [0.7, 2],
      [1, 3],
    ]) {
      const rng = rngFor(seed, 'probe');
      const base = multinomial(rng, 5000, theta);
      const tempered = multinomial(rng, 5000, tau(theta, T));
      const r = probeTau(base, tempered, { temperature: T });
      expect(Math.abs(r.fit.temperature! - T)).toBeLessThan(0.1);
      expect(r.order.preserved).toBe(true);
      if (T !== 1) expect(r.V.sign).toBe(r.V.expected);
    }
  });

  it('flags a significant order reversal, and a uniform θ̂ has no T*', () => {
    const r = probeTau([500, 300, 200], [200, 300, 500]);
    expect(r.order.preserved).toBe(false);
    expect(r.order.violations).toContainEqual([0, 2]);
    expect(probeTau([1, 1, 1], [3, 1, 1], { baseSamples: Infinity }).fit.temperature).toBeNull();
  });
});
