// `heatdeath metrics <run>`: the per-generation metrics of one coarse-graining plus the run-level
// ones (perplexity, distinct-n, copy rate), as a table, CSV or JSON.

import type { Command } from 'commander';
import { openDatabase } from '../store/open.js';
import { getRun } from '../store/runs.js';
import { readMetrics } from '../store/documents.js';
import { runView } from '../loop/view.js';
import { commonCoarse } from '../report/data.js';
import { UserError } from '../errors.js';
import { metricsShown } from '../metrics/registry.js';
import { DEFAULT_DB, num, printJson, table } from './common.js';

/** Columns of the human table (the registry's 'table' metrics); csv and json carry every key. */
const TABLE_KEYS = metricsShown('table').map((d) => d.key);

export function metricsRows(db: Parameters<typeof readMetrics>[0], runId: number, coarse: string) {
  const byGen = new Map<number, Record<string, number | null>>();
  for (const m of readMetrics(db, runId)) {
    if (m.coarse !== '' && m.coarse !== coarse) continue;
    const row = byGen.get(m.gen) ?? { gen: m.gen };
    row[m.coarse === '' ? m.key : m.key] = m.value;
    byGen.set(m.gen, row);
  }
  return [...byGen.values()];
}

export function register(program: Command): void {
  program
    .command('metrics')
    .description('per-generation metrics of a run')
    .argument('<run>', 'run name or id')
    .option('--coarse <name>', 'coarse-graining: first, length, label, token (default: first, or the first one the run tracks)')
    .option('--format <format>', 'table, csv or json', 'table')
    .option('--json', 'same as --format json')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .action((runName: string, opts: { coarse?: string; format: string; json?: boolean; db: string }) => {
      const format = opts.json ? 'json' : opts.format;
      if (!['table', 'csv', 'json'].includes(format)) throw new UserError(`unknown format '${format}' (choose from table, csv, json)`);
      const db = openDatabase(opts.db, { readonly: true });
      try {
        const run = getRun(db, runName);
        // The reports' rule: the one asked for (checked), else 'first', else the first tracked.
        const coarse = commonCoarse([runView(db, run)], opts.coarse);
        const rows = metricsRows(db, run.id, coarse);
        if (format === 'json') {
          printJson({ run: run.name, coarse, rows });
          return;
        }
        const keys = format === 'csv' ? [...new Set(rows.flatMap((r) => Object.keys(r)).filter((k) => k !== 'gen'))].sort() : TABLE_KEYS;
        if (format === 'csv') {
          console.log(['gen', ...keys].join(','));
          for (const r of rows) console.log([r.gen, ...keys.map((k) => (r[k] === null || r[k] === undefined ? '' : String(r[k])))].join(','));
          return;
        }
        console.log(`run ${run.name}, coarse-graining ${coarse}`);
        console.log(table(['gen', ...keys], rows.map((r) => [r.gen, ...keys.map((k) => num(r[k]))])));
      } finally {
        db.close();
      }
    });
}
