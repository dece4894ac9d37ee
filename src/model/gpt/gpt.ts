// The GPT decoder's weights and its batched forward pass: token + position embedding, pre-LayerNorm
// blocks (causal multi-head attention, GELU MLP 4×), final LayerNorm, a linear head to the
// vocabulary. Linear layers have no bias (as nanoGPT's bias=False). Weights are initialised from
// the seeded RNG in plain JS, one stream per tensor, so a seed gives the same weights on every
// backend. Used by transformer.ts (training, logProbs); sampling has its own KV-cache decoder (sampler.ts).

import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../errors.js';
import { rngFor } from '../../rng.js';
import { attention } from './attention.js';
import { crossEntropy, embed, gelu, layerNorm, linear } from './layers.js';
import type { PackedRows } from './packing.js';

export interface GptShape {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  context: number;
}

export interface Block {
  ln1g: tf.Variable<tf.Rank.R1>;
  ln1b: tf.Variable<tf.Rank.R1>;
  wqkv: tf.Variable<tf.Rank.R2>;
  wo: tf.Variable<tf.Rank.R2>;
  ln2g: tf.Variable<tf.Rank.R1>;
  ln2b: tf.Variable<tf.Rank.R1>;
  w1: tf.Variable<tf.Rank.R2>;
  w2: tf.Variable<tf.Rank.R2>;
}

export interface GptParams {
  wte: tf.Variable<tf.Rank.R2>;
  wpe: tf.Variable<tf.Rank.R2>;
  blocks: Block[];
  lnfg: tf.Variable<tf.Rank.R1>;
  lnfb: tf.Variable<tf.Rank.R1>;
  head: tf.Variable<tf.Rank.R2>;
}

/** Every weight with its checkpoint name, in a fixed order. */
export function namedParams(p: GptParams): [string, tf.Variable][] {
  const out: [string, tf.Variable][] = [['wte', p.wte], ['wpe', p.wpe]];
  p.blocks.forEach((b, i) => {
    for (const [k, v] of Object.entries(b)) out.push([`h${i}.${k}`, v as tf.Variable]);
  });
  out.push(['lnf.g', p.lnfg], ['lnf.b', p.lnfb], ['head', p.head]);
  return out;
}

/** The shape and initial standard deviation (0 = ones for gains, zeros for biases) of each weight. */
function paramSpecs(s: GptShape): [string, number[], 'normal' | 'ones' | 'zeros', number][] {
  const d = s.dModel;
  // GPT-2: N(0, 0.02), with the projections into the residual stream scaled by 1/√(2·layers).
  const std = 0.02;
  const resid = std / Math.sqrt(2 * s.nLayers);
  const specs: [string, number[], 'normal' | 'ones' | 'zeros', number][] = [
    ['wte', [s.vocabSize, d], 'normal', std],
    ['wpe', [s.context, d], 'normal', std],
  ];
  for (let i = 0; i < s.nLayers; i++) {
    specs.push(
      [`h${i}.ln1g`, [d], 'ones', 0],
      [`h${i}.ln1b`, [d], 'zeros', 0],
      [`h${i}.wqkv`, [d, 3 * d], 'normal', std],
      [`h${i}.wo`, [d, d], 'normal', resid],
      [`h${i}.ln2g`, [d], 'ones', 0],
      [`h${i}.ln2b`, [d], 'zeros', 0],
      [`h${i}.w1`, [d, 4 * d], 'normal', std],
      [`h${i}.w2`, [4 * d, d], 'normal', resid],
    );
  }
  specs.push(['lnf.g', [d], 'ones', 0], ['lnf.b', [d], 'zeros', 0], ['head', [d, s.vocabSize], 'normal', std]);
  return specs;
}

/** Builds the parameter structure from a name → tensor lookup (fresh init or checkpoint). */
function assemble(s: GptShape, get: (name: string, shape: number[]) => tf.Variable): GptParams {
  const d = s.dModel;
  const blocks: Block[] = [];
  for (let i = 0; i < s.nLayers; i++) {
    blocks.push({
      ln1g: get(`h${i}.ln1g`, [d]) as tf.Variable<tf.Rank.R1>,
      ln1b: get(`h${i}.ln1b`, [d]) as tf.Variable<tf.Rank.R1>,
      wqkv: get(`h${i}.wqkv`, [d, 3 * d]) as tf.Variable<tf.Rank.R2>,
      wo: get(`h${i}.wo`, [d, d]) as tf.Variable<tf.Rank.R2>,
      ln2g: get(`h${i}.ln2g`, [d]) as tf.Variable<tf.Rank.R1>,
      ln2b: get(`h${i}.ln2b`, [d]) as tf.Variable<tf.Rank.R1>,
      w1: get(`h${i}.w1`, [d, 4 * d]) as tf.Variable<tf.Rank.R2>,
      w2: get(`h${i}.w2`, [4 * d, d]) as tf.Variable<tf.Rank.R2>,
    });
  }
  return {
    wte: get('wte', [s.vocabSize, d]) as tf.Variable<tf.Rank.R2>,
    wpe: get('wpe', [s.context, d]) as tf.Variable<tf.Rank.R2>,
    blocks,
    lnfg: get('lnf.g', [d]) as tf.Variable<tf.Rank.R1>,
    lnfb: get('lnf.b', [d]) as tf.Variable<tf.Rank.R1>,
    head: get('head', [d, s.vocabSize]) as tf.Variable<tf.Rank.R2>,
  };
}

/** Fresh weights from the seed: identical on every backend because they are drawn in JS. */
export function initParams(s: GptShape, seed: number): GptParams {
  const values = new Map<string, Float32Array>();
  for (const [name, shape, kind, std] of paramSpecs(s)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    if (kind === 'ones') v.fill(1);
    if (kind === 'normal') {
      const rng = rngFor(seed, 'transformer-init', name);
      for (let i = 0; i < size; i++) v[i] = std * rng.normal();
    }
    values.set(name, v);
  }
  return assemble(s, (name, shape) => {
    const t = tf.tensor(values.get(name)!, shape, 'float32');
    const v = tf.variable(t, true);
    t.dispose(); // the variable holds its own reference to the data
    return v;
  });
}

/** Weights from checkpoint tensors (which this function disposes); a missing or misshapen tensor is a UserError. */
export function paramsFromTensors(s: GptShape, tensors: tf.NamedTensorMap): GptParams {
  const made: tf.Variable[] = [];
  try {
    return assemble(s, (name, shape) => {
      const t = tensors[name];
      if (!t || t.shape.join(',') !== shape.join(',')) {
        throw new UserError(`checkpoint tensor ${name} is missing or is not [${shape.join(', ')}]`, 'E_CHECKPOINT');
      }
      made.push(tf.variable(t, true));
      return made[made.length - 1];
    });
  } catch (e) {
    tf.dispose(made);
    throw e;
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

export function paramCount(p: GptParams): number {
  return namedParams(p).reduce((a, [, v]) => a + v.size, 0);
}

/** One-hot rows [n, V + context] of (token, position) pairs. */
function embeddingOneHot(batch: PackedRows, s: GptShape): tf.Tensor2D {
  const n = batch.inputs.length;
  const w = s.vocabSize + s.context;
  const oh = new Float32Array(n * w);
  for (let i = 0; i < n; i++) {
    oh[i * w + batch.inputs[i]] = 1;
    oh[i * w + s.vocabSize + batch.positions[i]] = 1;
  }
  return tf.tensor2d(oh, [n, w]);
}

/** Logits [rows × context, V] for a packed batch. Call inside tf.tidy (or variableGrads). */
export function forward(p: GptParams, s: GptShape, batch: PackedRows): tf.Tensor2D {
  const table = tf.concat([p.wte, p.wpe], 0) as tf.Tensor2D;
  let x = embed(embeddingOneHot(batch, s), table);
  const shape = { d: s.dModel, heads: s.nHeads };
  for (const b of p.blocks) {
    const a = attention(linear(layerNorm(x, b.ln1g, b.ln1b), b.wqkv), batch.segStart, shape);
    x = tf.add(x, linear(a, b.wo)) as tf.Tensor2D;
    x = tf.add(x, linear(gelu(linear(layerNorm(x, b.ln2g, b.ln2b), b.w1)), b.w2)) as tf.Tensor2D;
  }
  return linear(layerNorm(x, p.lnfg, p.lnfb), p.head);
}

/**
 * log p(target) at every position of a packed batch, in float64 (0 where the target is not
 * counted): the held-out score, computed by the training's forward pass in one batch. BOS is
 * masked out of the softmax, as in sampling (it is never drawn).
 */
export function targetLogProbs(p: GptParams, s: GptShape, batch: PackedRows, bos: number): Float64Array {
  const logitsTensor = tf.tidy(() => forward(p, s, batch));
  const logits = logitsTensor.dataSync() as Float32Array;
  logitsTensor.dispose();
  const v = s.vocabSize;
  const out = new Float64Array(batch.owner.length);
  for (let i = 0; i < out.length; i++) {
    if (batch.weights[i] === 0) continue;
    let max = -Infinity;
    for (let k = 0; k < v; k++) if (k !== bos) max = Math.max(max, logits[i * v + k]);
    let sum = 0;
    for (let k = 0; k < v; k++) if (k !== bos) sum += Math.exp(logits[i * v + k] - max);
    out[i] = logits[i * v + batch.targets[i]] - max - Math.log(sum);
  }
  return out;
}

/**
 * Mean token cross-entropy (nats) of a packed batch over its counted targets. With `totalWeight`
 * (the counted targets of a whole batch of which this is a part) the sum is divided by that
 * instead, so the losses and gradients of the parts of a batch add up to the whole batch's.
 */
export function batchLoss(p: GptParams, s: GptShape, batch: PackedRows, totalWeight?: number): tf.Scalar {
  const n = batch.inputs.length;
  const v = s.vocabSize;
  const targets = new Float32Array(n * v);
  let total = 0;
  for (let i = 0; i < n; i++) {
    targets[i * v + batch.targets[i]] = 1;
    total += batch.weights[i];
  }
  const logits = forward(p, s, batch);
  return crossEntropy(logits, tf.tensor2d(targets, [n, v]), tf.tensor2d(batch.weights, [n, 1]), Math.max(totalWeight ?? total, 1));
}
