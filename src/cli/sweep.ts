// `heatdeath sweep`: a grid of runs. Every run option may be a comma list; the cross product
// (times `--seeds k`) becomes runs in one database under one sweep id, all created up front.
// Then at most `--jobs` worker processes each run `heatdeath resume <run>` (so a worker is
// exactly a run; SQLite in WAL lets them write side by side), with overall progress on stderr.
// `--resume <id>` continues a killed sweep (complete runs are skipped); `--emit-jobs` prints one
// `heatdeath run` command per grid point instead, each with its own database, for GNU parallel
// or a Slurm job array (bring the databases together with `heatdeath merge`).

import { Option, type Command } from 'commander';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { defaultRunConfig, type RunConfig } from '../loop/config.js';
import { loadCorpus } from '../corpus/index.js';
import { openDatabase } from '../store/open.js';
import { getSweep, listRuns } from '../store/runs.js';
import { compareRuns } from '../report/compare.js';
import { checkSweepId } from '../loop/config.js';
import {
  createSweep, expandGrid, planSweep, runPool, seedAxis, splitList, sweepProgress,
  type GridPoint, type SweepAxes, type SweepGrid, type WorkerOutcome,
} from '../loop/sweep.js';
import { addRunOptions, optionProp, runOptionTable } from './run-options.js';
import { log, memoryBytes, movedModelsDir, parseCount, pidAlive, printJson } from './common.js';
import { resolve as absolute } from 'node:path';

const BIN = fileURLToPath(new URL('../../bin/heatdeath.mjs', import.meta.url));


/** The grid from the options: each given run option is an axis (its comma list); --coarse stays one value. */
function gridFromOptions(opts: Record<string, unknown>): SweepGrid {
  const axes: SweepAxes = {};
  const fixed: Partial<RunConfig> = {};
  for (const [flag, key] of runOptionTable) {
    const value = opts[optionProp(flag)];
    if (value === undefined) continue;
    if (key === 'coarse') fixed.coarse = String(value) as unknown as string[];
    else axes[key] = splitList(flag.slice(2, flag.indexOf(' ')), String(value));
  }
  // The seed is always the last axis (so it varies fastest: replicates of one setting sit side
  // by side) and always part of the run names.
  const seeds = seedAxis(axes.seed, opts.seeds as number | undefined) ?? [String(defaultRunConfig.seed)];
  delete axes.seed;
  axes.seed = seeds;
  if (opts.measureDelta) fixed.measureDelta = true;
  if (opts.dedupe) fixed.dedupe = true;
  // Several worker processes already keep the cores busy: a second training thread each would
  // only oversubscribe them (emitted jobs run alone, they keep the default). Results do not
  // depend on it; --threads 2 still asks for it.
  const jobs = (opts.jobs as number | undefined) ?? availableParallelism();
  if (axes.threads === undefined && jobs > 1 && !opts.emitJobs) fixed.threads = 1;
  return { axes, fixed };
}

/** A shell word: bare when safe, else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_.,/:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One `heatdeath run` command per grid point, each writing its own database under runs/sweep-<id>/. */
function jobCommands(id: string, points: GridPoint[], grid: SweepGrid, opts: Record<string, unknown>): string[] {
  return points.map((p) => {
    const args = ['heatdeath', 'run'];
    for (const [flag, key] of runOptionTable) {
      const name = flag.slice(0, flag.indexOf(' '));
      if (key === 'coarse' && grid.fixed.coarse !== undefined) args.push(name, String(grid.fixed.coarse));
      else if (p.values[key] !== undefined) args.push(name, p.values[key]!);
    }
    if (grid.fixed.measureDelta) args.push('--measure-delta');
    if (grid.fixed.dedupe) args.push('--dedupe');
    args.push('--name', p.name, '--sweep-id', id, '--db', `runs/sweep-${id}/${p.name}.sqlite`);
    if (opts.modelsDir !== 'models') args.push('--models-dir', String(opts.modelsDir));
    if (opts.corporaDir !== 'corpora') args.push('--corpora-dir', String(opts.corporaDir));
    if (opts.backend !== 'auto') args.push('--backend', String(opts.backend));
    return args.map(shellWord).join(' ');
  });
}

/** A sweep id from the clock: sweep-YYYYMMDD-HHMMSS (the library never reads the clock). */
function defaultSweepId(): string {
  return `sweep-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`;
}

function duration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '?';
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Runs one worker: `heatdeath resume <run>` in a child process; keeps the tail of its stderr. */
function launcher(opts: Record<string, unknown>, children: Set<ReturnType<typeof spawn>>, movedTo: string | undefined) {
  return (run: string) =>
    new Promise<WorkerOutcome>((resolve) => {
      // Each run keeps its checkpoints in its stored models folder; --models-dir is passed on
      // only when the user gave one (the folder moved there).
      const moved = movedTo === undefined ? [] : ['--models-dir', absolute(movedTo)];
      const args = [BIN, 'resume', run, '--db', String(opts.db), ...moved, '--corpora-dir', String(opts.corporaDir), '--backend', String(opts.backend)];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      children.add(child);
      let tail = '';
      child.stderr!.on('data', (b: Buffer) => (tail = (tail + b.toString()).slice(-4000)));
      child.on('error', (e) => (tail += `\n${e.message}`));
      child.on('close', (code, signal) => {
        children.delete(child);
        resolve({ run, code, signal, tail: tail.trim().split('\n').slice(-6).join('\n') });
      });
    });
}

export function register(program: Command): void {
  const cmd = addRunOptions(program.command('sweep').description('a grid of runs over comma lists of run options, run by parallel workers'), true);
  // In a sweep, --name names the sweep; the runs are named after it and their grid point.
  const nameOption = cmd.options.find((o) => o.long === '--name')!;
  nameOption.description = 'sweep id; runs are named <id>-<grid values> (default: sweep-<date>-<time>)';
  cmd
    .option('--seeds <k>', 'k seeds per setting: 1..k, or seed..seed+k−1 when --seed is given', parseCount)
    .addOption(new Option('--jobs <j>', 'worker processes at a time (default: number of cores)').argParser(parseCount))
    .option('--resume <id>', 'continue a sweep: resume its interrupted, failed and unstarted runs, skip complete ones')
    .option('--emit-jobs', 'print one `heatdeath run` command per grid point (own --db each) instead of running')
    .option('--json', 'print the final summary as one JSON document on stdout')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const jobs = (opts.jobs as number | undefined) ?? availableParallelism();
      if (jobs < 1) throw new UserError(`--jobs must be a whole number ≥ 1, got '${jobs}'`);
      const given = runOptionTable.filter(([flag]) => opts[optionProp(flag)] !== undefined).map(([flag]) => flag.slice(0, flag.indexOf(' ')));

      let id: string;
      let points: GridPoint[] = [];
      let grid: SweepGrid | null = null;
      if (opts.resume !== undefined) {
        id = String(opts.resume);
        if (given.length || opts.seeds !== undefined || opts.emitJobs || opts.name !== undefined) {
          throw new UserError(`--resume takes the sweep's stored grid; drop ${[...given, ...(opts.seeds !== undefined ? ['--seeds'] : []), ...(opts.emitJobs ? ['--emit-jobs'] : []), ...(opts.name !== undefined ? ['--name'] : [])].join(', ')}`);
        }
      } else {
        id = checkSweepId(String(opts.name ?? defaultSweepId()));
        grid = gridFromOptions(opts);
        points = expandGrid(id, grid);
        const corpora = new Set(points.map((p) => p.input.corpus ?? defaultRunConfig.corpus));
        for (const c of corpora) loadCorpus(String(c), { corporaDir: String(opts.corporaDir) }); // bad corpus: refused before any file is touched
      }
      if (opts.emitJobs) {
        for (const line of jobCommands(id, points, grid!, opts)) process.stdout.write(line + '\n');
        return;
      }

      const db = openDatabase(String(opts.db), { create: opts.resume === undefined });
      const children = new Set<ReturnType<typeof spawn>>();
      let stopping = false;
      let forward: NodeJS.Timeout | null = null;
      const onSignal = (sig: NodeJS.Signals) => {
        if (stopping) {
          // Second signal: stop the workers now (each generation is one transaction; nothing is lost).
          for (const c of children) c.kill('SIGTERM');
          return;
        }
        stopping = true;
        log(`\nheatdeath: ${sig} received; no new runs start, running ones stop after their current step`);
        // Workers in our process group got the signal too (Ctrl-C); if only we did, pass it on.
        forward = setTimeout(() => children.forEach((c) => c.kill('SIGTERM')), 3000);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let ticker: NodeJS.Timeout | null = null;
      try {
        if (opts.resume === undefined) {
          // Workers record their real backend when they start; the sweep itself loads no tfjs.
          const deps = { db, modelsDir: absolute(String(opts.modelsDir)), corporaDir: String(opts.corporaDir), backend: String(opts.backend), now: Date.now, memoryBytes: memoryBytes() };
          createSweep(deps, id, grid!, points, new Date().toISOString());
        } else getSweep(db, id);
        const plan = planSweep(db, id, Date.now(), pidAlive);
        const todo = plan.todo.map((r) => r.name);
        log(`sweep ${id}: ${plan.runs.length} runs in ${String(opts.db)}` + (plan.complete.length ? `, ${plan.complete.length} already complete` : '') + `; ${todo.length} to run, ${Math.min(jobs, todo.length)} at a time`);

        const running = new Set<string>();
        const tty = Boolean(process.stderr.isTTY);
        let lastLine = '';
        const draw = (force = false) => {
          const p = sweepProgress(db, id, jobs);
          // The generation being worked on: one past the last committed, while it runs.
          const live = p.runs.filter((r) => running.has(r.name)).map((r) => `${r.name} gen ${Math.min(r.generations, r.gen + 1)}/${r.generations}${r.phase ? ` ${r.phase}` : ''}`);
          const line = `sweep ${id}: ${p.complete}/${p.total} done` + (live.length ? `; running: ${live.join(', ')}` : '') + `; ETA ${duration(p.etaS)}`;
          if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
          else if (force || line !== lastLine) log(line);
          lastLine = line;
        };
        const say = (s: string) => (tty ? process.stderr.write(`\r\x1b[2K${s}\n`) : log(s));
        // A live line on a terminal; in a log, a line when a run ends and at most every 30 s.
        let ticks = 0;
        ticker = setInterval(() => (tty ? draw() : ++ticks % 30 === 0 && draw()), 1000);
        const outcomes = await runPool(todo, jobs, launcher(opts, children, opts.resume === undefined ? undefined : movedModelsDir(cmd)), {
          stopped: () => stopping,
          onStart: (run) => {
            running.add(run);
            if (tty) draw();
          },
          onEnd: (o) => {
            running.delete(o.run);
            const what = o.code === 0 ? 'complete' : o.code === 130 || o.signal ? 'interrupted' : o.code === 2 ? 'refused' : 'failed';
            say(`  ${o.run}: ${what}`);
            draw(true);
          },
        });
        if (tty) process.stderr.write('\r\x1b[2K');

        const failed = outcomes.filter((o) => o.code !== 0 && o.code !== 130 && !o.signal);
        const interrupted = stopping || outcomes.some((o) => o.code === 130 || o.signal);
        const after = planSweep(db, id, Date.now(), pidAlive);
        if (opts.json) {
          printJson({
            sweep: id, database: String(opts.db), runs: after.runs.length, complete: after.complete.map((r) => r.name),
            unfinished: after.todo.map((r) => r.name), failed: failed.map((o) => ({ run: o.run, code: o.code, tail: o.tail })),
          });
        }
        for (const o of failed) log(`run ${o.run} failed (exit ${o.code}):\n${o.tail.replace(/^/gm, '    ')}`);
        if (failed.length) {
          log(`sweep ${id}: ${failed.length} of ${after.runs.length} runs failed (${failed.map((o) => o.run).join(', ')}); the others are ${interrupted ? 'as far as they got' : 'complete'}`);
          process.exitCode = failed.some((o) => o.code !== 2) ? 1 : 2;
        } else if (interrupted || after.todo.length) {
          log(`sweep ${id} interrupted: ${after.complete.length}/${after.runs.length} runs complete. Continue with: heatdeath sweep --resume ${id} --db ${String(opts.db)}`);
          process.exitCode = 130;
        } else {
          log(`sweep ${id}: all ${after.runs.length} runs complete. Compare them with: heatdeath compare --sweep ${id} --db ${String(opts.db)}`);
          // The verdicts of every setting on every coarse-graining, counted over its seeds.
          for (const g of compareRuns(db, listRuns(db, id)).groups) {
            const counts = Object.entries(g.verdictsByCoarse).map(([c, vs]) => `${c} ${Object.entries(vs).map(([v, n]) => `${n}/${g.n} ${v}`).join(', ')}`);
            log(`  T ${g.temperature} λ ${g.fresh} ${g.policy}: ${counts.join('; ')}`);
          }
        }
      } finally {
        if (ticker) clearInterval(ticker);
        if (forward) clearTimeout(forward);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        db.close();
      }
    });
}
