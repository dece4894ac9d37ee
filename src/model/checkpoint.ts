// Checkpoint files shared by every model: `model.json` (kind, config, weight specs) and
// `weights.bin` (the tensors as tfjs encodes them). Written through tf.io.encodeWeights, so no
// tfjs-node file handler is needed, and read back with tf.io.decodeWeights. A checkpoint is
// written into a temporary folder and renamed into place: a crash never leaves half a checkpoint.

import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { UserError } from '../errors.js';

export const CHECKPOINT_FORMAT = 'heatdeath-model';
export const CHECKPOINT_VERSION = 1;

export interface CheckpointMeta {
  kind: string;
  config: Readonly<Record<string, unknown>>;
  /** Anything else a model wants back (e.g. vocabulary facts). */
  extra?: Record<string, unknown>;
}

interface ModelJson extends CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  weightSpecs: tf.io.WeightsManifestEntry[];
}

/** How checkpoint files are written: node's writeFileSync, or a test's stand-in (see setCheckpointWriter). */
export type FileWriter = (file: string, data: Uint8Array | string) => void;
let writeFile: FileWriter = writeFileSync;

/**
 * Test facility: replaces the file write of every later checkpoint (null restores node's), e.g.
 * with one that fails with ENOSPC, the way a full disk does. The CLI installs one only when a
 * test asks through the environment; the library never does.
 */
export function setCheckpointWriter(writer: FileWriter | null): void {
  writeFile = writer ?? writeFileSync;
}

/**
 * Writes the named tensors and meta to dir atomically (dir is replaced if it exists). On any
 * failure (a full disk) the temporary folder is removed and dir is left as it was.
 */
export async function saveCheckpoint(dir: string, meta: CheckpointMeta, tensors: tf.NamedTensorMap): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const json: ModelJson = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...meta, weightSpecs: specs };
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
    writeFile(join(tmp, 'weights.bin'), new Uint8Array(data as ArrayBuffer));
    writeFile(join(tmp, 'model.json'), JSON.stringify(json, null, 1));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** Reads a checkpoint: its meta and the tensors (the caller owns and disposes them). */
export function loadCheckpoint(dir: string): { meta: CheckpointMeta; tensors: tf.NamedTensorMap } {
  const file = join(dir, 'model.json');
  if (!existsSync(file)) throw new UserError(`no checkpoint at ${dir} (model.json missing)`);
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
  } catch {
    throw new UserError(`checkpoint ${file} is not valid JSON`);
  }
  if (json.format !== CHECKPOINT_FORMAT) throw new UserError(`${file} is not a heatdeath checkpoint`);
  if (json.version > CHECKPOINT_VERSION) {
    throw new UserError(`${file} was written by a newer heatdeath (checkpoint version ${json.version})`);
  }
  const buf = readFileSync(join(dir, 'weights.bin'));
  const data = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const tensors = tf.io.decodeWeights(data, json.weightSpecs);
  return { meta: { kind: json.kind, config: json.config, extra: json.extra }, tensors };
}

/** Just the meta (kind, config) without reading weights. */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
  return { kind: json.kind, config: json.config, extra: json.extra };
}
