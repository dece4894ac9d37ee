// `heatdeath run`: validate everything, create the run, execute its generations with live
// progress, print the verdicts. SIGINT/SIGTERM stop at a safe point (committed generations stay)
// and print how to resume; a second signal exits at once (the database is consistent anyway).

import type { Command } from 'commander';
import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isUserError } from '../errors.js';
import { normalizeRunConfig } from '../loop/config.js';
import { loadCorpus } from '../corpus/index.js';
import { checkDatabasePath, checkFolder, openDatabase } from '../store/open.js';
import { checkSweepId } from '../loop/config.js';
import { ensureSweep, listRuns } from '../store/runs.js';
import { addRunOptions, configFromOptions } from './run-options.js';

export function register(program: Command): void {
  addRunOptions(program.command('run').description('start a new closed-loop run; prints a line per generation and a final verdict'))
    .option('--json', 'print the final result as one JSON document on stdout')
    .option('--sweep-id <id>', 'group the run under this sweep (one job of `sweep --emit-jobs`)')
    .action(async (opts: Record<string, unknown>) => {
      const input = configFromOptions(opts);
      const config = normalizeRunConfig(input);
      const sweepId = opts.sweepId === undefined ? null : checkSweepId(String(opts.sweepId));
      // A bad corpus is refused before the database file is created or touched.
      const corpus = loadCorpus(config.corpus, { corporaDir: String(opts.corporaDir) });
      // A user corpus is stored by the absolute path of the file it was read from, so that
      // `resume` from another folder reads the same file (the stored corpus hash checks it).
      if (corpus.source !== 'builtin') input.corpus = resolve(corpus.source);
      checkDatabasePath(String(opts.db));
      checkFolder('--models-dir', String(opts.modelsDir));
      // Loaded only now: tfjs takes a second to load, and bad input should not wait for it.
      const [{ execute }, { createRun }] = await Promise.all([import('./execute.js'), import('../loop/run.js')]);
      const file = String(opts.db);
      // What opening creates: the file, and the folders above it that do not exist yet.
      const created = existsSync(file) ? null : missingFolders(dirname(file));
      const db = openDatabase(file, { create: true });
      try {
        await execute(db, opts, (deps) =>
          // The sweep row and the run together: a refused run leaves no sweep behind. IMMEDIATE,
          // as in createRun: it reads before it writes, and other processes may share the file.
          db.transaction(() => {
            if (sweepId) ensureSweep(db, sweepId, new Date(deps.now()).toISOString());
            // The options as given: createRun tells a default coarse-graining from a chosen one.
            return createRun(deps, input, { name: opts.name as string | undefined, sweepId }).name;
          }).immediate(),
        );
      } catch (e) {
        // A run refused before it was stored leaves no database behind that this command made.
        if (created && isUserError(e) && listRuns(db).length === 0) {
          db.close();
          for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
          for (const d of created) rmdirSync(d);
        }
        throw e;
      } finally {
        if (db.open) db.close();
      }
    });
}

/** The folders from `dir` upwards that do not exist yet, innermost first. */
function missingFolders(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) out.push(d);
  return out;
}
