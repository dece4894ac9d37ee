// Picks the TensorFlow.js backend: tfjs-node when it loads (it cannot install everywhere: its
// install script downloads libtensorflow), else wasm, else cpu. `tf.setBackend` returns false
// instead of throwing, so every attempt is checked, and the caller is told which one ran.

import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { UserError } from './errors.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | 'node' | BackendName;
export const backendChoices: readonly BackendChoice[] = ['auto', 'node', 'tensorflow', 'wasm', 'cpu'];

let chosen: BackendName | null = null;

async function tryNode(): Promise<boolean> {
  try {
    // A half-installed tfjs-node (no native binary) throws on require; that is the common case here.
    createRequire(import.meta.url)('@tensorflow/tfjs-node');
  } catch {
    return false;
  }
  return trySet('tensorflow');
}

async function tryWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch {
    return false;
  }
  return trySet('wasm');
}

async function trySet(name: BackendName): Promise<boolean> {
  try {
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

/**
 * Initialises the backend once per process and returns its name. `auto` tries
 * tensorflow (tfjs-node) → wasm → cpu; a named choice that cannot load is a UserError.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendName> {
  const want: BackendName | 'auto' = choice === 'node' ? 'tensorflow' : choice;
  if (chosen && (want === 'auto' || want === chosen)) return chosen;
  if (!backendChoices.includes(choice)) {
    throw new UserError(`unknown backend '${choice}' (choose from ${backendChoices.join(', ')})`);
  }
  // Silence tfjs's "hi there, use tfjs-node" banner; we report the backend ourselves.
  tf.env().set('PROD', true);
  const order: BackendName[] = want === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [want];
  for (const name of order) {
    const ok = name === 'tensorflow' ? await tryNode() : name === 'wasm' ? await tryWasm() : await trySet('cpu');
    if (ok) {
      chosen = name;
      return name;
    }
  }
  throw new UserError(`backend '${choice}' could not be loaded on this machine`);
}

export function currentBackend(): BackendName | null {
  return chosen;
}
