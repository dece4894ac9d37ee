// End to end: one process writes a run at a time, and a run can be continued from any folder.
// Two `resume`s of a killed run start together, 20 times: one claims the run and is held at
// setup (a hold point, so nothing depends on timing), the other exits 2 with one line naming the
// owner's pid; the database never shows the live run `failed`; then the owner is killed -9 and
// the next pair takes the dead claim over. The resumed run ends identical to an uninterrupted
// one. Then: after SIGTERM the printed resume command works from another folder (the models
// folder is stored with the run), probe-tau there probes the last generation, and a second
// signal prints the command too.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heatdeath, json, query, startHeatdeath, workDir, type CliResult } from './helpers/cli.js';
import { holdEnv, release, waitReached } from './helpers/hold.js';

const w = workDir('e2e-lock');
const holds = join(w.dir, 'holds');
const corpus = join(w.dir, 'tiny.txt');
const SETTINGS = ['--model', 'ngram', '--corpus', corpus, '--generations', '2', '--samples', '30', '--steps', '3', '--coarse', 'first,length'];
const REPETITIONS = 20;

const errorLines = (r: CliResult) => r.stderr.split('\n').filter((l) => l.trim() !== '');
const runRow = (db: string, name: string) => query(db, (d) => d.prepare(`SELECT status, pid FROM runs WHERE name = ?`).get(name) as { status: string; pid: number });
const exported = (db: string, name: string) => heatdeath(['export', name, '--format', 'txt', '--db', db]).then((r) => r.stdout);

beforeAll(() => {
  mkdirSync(holds);
  // A small corpus keeps each of the 40+ process starts cheap.
  writeFileSync(corpus, Array.from({ length: 60 }, (_, i) => `${['ka', 'lo', 'mi', 'ne', 'su'][i % 5]}${['ra', 'te', 'bo'][i % 3]}${i % 7}`).join('\n') + '\n');
});
afterAll(() => w.cleanup());

describe('two resumes of one run', () => {
  it(`${REPETITIONS} times: one runs, the other exits 2 naming it; the result is the uninterrupted one`, async () => {
    const ref = join(w.dir, 'ref.sqlite');
    const reference = heatdeath(['run', ...SETTINGS, '--name', 'r', '--db', ref, '--models-dir', join(w.dir, 'ref-models')]);
    // The run dies (kill -9) while training generation 1: generation 0 is committed.
    const first = startHeatdeath(['run', ...SETTINGS, '--name', 'r', ...w.store], { env: holdEnv(holds, ['train@1']) });
    await waitReached(holds, 'r', 'train@1', { alive: first.alive });
    first.child.kill('SIGKILL');
    await first.result;

    for (let i = 0; i < REPETITIONS; i++) {
      rmSync(join(holds, 'r.setup@1.reached'), { force: true });
      const pair = [0, 1].map(() => startHeatdeath(['resume', 'r', ...w.store], { env: holdEnv(holds, ['setup@1']) }));
      const loser = await Promise.race(pair.map((p, k) => p.result.then(() => k)));
      const lost = await pair[loser].result;
      const winner = pair[1 - loser];
      const reached = await waitReached(holds, 'r', 'setup@1', { alive: winner.alive });
      expect(lost.code, lost.stderr).toBe(2);
      expect(errorLines(lost)).toHaveLength(1);
      expect(errorLines(lost)[0]).toMatch(new RegExp(`^heatdeath: run 'r' is being written by process ${winner.child.pid}, last heartbeat \\d+ s ago; stop it first \\(or wait\\)$`));
      expect(reached.pid).toBe(winner.child.pid);
      expect(runRow(w.db, 'r')).toEqual({ status: 'running', pid: winner.child.pid });
      winner.child.kill('SIGKILL');
      const killed = await winner.result;
      expect(killed.stderr).not.toMatch(/\n\s+at /);
    }

    // A last resume, not held, finishes the run; it is the uninterrupted run's, document by document.
    const last = await heatdeath(['resume', 'r', ...w.store]);
    expect(last.code, last.stderr).toBe(0);
    expect((await reference).code).toBe(0);
    expect(runRow(w.db, 'r').status).toBe('complete');
    const [a, b] = await Promise.all([exported(w.db, 'r'), exported(ref, 'r')]);
    expect(a.split('\n').length).toBeGreaterThan(100);
    expect(a).toBe(b);
  }, 900_000);
});

describe('the models folder is stored with the run', () => {
  it('after SIGTERM the printed resume command works from another folder; probe-tau there probes the last generation', async () => {
    const here = join(w.dir, 'here');
    const there = join(w.dir, 'there');
    mkdirSync(here);
    mkdirSync(there);
    // Relative paths, as a user types them.
    const p = startHeatdeath(['run', ...SETTINGS, '--name', 'p', '--db', 'x.sqlite', '--models-dir', 'x-models'], { cwd: here, env: holdEnv(holds, ['train@2']) });
    await waitReached(holds, 'p', 'train@2', { alive: p.alive });
    p.child.kill('SIGTERM');
    const stopped = await p.result;
    expect(stopped.code, stopped.stderr).toBe(130);
    const db = join(here, 'x.sqlite');
    const line = errorLines(stopped).at(-1)!;
    expect(line).toBe(`interrupted after generation 1. Resume with: heatdeath resume p --db ${db}`);

    const words = line.slice(line.indexOf('heatdeath resume')).split(' ').slice(1);
    const resumed = await heatdeath(words, { cwd: there });
    expect(resumed.code, resumed.stderr).toBe(0);
    const checkpoints = query(db, (d) => d.prepare(`SELECT checkpoint FROM generations WHERE run_id = 1 AND checkpoint IS NOT NULL ORDER BY gen`).pluck().all());
    expect(checkpoints).toEqual([0, 1, 2].map((g) => join(here, 'x-models', 'p', `gen-000${g}`)));
    expect(readdirSync(there)).toEqual([]);

    const probe = await heatdeath(['probe-tau', 'p', '--samples', '20', '--db', db, '--json'], { cwd: there });
    expect(probe.code, probe.stderr).toBe(0);
    expect(json(probe).gen).toBe(2);
  });

  it('a second signal exits at once and prints the resume command too', async () => {
    const q = startHeatdeath(['run', ...SETTINGS, '--name', 'q', '--db', join(w.dir, 'q.sqlite'), '--models-dir', join(w.dir, 'q-models')], { env: holdEnv(holds, ['train@1']) });
    await waitReached(holds, 'q', 'train@1', { alive: q.alive });
    // Two different signals: two of one kind may merge into one while pending.
    q.child.kill('SIGINT');
    q.child.kill('SIGTERM');
    const r = await q.result;
    release(holds, 'q', 'train@1');
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(new RegExp(`heatdeath: second SIG(INT|TERM), exiting now; committed generations are safe\\. Resume with: heatdeath resume q --db ${join(w.dir, 'q.sqlite').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n`));
  });
});
