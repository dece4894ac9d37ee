// `heatdeath merge OUT.sqlite IN.sqlite…`: brings run databases together (the per-job files of
// `sweep --emit-jobs`, runs from several machines). Inputs are opened read-only and checked, and
// every clash is looked for, before OUT is created or touched; then one transaction per input.
// See src/store/merge.ts for what happens to ids.

import type { Command } from 'commander';
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import { checkDatabasePath, openDatabase } from '../store/open.js';
import { checkSchema } from '../store/schema.js';
import { checkMerge, mergeSource, openMergeSource, type MergedRun, type MergeSource } from '../store/merge.js';
import { log, printJson } from './common.js';

const canonical = (f: string) => (existsSync(f) ? realpathSync(f) : resolve(f));

export function register(program: Command): void {
  program
    .command('merge')
    .description('merge run databases into one (OUT is created if missing); runs keep their sweep')
    .argument('<out>', 'the database to merge into')
    .argument('<inputs...>', 'databases to read runs from (opened read-only)')
    .option('--json', 'one JSON document on stdout: every run with its old and new id')
    .action((outFile: string, inputs: string[], opts: { json?: boolean }) => {
      checkDatabasePath(outFile, false, 'OUT');
      const seen = new Map<string, string>([[canonical(outFile), outFile]]);
      for (const f of inputs) {
        if (canonical(f) === canonical(outFile)) throw new UserError(`${f} is the output itself; nothing merged`, 'E_DUPLICATE_INPUT');
        if (seen.has(canonical(f))) throw new UserError(`${f} is given twice; nothing merged`, 'E_DUPLICATE_INPUT');
        seen.set(canonical(f), f);
      }
      const sources: MergeSource[] = [];
      let out: Database.Database | null = null;
      try {
        for (const f of inputs) sources.push(openMergeSource(f));
        // The output as it is now, read-only: a foreign or clashing OUT is refused untouched.
        if (existsSync(outFile)) {
          const probe = new Database(outFile, { readonly: true, fileMustExist: true });
          try {
            checkMerge(checkSchema(probe, outFile).empty ? null : probe, sources);
          } finally {
            probe.close();
          }
        } else checkMerge(null, sources);
        out = openDatabase(outFile, { create: true });
        const merged: MergedRun[] = [];
        for (const s of sources) {
          const runs = mergeSource(out, s);
          merged.push(...runs);
          const moved = runs.filter((r) => r.newId !== r.id || r.documentShift !== 0);
          log(`${s.file}: ${runs.length} run${runs.length === 1 ? '' : 's'} merged` + (moved.length ? ` (${moved.map((r) => `${r.name}: id ${r.id} → ${r.newId}${r.documentShift ? `, documents +${r.documentShift}` : ''}`).join('; ')})` : ', ids kept'));
        }
        if (opts.json) printJson({ out: outFile, runs: merged });
        log(`${outFile}: ${merged.length} runs merged from ${inputs.length} file${inputs.length === 1 ? '' : 's'}`);
      } finally {
        for (const s of sources) s.db.close();
        out?.close();
      }
    });
}
