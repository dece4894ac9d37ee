// Scorers, the selection step and the exact lane's selection map, without a model: spec parsing
// (one clear line per bad spec), best-of-M per group, --dedupe, seeded noise, and the map
// q_L = 1 − (1 − p_L)^M against Monte-Carlo best-of-M draws and the exact simulation.

import { describe, expect, it } from 'vitest';
import { parseScorer, checkScorer, type ScoringContext } from '../src/loop/scorers.js';
import { selectCandidates } from '../src/loop/select.js';
import { selectionMap, parseCategorySelection } from '../src/theory/select.js';
import { simulate } from '../src/theory/sim.js';
import { fixedPoint, meanFieldMap } from '../src/theory/ode.js';
import { rngFor } from '../src/rng.js';
import { UserError } from '../src/errors.js';
import { quantileSorted, loglikSummary, loglikHistograms } from '../src/metrics/loglik.js';

const ctx = (seed = 1): ScoringContext => ({
  labels: ['female', 'male'],
  labelProbabilities: (text) => (text.endsWith('a') ? [0.9, 0.1] : [0.2, 0.8]),
  rng: rngFor(seed, 'test'),
});
const cand = (text: string, gen0Loglik = 0) => ({ text, tokens: [...text].map((c) => c.charCodeAt(0)), gen0Loglik });

describe('scorer specs', () => {
  it('normalises good specs and refuses bad ones with one line', () => {
    expect(parseScorer('label:female').spec).toBe('label:female');
    expect(parseScorer('gen0-likelihood@noise=0.50')).toMatchObject({ spec: 'gen0-likelihood@noise=0.5', noise: 0.5 });
    expect(parseScorer('random@noise=0').spec).toBe('random');
    for (const bad of ['nope', 'label', 'length:x', 'random:3', 'gen0-likelihood@noise=-1', 'label:female@noise=abc']) {
      expect(() => parseScorer(bad), bad).toThrow(UserError);
    }
    expect(() => checkScorer(parseScorer('label:other'), ['female', 'male'])).toThrow(/no label 'other'/);
    expect(() => checkScorer(parseScorer('label:female'), [])).toThrow(/no labels/);
  });
});

describe('selectCandidates', () => {
  it('keeps the best of each group of M, and every sample without a scorer', () => {
    const c = [cand('Bob'), cand('Anna'), cand('Tim'), cand('Ed'), cand('Al', -3), cand('Bo', -1), cand('Cy', -2), cand('Di', -4)];
    const byLabel = selectCandidates(c, { select: 'label:female', candidates: 4, isDuplicate: null, context: ctx() });
    expect(byLabel.kept).toEqual([1, 4]); // group 2 has no female: ties keep the first
    expect(byLabel.selected.filter(Boolean)).toHaveLength(2);
    const byLik = selectCandidates(c, { select: 'gen0-likelihood', candidates: 4, isDuplicate: null, context: ctx() });
    expect(byLik.kept).toEqual([0, 5]);
    const byLength = selectCandidates(c, { select: 'length:3', candidates: 2, isDuplicate: null, context: ctx() });
    expect(byLength.kept).toEqual([0, 2, 4, 6]);
    const none = selectCandidates(c, { select: null, candidates: 4, isDuplicate: null, context: ctx() });
    expect(none.kept).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(() => selectCandidates(c.slice(0, 7), { select: 'random', candidates: 4, isDuplicate: null, context: ctx() })).toThrow(RangeError);
  });

  it('--dedupe: a training document or one kept earlier is ineligible; a group of them keeps nothing', () => {
    const c = [cand('Anna'), cand('Bob'), cand('Anna'), cand('Cy'), cand('Anna'), cand('Anna')];
    const train = new Set(['Cy']);
    const s = selectCandidates(c, { select: null, candidates: 1, isDuplicate: (t) => train.has(t), context: ctx() });
    expect(s.kept).toEqual([0, 1, null, null, null, null]);
    const g = selectCandidates(c, { select: 'label:female', candidates: 2, isDuplicate: (t) => train.has(t), context: ctx() });
    // Groups [Anna, Bob], [Anna, Cy], [Anna, Anna]: the second Anna repeats a kept one, Cy is in the training set.
    expect(g.kept).toEqual([0, null, null]);
  });

  it('noise is seeded: same seed, same choice; σ large makes it a coin toss', () => {
    const c = Array.from({ length: 4000 }, (_, i) => cand(i % 2 ? 'Ed' : 'Ann', i % 2 ? -1 : -2));
    const run = (spec: string, seed: number) => selectCandidates(c, { select: spec, candidates: 2, isDuplicate: null, context: ctx(seed) }).kept;
    expect(run('gen0-likelihood@noise=0.5', 3)).toEqual(run('gen0-likelihood@noise=0.5', 3));
    const better = (spec: string) => run(spec, 4).filter((i) => i! % 2 === 1).length / 2000;
    expect(better('gen0-likelihood')).toBe(1);
    // Score gap 1 nat, noise σ on each: P(better kept) = Φ(1/(σ√2)).
    expect(Math.abs(better('gen0-likelihood@noise=1') - 0.7602)).toBeLessThan(4 * Math.sqrt(0.76 * 0.24 / 2000));
    expect(Math.abs(better('gen0-likelihood@noise=100') - 0.5)).toBeLessThan(0.05);
  });
});

describe('the exact lane: best of M by a category reward', () => {
  it('the map matches Monte-Carlo best-of-M draws', () => {
    const p = [0.5, 0.3, 0.2];
    const q = selectionMap(p, { category: 1, candidates: 3 }, new Array<number>(3));
    expect(q[1]).toBeCloseTo(1 - 0.7 ** 3, 12);
    expect(q.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const rng = rngFor(9, 'mc');
    const n = 40000;
    const hits = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const draws = Array.from({ length: 3 }, () => {
        const u = rng.next();
        return u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
      });
      hits[draws.includes(1) ? 1 : draws[0]]++;
    }
    for (let k = 0; k < 3; k++) expect(Math.abs(hits[k] / n - q[k])).toBeLessThan(4 * Math.sqrt((q[k] * (1 - q[k])) / n));
  });

  it('sim and the mean-field agree on the fixed point with fresh data, and λ = 0 goes to the rewarded category', () => {
    const select = { category: 0, candidates: 4 };
    const f = { temperature: 1, freshFraction: 0.5, anchor: [0.56, 0.44], select };
    const fp = fixedPoint([0.56, 0.44], f);
    expect(Math.abs(meanFieldMap(fp.theta, f)[0] - fp.theta[0])).toBeLessThan(1e-9);
    expect(fp.theta[0]).toBeCloseTo(0.5 * (1 - (1 - fp.theta[0]) ** 4) + 0.28, 9);
    const sim = simulate({ initial: [560, 440], policy: 'replace', perStep: 1000, steps: 12, replicates: 50, freshFraction: 0.5, select });
    const last = sim.trajectory[sim.trajectory.length - 1];
    expect(Math.abs(last.mean[0] - fp.theta[0])).toBeLessThan(4 * (last.sd[0] / Math.sqrt(50)) + 1e-4);
    const collapse = fixedPoint([0.56, 0.44], { ...f, freshFraction: 0 });
    expect(collapse.theta[0]).toBeGreaterThan(1 - 1e-6);
    expect(() => parseCategorySelection('label:2', 4, 2)).toThrow(UserError);
    expect(parseCategorySelection('label:male', 4, 2, ['female', 'male'])).toEqual({ category: 1, candidates: 4 });
    expect(parseCategorySelection(undefined, 4, 2)).toBeNull();
  });
});

describe('generation-0 log-likelihood summaries', () => {
  it('quantiles, summary and shared-bin histograms', () => {
    const xs = Array.from({ length: 101 }, (_, i) => -i / 10); // −10 … 0
    const sorted = [...xs].sort((a, b) => a - b);
    expect(quantileSorted(sorted, 0.1)).toBeCloseTo(-9, 12);
    const s = loglikSummary(xs);
    expect(s.gen0_loglik_mean).toBeCloseTo(-5, 12);
    expect(s.gen0_loglik_q01).toBeCloseTo(-9.9, 12);
    expect(s.gen0_loglik_q50).toBeCloseTo(-5, 12);
    expect(loglikSummary([])).toEqual({});
    const h = loglikHistograms([xs, [-1, -1]], 10);
    expect(h.edges[0]).toBe(-10);
    expect(h.edges[10]).toBeCloseTo(0, 12);
    expect(h.counts[0].reduce((a, b) => a + b, 0)).toBe(101);
    expect(h.counts[1][9]).toBe(2);
  });
});
