// The control set is drawn on its own random stream: the documents a seeded run stores are
// byte for byte what they were before the control set existed (the digest below is of the export
// of this run made by the code before it), with the default control, with none, and with a
// larger one. Its decomposition is stored for every coarse-graining; without a control only
// `first` (the exact softmax) has one.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { heatdeath, openReadonly, workDir } from './helpers/cli.js';
import { withoutAddedFields } from './helpers/export.js';

const work = workDir('control');
afterAll(() => work.cleanup());

/** sha256 of `export dig --format jsonl` for this run, made before the control set was added. */
const BEFORE = '165d9808dae174b3d3d6d1d47cd6647350ffc1760b83a86081590259ffeb8e6b';

const dbOf = (name: string) => join(work.dir, `${name}.sqlite`);

async function run(name: string, extra: string[]) {
  const r = await heatdeath([
    'run', '--model', 'ngram', '--corpus', 'names', '--generations', '3', '--samples', '200', '--steps', '20', '--seed', '7',
    '--name', name, ...extra, '--db', dbOf(name), '--models-dir', join(work.dir, name),
  ]);
  expect(r.code, r.stderr).toBe(0);
  const out = await heatdeath(['export', name, '--format', 'jsonl', '--db', dbOf(name)]);
  expect(out.code, out.stderr).toBe(0);
  // The export names its run nowhere, and each run has its own database (document ids from 1);
  // the fields added later (gen0_loglik, selected) are left out of the digest.
  return createHash('sha256').update(withoutAddedFields(out.stdout)).digest('hex');
}

describe('control set', () => {
  it('leaves the stored documents of a seeded run unchanged, and stores both terms', { timeout: 600_000 }, async () => {
    // Three small runs side by side (each has its own database).
    expect(await Promise.all([run('dig', []), run('none', ['--control', '0']), run('big', ['--control', '900'])])).toEqual([BEFORE, BEFORE, BEFORE]);
    const read = <T>(name: string, sql: string): T[] => {
      const db = openReadonly(dbOf(name));
      try {
        return db.prepare(sql).all() as T[];
      } finally {
        db.close();
      }
    };
    {
      const keys = (name: string) => read(name, `SELECT coarse, count(*) AS n FROM metrics WHERE key LIKE 'tau_%' GROUP BY coarse ORDER BY coarse`);
      // 6 temperature-term keys (tau_dH, tau_sd, tau_dV, tau_tv and the sums tau_cum, tau_var_cum) × 3 generations.
      expect(keys('dig')).toEqual([{ coarse: 'first', n: 18 }, { coarse: 'label', n: 18 }, { coarse: 'length', n: 18 }]);
      expect(keys('none')).toEqual([{ coarse: 'first', n: 18 }]);
      const sd = (name: string) => read<{ v: number }>(name, `SELECT avg(value) AS v FROM metrics WHERE key = 'tau_sd' AND coarse = 'length'`)[0].v;
      // A larger control set narrows the temperature term's noise (√(1/200 + 1/n)).
      expect(sd('big')).toBeLessThan(0.9 * sd('dig'));
      // `first` compares with the exact softmax: its noise is that of the 200 samples alone, the same whatever the control size.
      const firstSd = (name: string) => read<{ v: number }>(name, `SELECT value AS v FROM metrics WHERE key = 'tau_sd' AND coarse = 'first' ORDER BY gen`).map((r) => r.v);
      expect(firstSd('big')).toEqual(firstSd('dig'));
      expect(firstSd('none')).toEqual(firstSd('dig'));
      expect(firstSd('dig')).toHaveLength(3);
    }
  });
});
