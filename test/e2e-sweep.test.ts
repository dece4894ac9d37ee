// End-to-end sweeps through the real CLI (child processes, as a user runs them):
// 1. a λ × T grid with two seeds and parallel workers finishes, and `compare --json` shows fresh
//    data holding the distribution in place (lower top share at T = 0.6, lower entropy at
//    T = 1.6); reports of the sweep and of a run have the charts the data call for;
// 2. a sweep killed (held by hold points) after its first run completed, relaunched with --resume, finishes only the
//    missing runs and leaves complete ones untouched;
// 3. --emit-jobs, the emitted commands run one by one, and `merge` give the same `compare --json`
//    as the in-process sweep; merge remaps ids into a non-empty database and refuses clashes;
// 4. bad input exits 2 with one line (and leaves the output database byte-identical).

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { holdEnv, release, waitReached } from './helpers/hold.js';

const BIN = fileURLToPath(new URL('../bin/heatdeath.mjs', import.meta.url));
const CORPORA = fileURLToPath(new URL('../corpora', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'e2e-sweep-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// `heatdeath` on PATH for the emitted commands, as after `npm link` or a global install.
const shims = join(work, 'bin');
mkdirSync(shims);
writeFileSync(join(shims, 'heatdeath'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
chmodSync(join(shims, 'heatdeath'), 0o755);
const env = { ...process.env, PATH: `${shims}${delimiter}${process.env.PATH}` };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], opts: { detached?: boolean; env?: Record<string, string> } = {}): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: work, env: { ...env, ...opts.env }, detached: opts.detached, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b));
  child.stderr!.on('data', (b: Buffer) => (stderr += b));
  const done = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

const cli = (...args: string[]) => start(args).done;

function sh(line: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', line], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b));
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One plain line on stderr and exit 2: the contract for input a user can fix. */
function expectUserError(r: Result, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

const SMALL = ['--model', 'ngram', '--corpus', 'names', '--coarse', 'first', '--corpora-dir', CORPORA];

describe('sweep over T × λ × seeds with parallel workers', () => {
  // `replace` keeps the test short: with only the newest documents to learn from, a few
  // generations of 300 samples are enough for λ to show (accumulate needs the full-size run).
  const grid = ['--temperature', '0.6,1.6', '--fresh', '0,0.5', '--seeds', '2', '--policy', 'replace', '--generations', '4', '--samples', '300', '--steps', '40'];

  it('runs every grid point and compare shows fresh data holding the distribution', async () => {
    const r = await cli('sweep', ...grid, ...SMALL, '--name', 'lt', '--jobs', '2', '--db', 'grid.sqlite', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sweep: 'lt', runs: 8, unfinished: [], failed: [] });
    expect(r.stderr).toMatch(/8\/8 done/);
    // The end of the sweep counts each setting's verdicts over its seeds, on every coarse-graining.
    expect(r.stderr.match(/^ {2}T (0\.6|1\.6) λ (0|0\.5) replace: first (\d\/2 [a-z-]+(, )?)+$/gm)).toHaveLength(4);

    const c = await cli('compare', '--sweep', 'lt', '--db', 'grid.sqlite', '--json');
    expect(c.code, c.stderr).toBe(0);
    const cmp = JSON.parse(c.stdout);
    expect(cmp.runs.map((x: { temperature: number; fresh: number; seed: number }) => [x.temperature, x.fresh, x.seed])).toEqual([
      [0.6, 0, 1], [0.6, 0, 2], [0.6, 0.5, 1], [0.6, 0.5, 2], [1.6, 0, 1], [1.6, 0, 2], [1.6, 0.5, 1], [1.6, 0.5, 2],
    ]);
    expect(cmp.groups.map((g: { n: number }) => g.n)).toEqual([2, 2, 2, 2]);
    for (const g of cmp.groups) expect(Object.values(g.verdictsByCoarse.first as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(2);
    const mean = (T: number, l: number, k: string) => cmp.groups.find((g: { temperature: number; fresh: number }) => g.temperature === T && g.fresh === l).stats[k].mean;
    const final = (T: number, l: number, seed: number, k: string) =>
      cmp.runs.find((x: { temperature: number; fresh: number; seed: number }) => x.temperature === T && x.fresh === l && x.seed === seed).final[k];
    // T < 1: collapse towards the mode; half fresh data holds the top share down (per seed, too).
    expect(mean(0.6, 0.5, 'top_share')).toBeLessThan(mean(0.6, 0, 'top_share'));
    for (const s of [1, 2]) expect(final(0.6, 0.5, s, 'top_share')).toBeLessThan(final(0.6, 0, s, 'top_share'));
    // T > 1: heat death raises entropy; fresh data holds it down.
    expect(mean(1.6, 0.5, 'entropy_norm')).toBeLessThan(mean(1.6, 0, 'entropy_norm'));
    for (const x of cmp.runs) expect([...x.sparkline]).toHaveLength(5);

    // The table: a mean ± sd row per setting, verdicts on the compared coarse-graining.
    const t = await cli('compare', '--sweep', 'lt', '--db', 'grid.sqlite');
    expect(t.stdout.match(/mean ± sd \(2 seeds\)/g)).toHaveLength(4);

    // status shows the verdict of every run per coarse-graining.
    const st = JSON.parse((await cli('status', '--db', 'grid.sqlite', '--json')).stdout);
    expect(st.runs).toHaveLength(8);
    for (const x of st.runs) expect(x.verdicts.map((v: { coarse: string }) => v.coarse)).toEqual(['first']);
  });

  it('writes HTML reports of the sweep and of one run with the charts the data call for', async () => {
    const s = await cli('report', 'lt', '--db', 'grid.sqlite');
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout.trim()).toBe('lt.html');
    const charts = (html: string) => html.split('<svg role="img"').slice(1).map((p) => (p.split('</svg>')[0].match(/data-series="/g) ?? []).length);
    // Heat map (one row per λ), then top share, entropy and V with one curve per run.
    expect(charts(readFileSync(join(work, 'lt.html'), 'utf8'))).toEqual([2, 8, 8, 8]);
    const r = await cli('report', 'lt-T0.6-f0-s1', '--db', 'grid.sqlite', '--out', 'reports/one.html');
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(join(work, 'reports/one.html'), 'utf8');
    // first (> 7 letters): 6 bands + other + 6 theory edges; metrics incl. δ̂ and theory (the
    // registry's unit-scale report metrics, the survival curve among them); the temperature and
    // model-error terms with the noise band's edges; perplexity; text; then the likelihood under
    // the first model: its distribution, one curve per generation (0–4), and its mean with the
    // 1, 10, 50, 90 and 99 % quantiles.
    expect(charts(html)).toEqual([13, 6, 4, 1, 2, 5, 6]);
    expect(html).toContain('Example documents');
  });
});

describe('killed sweep, --resume, --emit-jobs and merge', () => {
  const grid = ['--temperature', '0.6,1,1.6', '--fresh', '0.5', '--policy', 'replace', '--generations', '3', '--samples', '100', '--steps', '20'];
  const finished = (db: Database.Database) =>
    db.prepare(`SELECT r.name, g.gen, g.finished_at FROM generations g JOIN runs r ON r.id = g.run_id ORDER BY r.name, g.gen`).all() as { name: string; gen: number; finished_at: string }[];
  let before: { name: string; gen: number; finished_at: string }[] = [];

  it('a killed sweep resumes only its missing runs', async () => {
    // Every worker holds right after its generation 1 committed; the first run is let through
    // (released before it gets there), the second is held there: one run complete, the next
    // with generations 0 and 1. Then the whole process group is stopped, as Ctrl-C does.
    const hold = join(work, 'hold-kb');
    mkdirSync(hold);
    release(hold, 'kb-T0.6-s1', 'committed@1');
    const { child, done } = start(['sweep', ...grid, ...SMALL, '--name', 'kb', '--jobs', '1', '--db', 'kb.sqlite'], { detached: true, env: holdEnv(hold, ['committed@1']) });
    let exited = false;
    void done.then(() => (exited = true));
    const alive = () => {
      if (exited) throw new Error('the sweep exited before its second run reached committed@1');
    };
    const at = await waitReached(hold, 'kb-T1-s1', 'committed@1', { alive });
    expect(at).toMatchObject({ run: 'kb-T1-s1', gen: 1, phase: 'committed' });
    expect(existsSync(join(hold, 'kb-T0.6-s1.committed@1.reached'))).toBe(true);
    {
      const db = new Database(join(work, 'kb.sqlite'), { readonly: true });
      expect(db.prepare(`SELECT name, status FROM runs ORDER BY id`).all()).toEqual([
        { name: 'kb-T0.6-s1', status: 'complete' }, { name: 'kb-T1-s1', status: 'running' }, { name: 'kb-T1.6-s1', status: 'queued' },
      ]);
      before = finished(db);
      db.close();
    }
    expect(before.map((b) => `${b.name}@${b.gen}`)).toEqual(['kb-T0.6-s1@0', 'kb-T0.6-s1@1', 'kb-T0.6-s1@2', 'kb-T0.6-s1@3', 'kb-T1-s1@0', 'kb-T1-s1@1']);
    process.kill(-child.pid!, 'SIGTERM');
    const killed = await done;
    expect(killed.code, killed.stderr).toBe(130);
    expect(killed.stderr).toMatch(/sweep --resume kb/);

    const db = new Database(join(work, 'kb.sqlite'), { readonly: true });
    const runs = db.prepare(`SELECT name, status FROM runs ORDER BY id`).all() as { name: string; status: string }[];
    db.close();
    expect(runs).toEqual([
      { name: 'kb-T0.6-s1', status: 'complete' }, { name: 'kb-T1-s1', status: 'interrupted' }, { name: 'kb-T1.6-s1', status: 'queued' },
    ]);

    const r = await cli('sweep', '--resume', 'kb', '--db', 'kb.sqlite', '--corpora-dir', CORPORA, '--jobs', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('1 already complete; 2 to run');
    const after = new Database(join(work, 'kb.sqlite'), { readonly: true });
    const rows = finished(after);
    expect((after.prepare(`SELECT count(*) FROM runs WHERE status = 'complete'`).pluck().get() as number)).toBe(3);
    after.close();
    // Every generation committed before the kill is untouched (same finished_at); the rest were added.
    for (const b of before) expect(rows).toContainEqual(b);
    expect(rows).toHaveLength(3 * 4);
    // Again: nothing left to do.
    const again = await cli('sweep', '--resume', 'kb', '--db', 'kb.sqlite', '--corpora-dir', CORPORA);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('3 already complete; 0 to run');
  });

  it('emitted jobs run one by one and merged compare like the in-process sweep', async () => {
    const e = await cli('sweep', ...grid, ...SMALL, '--name', 'kb', '--emit-jobs');
    expect(e.code, e.stderr).toBe(0);
    const lines = e.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).toMatch(/^heatdeath run .* --name kb-T[\d.]+-s1 --sweep-id kb --db runs\/sweep-kb\/kb-T[\d.]+-s1\.sqlite/);
      const r = await sh(line);
      expect(r.code, r.stderr).toBe(0);
    }
    const parts = readdirSync(join(work, 'runs/sweep-kb')).filter((f) => f.endsWith('.sqlite')).map((f) => `runs/sweep-kb/${f}`);
    expect(parts).toHaveLength(3);
    const m = await cli('merge', 'merged.sqlite', ...parts);
    expect(m.code, m.stderr).toBe(0);
    const compare = async (db: string) => {
      const r = await cli('compare', '--sweep', 'kb', '--db', db, '--json');
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const merged = await compare('merged.sqlite');
    expect(merged.runs).toHaveLength(3);
    // The resumed, in-process sweep and the emitted jobs are the same runs, number for number.
    expect(merged).toEqual(await compare('kb.sqlite'));

    // Merge into a database that already has runs (ids 1..8): kb's runs and documents move, all
    // their rows follow, and the comparison is unchanged.
    const all = await cli('merge', 'grid.sqlite', 'kb.sqlite', '--json');
    expect(all.code, all.stderr).toBe(0);
    const moved = JSON.parse(all.stdout).runs;
    expect(moved.map((x: { newId: number }) => x.newId)).toEqual([9, 10, 11]);
    expect(moved.every((x: { documentShift: number }) => x.documentShift > 0)).toBe(true);
    expect(await compare('grid.sqlite')).toEqual(merged);
  });

  it('refuses bad input with exit 2 and one line, leaving the output as it was', async () => {
    const bytes = () => readFileSync(join(work, 'merged.sqlite'));
    const was = bytes();
    const part = readdirSync(join(work, 'runs/sweep-kb')).find((f) => f.endsWith('.sqlite'))!;
    expectUserError(await cli('merge', 'merged.sqlite', `runs/sweep-kb/${part}`), /already in the output \(merged before\?\)/);
    expectUserError(await cli('merge', 'fresh.sqlite', `runs/sweep-kb/${part}`, `./runs/sweep-kb/${part}`), /given twice/);
    expect(existsSync(join(work, 'fresh.sqlite'))).toBe(false);
    writeFileSync(join(work, 'foreign.sqlite'), 'not a database at all, just text that is long enough to be a header');
    const plain = new Database(join(work, 'plain.sqlite'));
    plain.exec('CREATE TABLE t (x)');
    plain.close();
    expectUserError(await cli('merge', 'merged.sqlite', 'foreign.sqlite'), /not a heatdeath database/);
    expectUserError(await cli('merge', 'merged.sqlite', 'plain.sqlite'), /plain\.sqlite is not a heatdeath database/);
    // A different run under a taken name (the in-process kb runs vs the emitted ones).
    expectUserError(await cli('merge', 'merged.sqlite', 'kb.sqlite'), /taken by a different run/);
    expect(bytes().equals(was)).toBe(true);

    expectUserError(await cli('sweep', '--resume', 'nope', '--db', 'kb.sqlite'), /no sweep 'nope'/);
    expectUserError(await cli('sweep', ...SMALL, '--temperature', '0.5', '--jobs', '0', '--db', 'x.sqlite'), /--jobs must be a whole number ≥ 1/);
    expectUserError(await cli('sweep', ...SMALL, '--temperature', '0.5,0', '--db', 'x.sqlite'), /--temperature must be a number > 0/);
    expect(existsSync(join(work, 'x.sqlite'))).toBe(false);
    expectUserError(await cli('report', 'nope', '--db', 'kb.sqlite'), /no run or sweep 'nope'/);
  });
});
