// The training worker thread of data-parallel.ts: loads tfjs and the same backend as the main
// thread, holds a replica of the GPT weights, and on each request copies the current weights in
// from the shared array, then does its part of the job: the loss and gradients of a batch part
// (written into the other shared array), the target log-probabilities of evaluation batches, or
// documents sampled from their seeds. Started through data-parallel-worker.mjs.

import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend.js';
import { partGradients, readParams, writeParams, type Answers, type Job, type ReplicaInit } from './data-parallel.js';
import { namedParams, paramsFromTensors, targetLogProbs } from './gpt.js';
import { sampleDocuments } from './sampler.js';

const init = workerData as ReplicaInit;
const port = parentPort!;
const weights = new Float32Array(init.weights);
const grads = new Float32Array(init.grads);

await initBackend(init.backend);
const initial = readParams(init.layout, weights);
const params = paramsFromTensors(init.shape, Object.fromEntries(init.layout.names.map((name, i) => [name, initial[i]])));
const vars = namedParams(params).map(([, v]) => v);

async function answer(m: Job): Promise<Answers[Job['kind']]> {
  if (m.kind === 'gradients') {
    const r = partGradients(params, init.shape, m.part, m.totalWeight);
    writeParams(r.grads, init.layout, grads);
    tf.dispose(r.grads);
    return { loss: r.loss };
  }
  if (m.kind === 'logProbs') return { logProbs: m.batches.map((b) => targetLogProbs(params, init.shape, b)) };
  const docs = await sampleDocuments(params, init.shape, m.vocab, { ...m.job, onProgress: (done) => port.postMessage({ progress: done }) }, m.seeds);
  return { docs };
}

port.on('message', async (m: Job) => {
  try {
    // The main thread wrote the current weights before sending the request.
    const current = readParams(init.layout, weights);
    vars.forEach((v, i) => v.assign(current[i]));
    tf.dispose(current);
    const reply = await answer(m);
    port.postMessage(reply, 'logProbs' in reply ? reply.logProbs.map((a) => a.buffer as ArrayBuffer) : []);
  } catch (e) {
    port.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
port.postMessage({ ready: true });
