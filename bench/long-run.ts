// Long-run benchmark: runs the real CLI (`heatdeath run …`) in a child process, samples the
// child's peak resident memory (VmHWM in /proc, Linux) and the load average while it runs, then
// reads the finished run back from its database: wall time, per-generation time and phase split
// (generations.timings_json), the last 20 generations against generations 2–21, database bytes
// per stored document and checkpoint bytes per generation.
//
//   npx tsx bench/long-run.ts --db D --models-dir M [any other `run` options]
//   npx tsx bench/long-run.ts --resume RUN --db D --models-dir M [--generations G]
//
// The database and models folder must be fresh for a new run. Prints a readable summary on
// stderr and one JSON document on stdout. Figures go to BENCHMARKS.md ("Long runs").

import { spawn } from 'node:child_process';
import { readFileSync, statSync, existsSync, readdirSync } from 'node:fs';
import { cpus, totalmem, loadavg, hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const db = opt('--db');
const modelsDir = opt('--models-dir');
if (!db || !modelsDir) throw new Error('pass --db and --models-dir (fresh paths for a new run)');
const resume = opt('--resume');
const cliArgs = resume ? ['resume', resume, ...args.filter((a, i) => a !== '--resume' && args[i - 1] !== '--resume')] : ['run', ...args];

const bin = new URL('../bin/heatdeath.mjs', import.meta.url).pathname;
const started = Date.now();
const loadStart = loadavg();
const child = spawn(process.execPath, [bin, ...cliArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
let lastLine = '';
child.stderr.on('data', (b: Buffer) => {
  const lines = b.toString().split(/[\r\n]+/).filter(Boolean);
  if (lines.length) lastLine = lines[lines.length - 1];
});

// Peak RSS: VmHWM is the high-water mark of the process's resident set, so polling is exact
// as long as we read it once before the process exits (every 500 ms, and at its last breath).
let peakKb = 0;
const loads: number[][] = [];
const readHwm = () => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    if (m) peakKb = Math.max(peakKb, Number(m[1]));
  } catch {
    // the process is gone
  }
};
const timer = setInterval(readHwm, 500);
const loadTimer = setInterval(() => loads.push(loadavg()), 60_000);
const progress = setInterval(() => process.stderr.write(`  [${Math.round((Date.now() - started) / 1000)} s] ${lastLine.slice(0, 160)}\n`), 60_000);
const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
clearInterval(timer);
clearInterval(loadTimer);
clearInterval(progress);
const wallS = (Date.now() - started) / 1000;
const loadEnd = loadavg();
loads.push(loadEnd);

const folderBytes = (dir: string): number => {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? folderBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return n;
};

const conn = new Database(db, { readonly: true });
const run = conn.prepare(`SELECT id, name, status, generations, backend FROM runs ORDER BY id DESC LIMIT 1`).get() as { id: number; name: string; status: string; generations: number; backend: string };
const gens = conn.prepare(`SELECT gen, started_at, finished_at, timings_json, n_docs, checkpoint FROM generations WHERE run_id = ? ORDER BY gen`).all(run.id) as {
  gen: number; started_at: string; finished_at: string; timings_json: string | null; n_docs: number; checkpoint: string | null;
}[];
const docs = (conn.prepare(`SELECT count(*) FROM documents WHERE run_id = ?`).pluck().get(run.id) as number);
conn.close();

const secs = (g: (typeof gens)[number]) => (Date.parse(g.finished_at) - Date.parse(g.started_at)) / 1000;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const later = gens.filter((g) => g.gen >= 1);
const first = later.filter((g) => g.gen >= 2 && g.gen <= 21).map(secs);
const last = later.slice(-20).map(secs);
const phases: Record<string, number> = {};
for (const g of later) for (const [k, v] of Object.entries(JSON.parse(g.timings_json ?? '{}') as Record<string, number>)) phases[k] = (phases[k] ?? 0) + v;
for (const k of Object.keys(phases)) phases[k] /= Math.max(1, later.length);
const dbBytes = [db, `${db}-wal`].reduce((a, f) => a + (existsSync(f) ? statSync(f).size : 0), 0);
const kept = gens.filter((g) => g.checkpoint && g.gen > 0).map((g) => folderBytes(g.checkpoint!));
const cpuModel = /model name\s*:\s*(.*)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? cpus()[0]?.model;

const result = {
  date: new Date(started).toISOString(),
  machine: { host: hostname(), nproc: cpus().length, cpu: cpuModel, memGiB: +(totalmem() / 2 ** 30).toFixed(1) },
  command: `heatdeath ${cliArgs.join(' ')}`,
  exitCode: code,
  run: run.name,
  status: run.status,
  backend: run.backend,
  generations: gens.length ? gens[gens.length - 1].gen : -1,
  wallS: +wallS.toFixed(1),
  gen0S: gens[0] ? +secs(gens[0]).toFixed(2) : null,
  meanGenS: +mean(later.map(secs)).toFixed(3),
  gens2to21S: +mean(first).toFixed(3),
  last20S: +mean(last).toFixed(3),
  ratioLastToFirst: +(mean(last) / mean(first)).toFixed(3),
  phaseMeanS: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, +v.toFixed(3)])),
  peakRssMiB: +(peakKb / 1024).toFixed(1),
  trainingSetDocs: gens.length ? gens[gens.length - 1].n_docs : 0,
  storedDocs: docs,
  dbBytes,
  dbBytesPerDoc: +(dbBytes / Math.max(1, docs)).toFixed(1),
  checkpointBytesPerGen: kept.length ? Math.round(mean(kept)) : null,
  modelsDirBytes: folderBytes(modelsDir),
  load: { start: loadStart.map((x) => +x.toFixed(2)), end: loadEnd.map((x) => +x.toFixed(2)), mean1m: +mean(loads.map((l) => l[0])).toFixed(2) },
};
process.stderr.write(
  `${result.command}\n  ${result.status} after ${result.generations} generations in ${result.wallS} s (exit ${code}); ` +
    `gens 2–21 ${result.gens2to21S} s/gen, last 20 ${result.last20S} s/gen (× ${result.ratioLastToFirst}); peak RSS ${result.peakRssMiB} MiB; ` +
    `phases ${JSON.stringify(result.phaseMeanS)}; ${result.dbBytesPerDoc} DB bytes/doc; checkpoint ${result.checkpointBytesPerGen} B/gen; ` +
    `load ${result.load.start.join(' ')} → ${result.load.end.join(' ')}\n`,
);
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
