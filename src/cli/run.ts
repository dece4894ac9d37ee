// `heatdeath run`: validate everything, create the run, execute its generations with live
// progress, print the verdicts. SIGINT/SIGTERM stop at a safe point (committed generations stay)
// and print how to resume; a second signal exits at once (the database is consistent anyway).

import type { Command } from 'commander';
import { normalizeRunConfig } from '../loop/config.js';
import { loadCorpus } from '../corpus/index.js';
import { openDatabase } from '../store/open.js';
import { createRun } from '../loop/run.js';
import { addRunOptions, configFromOptions } from './run-options.js';
import { execute } from './execute.js';

export function register(program: Command): void {
  addRunOptions(program.command('run').description('start a new closed-loop run; prints a line per generation and a final verdict'))
    .option('--json', 'print the final result as one JSON document on stdout')
    .action(async (opts: Record<string, unknown>) => {
      const config = normalizeRunConfig(configFromOptions(opts));
      // A bad corpus is refused before the database file is created or touched.
      loadCorpus(config.corpus, { corporaDir: String(opts.corporaDir) });
      const db = openDatabase(String(opts.db), { create: true });
      try {
        await execute(db, opts, (deps) => createRun(deps, config, { name: opts.name as string | undefined }).name);
      } finally {
        db.close();
      }
    });
}
