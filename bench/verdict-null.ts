// False-positive rate of the regime verdict, measured in the exact lane: R simulated T = 1 runs
// of an exact learner (theory/calibration.ts simulateNullRun, with a control set as a real run
// has) per policy and λ, each read by the verdict. Counts how often a regime is named, how
// often the temperature test alone fires, and how often the trajectory leaves the T = 1 limits.
// The seed is the names corpus's first-letter histogram shape at ℓ = 1,000. accumulate-subsample
// runs with S = --train-size (default 2N); the curated row keeps N of M·N candidates drawn
// (--candidates, default 4) by a selector that does not push.
//
//   npx tsx bench/verdict-null.ts [--runs 2000] [--generations 12] [--samples 200] [--control 300] [--train-size 400] [--candidates 4]
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
const M = opt('candidates', 4);
const SEED = [300, 200, 150, 120, 100, 70, 40, 20];

const out: Record<string, unknown>[] = [];
// Each setting, and for the last two the reading the verdict made before they had their own null
// ("misread": accumulate's limits for accumulate-subsample, every candidate taken as kept for a
// curated run).
interface Setting { label: string; policy: LoopPolicy; trainRatio?: number; candidates?: number; misread?: { policy: LoopPolicy; candidates?: number } }
const settings: Setting[] = [
  ...(['accumulate', 'replace', 'augment'] as LoopPolicy[]).map((policy) => ({ label: policy, policy })),
  { label: `accumulate-subsample S ${S}`, policy: 'accumulate-subsample', trainRatio: S / N, misread: { policy: 'accumulate' } },
  { label: `replace, best of ${M}`, policy: 'replace', candidates: M, misread: { policy: 'replace', candidates: 1 } },
];
for (const st of settings) {
  for (const freshFraction of [0, 0.5]) {
    // The plain policies keep the streams they were measured with before the other rows existed.
    const rng = st.trainRatio ? rngFor(1, 'bench-null', st.policy, freshFraction, S) : st.candidates ? rngFor(1, 'bench-null', st.policy, freshFraction, 'M', st.candidates) : rngFor(1, 'bench-null', st.policy, freshFraction);
    const trainRatio = st.trainRatio ?? null;
    const candidates = st.candidates ?? 1;
    let named = 0,
      temperature = 0,
      drift = 0,
      misread = 0;
    const t0 = performance.now();
    for (let r = 0; r < runs; r++) {
      // A curated run's histogram holds M candidates per kept document.
      const run = simulateNullRun(rng, { seed: SEED, perStep: N * candidates, freshFraction, policy: st.policy, trainRatio, candidates }, G, C);
      const terms = termsInput(run.terms, G);
      const v = regimeVerdict({ histograms: run.histograms, ...terms, policy: st.policy, freshFraction, trainRatio, candidates });
      if (v.verdict === 'mode-collapse' || v.verdict === 'heat-death') named++;
      if (Math.abs(v.numbers.tau_z) > v.numbers.z) temperature++;
      if (v.verdict === 'drift') drift++;
      if (st.misread && regimeVerdict({ histograms: run.histograms, ...terms, ...st.misread, freshFraction }).verdict === 'drift') misread++;
    }
    const row = {
      setting: st.label, policy: st.policy, freshFraction, trainSize: st.trainRatio ? S : null, candidates, runs, named: named / runs, temperatureTest: temperature / runs, drift: drift / runs,
      ...(st.misread ? { driftMisread: misread / runs } : {}), seconds: (performance.now() - t0) / 1000,
    };
    out.push(row);
    console.error(`${st.label.padEnd(10)} λ ${freshFraction}: regime named ${named}/${runs}, temperature test fired ${temperature}, drift ${drift}${st.misread ? ` (misread: ${misread})` : ''} (${row.seconds.toFixed(1)} s)`);
  }
}
console.log(JSON.stringify({ tail: defaultVerdictOptions.tail, generations: G, samples: N, control: C, trainSize: S, candidates: M, seed: SEED, results: out }));
