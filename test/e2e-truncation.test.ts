// Truncation through the real CLI with the n-gram on `names`: `--top-k 5` leaves at most 5 live
// categories in the `first` histogram of every generation ≥ 1 (the first token's distribution is
// a softmax, so the cut is exact there), the rule is stored in the config and shown by status and
// compare, the verdict names the support it lost; and the off values (top-k above the vocabulary,
// top-p 1, min-p 0) export the very documents a run without them does.

import { afterAll, describe, expect, it } from 'vitest';
import { heatdeath, json, query, workDir } from './helpers/cli.js';

const work = workDir('truncation');
afterAll(() => work.cleanup());

const base = ['--model', 'ngram', '--corpus', 'names', '--coarse', 'first,token', '--generations', '3', '--samples', '400', '--steps', '60', '--seed', '4', ...work.store];

describe('truncation end to end (n-gram, names)', () => {
  it('--top-k 5: ≤ 5 live first tokens in every generation ≥ 1; stored, shown, and in the verdict reason', async () => {
    const run = await heatdeath(['run', ...base, '--top-k', '5', '--name', 'k5', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const live = query(work.db, (db) =>
      db.prepare(`SELECT h.gen, count(*) AS n FROM histograms h JOIN runs r ON r.id = h.run_id WHERE r.name = 'k5' AND h.coarse = 'first' AND h.kind = 'samples' AND h.count > 0 GROUP BY h.gen ORDER BY h.gen`).all(),
    ) as { gen: number; n: number }[];
    expect(live.map((r) => r.gen)).toEqual([0, 1, 2, 3]);
    expect(live[0].n).toBeGreaterThan(20); // the seed: ~26 first letters
    for (const r of live.slice(1)) expect(r.n).toBeLessThanOrEqual(5);
    const config = query(work.db, (db) => JSON.parse((db.prepare(`SELECT config_json FROM runs WHERE name = 'k5'`).get() as { config_json: string }).config_json));
    expect(config.topK).toBe(5);
    expect('topP' in config || 'minP' in config).toBe(false);

    const m = json<{ rows: { gen: number; live: number; survival: number }[] }>(await heatdeath(['metrics', 'k5', '--coarse', 'first', '--json', '--db', work.db]));
    expect(m.rows[0].survival).toBe(1);
    for (const r of m.rows.slice(1)) {
      expect(r.live).toBeLessThanOrEqual(5);
      expect(r.survival).toBeLessThanOrEqual(5 / live[0].n);
    }
    const status = await heatdeath(['status', 'k5', '--db', work.db]);
    expect(status.stdout).toContain('T = 1, top-k 5');
    expect(status.stdout).toMatch(/first .*support \d+ → [1-5] categories: \d+ of the seed's lost, where sampling alone would lose \d+\.\d ± \d+\.\d; top-k 5 sends the tail to zero/);
    const cmp = json<{ runs: { truncation: string; final: { live: number; survival: number } }[] }>(await heatdeath(['compare', 'k5', '--json', '--db', work.db]));
    expect(cmp.runs[0].truncation).toBe('top-k 5');
    expect(cmp.runs[0].final.live).toBeLessThanOrEqual(5);
  });

  it('top-k above the vocabulary, top-p 1 and min-p 0 export exactly what no truncation does', async () => {
    const plain = await heatdeath(['run', ...base, '--name', 'plain']);
    const off = await heatdeath(['run', ...base, '--top-k', '1000', '--top-p', '1', '--min-p', '0', '--name', 'off']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(off.code, off.stderr).toBe(0);
    const a = await heatdeath(['export', 'plain', '--format', 'jsonl', '--db', work.db]);
    const b = await heatdeath(['export', 'off', '--format', 'jsonl', '--db', work.db]);
    // Both runs share one database, so document ids differ; everything else must be identical.
    const docs = (out: string) => out.trim().split('\n').map((l) => ({ ...JSON.parse(l), id: null }));
    expect(docs(a.stdout).length).toBeGreaterThan(1000);
    expect(docs(b.stdout)).toEqual(docs(a.stdout));
    // top-p 1 and min-p 0 are off: not stored. top-k 1000 is stored (it is above this vocabulary, not off).
    const config = query(work.db, (db) => JSON.parse((db.prepare(`SELECT config_json FROM runs WHERE name = 'off'`).get() as { config_json: string }).config_json));
    expect(config.topK).toBe(1000);
    expect('topP' in config || 'minP' in config).toBe(false);
  });

  it('a bad value is one plain line and exit 2, nothing stored', async () => {
    const r = await heatdeath(['run', ...base, '--top-p', '1.5', '--name', 'bad']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("heatdeath: --top-p must be a number with 0 < P ≤ 1, got '1.5'");
    expect(query(work.db, (db) => db.prepare(`SELECT count(*) AS n FROM runs WHERE name = 'bad'`).get())).toEqual({ n: 0 });
  });
});
