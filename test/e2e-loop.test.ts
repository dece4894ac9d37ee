// End to end: the real `heatdeath run` on the names corpus with the n-gram model, read back
// through `status`, `metrics`, `samples` and `export` and straight from the SQLite file.
// Checks the data policies' training-set sizes exactly, that λ = 1 holds the first-letter
// histogram in place, that `replace` loses support faster than `accumulate`, and the filters
// of the reading commands. Small N and few steps keep each run to seconds.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heatdeath, json, query, workDir, type CliResult } from './helpers/cli.js';

const FAST = ['--model', 'ngram', '--corpus', 'names', '--steps', '20'];

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstderr: ${r.stderr.slice(-3000)}`);
  return r;
}

interface Counts {
  seedTrain: number;
  nDocs: Map<number, number>;
  /** gen → origin → [in_train, not in_train] */
  docs: Map<number, Record<string, [number, number]>>;
  /** gen → kind → total of the `first` histogram */
  firstTotals: Map<number, Record<string, number>>;
}

function counts(db: string, run: string): Counts {
  return query(db, (h) => {
    const id = h.prepare(`SELECT id FROM runs WHERE name = ?`).pluck().get(run) as number;
    const nDocs = new Map((h.prepare(`SELECT gen, n_docs FROM generations WHERE run_id = ? ORDER BY gen`).all(id) as { gen: number; n_docs: number }[]).map((r) => [r.gen, r.n_docs]));
    const docs = new Map<number, Record<string, [number, number]>>();
    for (const r of h.prepare(`SELECT gen, origin, in_train, count(*) AS n FROM documents WHERE run_id = ? GROUP BY 1, 2, 3`).all(id) as { gen: number; origin: string; in_train: number; n: number }[]) {
      const g = docs.get(r.gen) ?? {};
      (g[r.origin] ??= [0, 0])[r.in_train ? 0 : 1] = r.n;
      docs.set(r.gen, g);
    }
    const firstTotals = new Map<number, Record<string, number>>();
    for (const r of h.prepare(`SELECT gen, kind, sum(count) AS n FROM histograms WHERE run_id = ? AND coarse = 'first' GROUP BY 1, 2`).all(id) as { gen: number; kind: string; n: number }[]) {
      firstTotals.set(r.gen, { ...firstTotals.get(r.gen), [r.kind]: r.n });
    }
    return { seedTrain: docs.get(0)!.seed[0], nDocs, docs, firstTotals };
  });
}

const w = workDir('e2e-loop');
afterAll(() => w.cleanup());

describe('run: data policies (names, n-gram, λ = 0)', () => {
  const G = 2;
  const N = 150;
  // Each policy's training set at generation g ≥ 1, from the seed training split S.
  const expected = {
    accumulate: (S: number, g: number) => S + g * N,
    replace: (_S: number, _g: number) => N,
    augment: (S: number, _g: number) => S + N,
  };

  for (const policy of ['accumulate', 'replace', 'augment'] as const) {
    it(`${policy}: ${G} generations, N synthetic documents each, training sets of the policy's size`, async () => {
      const r = ok(await heatdeath(['run', ...FAST, '--policy', policy, '--generations', String(G), '--samples', String(N), '--seed', '3', '--name', policy, ...w.store, '--json']));
      const out = json(r);
      expect(out).toMatchObject({ run: policy, status: 'complete', generations: G });
      // One summary line per generation on stderr, 0..G.
      expect(r.stderr.match(/^gen +\d+\/2 /gm)).toHaveLength(G + 1);

      const c = counts(w.db, policy);
      // The names corpus has 8849 documents; 10% are held out for validation.
      expect(c.seedTrain).toBeGreaterThan(7500);
      expect(c.docs.get(0)).toEqual({ seed: [c.seedTrain, 8849 - c.seedTrain] });
      expect([...c.nDocs.keys()]).toEqual([0, 1, 2]);
      expect(c.nDocs.get(0)).toBe(c.seedTrain);
      for (let g = 1; g <= G; g++) {
        expect(c.nDocs.get(g), `n_docs of generation ${g}`).toBe(expected[policy](c.seedTrain, g));
        // λ = 0: all N samples are synthetic and all train the next model.
        expect(c.docs.get(g), `documents of generation ${g}`).toEqual({ synthetic: [N, 0] });
        // The samples histogram counts the N new documents; the train histogram the training set.
        expect(c.firstTotals.get(g)).toEqual({ samples: N, train: expected[policy](c.seedTrain, g) });
      }

      // `status --json` tells the same story.
      const s = json(ok(await heatdeath(['status', policy, ...w.store, '--json'])));
      expect(s).toMatchObject({ name: policy, status: 'complete', gen: G, generations: G, settings: { policy, samples: N, fresh: 0, temperature: 1 } });
      expect(s.generationsDone.map((g: { gen: number; nDocs: number }) => [g.gen, g.nDocs])).toEqual([...c.nDocs]);
      // Run-level metric n_train is the same count.
      const m = json(ok(await heatdeath(['metrics', policy, '--db', w.db, '--json'])));
      expect(m.rows.map((row: { gen: number; n_train: number }) => [row.gen, row.n_train])).toEqual([...c.nDocs]);
    });
  }
});

describe('reading commands on the accumulate run', () => {
  const run = 'accumulate';
  const N = 150;
  let gen1: string[] = [];
  let gen0: string[] = [];

  beforeAll(async () => {
    const lines = async (gen: number) => {
      const out = ok(await heatdeath(['export', run, '--db', w.db, '--gen', String(gen), '--format', 'txt'])).stdout.split('\n');
      expect(out.pop()).toBe(''); // every line ends with a newline
      return out;
    };
    [gen1, gen0] = await Promise.all([lines(1), lines(0)]);
  });

  it('export --format txt: one line per document of the generation; jsonl parses to the same texts', async () => {
    expect(gen1).toHaveLength(N);
    expect(gen0).toHaveLength(8849);
    const jsonl = ok(await heatdeath(['export', run, '--db', w.db, '--gen', '1']));
    const docs = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(docs.map((d) => d.text)).toEqual(gen1);
    expect(new Set(docs.map((d) => `${d.gen} ${d.origin}`))).toEqual(new Set(['1 synthetic']));
    const db = query(w.db, (h) => h.prepare(`SELECT text FROM documents WHERE gen = 1 AND run_id = (SELECT id FROM runs WHERE name = ?) ORDER BY id`).pluck().all(run));
    expect(gen1).toEqual(db);
  });

  it('samples: --gen, --origin, --limit', async () => {
    const all = json(ok(await heatdeath(['samples', run, '--db', w.db, '--gen', '1', '--origin', 'synthetic', '--limit', '1000', '--json'])));
    expect(all).toMatchObject({ run, gen: 1, total: N, shown: N });
    expect(all.documents.map((d: { text: string }) => d.text)).toEqual(gen1);
    for (const d of all.documents) expect([d.gen, d.origin, d.inTrain]).toEqual([1, 'synthetic', true]);
    // No fresh documents at λ = 0; the seed lives in generation 0 only.
    expect(json(ok(await heatdeath(['samples', run, '--db', w.db, '--gen', '1', '--origin', 'fresh', '--json']))).total).toBe(0);
    expect(json(ok(await heatdeath(['samples', run, '--db', w.db, '--gen', '1', '--origin', 'seed', '--json']))).total).toBe(0);
    // Default generation: the last committed (2); --limit cuts what is shown, not the total.
    const three = json(ok(await heatdeath(['samples', run, '--db', w.db, '--limit', '3', '--json'])));
    expect(three).toMatchObject({ gen: 2, total: N, shown: 3 });
    expect(three.documents).toHaveLength(3);
    const seed = json(ok(await heatdeath(['samples', run, '--db', w.db, '--gen', '0', '--origin', 'seed', '--limit', '4', '--json'])));
    expect(seed).toMatchObject({ gen: 0, total: 8849, shown: 4 });
    expect(seed.documents.map((d: { text: string }) => d.text)).toEqual(gen0.slice(0, 4));
  });

  it('samples --coarse first --category L: exactly the documents starting with L', async () => {
    // The most common first letter of generation 1 (a letter, so category name = the letter).
    const byFirst = new Map<string, number>();
    for (const t of gen1) if (/^[A-Za-z]/.test(t)) byFirst.set(t[0], (byFirst.get(t[0]) ?? 0) + 1);
    const [letter, count] = [...byFirst].sort((a, b) => b[1] - a[1])[0];
    expect(count).toBeGreaterThan(2);
    const r = json(ok(await heatdeath(['samples', run, '--db', w.db, '--gen', '1', '--coarse', 'first', '--category', letter, '--limit', '1000', '--json'])));
    expect(r.total).toBe(count);
    expect(r.documents.map((d: { text: string }) => d.text)).toEqual(gen1.filter((t) => t.startsWith(letter)));
    for (const d of r.documents) expect(d.categories.first).toBe(letter);
    // The same count is in the stored samples histogram of `first`.
    const stored = query(w.db, (h) => {
      const id = h.prepare(`SELECT id FROM runs WHERE name = ?`).pluck().get(run) as number;
      const cats = JSON.parse(h.prepare(`SELECT json FROM run_state WHERE run_id = ? AND key = 'coarse'`).pluck().get(id) as string).find((c: { name: string }) => c.name === 'first').categories as string[];
      return h.prepare(`SELECT count FROM histograms WHERE run_id = ? AND gen = 1 AND coarse = 'first' AND kind = 'samples' AND category = ?`).pluck().get(id, cats.indexOf(letter));
    });
    expect(stored).toBe(count);
  });

  it('samples --grep: case-insensitive substring, combined with --limit', async () => {
    const needle = 'an';
    const want = gen1.filter((t) => t.toLowerCase().includes(needle));
    expect(want.length).toBeGreaterThan(2);
    const r = json(ok(await heatdeath(['samples', run, '--db', w.db, '--gen', '1', '--grep', 'AN', '--limit', '2', '--json'])));
    expect(r.total).toBe(want.length);
    expect(r.documents.map((d: { text: string }) => d.text)).toEqual(want.slice(0, 2));
  });

  it('metrics --format csv: a header and one row per generation, equal to --json', async () => {
    const csv = ok(await heatdeath(['metrics', run, '--db', w.db, '--format', 'csv']));
    const lines = csv.stdout.trim().split('\n');
    const header = lines[0].split(',');
    expect(header[0]).toBe('gen');
    expect(header).toEqual(expect.arrayContaining(['tv_seed', 'live', 'support', 'entropy', 'V', 'top_share', 'n_train', 'val_loss']));
    expect(lines.slice(1).map((l) => Number(l.split(',')[0]))).toEqual([0, 1, 2]);
    const rows = json(ok(await heatdeath(['metrics', run, '--db', w.db, '--json']))).rows as Record<string, number>[];
    for (const [i, line] of lines.slice(1).entries()) {
      const cells = line.split(',');
      expect(cells).toHaveLength(header.length);
      for (const k of ['tv_seed', 'live', 'n_train']) expect(Number(cells[header.indexOf(k)])).toBe(rows[i][k]);
    }
    // Another coarse-graining: its own histogram metrics, the same run-level ones.
    const length = json(ok(await heatdeath(['metrics', run, '--db', w.db, '--coarse', 'length', '--json'])));
    expect(length.coarse).toBe('length');
    expect(length.rows.map((r: Record<string, number>) => r.n_train)).toEqual(rows.map((r) => r.n_train));
  });
});
