// `heatdeath compare <run…> | --sweep <id>`: one row per run (T, truncation, λ, policy, seed, final top
// share, normalised entropy, V, TV to the seed, held-out perplexity, verdict, trajectory
// sparkline); with several seeds per setting, a mean ± sd row after each setting's runs.
// Without runs or --sweep: every run in the database. Reads only.

import type { Command } from 'commander';
import { openDatabase } from '../store/open.js';
import { getRun, getSweep, listRuns } from '../store/runs.js';
import { UserError } from '../errors.js';
import { compareRuns, COMPARE_KEYS, COMPARE_METRICS, type Comparison, type Stat } from '../report/compare.js';
import { DEFAULT_DB, num, printJson, table, termsText } from './common.js';

const short = (x: number) => String(Number(x.toPrecision(6)));
const pm = (s: Stat) => (s.mean === null ? '–' : `${num(s.mean)}${s.sd === null ? '' : ` ± ${num(s.sd)}`}`);

function render(c: Comparison): string {
  const showGroups = c.groups.some((g) => g.n > 1);
  // The truncation column only when some run truncates (temperature alone is the common case).
  const cut = c.runs.some((r) => r.truncation !== '');
  const trunc = (x: { truncation: string }) => (cut ? [x.truncation || 'none'] : []);
  const header = ['run', 'T', ...(cut ? ['truncation'] : []), 'λ', 'policy', 'seed', 'gen', ...COMPARE_METRICS.map((d) => d.short), 'verdict', 'temperature z · δ̂', `top share by gen`];
  const coarseFirst = (o: Record<string, unknown>) => [c.coarse, ...Object.keys(o).filter((k) => k !== c.coarse)].filter((k) => k in o);
  const rows: (string | number | null)[][] = [];
  for (const g of c.groups) {
    const members = c.runs.filter((r) => g.runs.includes(r.name));
    for (const r of members) {
      const others = Object.entries(r.verdicts).filter(([k]) => k !== c.coarse).map(([k, v]) => `${k}=${v}`);
      const terms = coarseFirst(r.terms).map((k) => {
        const t = r.terms[k];
        return t ? termsText(t) : '–';
      });
      rows.push([
        r.name, short(r.temperature), ...trunc(r), short(r.fresh), r.policy, String(r.seed), `${Math.max(0, r.generation)}/${r.generations}`,
        ...COMPARE_KEYS.map((k) => (r.final[k] === null ? '–' : String(num(r.final[k])))),
        [r.verdict, ...others].join(' '), terms.join(' '), r.sparkline,
      ]);
    }
    if (showGroups && g.n > 1) {
      const count = (vs: Record<string, number | undefined>) => Object.entries(vs).map(([k, n]) => (n === g.n ? k : `${n}/${g.n} ${k}`)).join(', ');
      const v = coarseFirst(g.verdictsByCoarse).map((k) => `${k}: ${count(g.verdictsByCoarse[k])}`).join('; ');
      rows.push([`  mean ± sd (${g.n} seeds)`, short(g.temperature), ...trunc(g), short(g.fresh), g.policy, '', '', ...COMPARE_KEYS.map((k) => pm(g.stats[k])), v, '', '']);
    }
  }
  const more = c.runs.some((r) => Object.keys(r.verdicts).length > 1);
  return (
    `final values and trajectory on coarse-graining '${c.coarse}'${more ? `; verdict on '${c.coarse}', then on the others` : ''}; ` +
    `temperature z · δ̂: the temperature term summed over the run in noise units and the model error (TV) over the final window, in the same order\n` +
    table(header, rows)
  );
}

export function register(program: Command): void {
  program
    .command('compare')
    .description('one row per run: settings, final metrics, verdict, trajectory sparkline; mean ± sd over seeds')
    .argument('[runs...]', 'run names or ids (default: every run, or the runs of --sweep)')
    .option('--sweep <id>', 'compare the runs of this sweep')
    .option('--coarse <name>', 'coarse-graining the final metrics and trajectory are read on (default: first)')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--json', 'one JSON document on stdout: {coarse, runs, groups}')
    .action((names: string[], opts: { sweep?: string; coarse?: string; db: string; json?: boolean }) => {
      if (names.length && opts.sweep !== undefined) throw new UserError('give run names or --sweep, not both');
      const db = openDatabase(opts.db, { readonly: true });
      try {
        if (opts.sweep !== undefined) getSweep(db, opts.sweep);
        const runs = names.length ? names.map((n) => getRun(db, n)) : listRuns(db, opts.sweep);
        if (!runs.length) throw new UserError(opts.sweep !== undefined ? `sweep '${opts.sweep}' has no runs` : `no runs in ${opts.db}`);
        const c = compareRuns(db, runs, opts.coarse);
        if (opts.json) printJson(c);
        else console.log(render(c));
      } finally {
        db.close();
      }
    });
}
