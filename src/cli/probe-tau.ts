// `heatdeath probe-tau <run>`: measure the coarse-grained sampling map of a stored checkpoint
// (the run's rule, or the one given: temperature and truncations) and report, per
// coarse-graining, Assumption 1's properties — order kept weakly / strictly, categories sent to
// zero, the sign of V's change on the live categories — and the effective temperature.

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../store/open.js';
import { getRun } from '../store/runs.js';
import { checkGeneration, keptCheckpoints, runView } from '../loop/view.js';
import { probeModel } from '../loop/probe.js';
import { loadModel } from '../model/index.js';
import { describeRule, samplingRuleOf } from '../model/sampling.js';
import { addTruncationOptions, truncationsFromOptions } from './run-options.js';
import { initBackend, type BackendChoice } from '../backend.js';
import { UserError } from '../errors.js';
import { DEFAULT_DB, DEFAULT_MODELS_DIR, movedModelsDir, log, parseCount, parseNumber, printJson, table, num } from './common.js';

export function register(program: Command): void {
  const cmd = program
    .command('probe-tau')
    .description('measure the coarse-grained sampling map of a trained model against Assumption 1')
    .argument('<run>', 'run name or id')
    .option('--gen <g>', 'generation whose checkpoint to probe (default: the last one kept)', parseCount)
    .option('--temperature <T>', 'temperature to probe (default: the run\'s)', parseNumber);
  // Each truncation defaults to the run's; give its off value (e.g. --top-k 0) to probe without it.
  addTruncationOptions(cmd)
    .option('--samples <n>', 'documents sampled at T = 1 and at T', parseCount, 5000)
    .option('--seed <n>', 'sampling seed', parseCount, 1)
    .option('--backend <name>', 'tfjs backend: auto, node, wasm, cpu', 'auto')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--models-dir <dir>', 'checkpoint folder of runs that do not record their own (or moved)', DEFAULT_MODELS_DIR)
    .option('--json', 'one JSON document on stdout')
    .action(async (runName: string, opts: { gen?: number; modelsDir: string; temperature?: number; samples: number; seed: number; backend: string; db: string; json?: boolean } & Record<string, unknown>, cmd: Command) => {
      if (opts.samples < 10) throw new UserError('--samples must be at least 10');
      const db = openDatabase(opts.db, { readonly: true });
      try {
        const run = getRun(db, runName);
        const view = runView(db, run);
        const rule = samplingRuleOf({ ...view.config, temperature: opts.temperature ?? view.config.temperature, ...truncationsFromOptions(opts) });
        const T = rule.temperature;
        // The checkpoints the database says are kept, in the run's own models folder; a missing
        // one is an error, never a silent fall-back to another generation.
        const kept = keptCheckpoints(db, run, opts.modelsDir, movedModelsDir(cmd));
        if (kept.length === 0) throw new UserError(`run '${run.name}' has no checkpoint kept`);
        if (opts.gen !== undefined) checkGeneration(db, run, opts.gen);
        const row = opts.gen === undefined ? kept[kept.length - 1] : kept.find((g) => g.gen === opts.gen);
        if (!row) throw new UserError(`generation ${opts.gen} of run '${run.name}' has no checkpoint (kept: ${kept.map((g) => g.gen).join(', ')})`);
        if (!existsSync(join(row.dir, 'model.json'))) {
          throw new UserError(`the checkpoint of generation ${row.gen} of run '${run.name}' is missing at ${row.dir} (if the models folder moved, pass --models-dir)`);
        }
        const backend = await initBackend(opts.backend as BackendChoice);
        const model = await loadModel(row.dir);
        let results;
        try {
          results = await probeModel(model, view, { rule, samples: opts.samples, seed: opts.seed, maxLength: view.maxLength });
        } finally {
          model.dispose();
        }
        if (opts.json) {
          printJson({ run: run.name, gen: row.gen, rule, temperature: T, samples: opts.samples, backend, coarse: results });
          return;
        }
        log(`probed run ${run.name}, generation ${row.gen}, on ${backend}: ${opts.samples} samples at T = 1 and under ${describeRule(rule)}`);
        const fitted = (f: { temperature: number | null; fits: boolean | null }) => (f.temperature === null ? '–' : `${num(f.temperature)}${f.fits === false ? ' (no fit)' : ''}`);
        console.log(
          table(
            ['coarse', 'order', 'sent to 0', 'V(θ̂)', 'V(τ̂)', 'ΔV', 'sign', 'expected', 'T*', 'T* survivors'],
            results.map(({ coarse, result: r }) => [
              coarse,
              !r.order.preserved ? `reversed (${r.order.violations.length} pairs)` : r.order.strict ? 'strict' : 'weak',
              `${r.zeroed.significant.length}${r.zeroed.categories.length > r.zeroed.significant.length ? ` (+${r.zeroed.categories.length - r.zeroed.significant.length} by chance?)` : ''}`,
              num(r.V.base), num(r.V.tempered), num(r.V.delta), r.V.sign, r.V.expected ?? '',
              fitted(r.fit), fitted(r.survivorFit),
            ]),
          ),
        );
        console.log(
          'Assumption 1.1 holds strictly where no ordered pair is reversed or sent to zero together; 1.2 where the sign of ΔV (on the categories alive in both) matches ' +
            'the expected one (T > 1 contracts V, T < 1 expands it). "sent to 0": categories temperature alone would have drawn (≥ 9 expected) that the rule never drew. ' +
            'T* fits over all live categories of θ̂, T* survivors over those alive in both; "no fit" when no temperature explains τ̂ beyond sampling noise (G-test, 3 SD).',
        );
      } finally {
        db.close();
      }
    });
}
