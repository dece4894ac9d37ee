// Data-parallel work of the GPT over two threads: training, held-out scoring and sampling.
// Training: every optimizer step splits its batch into two parts of (nearly) equal rows; the
// main thread computes the loss and gradients of the first, a worker thread holding a replica of
// the weights those of the second, each writing its gradient into a shared flat array; then each
// thread applies Adam to half of the elements (adam.ts: the gradient is first + second, always
// in that order) and loads the updated shared weights into its own variables. With one thread
// the main thread computes both parts and the whole Adam step itself, the same arithmetic: so
// losses and weights are bit-for-bit the same whatever the thread count (the split costs one
// thread ~5 % against a whole batch). On other backends than wasm the batch is not split and
// the thread count does not apply. Scoring hands the worker half of the batches; in sampling
// both threads take the next document's seed from one shared count (sampler.ts sampleClaimed).
//
// Why threads: tfjs turns off the wasm backend's own threads under Node, and one thread of matrix
// products is a hard ceiling (BENCHMARKS.md). Weights and gradients cross between the threads in
// flat arrays of all parameters (in namedParams order) in one shared WebAssembly memory (adam.ts);
// batch parts travel as transferred typed arrays. Used by transformer.ts.

import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../../backend.js';
import type { FlatAdam, FlatBuffers } from './adam.js';
import { batchLoss, namedParams, type GptParams, type GptShape } from './gpt.js';
import { sliceRows, type PackedRows, type Vocab } from './packing.js';
import type { SampleJob } from './sampler.js';
import type { SamplingRule } from '../sampling.js';

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
  flat: FlatBuffers;
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

/** Copies the parameters (or gradients) into a flat array at the layout's offsets. */
export function writeParams(vars: readonly tf.Tensor[], layout: ParamLayout, into: Float32Array): void {
  vars.forEach((v, i) => into.set(v.dataSync() as Float32Array, layout.offsets[i]));
}

/** Sets the variables to a flat array's values (the shared weights after an Adam step). */
export function loadParams(vars: readonly tf.Variable[], layout: ParamLayout, from: Float32Array): void {
  const current = readParams(layout, from);
  vars.forEach((v, i) => v.assign(current[i]));
  tf.dispose(current);
}

/** Tensors of a flat array's parameters, copied out (the shared array is overwritten next step). */
export function readParams(layout: ParamLayout, from: Float32Array): tf.Tensor[] {
  return layout.shapes.map((shape, i) => {
    const o = layout.offsets[i];
    return tf.tensor(from.slice(o, o + shape.reduce((a, b) => a * b, 1)), shape, 'float32');
  });
}

/** A request to the worker; each names what it needs besides the weights. */
export type Job =
  | { kind: 'gradients'; part: PackedRows; totalWeight: number }
  | { kind: 'adam'; t: number; learningRate: number; from: number; to: number }
  | { kind: 'logProbs'; batches: PackedRows[]; bos: number }
  | { kind: 'sample'; seeds: number[]; first: number; next: Int32Array; job: Omit<SampleJob, 'onProgress'>; vocab: Vocab };

/** The worker's answer to each kind of job (data-parallel-worker.ts). */
export interface Answers {
  gradients: { loss: number };
  adam: { done: true };
  logProbs: { logProbs: Float64Array[] };
  sample: { docs: [number, number[]][] };
}

type Reply = { ready: true; ruleKeys: string[] } | { progress: number } | { error: string } | Answers[keyof Answers];

/** Arrays of a packed batch, transferred rather than copied to the worker. */
function transferables(p: PackedRows): ArrayBuffer[] {
  return [p.inputs, p.targets, p.positions, p.segStart, p.weights, p.owner].map((a) => a.buffer as ArrayBuffer);
}

/**
 * The worker thread holding a replica of the weights; one request in flight at a time. The
 * weights cross in the FlatAdam's shared array: during training it is the weights' master copy
 * (both threads update it, then load it into their variables); a request to score or sample
 * first copies the main thread's variables there (~1.6 MB for `small`).
 */
export class GradientReplica {
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private onProgress: ((done: number) => void) | null = null;
  /** The sampling rule keys the worker knows (its registered truncations). */
  private ruleKeys: readonly string[] = [];

  private constructor(
    private readonly worker: Worker,
    private readonly layout: ParamLayout,
    private readonly flat: FlatAdam,
  ) {
    worker.on('message', (r: Reply) => {
      if ('progress' in r) this.onProgress?.(r.progress);
      else this.settle((p) => p.resolve(r));
    });
    worker.on('error', (e: Error) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`the training worker exited (code ${code})`)));
  }

  /** Starts the worker (it loads tfjs and the backend itself: ~1 s) and waits until it is ready. */
  static async start(params: GptParams, shape: GptShape, backend: BackendName, flat: FlatAdam): Promise<GradientReplica> {
    const layout = paramLayout(params);
    const vars = namedParams(params).map(([, v]) => v);
    writeParams(vars, layout, flat.weights);
    const init: ReplicaInit = { backend, shape: { ...shape }, layout, flat: flat.buffers };
    // A plain-JS bootstrap registers the TypeScript loader in the worker, which does not inherit it.
    const worker = new Worker(new URL('./data-parallel-worker.mjs', import.meta.url), { workerData: init });
    const replica = new GradientReplica(worker, layout, flat);
    try {
      replica.ruleKeys = ((await replica.request()) as { ruleKeys: string[] }).ruleKeys;
    } catch (e) {
      await replica.terminate();
      throw e;
    }
    return replica;
  }

  /**
   * Loss of `part` at the shared weights (current during training), computed on the worker,
   * which writes the gradients into the FlatAdam's second gradient array.
   */
  async gradients(part: PackedRows, totalWeight: number): Promise<number> {
    return (await this.run(null, { kind: 'gradients', part, totalWeight }, transferables(part))).loss;
  }

  /** The worker's share of an Adam step: FlatAdam.step on elements from … to − 1 of both parts' sum. */
  async adam(t: number, learningRate: number, from: number, to: number): Promise<void> {
    await this.run(null, { kind: 'adam', t, learningRate, from, to }, []);
  }

  /** Each batch's per-position log-probability of its target (0 where not counted). */
  async logProbs(vars: readonly tf.Tensor[], batches: PackedRows[], bos: number): Promise<Float64Array[]> {
    return (await this.run(vars, { kind: 'logProbs', batches, bos }, batches.flatMap(transferables))).logProbs;
  }

  /** Whether the worker can apply this sampling rule (it knows every truncation the rule names). */
  knowsRule(rule: SamplingRule): boolean {
    return Object.keys(rule).every((k) => this.ruleKeys.includes(k));
  }

  /**
   * The documents the worker samples (sampleClaimed: its first fill from index `first`, then
   * what it claims from the shared count `next`), as [index, document] pairs; `progress` hears
   * how many it has done.
   */
  async sample(vars: readonly tf.Tensor[], job: Extract<Job, { kind: 'sample' }>, progress?: (done: number) => void): Promise<[number, number[]][]> {
    this.onProgress = progress ?? null;
    try {
      return (await this.run(vars, job, [])).docs;
    } finally {
      this.onProgress = null;
    }
  }

  /** Stops the worker; safe to call twice. */
  async terminate(): Promise<void> {
    this.failure ??= new Error('the training worker was terminated');
    await this.worker.terminate();
  }

  /** Sends a job, after copying `vars` into the shared weights when given. */
  private async run<K extends Job['kind']>(vars: readonly tf.Tensor[] | null, job: Extract<Job, { kind: K }>, transfer: ArrayBuffer[]): Promise<Answers[K]> {
    if (vars) writeParams(vars, this.layout, this.flat.weights);
    return (await this.request(() => this.worker.postMessage(job, transfer))) as Answers[K];
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
