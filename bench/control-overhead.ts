// What the control set costs a generation of the default GPT on `names`: one process, the same
// model, alternating a generation's own work (its training steps, then N samples at T = 1) with
// the control draws (C samples at T = 1, own stream), R rounds. Ratios measured side by side are
// what survives a shared machine; the generation's metrics phase (validation loss, text metrics)
// is left out of its cost, so the overhead printed is an upper bound.
//
//   npx tsx bench/control-overhead.ts [--checkpoint DIR] [--control 300] [--samples 1000] [--steps 30] [--rounds 5]
//
// Without --checkpoint a `small` model is first fitted for 400 steps (generation 0's budget).
// Prints a line per round on stderr and one JSON document on stdout; figures go to BENCHMARKS.md.

import { cpus, loadavg } from 'node:os';
import { initBackend } from '../src/backend.js';
import { transformerFactory } from '../src/model/gpt/transformer.js';
import { rngFor } from '../src/rng.js';
import { defaultSamplingRule } from '../src/model/sampling.js';
import { data, vocabSize } from './names-data.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const C = Number(opt('control') ?? 300);
const N = Number(opt('samples') ?? 1000);
const steps = Number(opt('steps') ?? 30);
const rounds = Number(opt('rounds') ?? 5);
const maxLength = 23; // 1.5 × the longest name, as a run sets it

const backend = await initBackend();
const dir = opt('checkpoint');
const model = dir ? await transformerFactory.load(dir) : transformerFactory.create({ vocabSize, bos: 0, eos: 1, seed: 1, options: { size: 'small' } });
if (!dir) await model.trainSteps(data, 400, rngFor(1, 'fit'));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = async (f: () => Promise<unknown>) => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};
const rows: { train: number; samples: number; control: number; overhead: number; load: number }[] = [];
for (let r = 0; r < rounds; r++) {
  const train = await time(() => model.trainSteps(data, steps, rngFor(r, 'train')));
  const samples = await time(() => model.sample(N, defaultSamplingRule, rngFor(r, 'sample'), { maxLength }));
  const control = await time(() => model.sample(C, defaultSamplingRule, rngFor(r, 'control'), { maxLength }));
  const row = { train, samples, control, overhead: control / (train + samples), load: loadavg()[0] };
  rows.push(row);
  console.error(`round ${r + 1}: train ${train.toFixed(2)} s, ${N} samples ${samples.toFixed(2)} s, control ${C} ${control.toFixed(2)} s → +${(100 * row.overhead).toFixed(1)} % (load ${row.load.toFixed(1)})`);
}
const out = {
  backend, cpu: cpus()[0]?.model, control: C, samples: N, steps, rounds,
  median: { train: median(rows.map((x) => x.train)), samples: median(rows.map((x) => x.samples)), control: median(rows.map((x) => x.control)), overhead: median(rows.map((x) => x.overhead)) },
  rows,
};
console.error(`median overhead of a ${C}-document control: +${(100 * out.median.overhead).toFixed(1)} % of a generation's training and sampling`);
console.log(JSON.stringify(out));
model.dispose();
