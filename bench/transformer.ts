// Transformer learning curve on the `names` data (female + male first names, char tokens, 500
// held out): held-out loss every `every` steps of one trainSteps call per checkpoint, as the
// closed loop's generations would run them, plus wall time. Used to pick each preset's default
// learning rate and steps. Run: npx tsx bench/transformer.ts [size] [learningRate] [steps] [every]

import { initBackend } from '../src/backend.js';
import { transformerFactory } from '../src/model/gpt/transformer.js';
import { rngFor } from '../src/rng.js';
import { data, val, vocabSize } from './names-data.js';

const size = process.argv[2] ?? 'small';
const learningRate = process.argv[3] ? Number(process.argv[3]) : undefined;
const steps = Number(process.argv[4] ?? 600);
const every = Number(process.argv[5] ?? 100);

const backend = await initBackend();
const model = transformerFactory.create({
  vocabSize: vocabSize,
  bos: 0,
  eos: 1,
  seed: 1,
  options: learningRate === undefined ? { size } : { size, learningRate },
});
const heldOut = async () => {
  const lp = await model.logProbs(val);
  return -lp.reduce((a, x) => a + x.logProb, 0) / lp.reduce((a, x) => a + x.tokens, 0);
};

console.log(`${backend}  transformer ${JSON.stringify(model.config)}  ${model.paramCount} parameters  log V = ${Math.log(vocabSize).toFixed(3)}`);
console.log(`step 0: held-out ${(await heldOut()).toFixed(3)} nats/token`);
const t0 = performance.now();
for (let done = 0; done < steps; done += every) {
  const r = await model.trainSteps(data, every, rngFor(1, 'train', done));
  const s = (performance.now() - t0) / 1000;
  console.log(`step ${done + every}: train ${r.loss.toFixed(3)}  held-out ${(await heldOut()).toFixed(3)}  (${s.toFixed(0)} s)`);
}
model.dispose();
