// Usage: npx tsx /tmp/digest.ts <repo root> : digests of Brown samples at batch 64 and 1, 1 and 2 threads
import { createHash } from 'node:crypto';
const root = process.argv[2];
const { initBackend } = await import(root + '/src/backend.ts');
const { loadModel } = await import(root + '/src/model/index.ts');
const { rngFor } = await import(root + '/src/rng.ts');
await initBackend();
const dir = '/tmp/brown2/m-main/brown-transformer-T1-f0-accumulate-s1/gen-0000';
const m = await loadModel(dir);
const out: string[] = [];
for (const [n, batchSize, rule] of [[400, 64, { temperature: 1 }], [40, 1, { temperature: 1 }], [300, 64, { temperature: 0.7, topK: 10 }], [200, 7, { temperature: 1.5 }]] as const) {
  const t0 = performance.now();
  const docs = await m.sample(n, rule, rngFor(5, 'digest', n), { batchSize, maxLength: 300 });
  const ms = performance.now() - t0;
  const tokens = docs.reduce((a: number, d: number[]) => a + d.length, 0);
  out.push(`n ${n} b ${batchSize} ${JSON.stringify(rule)}: ${tokens} tokens ${createHash('sha256').update(JSON.stringify(docs)).digest('hex').slice(0, 16)} ${ms.toFixed(0)} ms`);
}
console.log(out.join('\n'));
m.dispose();
