// δ̂ and the measured temperature map on a real (n-gram) names run: probe-tau recovers the
// sampling temperature on `first` (where sampling applies τ_T exactly) and reports the
// assumptions' verdicts elsewhere; --measure-delta stores δ̂ for every coarse-graining.

import { afterAll, describe, expect, it } from 'vitest';
import { heatdeath, json, workDir } from './helpers/cli.js';

const w = workDir('probe');
afterAll(() => w.cleanup());

describe('probe-tau and δ̂', () => {
  it('recovers T = 1.5 on first within 0.1; δ̂ measured per coarse-graining', async () => {
    const run = await heatdeath([
      'run', '--model', 'ngram', '--generations', '1', '--samples', '300', '--steps', '60', '--initial-steps', '400',
      '--coarse', 'first,length,label', '--measure-delta', '--name', 'p', ...w.store,
    ]);
    expect(run.code, run.stderr).toBe(0);

    const probe = json<{ gen: number; temperature: number; coarse: { coarse: string; result: { fit: { temperature: number }; order: { preserved: boolean }; V: { sign: string; expected: string } } }[] }>(
      await heatdeath(['probe-tau', 'p', '--temperature', '1.5', '--samples', '5000', '--json', '--db', w.db]),
    );
    expect(probe.gen).toBe(1);
    expect(probe.coarse.map((c) => c.coarse)).toEqual(['first', 'length', 'label']);
    const first = probe.coarse[0].result;
    expect(Math.abs(first.fit.temperature - 1.5)).toBeLessThan(0.1);
    expect(first.order.preserved).toBe(true);
    expect(first.V.sign).toBe('contracting');
    expect(first.V.expected).toBe('contracting');
    for (const c of probe.coarse) expect(['contracting', 'expanding', 'neutral']).toContain(c.result.V.sign);

    // δ̂: exact on first (from the model's softmax), where an n-gram fits well; sampled on the
    // others, where it need not (an order-3 n-gram has no sense of a name's length: δ̂ ≈ 0.28).
    const bound: Record<string, number> = { first: 0.1, length: 0.5, label: 0.5 };
    for (const coarse of ['first', 'length', 'label']) {
      const rows = json<{ rows: { gen: number; delta: number }[] }>(await heatdeath(['metrics', 'p', '--coarse', coarse, '--json', '--db', w.db])).rows;
      expect(rows[1].delta, coarse).toBeGreaterThan(0);
      expect(rows[1].delta, coarse).toBeLessThan(bound[coarse]);
    }
  });

  it('refuses a generation without a checkpoint and a bad temperature (exit 2, one line)', async () => {
    for (const args of [['--gen', '7'], ['--temperature', '0']]) {
      const r = await heatdeath(['probe-tau', 'p', ...args, '--db', w.db]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
