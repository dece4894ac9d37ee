// The training worker thread of data-parallel.ts: loads tfjs and the same backend as the main
// thread, holds a replica of the GPT weights, and on each request copies the current weights in
// from the shared array, computes the loss and gradients of the batch part it was sent, and
// writes the gradients into the other shared array. Started through data-parallel-worker.mjs.

import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../../backend.js';
import { partGradients, readParams, writeParams, type ReplicaInit } from './data-parallel.js';
import { namedParams, paramsFromTensors } from './gpt.js';
import type { PackedRows } from './packing.js';

const init = workerData as ReplicaInit;
const port = parentPort!;
const weights = new Float32Array(init.weights);
const grads = new Float32Array(init.grads);

await initBackend(init.backend);
const initial = readParams(init.layout, weights);
const params = paramsFromTensors(init.shape, Object.fromEntries(init.layout.names.map((name, i) => [name, initial[i]])));
const vars = namedParams(params).map(([, v]) => v);

port.on('message', (m: { part: PackedRows; totalWeight: number }) => {
  try {
    // The main thread wrote the weights of this step before sending the request.
    const current = readParams(init.layout, weights);
    vars.forEach((v, i) => v.assign(current[i]));
    tf.dispose(current);
    const r = partGradients(params, init.shape, m.part, m.totalWeight);
    writeParams(r.grads, init.layout, grads);
    tf.dispose(r.grads);
    port.postMessage({ loss: r.loss });
  } catch (e) {
    port.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
port.postMessage({ ready: true });
