import { initBackend } from '../src/backend.js';
import { models } from '../src/model/index.js';
import { rngFor } from '../src/rng.js';
import { documentSeeds, sampleDocuments } from '../src/model/gpt/sampler.js';
await initBackend();
const m: any = models.transformer.create({ vocabSize: 30, bos: 0, eos: 1, seed: 1, options: { size: 'small', threads: 2 } });
await m.sample(64, { temperature: 1 }, rngFor(1, 'w'), { batchSize: 64, maxLength: 63 });
for (let round = 0; round < 3; round++) {
  const seeds = documentSeeds(512, rngFor(1, 's', 512));
  const job = { rule: { temperature: 1 }, maxLength: 63, batchSize: 64 };
  let t0 = performance.now();
  const a = await sampleDocuments(m.params, m.shape, m.vocab, job, seeds.slice(0, 256));
  const t1 = performance.now();
  const b = await sampleDocuments(m.params, m.shape, m.vocab, job, seeds.slice(256));
  const t2 = performance.now();
  const c = await m.sample(512, { temperature: 1 }, rngFor(1, 's', 512), { batchSize: 64, maxLength: 63 });
  const t3 = performance.now();
  const tok = (d: number[][]) => d.reduce((s, x) => s + x.length, 0);
  console.log(`first half ${(t1 - t0).toFixed(0)} ms ${tok(a)} tok; second half ${(t2 - t1).toFixed(0)} ms ${tok(b)} tok; both on 2 threads ${(t3 - t2).toFixed(0)} ms ${tok(c)}`);
}
m.dispose();
