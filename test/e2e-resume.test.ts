// End to end: a run killed in the middle of a generation (SIGKILL) or stopped gracefully
// (SIGINT) is resumed by the real CLI, and the result is row for row the same as an
// uninterrupted run with the same seed in another database (timing columns excepted). λ = 0.2,
// so the fresh draws and the samples they replace (in_train = 0) go through a resume too.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heatdeath, json, openReadonly, query, startHeatdeath, workDir, type CliResult } from './helpers/cli.js';
import { holdEnv, waitReached } from './helpers/hold.js';

const G = 6;
const ARGS = ['run', '--model', 'ngram', '--corpus', 'names', '--generations', String(G), '--samples', '150', '--fresh', '0.2', '--steps', '40', '--seed', '11', '--name', 'r'];

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code} (signal ${r.signal})\nstderr: ${r.stderr.slice(-3000)}`);
  return r;
}

/** Everything a run produced that must not depend on being interrupted (no timings, no paths). */
function snapshot(file: string) {
  return query(file, (db) => ({
    runs: db.prepare(`SELECT id, name, status, config_json, seed, corpus_hash, generations, note FROM runs ORDER BY id`).all(),
    state: db.prepare(`SELECT run_id, key, json FROM run_state ORDER BY run_id, key`).all(),
    generations: db.prepare(`SELECT run_id, gen, train_loss, val_loss, n_docs FROM generations ORDER BY run_id, gen`).all(),
    documents: db
      .prepare(`SELECT id, run_id, gen, origin, text, hex(tokens) AS tokens, label, true_label, in_train, first_token, length, text_hash FROM documents ORDER BY id`)
      .all(),
    histograms: db.prepare(`SELECT * FROM histograms ORDER BY run_id, gen, coarse, kind, category`).all(),
    metrics: db.prepare(`SELECT * FROM metrics ORDER BY run_id, gen, coarse, key`).all(),
  }));
}

type Snapshot = ReturnType<typeof snapshot>;

/** Compares table by table, so that a failure names the table (and not a 100k-row diff). */
function expectSameRun(actual: Snapshot, expected: Snapshot): void {
  expect(expected.generations).toHaveLength(G + 1);
  for (const table of Object.keys(expected) as (keyof Snapshot)[]) {
    const a = actual[table] as unknown[];
    const e = expected[table] as unknown[];
    expect(a.length, `rows of ${table}`).toBe(e.length);
    const firstDiff = a.findIndex((row, i) => JSON.stringify(row) !== JSON.stringify(e[i]));
    expect(firstDiff === -1 ? null : { table, row: firstDiff, actual: a[firstDiff], expected: e[firstDiff] }).toBeNull();
  }
}

/** Starts the run held at `point`; resolves once it is there, with what the run reported. */
async function startHeld(w: ReturnType<typeof workDir>, point: string) {
  const proc = startHeatdeath([...ARGS, ...w.store], { env: holdEnv(w.dir, [point]) });
  const at = await waitReached(w.dir, 'r', point, { alive: proc.alive });
  return { ...proc, at };
}

/** The live row of the run, read-only, while another process writes (WAL). */
function liveRow(file: string): { status: string; phase: string | null; progress: { gen: number } | null; last: number } | undefined {
  let db;
  try {
    db = openReadonly(file);
    const run = db.prepare(`SELECT id, status, phase, progress_json FROM runs WHERE name = 'r'`).get() as { id: number; status: string; phase: string | null; progress_json: string | null } | undefined;
    if (!run) return undefined;
    const last = (db.prepare(`SELECT max(gen) FROM generations WHERE run_id = ?`).pluck().get(run.id) as number | null) ?? -1;
    return { status: run.status, phase: run.phase, progress: run.progress_json ? JSON.parse(run.progress_json) : null, last };
  } catch {
    return undefined; // not created yet, or the schema is being written
  } finally {
    db?.close();
  }
}

const ref = workDir('e2e-resume-ref');
let expected: Snapshot;

beforeAll(async () => {
  ok(await heatdeath([...ARGS, ...ref.store]));
  expected = snapshot(ref.db);
});
afterAll(() => ref.cleanup());

describe('interrupted runs resume to the uninterrupted result', () => {
  it('SIGKILL in the train phase of generation 3: database intact, status interrupted, resume equals the uninterrupted run', async () => {
    const w = workDir('e2e-resume-kill');
    try {
      // Held as generation 3 starts training (2 committed): the middle of a generation.
      const proc = await startHeld(w, 'train@3');
      expect(proc.at).toMatchObject({ run: 'r', gen: 3, phase: 'train', pid: proc.child.pid });
      const at = liveRow(w.db)!;
      expect(at).toMatchObject({ status: 'running', phase: 'train', progress: { gen: 3 }, last: 2 });
      proc.child.kill('SIGKILL');
      const killed = await proc.result;
      expect(killed.signal).toBe('SIGKILL');

      query(w.db, (db) => {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        // Only whole generations: nothing of the one that was training.
        const last = db.prepare(`SELECT max(gen) FROM generations`).pluck().get() as number;
        expect(last).toBe(2);
        for (const t of ['documents', 'histograms', 'metrics']) {
          expect(db.prepare(`SELECT count(*) FROM ${t} WHERE gen > ?`).pluck().get(last), t).toBe(0);
        }
        expect(db.prepare(`SELECT count(DISTINCT gen) FROM documents`).pluck().get()).toBe(last + 1);
      });
      // The row still says 'running'; its pid is dead, so readers see 'interrupted'.
      const s = json(ok(await heatdeath(['status', 'r', ...w.store, '--json'])));
      expect(s.status).toBe('interrupted');
      expect(s.gen).toBe(2);
      const all = json(ok(await heatdeath(['status', ...w.store, '--json'])));
      expect(all.runs.map((r: { name: string; status: string }) => [r.name, r.status])).toEqual([['r', 'interrupted']]);

      const resumed = ok(await heatdeath(['resume', 'r', ...w.store]));
      expect(resumed.stderr).toContain(`resuming at generation ${s.gen + 1}`);
      expect(json(ok(await heatdeath(['status', 'r', ...w.store, '--json']))).status).toBe('complete');
      expectSameRun(snapshot(w.db), expected);
    } finally {
      w.cleanup();
    }
  });

  it('SIGINT: exit 130, names the resume command, status interrupted; resume equals the uninterrupted run', async () => {
    const w = workDir('e2e-resume-int');
    try {
      // Held right after generation 1 committed; SIGINT there stops before generation 2.
      const proc = await startHeld(w, 'committed@1');
      expect(proc.at).toMatchObject({ gen: 1, phase: 'committed' });
      expect(liveRow(w.db)).toMatchObject({ status: 'running', last: 1 });
      proc.child.kill('SIGINT');
      const stopped = await proc.result;
      expect(stopped.code).toBe(130);
      expect(stopped.stderr).toContain(`Resume with: heatdeath resume r --db ${w.db}`);
      const row = liveRow(w.db)!;
      expect(row).toMatchObject({ status: 'interrupted', last: 1 });
      const s = json(ok(await heatdeath(['status', 'r', ...w.store, '--json'])));
      expect(s).toMatchObject({ status: 'interrupted', gen: row.last, generations: G });
      expect(s.note).toBe(`interrupted during generation ${row.last + 1}`);
      query(w.db, (db) => expect(db.pragma('integrity_check', { simple: true })).toBe('ok'));

      ok(await heatdeath(['resume', 'r', ...w.store]));
      expectSameRun(snapshot(w.db), expected);
    } finally {
      w.cleanup();
    }
  });
});
