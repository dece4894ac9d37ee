// False-positive rate of the regime verdict, measured in the exact lane: R simulated T = 1 runs
// of an exact learner (theory/calibration.ts simulateNullRun, with a control set as a real run
// has) per policy and λ, each read by the verdict. Counts how often a regime is named, how
// often the temperature test alone fires, and how often the trajectory leaves the T = 1 limits.
// The seed is the names corpus's first-letter histogram shape at ℓ = 1,000. accumulate-subsample
// runs with S = --train-size (default 2N) and is also read with accumulate's limits, which is
// what the verdict did before it had its own null (the column "as accumulate").
//
//   npx tsx bench/verdict-null.ts [--runs 2000] [--generations 12] [--samples 200] [--control 300] [--train-size 400]
//
// Prints one line per setting on stderr and one JSON document on stdout; figures go to the
// README's verdict section.

import { simulateNullRun, type LoopPolicy } from '../src/theory/calibration.js';
import { regimeVerdict, defaultVerdictOptions, termsInput } from '../src/metrics/verdict.js';
import { rngFor } from '../src/rng.js';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const runs = opt('runs', 2000);
const G = opt('generations', 12);
const N = opt('samples', 200);
const C = opt('control', 300);
const S = opt('train-size', 2 * N);
const SEED = [300, 200, 150, 120, 100, 70, 40, 20];

const out: Record<string, unknown>[] = [];
for (const policy of ['accumulate', 'replace', 'augment', 'accumulate-subsample'] as LoopPolicy[]) {
  const subsample = policy === 'accumulate-subsample';
  for (const freshFraction of [0, 0.5]) {
    // The first three keep the streams they were measured with before accumulate-subsample had rows.
    const rng = subsample ? rngFor(1, 'bench-null', policy, freshFraction, S) : rngFor(1, 'bench-null', policy, freshFraction);
    const trainSize = subsample ? S : null;
    let named = 0,
      temperature = 0,
      drift = 0,
      asAccumulate = 0;
    const t0 = performance.now();
    for (let r = 0; r < runs; r++) {
      const run = simulateNullRun(rng, { seed: SEED, perStep: N, freshFraction, policy, trainSize }, G, C);
      const terms = termsInput(run.terms, G);
      const v = regimeVerdict({ histograms: run.histograms, ...terms, policy, freshFraction, trainSize });
      if (v.verdict === 'mode-collapse' || v.verdict === 'heat-death') named++;
      if (Math.abs(v.numbers.tau_z) > v.numbers.z) temperature++;
      if (v.verdict === 'drift') drift++;
      if (subsample && regimeVerdict({ histograms: run.histograms, ...terms, policy: 'accumulate', freshFraction }).verdict === 'drift') asAccumulate++;
    }
    const row = {
      policy, freshFraction, trainSize, runs, named: named / runs, temperatureTest: temperature / runs, drift: drift / runs,
      ...(subsample ? { driftAsAccumulate: asAccumulate / runs } : {}), seconds: (performance.now() - t0) / 1000,
    };
    out.push(row);
    const label = subsample ? `${policy} S ${S}` : policy;
    console.error(`${label.padEnd(10)} λ ${freshFraction}: regime named ${named}/${runs}, temperature test fired ${temperature}, drift ${drift}${subsample ? ` (as accumulate: ${asAccumulate})` : ''} (${row.seconds.toFixed(1)} s)`);
  }
}
console.log(JSON.stringify({ tail: defaultVerdictOptions.tail, generations: G, samples: N, control: C, trainSize: S, seed: SEED, results: out }));
