// The training worker thread of data-parallel.ts: loads tfjs and the same backend as the main
// thread, holds a replica of the GPT weights, and on each request first loads the shared weights
// into its variables, then does its part of the job: the loss and gradients of a batch part
// (written into the second shared gradient array), its half of an Adam step (on the shared
// arrays, without touching its variables), the target log-probabilities of evaluation batches,
// or documents sampled from their seeds. Started through data-parallel-worker.mjs.

import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../../backend.js';
import { FlatAdam } from './adam.js';
import { loadParams, partGradients, readParams, writeParams, type Answers, type Job, type ReplicaInit } from './data-parallel.js';
import { namedParams, paramsFromTensors, targetLogProbs } from './gpt.js';
import { sampleClaimed } from './sampler.js';
import { samplingKeys } from '../sampling.js';

const init = workerData as ReplicaInit;
const port = parentPort!;
const flat = new FlatAdam(init.flat);

await initBackend(init.backend);
const initial = readParams(init.layout, flat.weights);
const params = paramsFromTensors(init.shape, Object.fromEntries(init.layout.names.map((name, i) => [name, initial[i]])));
const vars = namedParams(params).map(([, v]) => v);

async function answer(m: Job): Promise<Answers[Job['kind']]> {
  // The other thread updates the first half of the weights meanwhile: read none of them.
  if (m.kind === 'adam') {
    flat.step(m.t, m.learningRate, 2, m.from, m.to);
    return { done: true };
  }
  // Every other request is sent once the shared weights are current.
  loadParams(vars, init.layout, flat.weights);
  if (m.kind === 'gradients') {
    const r = partGradients(params, init.shape, m.part, m.totalWeight);
    writeParams(r.grads, init.layout, flat.grads[1]);
    tf.dispose(r.grads);
    return { loss: r.loss };
  }
  if (m.kind === 'logProbs') return { logProbs: m.batches.map((b) => targetLogProbs(params, init.shape, b, m.bos)) };
  // The main thread sends only rules whose truncations this thread knows (knowsRule); one
  // registered in the main thread only would be silently skipped here, so refuse it.
  const unknown = Object.keys(m.job.rule).filter((k) => !samplingKeys().includes(k));
  if (unknown.length) throw new Error(`sampling rule key(s) ${unknown.join(', ')} are not registered in the worker thread`);
  const docs = await sampleClaimed(params, init.shape, m.vocab, { ...m.job, onProgress: (done) => port.postMessage({ progress: done }) }, m.seeds, m.first, m.next);
  return { docs: [...docs] };
}

port.on('message', async (m: Job) => {
  try {
    const reply = await answer(m);
    port.postMessage(reply, 'logProbs' in reply ? reply.logProbs.map((a) => a.buffer as ArrayBuffer) : []);
  } catch (e) {
    port.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
// The sampling rule keys this thread knows: a truncation registered at run time in the main
// thread only is not among them, and the main thread then samples such a rule alone.
port.postMessage({ ready: true, ruleKeys: samplingKeys() });
