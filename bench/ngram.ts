// Softmax n-gram throughput on the `names` data: time of one training pass over the corpus
// (≈60k token positions) and sampling speed in tokens/s, plus the held-out loss the default
// number of steps reaches. Run: npx tsx bench/ngram.ts [order]. Figures go to BENCHMARKS.md.

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { ngramFactory } from '../src/model/ngram/ngram.js';
import { rngFor } from '../src/rng.js';
import { data, train, val, vocabSize } from './names-data.js';

const backend = await initBackend();
const order = Number(process.argv[2] ?? 3);

const positions = train.reduce((a, d) => a + d.length + 1, 0);

const spec = { vocabSize, bos: 0, eos: 1, seed: 1, options: { order } };
const model = ngramFactory.create(spec);
const { batchSize, steps } = model.config as { batchSize: number; steps: number };
const passSteps = Math.ceil(positions / batchSize);

const heldOut = async () => {
  const lp = await model.logProbs(val);
  return -lp.reduce((a, x) => a + x.logProb, 0) / lp.reduce((a, x) => a + x.tokens, 0);
};

// One pass over the corpus on a warmed-up backend, then a fresh model trained for the default
// number of steps in one call, as a generation of the closed loop would.
await ngramFactory.create(spec).trainSteps(data, 5, rngFor(1, 'warm'));
let t0 = performance.now();
await ngramFactory.create(spec).trainSteps(data, passSteps, rngFor(1, 'pass'));
const passMs = performance.now() - t0;
t0 = performance.now();
const r = await model.trainSteps(data, steps, rngFor(1, 'train'));
const trainMs = performance.now() - t0;

const nDocs = 200_000;
await model.sample(1000, { temperature: 1 }, rngFor(1, 'warm-sample'));
t0 = performance.now();
const samples = await model.sample(nDocs, { temperature: 1 }, rngFor(1, 'sample'));
const sampleMs = performance.now() - t0;
const sampled = samples.reduce((a, d) => a + d.length + 1, 0); // EOS is a drawn token too

console.log(`backend ${backend}, order ${order}, V ${spec.vocabSize}, params ${model.paramCount}`);
console.log(`train: one pass = ${passSteps} steps × ${batchSize} positions (${positions} positions) in ${passMs.toFixed(0)} ms`);
console.log(`train: ${(passSteps * batchSize / (passMs / 1000)).toFixed(0)} positions/s`);
console.log(`${steps} steps (default) in ${trainMs.toFixed(0)} ms: last-20 train loss ${r.loss.toFixed(3)}, held-out ${(await heldOut()).toFixed(3)} nats/token (log V = ${Math.log(spec.vocabSize).toFixed(3)})`);
console.log(`sample: ${sampled} tokens in ${sampleMs.toFixed(0)} ms = ${(sampled / (sampleMs / 1000) / 1e6).toFixed(2)} M tokens/s`);
console.log(`tensors alive: ${tf.memory().numTensors}`);
model.dispose();
