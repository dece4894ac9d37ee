// Data-parallel training of the GPT over two threads. Every optimizer step splits its batch into
// two parts of (nearly) equal rows; the main thread computes the loss and gradients of the first,
// a worker thread holding a replica of the weights those of the second, and the main thread adds
// them (first + second, always in that order) and applies Adam. With one thread the main thread
// computes both parts itself, the same way: so the losses and weights are bit-for-bit the same
// whatever the thread count (the split costs one thread ~5 % against a whole batch). On other
// backends than wasm the batch is not split and the thread count does not apply.
//
// Why threads: tfjs turns off the wasm backend's own threads under Node, and one thread of matrix
// products is a hard ceiling: with the SIMD kernels two threads train `small` at 9,791–13,558
// tokens/s against 6,537–9,859 for one (~1.4×, BENCHMARKS.md). Weights and gradients cross between
// the threads through two SharedArrayBuffers of all parameters (in namedParams order); the
// batch part travels as transferred typed arrays. Used by transformer.ts.

import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../../backend.js';
import { batchLoss, namedParams, type GptParams, type GptShape } from './gpt.js';
import { sliceRows, type PackedRows } from './packing.js';

/** Where each parameter lives in the flat shared arrays. */
export interface ParamLayout {
  names: string[];
  shapes: number[][];
  offsets: number[];
  total: number;
}

/** What the worker is started with (see data-parallel-worker.ts). */
export interface ReplicaInit {
  backend: BackendName;
  shape: GptShape;
  layout: ParamLayout;
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer;
}

export interface PartResult {
  loss: number;
  /** One gradient per parameter, in namedParams order; the caller disposes them. */
  grads: tf.Tensor[];
}

export function paramLayout(params: GptParams): ParamLayout {
  const names: string[] = [];
  const shapes: number[][] = [];
  const offsets: number[] = [];
  let total = 0;
  for (const [name, v] of namedParams(params)) {
    names.push(name);
    shapes.push(v.shape);
    offsets.push(total);
    total += v.size;
  }
  return { names, shapes, offsets, total };
}

/** The parts of a batch: its first ⌈rows/2⌉ rows and the rest (one part for a single row). */
export function splitBatch(batch: PackedRows): PackedRows[] {
  if (batch.rows < 2) return [batch];
  const half = Math.ceil(batch.rows / 2);
  return [sliceRows(batch, 0, half), sliceRows(batch, half, batch.rows)];
}

/** Loss and gradients of one part of a batch, both divided by the whole batch's counted targets. */
export function partGradients(params: GptParams, shape: GptShape, part: PackedRows, totalWeight: number): PartResult {
  const vars = namedParams(params).map(([, v]) => v);
  const { value, grads } = tf.variableGrads(() => batchLoss(params, shape, part, totalWeight), vars);
  const loss = (value.dataSync() as Float32Array)[0];
  value.dispose();
  return { loss, grads: vars.map((v) => grads[v.name]) };
}

/** Copies the parameters into a flat array at the layout's offsets. */
export function writeParams(vars: readonly tf.Tensor[], layout: ParamLayout, into: Float32Array): void {
  vars.forEach((v, i) => into.set(v.dataSync() as Float32Array, layout.offsets[i]));
}

/** Tensors of a flat array's parameters, copied out (the shared array is overwritten next step). */
export function readParams(layout: ParamLayout, from: Float32Array): tf.Tensor[] {
  return layout.shapes.map((shape, i) => {
    const o = layout.offsets[i];
    return tf.tensor(from.slice(o, o + shape.reduce((a, b) => a * b, 1)), shape, 'float32');
  });
}

type Reply = { ready: true } | { loss: number } | { error: string };

/** The worker thread holding a replica of the weights; one request in flight at a time. */
export class GradientReplica {
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly layout: ParamLayout,
    private readonly weights: Float32Array,
    private readonly grads: Float32Array,
  ) {
    worker.on('message', (r: Reply) => this.settle((p) => p.resolve(r)));
    worker.on('error', (e: Error) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`the training worker exited (code ${code})`)));
  }

  /** Starts the worker (it loads tfjs and the backend itself: ~1 s) and waits until it is ready. */
  static async start(params: GptParams, shape: GptShape, backend: BackendName): Promise<GradientReplica> {
    const layout = paramLayout(params);
    const weights = new SharedArrayBuffer(layout.total * 4);
    const grads = new SharedArrayBuffer(layout.total * 4);
    const vars = namedParams(params).map(([, v]) => v);
    writeParams(vars, layout, new Float32Array(weights));
    const init: ReplicaInit = { backend, shape: { ...shape }, layout, weights, grads };
    // A plain-JS bootstrap registers the TypeScript loader in the worker, which does not inherit it.
    const worker = new Worker(new URL('./data-parallel-worker.mjs', import.meta.url), { workerData: init });
    const replica = new GradientReplica(worker, layout, new Float32Array(weights), new Float32Array(grads));
    try {
      await replica.request();
    } catch (e) {
      await replica.terminate();
      throw e;
    }
    return replica;
  }

  /** Loss and gradients of `part` at the current weights `vars`, computed on the worker. */
  async gradients(vars: readonly tf.Tensor[], part: PackedRows, totalWeight: number): Promise<PartResult> {
    writeParams(vars, this.layout, this.weights);
    const arrays = [part.inputs, part.targets, part.positions, part.segStart, part.weights, part.owner];
    const reply = await this.request(() => this.worker.postMessage({ part, totalWeight }, arrays.map((a) => a.buffer as ArrayBuffer)));
    return { loss: (reply as { loss: number }).loss, grads: readParams(this.layout, this.grads) };
  }

  /** Stops the worker; safe to call twice. */
  async terminate(): Promise<void> {
    this.failure ??= new Error('the training worker was terminated');
    await this.worker.terminate();
  }

  /** Sends (optionally) and waits for the next reply. The worker keeps the process alive only meanwhile. */
  private request(send?: () => void): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const reply = new Promise<Reply>((resolve, reject) => {
      this.pending = { resolve, reject };
    }).then((r) => {
      if ('error' in r) throw new Error(`training worker: ${r.error}`);
      return r;
    });
    this.worker.ref();
    try {
      send?.();
    } catch (e) {
      this.pending = null;
      this.worker.unref();
      reply.catch(() => {}); // never settled
      return Promise.reject(e as Error);
    }
    return reply.finally(() => this.worker.unref());
  }

  private settle(f: (p: { resolve: (r: Reply) => void; reject: (e: Error) => void }) => void): void {
    const p = this.pending;
    this.pending = null;
    if (p) f(p);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.settle((p) => p.reject(e));
  }
}
