// `heatdeath export <run>`: write a run's documents to stdout, one per line, as JSONL (with
// generation, origin, categories, gen0_loglik), CSV (the same columns, one per coarse-graining)
// or plain text. Streams: works for any size.

import type { Command } from 'commander';
import { openDatabase } from '../store/open.js';
import { getRun } from '../store/runs.js';
import { iterateDocuments } from '../loop/documents.js';
import { checkGeneration, runView } from '../loop/view.js';
import { UserError } from '../errors.js';
import { DEFAULT_DB, parseCount } from './common.js';

export function register(program: Command): void {
  program
    .command('export')
    .description('write documents to stdout')
    .argument('<run>', 'run name or id')
    .option('--gen <g>', 'only this generation (default: all)', parseCount)
    .option('--origin <origin>', 'seed, fresh or synthetic')
    .option('--format <format>', 'jsonl, csv or txt', 'jsonl')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .action(async (runName: string, opts: { gen?: number; origin?: string; format: string; db: string }) => {
      if (!['jsonl', 'csv', 'txt'].includes(opts.format)) throw new UserError(`unknown format '${opts.format}' (choose from jsonl, csv, txt)`);
      const db = openDatabase(opts.db, { readonly: true });
      try {
        const view = runView(db, getRun(db, runName));
        if (opts.gen !== undefined) checkGeneration(db, view.run, opts.gen);
        const coarse = view.coarse.filter((c) => c.name !== 'token').map((c) => c.name);
        const columns = ['id', 'gen', 'origin', 'in_train', 'selected', 'gen0_loglik', 'length', 'label', 'true_label', ...coarse.map((c) => `category_${c}`), 'text'];
        let buf = opts.format === 'csv' ? columns.join(',') + '\n' : '';
        for (const d of iterateDocuments(db, view, { gen: opts.gen, origin: opts.origin })) {
          if (opts.format === 'csv') {
            const values = [d.id, d.gen, d.origin, d.inTrain ? 1 : 0, d.selected ? 1 : 0, d.gen0_loglik ?? '', d.length, d.label ?? '', d.trueLabel ?? '', ...coarse.map((c) => d.categories[c] ?? ''), d.text];
            buf += values.map(csvField).join(',') + '\n';
          } else buf += (opts.format === 'txt' ? d.text : JSON.stringify(d)) + '\n';
          if (buf.length > 1 << 16) {
            if (!process.stdout.write(buf)) await new Promise((r) => process.stdout.once('drain', r));
            buf = '';
          }
        }
        process.stdout.write(buf);
      } finally {
        db.close();
      }
    });
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
