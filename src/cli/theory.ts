// `heatdeath theory`: the mean-field trajectory θ' = (1−λ)τ_T(θ) + λp₀ − θ at the generations
// of a run with these settings, and its stable fixed point. Deterministic: no seed matters.

import type { Command } from 'commander';
import { entropy, lyapunovV, normalize } from '../theory/core.js';
import { checkPredictOptions, fixedPoint, generationTimes, meanFieldRecursion, predictTrajectory, type PredictOptions } from '../theory/ode.js';
import { checkPolicy, defaultSimConfig, recordedSteps } from '../theory/sim.js';
import { UserError } from '../errors.js';
import { parseNumber, printJson } from './common.js';
import { parseCategorySelection } from '../theory/select.js';
import { fmt, fmtVector, parseVector, pickRows } from './sim.js';
import { addSelectionOptions, addTruncationOptions, truncationsFromOptions } from './run-options.js';
import { describeRule, samplingRuleOf } from '../model/sampling.js';

interface TheoryOptions {
  initial: number[];
  initialSize?: number;
  temperature: number;
  fresh: number;
  policy: string;
  perStep: number;
  steps: number;
  seed?: number;
  select?: string;
  candidates: number;
  json?: boolean;
}

const MAX_POINTS = 400; // generations printed with --json beyond this are subsampled (always with the last)

export function register(program: Command): void {
  const d = defaultSimConfig;
  const cmd = program
    .command('theory')
    .description('mean-field ODE trajectory and fixed point for given θ₀, T, λ')
    .option('--initial <theta>', 'θ₀ as a probability vector, or counts (normalised)', parseVector, [0.4, 0.3, 0.2, 0.1])
    .option('--initial-size <ℓ>', 'documents in the initial data (accumulate clock); default: the sum of --initial when it gives counts, else --per-step', parseNumber)
    .option('--temperature <T>', 'sampling temperature, T > 0', parseNumber, d.temperature);
  // The truncations apply to the category distribution, after the temperature.
  addSelectionOptions(addTruncationOptions(cmd))
    .option('--fresh <λ>', 'fraction of each generation drawn from θ₀, 0 ≤ λ ≤ 1', parseNumber, d.freshFraction)
    .option('--policy <policy>', 'accumulate (ODE at t = ln((ℓ+gN)/ℓ)) or replace (the map θ ← F(θ), t = g)', d.policy)
    .option('--per-step <N>', 'documents added per generation', parseNumber, d.perStep)
    .option('--steps <K>', 'generations', parseNumber, d.steps)
    .option('--seed <n>', 'accepted for symmetry with sim; the mean-field is deterministic', parseNumber)
    .option('--json', 'print one JSON document')
    .action((o: TheoryOptions) => {
      const sum = o.initial.reduce((s, x) => s + x, 0);
      const looksLikeProbabilities = Math.abs(sum - 1) < 1e-9;
      const options: PredictOptions = {
        theta0: o.initial,
        temperature: o.temperature,
        ...(truncationsFromOptions(o as unknown as Record<string, unknown>) as object),
        fresh: o.fresh,
        policy: checkPolicy(o.policy),
        initialSize: o.initialSize ?? (looksLikeProbabilities ? o.perStep : sum),
        perStep: o.perStep,
        generations: o.steps,
        select: parseCategorySelection(o.select, o.candidates, o.initial.length),
      };
      if (o.initialSize === undefined && !(options.initialSize > 0)) throw new UserError('--initial must have at least one positive entry');
      const field = checkPredictOptions(options);
      const theta0 = normalize(o.initial);
      const thetas = predictTrajectory(options);
      const times = generationTimes(options.policy, options.initialSize, options.perStep, options.generations);
      const recursion = meanFieldRecursion(theta0, field, options.policy, options.initialSize, options.perStep, options.generations);
      const fp = fixedPoint(theta0, field);
      const keep = recordedSteps(options.generations, MAX_POINTS);
      const trajectory = keep.map((g) => ({ t: times[g], generation: g, theta: thetas[g], V: lyapunovV(thetas[g]), entropy: entropy(thetas[g]) }));
      const rule = samplingRuleOf(options);
      const config = {
        initial: o.initial,
        theta0,
        initialSize: options.initialSize,
        ...rule,
        freshFraction: options.fresh,
        policy: options.policy,
        perStep: options.perStep,
        steps: options.generations,
        method: options.policy === 'accumulate' ? 'ode' : 'recursion',
        select: options.select ?? null,
      };
      if (o.json) {
        printJson({
          config,
          trajectory,
          recursion: keep.map((g) => ({ generation: g, theta: recursion[g] })),
          fixedPoint: fp.theta,
          fixedPointResidual: fp.residual,
          fixedPointMethod: fp.method,
        });
        return;
      }
      const m = theta0.length;
      const lines = [
        `theory: θ₀ ${fmtVector(theta0)}, ℓ = ${config.initialSize}, ${describeRule(rule)}, λ = ${config.freshFraction}, ${config.policy}, N = ${config.perStep}, ${config.steps} generations${config.select ? `, best of ${config.select.candidates} by category ${config.select.category}` : ''}`,
        config.policy === 'accumulate' ? "ODE θ' = (1−λ)τ(θ) + λθ₀ − θ at t_g = ln((ℓ+gN)/ℓ)" : config.select ? 'mean-field map θ_{g+1} = (1−λ)S(τ(θ_g)) + λθ₀, S = best of M by the reward (t = g)' : 'mean-field map θ_{g+1} = (1−λ)τ(θ_g) + λθ₀ (t = g)',
        '',
        `${'gen'.padStart(6)}  ${'t'.padStart(8)}  ${'θ'.padEnd(8 * m)}  ${'V'.padStart(7)}  ${'entropy'.padStart(7)}`,
        ...pickRows(trajectory, (p) => p.generation).map(
          (p) => `${String(p.generation).padStart(6)}  ${fmt(p.t).padStart(8)}  ${fmtVector(p.theta).padEnd(8 * m)}  ${fmt(p.V).padStart(7)}  ${fmt(p.entropy).padStart(7)}`,
        ),
        '',
        `final θ      ${fmtVector(thetas[thetas.length - 1])}`,
        `fixed point  ${fmtVector(fp.theta)}  (residual ${fp.residual.toExponential(1)}, ${fp.method})`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
