// Behaviour pin: an n-gram run and a GPT `tiny` run with fixed seeds, read back through the real
// CLI, must hash to stored digests. Restructuring the code must not move a bit of what a run
// produces; a change that does so on purpose updates a digest here and says why in its commit.
// Two digests per run, so that adding a metric never hides a change in the documents:
//  - export: `export --format jsonl` (the documents of every generation);
//  - metrics: `metrics --format csv` for every coarse-graining, in COARSE order (a coarse-graining
//    the run does not track is a user error: its one line is part of the pin).
// Export digests: the n-gram's is what the code produced before the one sampling rule existed
// and has not changed since (checked against that code). The GPT's is what the change that
// masked BOS in its sampler produced; later changes (the sampling rule, two-thread sampling and
// the shared two-thread Adam) left its documents as they were, and one thread exports the same
// documents as two (all checked). It depends on the backend's arithmetic (recorded for wasm,
// the backend this harness runs on when tfjs-node is not installed), so a run on another backend
// fails with that said.
// Metrics digests moved, on purpose, when:
//  - `survival` (share of the seed's live categories still alive) became a column of every
//    coarse-graining's CSV; no other value moved;
//  - `val_loss_se` (the held-out loss's standard error) became a column, and the GPT's held-out
//    and training figures moved in the 8th significant digit (val_loss, perplexity, train_loss;
//    δ̂ and its L2 form in the 6th-7th): the two-thread Adam on shared float buffers rounds
//    differently (train_loss moved, so the weights did), and held-out scoring runs in batches
//    of 64. The documents did not move (export digest). The seeded validation subset is the
//    whole names split under the default token budget, as the first 1,000 documents were, so it
//    moved nothing here; the n-gram's values are bit-identical apart from the new columns.
// The decomposition's metrics (the control set's temperature and model-error terms) came later,
// on purpose, drawn on their own stream: their columns are left out of the metrics digest, so
// the pin shows that everything a run produced before is unchanged; their presence is checked
// apart (and the export digest shows the control draws left the stored documents alone).
// So did the generation-0 log-likelihood (schema 5: the `gen0_loglik` / `selected` fields of the
// export, the `gen0_loglik_*` metrics), which only adds values: left out of both digests and checked apart.

import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { heatdeath, query, workDir } from './helpers/cli.js';
import { withoutAddedFields } from './helpers/export.js';
import { DECOMPOSITION_KEYS, TERM_SUM_KEYS } from '../src/metrics/decomposition.js';

const LATER: readonly string[] = [...DECOMPOSITION_KEYS, ...TERM_SUM_KEYS];

/** A metrics csv without the columns added after the metrics digests were made. */
function withoutLater(csv: string): { csv: string; dropped: number } {
  const lines = csv.split('\n');
  const head = lines[0].split(',');
  const keep = head.map((h) => !LATER.includes(h));
  return { csv: lines.map((l) => (l === '' ? l : l.split(',').filter((_, i) => keep[i]).join(','))).join('\n'), dropped: keep.filter((k) => !k).length };
}

// One database per pin: exported documents carry their database-wide id, so a run's export
// must not depend on which pins ran before it in the same file.
const works: ReturnType<typeof workDir>[] = [];
afterAll(() => works.forEach((w) => w.cleanup()));

const COARSE = ['first', 'length', 'label', 'token'];

interface Pin {
  args: readonly string[];
  /** The coarse-grainings the run tracks (the others are the one-line user error). */
  tracked: readonly string[];
  /** Per backend ('any' when the backend's arithmetic does not enter). */
  export: Record<string, string>;
  metrics: Record<string, string>;
}

const PINS: Record<'ngram' | 'gpt', Pin> = {
  ngram: {
    args: ['--model', 'ngram', '--generations', '3', '--samples', '300', '--coarse', COARSE.join(',')],
    tracked: COARSE,
    export: { any: '18a4add3ecf17081f66232ab6495eb67f694f735f262ae53ba1ac023391f79c4' },
    metrics: { any: 'cffe710d0c5bfa539abe21161351d32585d3347a1044693da1a908854a7e2fa1' },
  },
  gpt: {
    args: ['--model', 'transformer', '--size', 'tiny', '--generations', '2', '--samples', '200', '--steps', '30'],
    tracked: ['first', 'length', 'label'],
    export: { wasm: 'b08d12425d5789d4eaa03c3ec7f6a48cbc8a5d983faccfb973ba5e611fabd93f' },
    metrics: { wasm: 'cdbcf9eeb60b78f47cd629e1e74fbaf85d44375ecde5cf20813a139fce61493f' },
  },
};

const isAddedColumn = (name: string) => name.startsWith('gen0_loglik');

/** A metrics csv without the added columns. */
function withoutAddedColumns(csv: string): string {
  const lines = csv.split('\n');
  const keep = lines[0].split(',').map((name) => !isAddedColumn(name));
  return lines.map((line) => (line === '' ? line : line.split(',').filter((_, i) => keep[i]).join(','))).join('\n');
}

const sha256 = (parts: readonly string[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
};

/** The run's export digest, metrics digest (LATER columns left out), backend and the LATER columns found per tracked coarse-graining. */
async function runDigests(name: string, args: readonly string[]): Promise<{ export: string; metrics: string; backend: string; dropped: number[] }> {
  const work = workDir(name);
  works.push(work);
  const run = await heatdeath(['run', ...args, '--seed', '7', '--name', name, ...work.store]);
  expect(run.code, run.stderr).toBe(0);
  const exp = await heatdeath(['export', name, '--format', 'jsonl', '--db', work.db]);
  expect(exp.code, exp.stderr).toBe(0);
  const metrics: string[] = [];
  const dropped: number[] = [];
  for (const coarse of COARSE) {
    const m = await heatdeath(['metrics', name, '--coarse', coarse, '--format', 'csv', '--db', work.db]);
    if (m.code !== 0) {
      metrics.push(m.stderr);
      continue;
    }
    const w = withoutLater(withoutAddedColumns(m.stdout));
    metrics.push(w.csv);
    dropped.push(w.dropped);
    // The added columns are there (so leaving them out hides nothing): a mean for every generation.
    const [head, ...rows] = m.stdout.trim().split('\n');
    const col = head.split(',').indexOf('gen0_loglik_mean');
    expect(col, 'gen0_loglik_mean column').toBeGreaterThan(0);
    for (const r of rows) expect(Number(r.split(',')[col])).toBeLessThan(0);
  }
  const backend = query(work.db, (db) => (db.prepare('SELECT backend FROM runs WHERE name = ?').get(name) as { backend: string }).backend);
  return { export: sha256([withoutAddedFields(exp.stdout)]), metrics: sha256(metrics), backend, dropped };
}

/** The digest recorded for this backend, or for any backend. */
function pinned(digests: Record<string, string>, backend: string): string | undefined {
  return digests[backend] ?? digests.any;
}

describe('behaviour pin (fixed seed: documents, then metrics)', () => {
  for (const [model, pin] of Object.entries(PINS)) {
    it(`a ${model} run exports the same documents and metrics as the stored digests`, async () => {
      const got = await runDigests(`pin-${model}`, pin.args);
      expect(pinned(pin.export, got.backend), `no ${model} digest recorded for backend ${got.backend}`).toBeDefined();
      // Documents first: a failure here is a change in what the loop samples, not in a metric.
      expect(got.export, 'exported documents changed').toBe(pinned(pin.export, got.backend));
      expect(got.metrics, 'metrics CSV changed').toBe(pinned(pin.metrics, got.backend));
      // Every tracked coarse-graining has the decomposition's columns.
      expect(got.dropped).toEqual(pin.tracked.map(() => LATER.length));
    });
  }
});
