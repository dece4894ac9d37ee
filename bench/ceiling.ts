// The most a WebAssembly GPT can train and sample on this machine, measured: the peak rate of
// 128-bit wasm SIMD multiply-adds (relaxed-SIMD, which V8 compiles to FMA instructions) on one
// and on two threads, our product kernel's rate at the shapes of a `small` training step and of
// sampling at batch 64, and the floating point operations a trained token and a sampled token
// cost at least (their matrix products; for training also attention's causal minimum) — so
// tokens/s at the peak, with no other work at all, is an upper bound that no wasm
// implementation of `small` can pass here. Compare it with the PyTorch peer's tokens/s from the
// same minutes (bench/peer-pytorch.py).
//
//   npx tsx bench/ceiling.ts [--rounds 5] [--json]
//
// The peak loop keeps 12 independent chains of f32x4 multiply-adds in flight (more than the
// 2 units × 4–5 cycles of latency a core overlaps), with nothing else in the loop but its
// counter; a multiply-add is 8 floating point operations (4 lanes × 2).

import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { transformerPresets } from '../src/model/gpt/transformer.js';
import { Code, encodeModule, I32, V128 } from '../src/kernels/wasm-encoder.js';
import { enableRelaxedSimd, matMul, productKernel } from '../src/kernels/simd.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const rounds = arg('rounds', 5);
const json = args.includes('--json');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const CHAINS = 12;
/** peak(n): n iterations of CHAINS independent multiply-adds; returns nothing (the stores keep them live). */
function peakModule(): Uint8Array<ArrayBuffer> {
  const [n, a, b] = [0, 1, 2];
  const acc = (i: number) => 3 + i;
  const code = new Code();
  code.i32(0).v128Load().set(a).i32(16).v128Load().set(b);
  for (let i = 0; i < CHAINS; i++) code.i32(32 + 16 * i).v128Load().set(acc(i));
  code.loop((l) => {
    for (let i = 0; i < CHAINS; i++) l.get(a).get(b).get(acc(i)).f32x4RelaxedMadd().set(acc(i));
    l.get(n).i32(1).sub().tee(n).brIf(0);
  });
  for (let i = 0; i < CHAINS; i++) code.i32(32 + 16 * i).get(acc(i)).v128Store();
  return encodeModule([{ name: 'peak', params: [I32], locals: [V128, V128, ...new Array(CHAINS).fill(V128)], body: code }]);
}

enableRelaxedSimd();
const bytes = peakModule();
if (!WebAssembly.validate(bytes)) throw new Error('this engine has no relaxed-SIMD multiply-add');
const module = new WebAssembly.Module(bytes);
const ITERS = 50_000_000;
const FLOPS = ITERS * CHAINS * 8;

/** GFLOP/s of one peak(ITERS) call on this thread. */
function peakHere(): number {
  const memory = new WebAssembly.Memory({ initial: 1 });
  new Float32Array(memory.buffer).fill(1e-7);
  const run = (new WebAssembly.Instance(module, { env: { memory } }).exports as { peak(n: number): void }).peak;
  run(1_000_000); // warm-up: V8 tiers the function up
  const t0 = performance.now();
  run(ITERS);
  return FLOPS / ((performance.now() - t0) / 1000) / 1e9;
}

/** The same in two worker threads at once: their GFLOP/s summed. */
async function peakTwoThreads(): Promise<number> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const memory = new WebAssembly.Memory({ initial: 1 });
    new Float32Array(memory.buffer).fill(1e-7);
    const run = new WebAssembly.Instance(workerData.module, { env: { memory } }).exports.peak;
    run(1000000);
    parentPort.once('message', () => {
      const t0 = performance.now();
      run(workerData.iters);
      parentPort.postMessage(performance.now() - t0);
    });
    parentPort.postMessage('ready');`;
  const workers = [0, 1].map(() => new Worker(source, { eval: true, workerData: { module, iters: ITERS } }));
  const next = (w: Worker) => new Promise<unknown>((resolve) => w.once('message', resolve));
  await Promise.all(workers.map(next));
  const done = workers.map(next);
  for (const w of workers) w.postMessage('go');
  const ms = (await Promise.all(done)) as number[];
  await Promise.all(workers.map((w) => w.terminate()));
  return ms.reduce((s, t) => s + FLOPS / (t / 1000) / 1e9, 0);
}

// A `small` training step: 32 rows × 64 positions, the bench's vocabulary of 30.
const { dModel: d, nLayers: L, context: T } = transformerPresets.small;
const V = 30;
const rows = 32 * T;
/** The step's products per layer and for the head, forward: [M, K] · [K, N]. */
const forward: [number, number, number][] = [
  ...Array.from({ length: L }, (): [number, number, number][] => [
    [rows, d, 3 * d],
    [rows, d, d],
    [rows, d, 4 * d],
    [rows, 4 * d, d],
  ]).flat(),
  [rows, d, V],
];
// Forward, then two products of each shape backward (input and weight gradients); attention's
// scores and weighted sums are 2 · (i + 1) · d multiply-adds at position i of a window, causal,
// also three times over: the least a full window costs.
const productFlops = 3 * forward.reduce((s, [m, k, n]) => s + 2 * m * k * n, 0);
const attentionFlops = 3 * L * (rows / T) * 2 * 2 * d * ((T * (T + 1)) / 2);
const flopsPerToken = (productFlops + attentionFlops) / rows;
// A sampled token: one row through every product once (attention over the cache left out).
const sampleFlopsPerToken = forward.reduce((s, [, k, n]) => s + 2 * k * n, 0);

const backend = await initBackend();
/**
 * GFLOP/s of our product kernel over one forward pass's products with `m` rows (operands packed
 * each time: 2,048 rows as in training, 64 as in sampling at batch 64).
 */
function productsRate(m: number): number {
  const pairs = forward.map(([, k, n]) => [tf.randomUniform([m, k], -1, 1, 'float32', 1), tf.randomUniform([k, n], -1, 1, 'float32', 2)] as tf.Tensor2D[]);
  const pass = () => pairs.forEach(([a, b]) => matMul(a, b).dispose());
  for (let i = 0; i < 3; i++) pass();
  const t0 = performance.now();
  const reps = Math.round(20_480 / m);
  for (let i = 0; i < reps; i++) pass();
  const s = (performance.now() - t0) / 1000;
  pairs.flat().forEach((t) => t.dispose());
  return (reps * forward.reduce((a, [, k, n]) => a + 2 * m * k * n, 0)) / s / 1e9;
}

const one: number[] = [];
const two: number[] = [];
const products: number[] = [];
const sampleProducts: number[] = [];
for (let r = 0; r < rounds; r++) {
  one.push(peakHere());
  two.push(await peakTwoThreads());
  products.push(productsRate(rows));
  sampleProducts.push(productsRate(64));
}
const result = {
  backend,
  productKernel: productKernel(),
  peakGflops: { oneThread: median(one), twoThreads: median(two), rounds: { oneThread: one, twoThreads: two } },
  productsGflops: { oneThread: median(products), rounds: products, sampleRows64: median(sampleProducts) },
  flopsPerTrainedToken: flopsPerToken,
  ceilingTokensPerSecond: { oneThread: (median(one) * 1e9) / flopsPerToken, twoThreads: (median(two) * 1e9) / flopsPerToken },
  productFlopsPerSampledToken: sampleFlopsPerToken,
  sampleCeilingTokensPerSecond: { oneThread: (median(one) * 1e9) / sampleFlopsPerToken, twoThreads: (median(two) * 1e9) / sampleFlopsPerToken },
};
if (json) console.log(JSON.stringify(result));
else {
  const f = (x: number) => x.toFixed(1);
  console.log(`${backend}, product kernel ${result.productKernel}; ${rounds} rounds, medians`);
  console.log(`wasm SIMD multiply-add peak: ${f(result.peakGflops.oneThread)} GFLOP/s on one thread, ${f(result.peakGflops.twoThreads)} on two`);
  console.log(`our products at small's training shapes: ${f(result.productsGflops.oneThread)} GFLOP/s on one thread; at 64 rows (sampling at batch 64): ${f(result.productsGflops.sampleRows64)}`);
  console.log(`a trained token of small: ${(flopsPerToken / 1e6).toFixed(2)} MFLOP (products ${(productFlops / rows / 1e6).toFixed(2)}, attention ${(attentionFlops / rows / 1e6).toFixed(2)})`);
  console.log(`training ceiling at the peak with no other work: ${Math.round(result.ceilingTokensPerSecond.oneThread)} tokens/s on one thread, ${Math.round(result.ceilingTokensPerSecond.twoThreads)} on two`);
  console.log(`a sampled token's products: ${(sampleFlopsPerToken / 1e6).toFixed(3)} MFLOP; sampling ceiling at the peak: ${Math.round(result.sampleCeilingTokensPerSecond.oneThread)} tokens/s on one thread, ${Math.round(result.sampleCeilingTokensPerSecond.twoThreads)} on two`);
}
