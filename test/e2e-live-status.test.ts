// End to end, as a user watching an overnight run: `run` in another process, held at the start
// of generation 3's training (a hold point), `status <run> --json` read from outside shows the
// committed generation, the live phase and an ETA; then `kill -9` (no chance to write anything), `status` must say `interrupted` (the row still
// says running, but its pid is dead); `resume` finishes the run and `status` says `complete` with
// every generation stored.

import { afterAll, describe, expect, it } from 'vitest';
import { heatdeath, json, query, startHeatdeath, workDir, type CliResult } from './helpers/cli.js';
import { holdEnv, waitReached } from './helpers/hold.js';
import type { LiveStatus } from '../src/loop/view.js';

const G = 8;
const ARGS = ['run', '--model', 'ngram', '--corpus', 'names', '--generations', String(G), '--samples', '100', '--steps', '100', '--initial-steps', '100', '--seed', '3', '--name', 'live'];

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code} (signal ${r.signal})\nstderr: ${r.stderr.slice(-3000)}`);
  return r;
}

/** What `status <run> --json` prints: the live status plus the committed generations. */
interface Status extends LiveStatus {
  generationsDone: { gen: number }[];
}

const w = workDir('e2e-live');
afterAll(() => w.cleanup());

describe('live status of a run in another process', () => {
  it('shows generation, phase and ETA while running; interrupted after kill -9; complete after resume', async () => {
    const proc = startHeatdeath([...ARGS, ...w.store], { env: holdEnv(w.dir, ['train@3']) });
    let seen: Status;
    try {
      const at = await waitReached(w.dir, 'live', 'train@3', { alive: proc.alive });
      expect(at).toMatchObject({ run: 'live', gen: 3, phase: 'train', pid: proc.child.pid });
      // `status` is a separate process reading the database the run is writing (WAL).
      seen = json<Status>(ok(await heatdeath(['status', 'live', ...w.store, '--json'])));
    } finally {
      proc.child.kill('SIGKILL');
    }
    const killed = await proc.result;
    expect(killed.signal).toBe('SIGKILL');

    // Held where the test put it: generations 0–2 committed, generation 3 training.
    expect(seen).toMatchObject({ status: 'running', gen: 2, phase: 'train', generations: G });
    expect(seen.progress).toMatchObject({ gen: 3, phase: 'train' });
    expect(seen.secondsPerGen).toBeGreaterThan(0);
    // ETA: the mean of the last finished generations times those still to run.
    expect(seen.etaS).toBeCloseTo(seen.secondsPerGen! * (G - seen.gen), 6);
    expect(seen.heartbeatAgeS).toBeLessThan(60);

    // Killed without a word: the row still says 'running', readers see its pid is gone.
    const row = query(w.db, (db) => db.prepare(`SELECT status FROM runs WHERE name = 'live'`).get() as { status: string });
    expect(row.status).toBe('running');
    const after = json<Status>(ok(await heatdeath(['status', 'live', ...w.store, '--json'])));
    expect(after.status).toBe('interrupted');
    expect(after.phase).toBeNull();
    expect(after.etaS).toBeNull();
    expect(after.gen).toBe(2);
    const list = json<{ runs: { name: string; status: string }[] }>(ok(await heatdeath(['status', ...w.store, '--json'])));
    expect(list.runs.map((r) => [r.name, r.status])).toEqual([['live', 'interrupted']]);

    const resumed = ok(await heatdeath(['resume', 'live', ...w.store]));
    expect(resumed.stderr).toContain(`resuming at generation ${after.gen + 1}`);
    const done = json<Status>(ok(await heatdeath(['status', 'live', ...w.store, '--json'])));
    expect(done).toMatchObject({ status: 'complete', gen: G, generations: G, phase: null, etaS: null });
    expect(done.generationsDone.map((g) => g.gen)).toEqual(Array.from({ length: G + 1 }, (_, g) => g));
  });
});
