// `heatdeath status [<run>]`: every run (name, status, generation g/G, phase, ETA, backend, the
// headline numbers of the last generation, verdicts) or one run in detail. Reads only; works
// while another process is writing the run (WAL). A run whose writer died shows `interrupted`.

import type { Command } from 'commander';
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../store/open.js';
import { getRun, listRuns, listGenerations, getRunState, type RunRow } from '../store/runs.js';
import { readGenerationMetrics, readMetrics } from '../store/documents.js';
import { liveStatus, runView, folderBytes, runModelsDir } from '../loop/view.js';
import { runVerdicts } from '../loop/verdicts.js';
import { describeTruncations, samplingRuleOf } from '../model/sampling.js';
import type { KernelSpan } from '../loop/kernels.js';
import { DEFAULT_DB, DEFAULT_MODELS_DIR, bytes, num, pidAlive, printJson, table, termsText } from './common.js';
import { verdictLines } from './progress.js';
import { duration } from '../report/format.js';

function lastMetrics(db: Parameters<typeof readMetrics>[0], run: RunRow, gen: number) {
  const out: Record<string, Record<string, number | null>> = {};
  for (const m of readGenerationMetrics(db, run.id, gen, true)) {
    (out[m.coarse || 'run'] ??= {})[m.key] = m.value;
  }
  return out;
}

/** "first 0.4σ·0.031": the verdict's temperature-term z and model error δ̂ on one coarse-graining. */
function termsCell(v: { coarse: string; numbers: Record<string, number> }): string {
  const n = v.numbers;
  return n.tau_z === undefined ? '' : `${v.coarse} ${termsText({ tau_z: n.tau_z, err_tv: n.err_tv })}`;
}

function dbBytes(file: string): number {
  return ['', '-wal', '-shm'].reduce((n, s) => n + (existsSync(file + s) ? statSync(file + s).size : 0), 0);
}

function summarize(db: Parameters<typeof readMetrics>[0], run: RunRow, modelsDir: string) {
  const live = liveStatus(db, run, Date.now(), pidAlive);
  const view = runView(db, run);
  const metrics = live.gen >= 0 ? lastMetrics(db, run, live.gen) : {};
  const verdicts = live.gen >= 0 ? runVerdicts(db, run.id, view) : [];
  const checkpoints = listGenerations(db, run.id).filter((g) => g.checkpoint);
  return {
    id: run.id,
    name: run.name,
    ...live,
    backend: run.backend,
    /** Kernel of the matrix products of the committed generations, and which generations used which. */
    kernel: run.kernel,
    kernels: getRunState<KernelSpan[]>(db, run.id, 'kernels') ?? [],
    createdAt: run.created_at,
    sweep: run.sweep_id,
    note: run.note,
    settings: {
      model: view.config.model, corpus: view.config.corpus, temperature: view.config.temperature,
      truncation: describeTruncations(samplingRuleOf(view.config)), fresh: view.config.freshFraction,
      policy: view.config.policy, retrain: view.config.retrain, samples: view.config.samples, seed: view.config.seed,
    },
    metrics,
    verdicts,
    checkpointBytes: folderBytes(join(runModelsDir(run, modelsDir), run.name)),
    checkpoints: checkpoints.map((g) => g.gen),
  };
}

export function register(program: Command): void {
  program
    .command('status')
    .description('all runs (name, status, generation g/G, backend, last metrics), or one run')
    .argument('[run]', 'run name or id')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--models-dir <dir>', "checkpoint folder of runs that do not record their own", DEFAULT_MODELS_DIR)
    .option('--json', 'one JSON document on stdout')
    .action((runName: string | undefined, opts: { db: string; modelsDir: string; json?: boolean }) => {
      const db = openDatabase(opts.db, { readonly: true });
      try {
        const runs = runName ? [getRun(db, runName)] : listRuns(db);
        const rows = runs.map((r) => summarize(db, r, opts.modelsDir));
        const databaseBytes = dbBytes(opts.db);
        if (opts.json) {
          if (runName) {
            const r = rows[0];
            printJson({
              ...r, databaseBytes, config: JSON.parse(runs[0].config_json),
              classifier: getRunState(db, runs[0].id, 'classifier_eval') ?? null,
              generationsDone: listGenerations(db, runs[0].id).map((g) => ({ gen: g.gen, trainLoss: g.train_loss, valLoss: g.val_loss, nDocs: g.n_docs, checkpoint: g.checkpoint, timings: g.timings_json ? JSON.parse(g.timings_json) : null })),
            });
          } else printJson({ database: opts.db, databaseBytes, runs: rows });
          return;
        }
        if (rows.length === 0) {
          console.log(`no runs in ${opts.db}`);
          return;
        }
        // The sampling rule's column only when some run truncates.
        const cut = rows.some((r) => r.settings.truncation !== '');
        console.log(
          table(
            ['id', 'run', 'status', 'gen', ...(cut ? ['sampling'] : []), 'phase', 'ETA', 'backend', 'kernel', 'first top', 'H norm', 'V', 'verdicts', 'temperature term z · model error δ̂'],
            rows.map((r) => [
              r.id, r.name, r.status, `${Math.max(r.gen, 0)}/${r.generations}`,
              ...(cut ? [[`T = ${r.settings.temperature}`, r.settings.truncation].filter(Boolean).join(', ')] : []),
              r.progress ? `${r.phase} ${r.progress.done}/${r.progress.total}` : (r.phase ?? ''), duration(r.etaS), r.backend, r.kernel,
              num(r.metrics.first?.top_share), num(r.metrics.first?.entropy_norm), num(r.metrics.first?.V),
              r.verdicts.map((v) => `${v.coarse}=${v.verdict}`).join(' '),
              r.verdicts.map(termsCell).filter(Boolean).join(' '),
            ]),
          ),
        );
        console.log(`\ndatabase ${opts.db}: ${bytes(databaseBytes)}; checkpoints: ${bytes(rows.reduce((a, r) => a + r.checkpointBytes, 0))}`);
        if (runName) {
          const r = rows[0];
          if (r.note) console.log(`note: ${r.note}`);
          console.log(`checkpoints kept: generations ${r.checkpoints.join(', ')} (${bytes(r.checkpointBytes)})`);
          const c = getRunState<{ accuracy: number; baseline: number; n: number }>(db, runs[0].id, 'classifier_eval');
          if (c) console.log(`label classifier: held-out accuracy ${c.accuracy.toFixed(3)} on ${c.n} documents (majority baseline ${c.baseline.toFixed(3)})`);
          console.log('verdicts:');
          for (const l of verdictLines(r.verdicts)) console.log(l);
        }
      } finally {
        db.close();
      }
    });
}
