// `heatdeath gc [<run>]`: remove checkpoint folders no generation refers to any more — left by a
// run killed between writing a checkpoint and committing its generation, or between committing
// and pruning, and half-written temporary folders. The database is only read.

import type { Command } from 'commander';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDatabase } from '../store/open.js';
import { getRun, listRuns } from '../store/runs.js';
import { folderBytes, keptCheckpoints, runModelsDir } from '../loop/view.js';
import { DEFAULT_DB, DEFAULT_MODELS_DIR, bytes, movedModelsDir, printJson } from './common.js';

export function register(program: Command): void {
  program
    .command('gc')
    .description('remove orphaned checkpoint folders of a run (all runs when none is named)')
    .argument('[run]', 'run name or id')
    .option('--dry-run', 'only list what would be removed')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--models-dir <dir>', 'checkpoint folder', DEFAULT_MODELS_DIR)
    .option('--json', 'one JSON document on stdout')
    .action((runName: string | undefined, opts: { dryRun?: boolean; db: string; modelsDir: string; json?: boolean }, cmd: Command) => {
      const db = openDatabase(opts.db, { readonly: true });
      const removed: { run: string; path: string; bytes: number }[] = [];
      try {
        const runs = runName ? [getRun(db, runName)] : listRuns(db);
        for (const run of runs) {
          const dir = join(runModelsDir(run, opts.modelsDir, movedModelsDir(cmd)), run.name);
          if (!existsSync(dir)) continue;
          // A running run writes its next checkpoint at any moment: leave it alone.
          if (run.status === 'running') continue;
          const referenced = new Set(keptCheckpoints(db, run, opts.modelsDir, movedModelsDir(cmd)).map((k) => resolve(k.dir)));
          for (const entry of readdirSync(dir)) {
            const path = join(dir, entry);
            if (referenced.has(resolve(path))) continue;
            removed.push({ run: run.name, path, bytes: folderBytes(path) });
            if (!opts.dryRun) rmSync(path, { recursive: true, force: true });
          }
        }
      } finally {
        db.close();
      }
      const total = removed.reduce((a, r) => a + r.bytes, 0);
      if (opts.json) {
        printJson({ dryRun: Boolean(opts.dryRun), removed, bytes: total });
        return;
      }
      for (const r of removed) console.log(`${opts.dryRun ? 'would remove' : 'removed'} ${r.path} (${bytes(r.bytes)})`);
      console.log(`${removed.length} orphaned checkpoint folder${removed.length === 1 ? '' : 's'}, ${bytes(total)}${opts.dryRun ? ' (dry run)' : ' freed'}`);
    });
}
