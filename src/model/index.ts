// The model families, chosen from a record: `models[kind].create(spec)`.

import type { ModelFactory, ModelKind } from './types.js';
import { ngramFactory } from './ngram/ngram.js';
import { transformerFactory } from './gpt/transformer.js';
import { readCheckpointMeta } from './checkpoint.js';
import { UserError } from '../errors.js';

export const models: Record<ModelKind, ModelFactory> = {
  ngram: ngramFactory,
  transformer: transformerFactory,
};

export const modelKinds = Object.keys(models) as ModelKind[];

export function modelFactory(kind: string): ModelFactory {
  if (!(kind in models)) throw new UserError(`unknown model '${kind}' (choose from ${modelKinds.join(', ')})`);
  return models[kind as ModelKind];
}

/** Loads any checkpoint, whatever its kind. */
export async function loadModel(dir: string) {
  return modelFactory(readCheckpointMeta(dir).kind).load(dir);
}
