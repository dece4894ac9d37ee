// `heatdeath resume <run>`: continue after the last committed generation, optionally to a new
// target G. Refused (exit 2, nothing changed) when the run is unknown, complete, or its corpus
// changed since it started, or while another live process writes it. Checkpoints go where the
// run keeps them (stored with it); an explicit --models-dir says the folder has moved there.

import type { Command } from 'commander';
import { openDatabase } from '../store/open.js';
import { getRun } from '../store/runs.js';
import { DEFAULT_CORPORA_DIR, DEFAULT_DB, DEFAULT_MODELS_DIR, movedModelsDir, parseCount, pidAlive } from './common.js';
import { checkOwner } from '../store/lock.js';
import { runModelsDir } from '../loop/view.js';
import { execute } from './execute.js';

export function register(program: Command): void {
  program
    .command('resume')
    .description('continue a run from its last committed generation (optionally extend it)')
    .argument('<run>', 'run name or id')
    .option('--generations <G>', 'new target number of generations', parseCount)
    .option('--backend <name>', 'tfjs backend: auto, node, wasm, cpu', 'auto')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--models-dir <dir>', "checkpoint folder (default: the run's own; give it when the folder moved)", DEFAULT_MODELS_DIR)
    .option('--corpora-dir <dir>', 'folder of user corpora', DEFAULT_CORPORA_DIR)
    .option('--json', 'print the final result as one JSON document on stdout')
    .action(async (runName: string, opts: Record<string, unknown>, cmd: Command) => {
      const db = openDatabase(String(opts.db));
      try {
        // executeRun refuses a complete run or a bad target G before it writes anything.
        const run = getRun(db, runName);
        // A run another live process writes is refused at once, before tfjs loads (the loop's
        // atomic claim decides between two resumes that pass this check together).
        checkOwner(run, { pid: process.pid, nowMs: Date.now(), pidAlive });
        const modelsDir = runModelsDir(run, String(opts.modelsDir), movedModelsDir(cmd));
        await execute(db, opts, () => run.name, opts.generations as number | undefined, modelsDir);
      } finally {
        db.close();
      }
    });
}
