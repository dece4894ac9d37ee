// `heatdeath report <run|sweep>`: reads a run (or every run of a sweep) from the database and
// writes one self-contained HTML file (inline SVG charts, no network). Default file:
// `<run or sweep>.html` in the current folder. The name is looked up as a run first, then as a
// sweep id. Prints the file's path on stdout.

import type { Command } from 'commander';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { openDatabase } from '../store/open.js';
import { findRun, findSweep } from '../store/runs.js';
import { UserError, diskFullError } from '../errors.js';
import { checkFolder } from '../store/open.js';
import { buildRunReport, buildSweepReport } from '../report/data.js';
import { renderRunReport, renderSweepReport } from '../report/html.js';
import { DEFAULT_DB, log } from './common.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('a self-contained HTML report of a run or a sweep')
    .argument('<target>', 'run name or id, or sweep id')
    .option('--out <file>', 'HTML file to write (default: <run or sweep>.html in the current folder)')
    .option('--coarse <name>', 'sweep reports: coarse-graining the runs are compared on (default: first)')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .action((target: string, opts: { out?: string; coarse?: string; db: string }) => {
      if (opts.out !== undefined) checkOut(opts.out);
      const db = openDatabase(opts.db, { readonly: true });
      let html: string;
      let name: string;
      try {
        const now = new Date().toISOString();
        const run = findRun(db, target);
        if (run) {
          if (opts.coarse !== undefined) throw new UserError('--coarse is for sweep reports; a run report shows every coarse-graining');
          html = renderRunReport(buildRunReport(db, run, now));
          name = run.name;
        } else if (findSweep(db, target)) {
          html = renderSweepReport(buildSweepReport(db, target, { coarse: opts.coarse, createdAt: now }));
          name = target;
        } else throw new UserError(`no run or sweep '${target}' in ${opts.db}`);
      } finally {
        db.close();
      }
      const out = opts.out ?? `${name}.html`;
      checkOut(out);
      // Write beside the target and rename: a reader never sees half a file, and a failed write
      // leaves no temporary file behind.
      mkdirSync(dirname(out), { recursive: true });
      const tmp = `${out}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, html);
        renameSync(tmp, out);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw diskFullError(e, out) ?? e;
      }
      log(`wrote ${out} (${(html.match(/<svg[^>]*role="img"/g) ?? []).length} charts)`);
      process.stdout.write(out + '\n');
    });
}

/** The report's file: not a folder, and no part of its path a file. */
function checkOut(out: string): void {
  if (out.trim() === '') throw new UserError('--out is empty; give an HTML file');
  if (existsSync(out) && statSync(out).isDirectory()) throw new UserError(`--out ${out} is a folder; give a file name (e.g. ${out.replace(/\/+$/, '')}/report.html)`);
  checkFolder('--out', dirname(out));
}
