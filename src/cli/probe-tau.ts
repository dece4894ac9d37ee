// `heatdeath probe-tau <run>`: measure the coarse-grained temperature map of a stored checkpoint
// and report, per coarse-graining, the assumptions' verdicts and the effective temperature.

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../store/open.js';
import { getRun, listGenerations } from '../store/runs.js';
import { runView } from '../loop/view.js';
import { probeModel } from '../loop/probe.js';
import { loadModel } from '../model/index.js';
import { samplingRuleOf } from '../model/sampling.js';
import { initBackend, type BackendChoice } from '../backend.js';
import { UserError } from '../errors.js';
import { DEFAULT_DB, log, parseCount, parseNumber, printJson, table, num } from './common.js';

export function register(program: Command): void {
  program
    .command('probe-tau')
    .description('measure the coarse-grained temperature map of a trained model')
    .argument('<run>', 'run name or id')
    .option('--gen <g>', 'generation whose checkpoint to probe (default: the last one kept)', parseCount)
    .option('--temperature <T>', 'temperature to probe (default: the run\'s)', parseNumber)
    .option('--samples <n>', 'documents sampled at T = 1 and at T', parseCount, 5000)
    .option('--seed <n>', 'sampling seed', parseCount, 1)
    .option('--backend <name>', 'tfjs backend: auto, node, wasm, cpu', 'auto')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--json', 'one JSON document on stdout')
    .action(async (runName: string, opts: { gen?: number; temperature?: number; samples: number; seed: number; backend: string; db: string; json?: boolean }) => {
      if (opts.samples < 10) throw new UserError('--samples must be at least 10');
      const db = openDatabase(opts.db, { readonly: true });
      try {
        const run = getRun(db, runName);
        const view = runView(db, run);
        const rule = samplingRuleOf({ ...view.config, temperature: opts.temperature ?? view.config.temperature });
        const T = rule.temperature;
        const kept = listGenerations(db, run.id).filter((g) => g.checkpoint && existsSync(join(g.checkpoint, 'model.json')));
        if (kept.length === 0) throw new UserError(`run '${run.name}' has no checkpoint on disk`);
        const row = opts.gen === undefined ? kept[kept.length - 1] : kept.find((g) => g.gen === opts.gen);
        if (!row) throw new UserError(`generation ${opts.gen} of run '${run.name}' has no checkpoint (kept: ${kept.map((g) => g.gen).join(', ')})`);
        const backend = await initBackend(opts.backend as BackendChoice);
        const model = await loadModel(row.checkpoint!);
        let results;
        try {
          results = await probeModel(model, view, { rule, samples: opts.samples, seed: opts.seed, maxLength: view.maxLength });
        } finally {
          model.dispose();
        }
        if (opts.json) {
          printJson({ run: run.name, gen: row.gen, temperature: T, samples: opts.samples, backend, coarse: results });
          return;
        }
        log(`probed run ${run.name}, generation ${row.gen}, on ${backend}: ${opts.samples} samples at T = 1 and at T = ${T}`);
        console.log(
          table(
            ['coarse', 'T*', 'fit TV', 'order kept', 'V(θ̂)', 'V(τ̂)', 'ΔV', 'sign', 'expected'],
            results.map((r) => [
              r.coarse, num(r.result.fit.temperature), num(r.result.fit.tv), r.result.order.preserved ? 'yes' : `no (${r.result.order.violations.length})`,
              num(r.result.V.base), num(r.result.V.tempered), num(r.result.V.delta), r.result.V.sign, r.result.V.expected ?? '',
            ]),
          ),
        );
        console.log(`Assumption 1.1 holds where the order is kept; 1.2 where the sign matches the expected one (T > 1 contracts V, T < 1 expands it).`);
      } finally {
        db.close();
      }
    });
}
