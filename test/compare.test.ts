// `compare` rows from real runs: the λ effect reads top to bottom (sorted by T, policy, λ, seed),
// every number is the stored final metric, group rows are the mean ± sd of their seeds, the
// sparkline is the top-share trajectory on [0, 1], and verdicts come per coarse-graining.

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Database from 'better-sqlite3';
import { compareRuns, stat, type Comparison } from '../src/report/compare.js';
import { listRuns, getRun } from '../src/store/runs.js';
import { readMetrics } from '../src/store/documents.js';
import { tinyRuns } from './fixtures/tiny-runs.js';

let db: Database.Database;
let dir: string;
let c: Comparison;

beforeAll(async () => {
  // Inserted out of order on purpose: the comparison must sort them.
  ({ db, dir } = await tinyRuns(
    {
      'hot': { temperature: 1.6, seed: 1 },
      'cold-fresh': { temperature: 0.6, freshFraction: 0.5, seed: 1 },
      'cold-s2': { temperature: 0.6, seed: 2 },
      'cold-s1': { temperature: 0.6, seed: 1 },
    },
    { sweepId: 'cmp' },
  ));
  c = compareRuns(db, listRuns(db, 'cmp'));
});
afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('compare', () => {
  it('sorts by T, policy, λ, seed', () => {
    expect(c.coarse).toBe('first');
    expect(c.runs.map((r) => r.name)).toEqual(['cold-s1', 'cold-s2', 'cold-fresh', 'hot']);
    expect(c.runs.map((r) => [r.temperature, r.fresh, r.seed])).toEqual([[0.6, 0, 1], [0.6, 0, 2], [0.6, 0.5, 1], [1.6, 0, 1]]);
  });

  it('reports the stored final metrics, trajectory and sparkline of every run', () => {
    for (const r of c.runs) {
      const run = getRun(db, r.name);
      const m = Object.fromEntries(readMetrics(db, run.id).filter((x) => x.gen === 2).map((x) => [`${x.coarse}:${x.key}`, x.value]));
      expect(r.generation).toBe(2);
      expect(r.final.top_share).toBe(m['first:top_share']);
      expect(r.final.entropy_norm).toBe(m['first:entropy_norm']);
      expect(r.final.V).toBe(m['first:V']);
      expect(r.final.tv_seed).toBe(m['first:tv_seed']);
      expect(r.final.perplexity).toBe(m[':perplexity']);
      expect(r.trajectory).toHaveLength(3);
      expect(r.trajectory[2]).toBe(r.final.top_share);
      expect([...r.sparkline]).toHaveLength(3);
      // Top shares here are all well below 1/2: the lower half of the eight bars.
      for (const ch of r.sparkline) expect('▁▂▃▄').toContain(ch);
      expect(Object.keys(r.verdicts)).toEqual(['first', 'length']);
      expect(r.verdicts.first).toBe(r.verdict);
    }
  });

  it('groups seeds of one setting with mean ± sd', () => {
    expect(c.groups.map((g) => [g.temperature, g.fresh, g.n])).toEqual([[0.6, 0, 2], [0.6, 0.5, 1], [1.6, 0, 1]]);
    const g = c.groups[0];
    expect(g.runs).toEqual(['cold-s1', 'cold-s2']);
    expect(g.seeds).toEqual([1, 2]);
    const [a, b] = [c.runs[0].final.top_share!, c.runs[1].final.top_share!];
    expect(g.stats.top_share.mean).toBeCloseTo((a + b) / 2, 12);
    expect(g.stats.top_share.sd).toBeCloseTo(Math.abs(a - b) / Math.SQRT2, 12);
    expect(c.groups[1].stats.V.sd).toBeNull();
    expect(Object.values(g.verdicts).reduce((x, y) => x + y, 0)).toBe(2);
  });

  it('reads another coarse-graining and refuses one a run does not track', () => {
    const byLength = compareRuns(db, listRuns(db, 'cmp'), 'length');
    expect(byLength.coarse).toBe('length');
    const run = getRun(db, 'hot');
    const top = readMetrics(db, run.id, 'length').find((x) => x.gen === 2 && x.key === 'top_share')!.value;
    expect(byLength.runs.find((r) => r.name === 'hot')!.final.top_share).toBe(top);
    expect(() => compareRuns(db, listRuns(db, 'cmp'), 'label')).toThrow(/does not track coarse-graining 'label'/);
  });

  it('stat: sample standard deviation, nulls ignored', () => {
    expect(stat([1, 2, 3, null])).toEqual({ mean: 2, sd: 1 });
    expect(stat([null])).toEqual({ mean: null, sd: null });
    expect(stat([0.5])).toEqual({ mean: 0.5, sd: null });
  });
});
