// End to end, as a user watching an overnight run: `run` in another process, `status <run>
// --json` polled from outside until it shows a committed generation, the live phase and an ETA;
// then `kill -9` (no chance to write anything), `status` must say `interrupted` (the row still
// says running, but its pid is dead); `resume` finishes the run and `status` says `complete` with
// every generation stored.

import { afterAll, describe, expect, it } from 'vitest';
import { heatdeath, json, query, startHeatdeath, workDir, type CliResult } from './helpers/cli.js';
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

/** Polls an async check until it returns a value, or fails after `timeoutMs`. */
async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

const w = workDir('e2e-live');
afterAll(() => w.cleanup());

describe('live status of a run in another process', () => {
  it('shows generation, phase and ETA while running; interrupted after kill -9; complete after resume', async () => {
    const proc = startHeatdeath([...ARGS, ...w.store]);
    let seen: Status | undefined;
    try {
      // `status` is a separate process reading the database the run is writing (WAL).
      seen = await poll(
        async () => {
          const r = await heatdeath(['status', 'live', ...w.store, '--json']);
          if (r.code !== 0) return undefined; // the database or the run row is not there yet
          const s = json<Status>(r);
          return s.status === 'running' && s.gen >= 1 && s.gen < G && s.phase !== null && s.etaS !== null ? s : undefined;
        },
        120_000,
        'status showing generation ≥ 1, a phase and an ETA',
      );
    } finally {
      proc.child.kill('SIGKILL');
    }
    const killed = await proc.result;
    expect(killed.signal).toBe('SIGKILL');

    expect(['train', 'sample', 'metrics', 'commit']).toContain(seen.phase);
    expect(seen.generations).toBe(G);
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
    expect(after.gen).toBeGreaterThanOrEqual(seen.gen);
    expect(after.gen).toBeLessThan(G);
    const list = json<{ runs: { name: string; status: string }[] }>(ok(await heatdeath(['status', ...w.store, '--json'])));
    expect(list.runs.map((r) => [r.name, r.status])).toEqual([['live', 'interrupted']]);

    const resumed = ok(await heatdeath(['resume', 'live', ...w.store]));
    expect(resumed.stderr).toContain(`resuming at generation ${after.gen + 1}`);
    const done = json<Status>(ok(await heatdeath(['status', 'live', ...w.store, '--json'])));
    expect(done).toMatchObject({ status: 'complete', gen: G, generations: G, phase: null, etaS: null });
    expect(done.generationsDone.map((g) => g.gen)).toEqual(Array.from({ length: G + 1 }, (_, g) => g));
  });
});
