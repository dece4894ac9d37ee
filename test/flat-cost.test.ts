// Flat cost per generation, measured deterministically (no clocks): a 62-generation `accumulate`
// run of a tiny n-gram, in process, on a real SQLite file whose connection is wrapped in a
// counting proxy (every statement's reads are counted, and each distinct query's plan is
// recorded), plus the loop's `readCounter` for training rows. Counts are split per generation by
// the loop's 'generation' events.
//
// What grows by design under `accumulate`: the stored documents and the in-memory training-set
// index (IdList, 4 bytes an id), by exactly N ids per generation; and the verdict's windows,
// W = min(5, ⌈g/3⌉) generations, until g = 13. Everything else a generation does must not grow
// with g: database reads, training rows read, and no query may scan a table that grows with the
// run (the copy check once did: a `gen <= g` condition made SQLite walk every stored document).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { initBackend } from '../src/backend.js';
import { openDatabase } from '../src/store/open.js';
import { createRun, executeRun, type LoopDeps } from '../src/loop/run.js';
import { IdList, type ReadCounter } from '../src/loop/dataset.js';
import type { RunConfig } from '../src/loop/config.js';

const G = 62;
const N = 40;

/**
 * Work per generation (index = the generation being computed), in two classes: `verdict` (the
 * histogram windows the regime verdict reads) and `rest` (everything else, training batches
 * included). Work = one unit per point look-up (`get`, hit or miss: one index seek either way)
 * plus one per row returned by a multi-row read (`all`, `iterate`). `plans` holds each SELECT's
 * EXPLAIN QUERY PLAN, recorded at its first execution with the actual parameters.
 */
interface Counts {
  gen: number;
  rest: number[];
  verdict: number[];
  verdictQueries: number[];
  plans: Map<string, string>;
}

/**
 * The real database behind a Proxy: statements prepared through it count their work into
 * `counts` (see Counts); nothing else changes.
 */
function countingDatabase(db: Database.Database, counts: Counts): Database.Database {
  const add = (sql: string, n: number) => {
    const g = counts.gen;
    if (/FROM histograms/.test(sql)) {
      counts.verdict[g] = (counts.verdict[g] ?? 0) + n;
      counts.verdictQueries[g] = (counts.verdictQueries[g] ?? 0) + 1;
    } else counts.rest[g] = (counts.rest[g] ?? 0) + n;
  };
  const explain = (sql: string, params: unknown[]) => {
    if (counts.plans.has(sql) || !/^\s*SELECT/i.test(sql)) return;
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
    counts.plans.set(sql, plan.map((p) => p.detail).join(' | '));
  };
  const wrapStatement = (stmt: Database.Statement, sql: string): Database.Statement => {
    const proxy: Database.Statement = new Proxy(stmt, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        switch (key) {
          case 'get':
            return (...params: unknown[]) => {
              explain(sql, params);
              const r = target.get(...params);
              add(sql, 1);
              return r;
            };
          case 'all':
            return (...params: unknown[]) => {
              explain(sql, params);
              const r = target.all(...params);
              add(sql, r.length);
              return r;
            };
          case 'iterate':
            return function* (...params: unknown[]) {
              explain(sql, params);
              for (const r of target.iterate(...params)) {
                add(sql, 1);
                yield r;
              }
            };
          case 'pluck':
          case 'raw':
          case 'expand':
          case 'safeIntegers':
          case 'bind':
            // Modifiers return the statement itself: keep returning the counting proxy.
            return (...a: unknown[]) => (value.apply(target, a), proxy);
          default:
            return value.bind(target);
        }
      },
    });
    return proxy;
  };
  return new Proxy(db, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key === 'prepare') return (sql: string) => wrapStatement(target.prepare(sql), sql);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Mean of xs[from..to] inclusive. */
const mean = (xs: number[], from: number, to: number) => xs.slice(from, to + 1).reduce((a, b) => a + b, 0) / (to - from + 1);

interface Measured {
  counts: Counts;
  trainRows: number[];
  nDocs: number[];
  status: string;
}

/** Runs a tiny n-gram loop in process on a counting database in `dir` and splits its work per generation. */
async function measure(dir: string, input: Partial<RunConfig>): Promise<Measured> {
  const counts: Counts = { gen: 0, rest: [], verdict: [], verdictQueries: [], plans: new Map() };
  const trainRows: number[] = [];
  const nDocs: number[] = [];
  const real = openDatabase(join(dir, 'runs.sqlite'), { create: true });
  const db = countingDatabase(real, counts);
  const backend = await initBackend('cpu');
  const readCounter: ReadCounter = { rows: 0 };
  let trainSeen = 0;
  let t = Date.parse('2030-01-01T00:00:00Z');
  const deps: LoopDeps = {
    db,
    modelsDir: join(dir, 'models'),
    corporaDir: join(dir, 'corpora'),
    backend,
    // A fake clock: the run's timestamps do not matter here, only that they advance.
    now: () => (t += 1000),
    readCounter,
    onEvent: (e) => {
      if (e.type !== 'generation') return;
      // Everything counted since the previous event belongs to this generation.
      trainRows[e.summary.gen] = readCounter.rows - trainSeen;
      trainSeen = readCounter.rows;
      counts.gen = e.summary.gen + 1;
    },
  };
  try {
    const run = createRun(deps, input);
    counts.gen = 0;
    const status = await executeRun(deps, run.name);
    for (const r of real.prepare(`SELECT gen, n_docs FROM generations WHERE run_id = ? ORDER BY gen`).all(run.id) as { gen: number; n_docs: number }[]) nDocs[r.gen] = r.n_docs;
    return { counts, trainRows, nDocs, status };
  } finally {
    real.close();
  }
}

describe('flat per-generation cost (accumulate, 62 generations)', () => {
  let dir: string;
  let counts: Counts;
  let trainRows: number[];
  let nDocs: number[];
  let status: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'heatdeath-flat-'));
    ({ counts, trainRows, nDocs, status } = await measure(dir, {
      corpus: 'names', model: 'ngram', order: 2, buckets: 256, generations: G, samples: N, steps: 3, initialSteps: 20,
      policy: 'accumulate', coarse: ['first', 'length', 'label'], seed: 5, keepCheckpoints: 2,
    }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('completes all generations', () => {
    expect(status).toBe('complete');
    expect(nDocs).toHaveLength(G + 1);
  });

  it('does as much database work in the last 20 generations as in generations 2–21', () => {
    const early = mean(counts.rest, 2, 21);
    const late = mean(counts.rest, G - 19, G);
    expect(early).toBeGreaterThan(N);
    // Training batches are a number of token positions, so the documents they take vary a
    // little with the documents' lengths; every other read is the same each generation.
    expect(Math.abs(late - early) / early).toBeLessThan(0.05);
    // And no trend inside the run: the second half does no more than the first half.
    expect(mean(counts.rest, 32, G)).toBeLessThan(mean(counts.rest, 2, 31) * 1.05);
  });

  it('reads verdict windows that stop growing once W = 5 (generation 13 on)', () => {
    // By design the verdict reads the seed and the final window, W = min(5, ⌈g/3⌉) generations,
    // and the terms' running sums of the last one: the same queries every generation once W = 5.
    for (let g = 16; g <= G; g++) expect(counts.verdictQueries[g]).toBe(counts.verdictQueries[16]);
    // Rows: only the non-zero categories are stored, so the count varies with the samples but is
    // bounded by 11 histograms of every tracked coarse-graining, run verdict and stop check.
    expect(Math.max(...counts.verdict.slice(16))).toBeLessThanOrEqual(counts.verdictQueries[16] * 40);
    expect(mean(counts.verdict, G - 19, G)).toBeLessThan(mean(counts.verdict, 16, 35) * 1.1);
  });

  it('reads a flat number of training rows per generation (fixed --steps)', () => {
    const early = mean(trainRows, 2, 21);
    const late = mean(trainRows, G - 19, G);
    expect(early).toBeGreaterThan(0);
    expect(Math.abs(late - early) / early).toBeLessThan(0.05);
  });

  it('uses no query that scans a table growing with the run', () => {
    // Growing tables: documents, histograms, metrics, generations. A plan step on one must be a
    // SEARCH bounded by more than the run (an equality on gen, text hash or id, or a closed range).
    const growing = /\b(SCAN|SEARCH) (documents|histograms|metrics|generations)\b(.*)/;
    const unbounded: string[] = [];
    for (const [sql, plan] of counts.plans) {
      for (const step of plan.split(' | ')) {
        const m = growing.exec(step);
        if (!m) continue;
        const where = m[3];
        const bounded =
          m[1] === 'SEARCH' &&
          (/\b(gen|text_hash|rowid|id)=\?/.test(where) || /(gen|rowid)>\? AND \1<\?/.test(where) ||
            // max(gen) over a primary key (run_id, gen) is a single seek, whatever the plan says.
            (/^SELECT max\(gen\)/i.test(sql.trim()) && m[2] === 'generations'));
        if (!bounded) unbounded.push(`${sql.replace(/\s+/g, ' ').trim()}  →  ${step}`);
      }
    }
    expect(unbounded).toEqual([]);
    // The copy check is among them, and it is a hash look-up.
    expect([...counts.plans].some(([sql, plan]) => /text_hash = \?/.test(sql) && /documents_by_hash/.test(plan))).toBe(true);
  });

  it('grows the training set by exactly N documents per generation (linear, not more)', () => {
    for (let g = 1; g <= G; g++) expect(nDocs[g] - nDocs[g - 1]).toBe(N);
  });

  it('keeps the id index linear in memory: at most twice the ids it holds', () => {
    // Amortised doubling: capacity stays within 2× the ids (plus the initial 16), so memory
    // is linear in the training set, and pushes cost O(1) amortised.
    const ids = new IdList(Int32Array.from({ length: 8000 }, (_, i) => i));
    for (let g = 1; g <= 200; g++) {
      ids.push(Int32Array.from({ length: 5000 }, (_, i) => g * 5000 + i));
      expect(ids.length).toBe(8000 + g * 5000);
      expect(ids.capacityBytes).toBeLessThanOrEqual(2 * 4 * ids.length + 64);
    }
    expect(ids.get(8000 + 5000 * 200 - 1)).toBe(200 * 5000 + 4999);
  });
});

// accumulate-subsample: the pool grows by N a generation like accumulate's, but each generation
// trains on S documents (its N new ones and S − N drawn from the pool kept in memory), so its
// training set, its training histogram and all its reads stay flat.
describe('flat per-generation cost (accumulate-subsample, S = 120, 30 generations)', () => {
  const GS = 30;
  const S = 120;
  let dir: string;
  let m: Measured;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'heatdeath-flat-sub-'));
    m = await measure(dir, {
      corpus: 'names', model: 'ngram', order: 2, buckets: 256, generations: GS, samples: N, steps: 3, initialSteps: 20,
      policy: 'accumulate-subsample', trainSize: S, coarse: ['first', 'length', 'label'], seed: 5, keepCheckpoints: 2,
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trains on S documents every generation', () => {
    expect(m.status).toBe('complete');
    for (let g = 1; g <= GS; g++) expect(m.nDocs[g]).toBe(S);
  });

  it('does as much database work and reads as many training rows late as early', () => {
    const early = mean(m.counts.rest, 2, 11);
    const late = mean(m.counts.rest, GS - 9, GS);
    // At least the S − N chosen documents the training histogram counts.
    expect(early).toBeGreaterThan(S - N);
    expect(Math.abs(late - early) / early).toBeLessThan(0.05);
    const tEarly = mean(m.trainRows, 2, 11);
    expect(tEarly).toBeGreaterThan(0);
    expect(Math.abs(mean(m.trainRows, GS - 9, GS) - tEarly) / tEarly).toBeLessThan(0.05);
  });
});
