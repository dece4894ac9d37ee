// End to end: curated loops through the real CLI (names, n-gram, T = 1, 10 generations × 1,000).
// `--select label:female --candidates 4` keeps, of every 4 candidates, one the classifier labels
// female when there is one. The exact lane (`theory`/`sim --select label:0`) says what the kept
// data do: with λ = 0 their female share goes to 1 within two generations (replace policy), with
// λ = 0.5 it stops at the fixed point θ* = ½(1 − (1 − θ*)⁴) + ½p₀ ≈ 0.79. Compared here: the
// selection step itself (every generation's kept share against the map applied to the model's
// own share that generation, binomial noise), the loop's limit against the exact lane's, and the
// model's own output (the samples histogram), which rises well above the seed's share.
// Also: `--select random` keeps what it was given (indistinguishable from no selection), and a
// run without --select stores exactly the documents of the code before selection existed.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heatdeath, json, query, workDir, type CliResult } from './helpers/cli.js';

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstderr: ${r.stderr.slice(-3000)}`);
  return r;
}

const w = workDir('e2e-curated');
afterAll(() => w.cleanup());

const N = 1000;
const G = 10;
const M = 4;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Best of M by a reward for the category with share p: the share of kept documents in it. */
const S = (p: number) => 1 - (1 - p) ** M;

/** Female share per generation of the samples (every candidate) and the training set (kept data). */
function shares(run: string): { samples: number[]; train: number[]; female: number } {
  return query(w.db, (db) => {
    const id = db.prepare(`SELECT id FROM runs WHERE name = ?`).pluck().get(run) as number;
    const coarse = JSON.parse(db.prepare(`SELECT json FROM run_state WHERE run_id = ? AND key = 'coarse'`).pluck().get(id) as string) as { name: string; categories: string[] }[];
    const female = coarse.find((c) => c.name === 'label')!.categories.indexOf('female');
    const read = (kind: string) =>
      Array.from({ length: G + 1 }, (_, g) => {
        const rows = db.prepare(`SELECT category, count FROM histograms WHERE run_id = ? AND gen = ? AND coarse = 'label' AND kind = ?`).all(id, g, kind) as { category: number; count: number }[];
        const total = rows.reduce((a, r) => a + r.count, 0);
        return (rows.find((r) => r.category === female)?.count ?? 0) / total;
      });
    return { samples: read('samples'), train: read('train'), female };
  });
}

// Timeouts only catch hangs: on a loaded shared machine these CLI runs take minutes.
describe('--select label:female --candidates 4 (names, n-gram, T = 1, replace)', { timeout: 600_000 }, () => {
  const runs = new Map<number, { out: any; s: ReturnType<typeof shares> }>();
  const args = (fresh: number) => [
    'run', '--model', 'ngram', '--corpus', 'names', '--coarse', 'label', '--policy', 'replace', '--samples', String(N), '--generations', String(G),
    '--steps', '30', '--initial-steps', '400', '--select', 'label:female', '--candidates', String(M), '--fresh', String(fresh), '--seed', '1',
    '--name', `female-f${fresh}`, ...w.store, '--json',
  ];
  // Both runs at once, before the tests (and not at all when every test here is filtered out).
  let ready: Promise<unknown>;
  beforeAll(() => {
    ready = Promise.all([0, 0.5].map(async (f) => {
      const out = json(ok(await heatdeath(args(f))));
      runs.set(f, { out, s: shares(`female-f${f}`) });
    }));
    return ready;
  }, 600_000);

  it('stores all M × N candidates, N kept (one per group of M, female whenever the group has one)', async () => {
    await ready;
    const groups = query(w.db, (db) => {
      const id = db.prepare(`SELECT id FROM runs WHERE name = 'female-f0'`).pluck().get() as number;
      const rows = db.prepare(`SELECT gen, label, selected, in_train FROM documents WHERE run_id = ? AND gen = 3 AND origin = 'synthetic' ORDER BY id`).all(id) as { label: string; selected: number; in_train: number }[];
      return rows;
    });
    expect(groups).toHaveLength(M * N);
    let bad = 0;
    for (let g = 0; g < N; g++) {
      const grp = groups.slice(g * M, (g + 1) * M);
      expect(grp.filter((d) => d.selected === 1)).toHaveLength(1);
      const kept = grp.find((d) => d.selected === 1)!;
      if (grp.some((d) => d.label === 'female') && kept.label !== 'female') bad++;
      expect(grp.every((d) => d.in_train === d.selected)).toBe(true);
    }
    expect(bad).toBe(0);
  });

  it('each generation keeps the share the selection map gives for the model own share (within binomial noise)', async () => {
    await ready;
    for (const f of [0, 0.5]) {
      const { s } = runs.get(f)!;
      const p0 = s.train[0];
      for (let g = 1; g <= G; g++) {
        // Kept data: (1 − λ)N best-of-M draws from the model's share p̂ (this generation's
        // candidates) and λN fresh draws from the seed.
        const p = s.samples[g];
        const expected = (1 - f) * S(p) + f * p0;
        const sd = Math.sqrt(((1 - f) * S(p) * (1 - S(p)) + f * p0 * (1 - p0)) / N);
        expect(Math.abs(s.train[g] - expected), `λ = ${f}, generation ${g}: kept ${s.train[g]} vs ${expected}`).toBeLessThan(4 * sd + 1e-9);
      }
    }
  });

  it('λ = 0: the female share rises from the seed towards 1 and the verdict names the selection', async () => {
    await ready;
    const { s, out } = runs.get(0)!;
    expect(s.train[0]).toBeGreaterThan(0.55);
    expect(s.train[0]).toBeLessThan(0.6);
    // Kept data: all female from generation 3 on (the exact lane: θ₂ = 1 − 4·10⁻⁶).
    expect(Math.min(...s.train.slice(3))).toBeGreaterThan(0.99);
    // The model's own output follows, short of 1 by the n-gram's own error.
    expect(mean(s.samples.slice(G - 3))).toBeGreaterThan(0.9);
    const v = out.verdicts.find((x: { coarse: string }) => x.coarse === 'label');
    // The verdict names a regime only when the temperature term pushes that way; at T = 1 the
    // movement is the selection's, so it reads drift, and its reason names the selection.
    expect(v.verdict).toBe('drift');
    expect(v.reasons).toContain('best of 4 candidates by label:female');
  });

  it('λ = 0.5: it stops at an interior value, the exact lane’s fixed point, within noise', async () => {
    await ready;
    const { s } = runs.get(0.5)!;
    const { s: s0 } = runs.get(0)!;
    const p0 = s.train[0];
    const counts = [Math.round(p0 * 1e6), Math.round((1 - p0) * 1e6)].join(',');
    const theory = json(ok(await heatdeath(['theory', '--initial', counts, '--policy', 'replace', '--per-step', String(N), '--steps', String(G), '--fresh', '0.5', '--select', 'label:0', '--candidates', String(M), '--json'])));
    const fixed = theory.fixedPoint[0] as number;
    expect(fixed).toBeGreaterThan(0.75);
    expect(fixed).toBeLessThan(0.82);
    // The exact simulation with the loop's N agrees with the mean-field.
    const sim = json(ok(await heatdeath(['sim', '--initial', counts, '--policy', 'replace', '--per-step', String(N), '--steps', String(G), '--fresh', '0.5', '--select', 'label:0', '--candidates', String(M), '--replicates', '40', '--json'])));
    const simFinal = sim.trajectory[sim.trajectory.length - 1];
    expect(Math.abs(simFinal.mean[0] - fixed)).toBeLessThan(4 * (simFinal.sd[0] / Math.sqrt(40)) + 1e-3);
    // The loop: the kept share of generations 3–10 against the fixed point. Noise of one
    // generation's share ≈ √(½S(1−S) + ½p₀(1−p₀))/√N; eight generations average it.
    const window = s.train.slice(3);
    const sd = Math.sqrt((0.5 * S(fixed) * (1 - S(fixed)) + 0.5 * p0 * (1 - p0)) / N);
    expect(Math.abs(mean(window) - fixed)).toBeLessThan((4 * sd) / Math.sqrt(window.length) + 0.005);
    // λ = 0's exact limit is 1: the λ = 0 loop sits there too.
    expect(1 - mean(s0.train.slice(3))).toBeLessThan(0.005);
    // The model's output: well above the seed, well below the λ = 0 run's.
    const own = mean(s.samples.slice(G - 3));
    expect(own).toBeGreaterThan(p0 + 0.08);
    expect(own).toBeLessThan(mean(s0.samples.slice(G - 3)) - 0.08);
  });

  it('every document carries its generation-0 log-likelihood, summarised per generation', async () => {
    await ready;
    const { nullCount, seedMean, metric } = query(w.db, (db) => {
      const id = db.prepare(`SELECT id FROM runs WHERE name = 'female-f0.5'`).pluck().get() as number;
      return {
        nullCount: db.prepare(`SELECT count(*) FROM documents WHERE run_id = ? AND gen0_loglik IS NULL`).pluck().get(id) as number,
        seedMean: db.prepare(`SELECT avg(gen0_loglik) FROM documents WHERE run_id = ? AND gen = 0 AND in_train = 1`).pluck().get(id) as number,
        metric: db.prepare(`SELECT value FROM metrics WHERE run_id = ? AND gen = 0 AND key = 'gen0_loglik_mean'`).pluck().get(id) as number,
      };
    });
    expect(nullCount).toBe(0);
    expect(metric).toBeCloseTo(seedMean, 9);
    const rows = json(ok(await heatdeath(['samples', 'female-f0.5', '--db', w.db, '--gen', '4', '--origin', 'synthetic', '--sort', '-gen0_loglik', '--selected', 'yes', '--limit', '50', '--json'])));
    const ll = rows.documents.map((d: { gen0_loglik: number }) => d.gen0_loglik);
    expect(ll).toEqual([...ll].sort((a, b) => b - a));
    expect(rows.documents.every((d: { selected: boolean }) => d.selected)).toBe(true);
    expect(rows.total).toBe(N); // one kept candidate per group of M
  });
});

describe('controls', () => {
  it('--select random --candidates 4 keeps what it was given (label and length shares as the candidates’)', { timeout: 600_000 }, async () => {
    const base = ['run', '--model', 'ngram', '--corpus', 'names', '--coarse', 'label,length', '--samples', '400', '--generations', '4', '--steps', '20', '--initial-steps', '200', '--seed', '3', ...w.store, '--json'];
    ok(await heatdeath([...base, '--select', 'random', '--candidates', '4', '--name', 'random4']));
    const { kept, all } = query(w.db, (db) => {
      const id = db.prepare(`SELECT id FROM runs WHERE name = 'random4'`).pluck().get() as number;
      const q = (sel: string) => db.prepare(`SELECT gen, avg(label = 'female') AS female, avg(length) AS length, count(*) AS n FROM documents WHERE run_id = ? AND gen > 0 ${sel} GROUP BY gen ORDER BY gen`).all(id) as { female: number; length: number; n: number }[];
      return { kept: q('AND selected = 1'), all: q('') };
    });
    for (let g = 0; g < 4; g++) {
      expect(kept[g].n).toBe(400);
      expect(all[g].n).toBe(1600);
      // The kept quarter is a random subset: its share differs from the whole by ≤ 4σ of
      // a draw of 400 without replacement from 1600.
      const p = all[g].female;
      const sd = Math.sqrt((p * (1 - p)) / 400 * (1 - 400 / 1600));
      expect(Math.abs(kept[g].female - p)).toBeLessThan(4 * sd);
    }
    // And against a run without selection: the first generation's model is the same (same seed,
    // same generation 0), so the two samples differ only by sampling noise.
    ok(await heatdeath([...base, '--name', 'plain']));
    const plain = query(w.db, (db) => {
      const id = db.prepare(`SELECT id FROM runs WHERE name = 'plain'`).pluck().get() as number;
      return db.prepare(`SELECT avg(label = 'female') FROM documents WHERE run_id = ? AND gen = 1`).pluck().get(id) as number;
    });
    const p = all[0].female;
    expect(Math.abs(kept[0].female - plain)).toBeLessThan(4 * Math.sqrt(p * (1 - p) * (1 / 400 + 1 / 400)));
  });

  it('--dedupe keeps no sample that is already in the training set (accumulate)', { timeout: 600_000 }, async () => {
    // A small, under-trained n-gram copies seed names often, so there is something to remove.
    ok(await heatdeath(['run', '--model', 'ngram', '--corpus', 'names', '--coarse', 'first', '--samples', '300', '--generations', '3', '--steps', '10', '--initial-steps', '100', '--dedupe', '--seed', '2', '--name', 'dedupe', ...w.store, '--json']));
    const r = query(w.db, (db) => {
      const id = db.prepare(`SELECT id FROM runs WHERE name = 'dedupe'`).pluck().get() as number;
      const count = (sql: string) => db.prepare(sql).pluck().get(id) as number;
      return {
        // A kept sample whose text was in the training set before its generation (accumulate: any earlier in_train document).
        copies: count(`SELECT count(*) FROM documents d WHERE d.run_id = ? AND d.gen > 0 AND d.in_train = 1 AND EXISTS (SELECT 1 FROM documents e WHERE e.run_id = d.run_id AND e.text = d.text AND e.in_train = 1 AND e.id < d.id)`),
        discarded: count(`SELECT count(*) FROM documents WHERE run_id = ? AND gen > 0 AND selected = 0`),
        discardedInTrain: count(`SELECT count(*) FROM documents WHERE run_id = ? AND selected = 0 AND in_train = 1`),
      };
    });
    expect(r.copies).toBe(0);
    expect(r.discarded).toBeGreaterThan(10);
    expect(r.discardedInTrain).toBe(0);
  });

  it('--policy accumulate-subsample --train-size S trains on S documents every generation while the pool grows by N', { timeout: 600_000 }, async () => {
    const S = 120;
    const n = 40;
    const common = ['run', '--model', 'ngram', '--corpus', 'names', '--coarse', 'first', '--samples', String(n), '--generations', '5', '--steps', '3', '--initial-steps', '20', '--seed', '4', ...w.store, '--json'];
    const sub = json(ok(await heatdeath([...common, '--policy', 'accumulate-subsample', '--train-size', String(S), '--name', 'subsample'])));
    // The verdict's null is the subsample's own (theory/calibration.ts): a learner of S documents
    // wanders further than accumulate's learner of the whole pool, so its limits are wider than
    // those of the same run under accumulate (measured 0.438 against 0.390); read as accumulate
    // they would be equal (same seed, N, g and λ).
    const acc = json(ok(await heatdeath([...common, '--policy', 'accumulate', '--name', 'subsample-as-accumulate'])));
    const tvLimit = (out: { verdicts: { coarse: string; numbers: Record<string, number> }[] }) => out.verdicts.find((v) => v.coarse === 'first')!.numbers.tv_limit;
    expect(tvLimit(sub)).toBeGreaterThan(1.05 * tvLimit(acc));
    const r = query(w.db, (db) => {
      const id = db.prepare(`SELECT id FROM runs WHERE name = 'subsample'`).pluck().get() as number;
      return {
        nTrain: db.prepare(`SELECT value FROM metrics WHERE run_id = ? AND key = 'n_train' AND gen > 0 ORDER BY gen`).pluck().all(id) as number[],
        nDocs: db.prepare(`SELECT n_docs FROM generations WHERE run_id = ? AND gen > 0 ORDER BY gen`).pluck().all(id) as number[],
        trainTotal: db.prepare(`SELECT sum(count) FROM histograms WHERE run_id = ? AND coarse = 'first' AND kind = 'train' AND gen > 0 GROUP BY gen ORDER BY gen`).pluck().all(id) as number[],
        pool: db.prepare(`SELECT count(*) FROM documents WHERE run_id = ? AND in_train = 1 AND gen > 0 GROUP BY gen ORDER BY gen`).pluck().all(id) as number[],
      };
    });
    // Every generation: its N new documents plus S − N drawn from the pool, S in all.
    expect(r.nTrain).toEqual([S, S, S, S, S]);
    expect(r.nDocs).toEqual([S, S, S, S, S]);
    expect(r.trainTotal).toEqual([S, S, S, S, S]);
    expect(r.pool).toEqual([n, n, n, n, n]);
  });

  it('a run without --select stores exactly the documents it stored before selection existed', { timeout: 600_000 }, async () => {
    // Digests of (gen, origin, in_train, label, text) in id order, recorded with the code from
    // before selection existed, same command, and the same with the code of the restructured loop
    // just before selection was ported onto it (test/behaviour-pin.test.ts pins the rest).
    const expected: Record<string, string> = {
      accumulate: '2377918043cb91cd198c4dbc16738e17ccdf8f1af85c9d2537bdbc7ddb1ed658',
      replace: '65fdaa9b1bc4b9cad9efc1918d7bfb161d9679ae4b4b3d5bff00c5c3cbd833b7',
    };
    for (const policy of ['accumulate', 'replace']) {
      ok(await heatdeath(['run', '--model', 'ngram', '--corpus', 'names', '--samples', '60', '--generations', '3', '--fresh', '0.25', '--policy', policy, '--steps', '5', '--initial-steps', '20', '--seed', '7', '--name', `pin-${policy}`, ...w.store, '--json']));
      const digest = query(w.db, (db) => {
        const id = db.prepare(`SELECT id FROM runs WHERE name = ?`).pluck().get(`pin-${policy}`) as number;
        const h = createHash('sha256');
        for (const r of db.prepare(`SELECT gen, origin, in_train, label, text FROM documents WHERE run_id = ? ORDER BY id`).raw().iterate(id)) h.update(JSON.stringify(r) + '\n');
        return h.digest('hex');
      });
      expect(digest, policy).toBe(expected[policy]);
    }
  });
});
