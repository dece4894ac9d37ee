// `heatdeath sim`: exact category-level simulation of the closed loop (no neural model).
// Parses options, calls src/theory/sim.ts, prints one JSON document or a short table.

import { describeRule, samplingRuleOf } from '../model/sampling.js';
import { addSelectionOptions, addTruncationOptions, truncationsFromOptions } from './run-options.js';
import { type Command, InvalidArgumentError } from 'commander';
import { defaultSimConfig, simulate, type SimPoint } from '../theory/sim.js';
import { fixedPoint } from '../theory/ode.js';
import { normalize } from '../theory/core.js';
import { parseNumber, printJson } from './common.js';
import { parseCategorySelection } from '../theory/select.js';

/** Commander parser for a comma list of numbers (`--initial 3,1`); ranges are checked by the library. */
export function parseVector(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 1 && parts[0] === '') throw new InvalidArgumentError('give a comma list of numbers, e.g. 3,1');
  return parts.map((s) => {
    const x = Number(s);
    if (s === '' || !Number.isFinite(x)) throw new InvalidArgumentError(`'${s}' is not a number (give a comma list, e.g. 3,1).`);
    return x;
  });
}

export const fmt = (x: number, digits = 4) => x.toFixed(digits);
export const fmtVector = (xs: readonly number[], digits = 4) => `(${xs.map((x) => fmt(x, digits)).join(', ')})`;

/** A handful of rows spread in log time (accumulate moves in log time), always with the last. */
export function pickRows<P>(points: readonly P[], stepOf: (p: P) => number, rows = 8): P[] {
  if (points.length <= rows) return [...points];
  const last = stepOf(points[points.length - 1]);
  const targets = [0, ...Array.from({ length: rows - 1 }, (_, j) => Math.round(last ** ((j + 1) / (rows - 1))))];
  const chosen = new Set<P>();
  for (const target of targets) {
    let best = points[0];
    for (const p of points) if (Math.abs(stepOf(p) - target) < Math.abs(stepOf(best) - target)) best = p;
    chosen.add(best);
  }
  return [...chosen];
}

interface SimOptions {
  initial: number[];
  temperature: number;
  fresh: number;
  policy: string;
  perStep: number;
  steps: number;
  replicates: number;
  seed: number;
  select?: string;
  candidates: number;
  json?: boolean;
}

export function register(program: Command): void {
  const d = defaultSimConfig;
  const cmd = program
    .command('sim')
    .description('exact category-level simulation of the closed loop (no neural model)')
    .option('--initial <counts>', 'initial category counts c1,c2,… (ℓ = their sum)', parseVector, [...d.initial])
    .option('--temperature <T>', 'sampling temperature, T > 0', parseNumber, d.temperature);
  // The truncations apply to the category distribution, after the temperature.
  addSelectionOptions(addTruncationOptions(cmd))
    .option('--fresh <λ>', 'fraction of each step drawn from the initial proportions, 0 ≤ λ ≤ 1', parseNumber, d.freshFraction)
    .option('--policy <policy>', 'accumulate (add to the counts) or replace (the new counts only)', d.policy)
    .option('--per-step <N>', 'documents added per step', parseNumber, d.perStep)
    .option('--steps <K>', 'steps (generations)', parseNumber, d.steps)
    .option('--replicates <R>', 'independent replicates', parseNumber, d.replicates)
    .option('--seed <n>', 'seed; same seed, same result', parseNumber, d.seed)
    .option('--json', 'print one JSON document')
    .action((o: SimOptions) => {
      const result = simulate({
        initial: o.initial,
        temperature: o.temperature,
        ...(truncationsFromOptions(o as unknown as Record<string, unknown>) as object),
        freshFraction: o.fresh,
        policy: o.policy as never, // checked by the library, which names the allowed values
        perStep: o.perStep,
        steps: o.steps,
        replicates: o.replicates,
        seed: o.seed,
        select: parseCategorySelection(o.select, o.candidates, o.initial.length),
      });
      if (o.json) {
        printJson(result);
        return;
      }
      const c = result.config;
      const rule = samplingRuleOf(c);
      const fp = fixedPoint(c.initial, { ...rule, freshFraction: c.freshFraction, anchor: normalize(c.initial), select: c.select });
      const lines = [
        `sim: initial ${c.initial.join(',')} (ℓ = ${c.initial.reduce((s, x) => s + x, 0)}), ${describeRule(rule)}, λ = ${c.freshFraction}, ${c.policy}, N = ${c.perStep}, ${c.steps} steps × ${c.replicates} replicates, seed ${c.seed}${c.select ? `, best of ${c.select.candidates} by category ${c.select.category}` : ''}`,
        '',
        `${'step'.padStart(8)}  ${'mean θ'.padEnd(8 * c.initial.length)}  ${'V'.padStart(7)}  ${'entropy'.padStart(7)}`,
        ...pickRows(result.trajectory, (p: SimPoint) => p.step).map(
          (p) => `${String(p.step).padStart(8)}  ${fmtVector(p.mean).padEnd(8 * c.initial.length)}  ${fmt(p.V).padStart(7)}  ${fmt(p.entropy).padStart(7)}`,
        ),
        '',
      ];
      const last = result.trajectory[result.trajectory.length - 1];
      const se = last.sd.map((s) => s / Math.sqrt(c.replicates));
      lines.push(`final mean θ  ${fmtVector(last.mean)}  ± ${fmtVector(se)} (standard errors)`);
      lines.push(`fixed point   ${fmtVector(fp.theta)}  (mean-field, see 'heatdeath theory')`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
