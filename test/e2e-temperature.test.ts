// The two regimes of the paper with a real model: the softmax n-gram on `names`, coarse-graining
// `first`, 15 generations × 2,000 samples, accumulate, λ = 0. T = 0.6 must end in mode collapse
// (top share far above the seed's), T = 1.6 in heat death (normalised entropy far above the
// seed's). --steps 100 keeps the test quick; the README gives the figures at the default steps.

import { afterAll, describe, expect, it } from 'vitest';
import { heatdeath, json, workDir } from './helpers/cli.js';

const work = workDir('temperature');
afterAll(() => work.cleanup());

interface Row {
  gen: number;
  top_share: number;
  entropy_norm: number;
  V: number;
}

async function regime(T: number) {
  const name = `T${T}`;
  const run = await heatdeath([
    'run', '--model', 'ngram', '--corpus', 'names', '--coarse', 'first', '--temperature', String(T),
    '--generations', '15', '--samples', '2000', '--steps', '100', '--seed', '3', '--name', name, ...work.store, '--json',
  ]);
  expect(run.code, run.stderr).toBe(0);
  const result = json<{ verdicts: { coarse: string; verdict: string }[] }>(run);
  const metrics = json<{ rows: Row[] }>(await heatdeath(['metrics', name, '--coarse', 'first', '--json', '--db', work.db]));
  return { verdict: result.verdicts.find((v) => v.coarse === 'first')!.verdict, seed: metrics.rows[0], last: metrics.rows[15] };
}

describe('temperature regimes on names / first / n-gram', () => {
  it('T = 0.6 collapses onto a mode, T = 1.6 heads to heat death', async () => {
    const [cold, hot] = await Promise.all([regime(0.6), regime(1.6)]);
    // Mode collapse: the top first letter's share is more than twice the seed's.
    expect(cold.verdict).toBe('mode-collapse');
    expect(cold.last.top_share).toBeGreaterThan(2 * cold.seed.top_share);
    expect(cold.last.entropy_norm).toBeLessThan(cold.seed.entropy_norm - 0.1);
    // Heat death: normalised entropy clearly above the seed's and V well below it.
    expect(hot.verdict).toBe('heat-death');
    expect(hot.last.entropy_norm).toBeGreaterThan(hot.seed.entropy_norm + 0.05);
    expect(hot.last.V).toBeLessThan(0.8 * hot.seed.V);
  });
});
