// `heatdeath samples <run>`: read the documents of a generation — filter by origin, by category
// of a coarse-graining, by substring — with each document's category under every coarse-graining.

import type { Command } from 'commander';
import { openDatabase } from '../store/open.js';
import { getRun, lastGeneration } from '../store/runs.js';
import { selectDocuments } from '../loop/documents.js';
import { checkGeneration, runView } from '../loop/view.js';
import { DEFAULT_DB, parseCount, parseNumber, printJson } from './common.js';
import { UserError } from '../errors.js';
import type { DocumentSort } from '../loop/documents.js';

interface SamplesOptions {
  gen?: number;
  origin?: string;
  coarse?: string;
  category?: string;
  grep?: string;
  selected?: string;
  loglikMin?: number;
  loglikMax?: number;
  sort: string;
  limit: number;
  db: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('samples')
    .description('read the documents of a generation')
    .argument('<run>', 'run name or id')
    .option('--gen <g>', 'generation (default: the last committed)', parseCount)
    .option('--origin <origin>', 'seed, fresh or synthetic')
    .option('--coarse <name>', 'coarse-graining for --category')
    .option('--category <k>', 'category name or index of --coarse')
    .option('--grep <text>', 'only documents containing this text (case-insensitive)')
    .option('--selected <yes|no>', 'only the candidates selection kept (yes) or discarded (no)')
    .option('--loglik-min <x>', 'only documents with gen0_loglik ≥ x (nats per token)', parseNumber)
    .option('--loglik-max <x>', 'only documents with gen0_loglik ≤ x (nats per token)', parseNumber)
    .option('--sort <key>', 'id, gen0_loglik (least likely first) or -gen0_loglik (most likely first)', 'id')
    .option('--limit <n>', 'at most n documents', parseCount, 20)
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--json', 'one JSON document on stdout')
    .action((runName: string, opts: SamplesOptions) => {
      if (opts.selected !== undefined && !['yes', 'no'].includes(opts.selected)) throw new UserError(`--selected must be yes or no, got '${opts.selected}'`);
      const db = openDatabase(opts.db, { readonly: true });
      try {
        const run = getRun(db, runName);
        const view = runView(db, run);
        const gen = opts.gen ?? Math.max(0, lastGeneration(db, run.id));
        checkGeneration(db, run, gen);
        const { total, docs } = selectDocuments(db, view, {
          gen, origin: opts.origin, coarse: opts.coarse, category: opts.category, grep: opts.grep, limit: opts.limit,
          selected: opts.selected === undefined ? undefined : opts.selected === 'yes', loglikMin: opts.loglikMin, loglikMax: opts.loglikMax, sort: opts.sort as DocumentSort,
        });
        if (opts.json) {
          printJson({ run: run.name, gen, total, shown: docs.length, documents: docs });
          return;
        }
        console.log(`run ${run.name}, generation ${gen}: ${total} matching document${total === 1 ? '' : 's'}, showing ${docs.length}`);
        const w = Math.max(4, ...docs.map((d) => String(d.id).length));
        for (const d of docs) {
          const cats = Object.entries(d.categories).map(([c, k]) => `${c}=${k}`).join(' ');
          const ll = d.gen0_loglik === null ? '' : `  ll0 ${d.gen0_loglik.toFixed(3)}`;
          console.log(`${String(d.id).padStart(w)}  ${d.origin.padEnd(9)}${d.inTrain ? ' ' : '*'}${d.selected ? ' ' : '-'} ${JSON.stringify(d.text)}  [${cats}]${ll}`);
        }
        if (docs.some((d) => !d.inTrain)) console.log(`* not in the training set (held-out seed document, or a sample replaced by a fresh one or discarded by selection)`);
        if (docs.some((d) => !d.selected)) console.log(`- discarded by selection (--select, --dedupe)`);
        if (docs.some((d) => d.gen0_loglik !== null)) console.log(`ll0 = log-likelihood per token under the generation-0 model (nats)`);
      } finally {
        db.close();
      }
    });
}
