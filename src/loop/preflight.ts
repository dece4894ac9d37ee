// Everything about a run that can be checked before the first write: the scorer (--select), the model's options
// against the run's vocabulary (bucket counts), the memory one generation's samples need, the
// checkpoint folder, and on resume the checkpoint the loop starts from. `createRun` and
// `executeRun` call `preflight` after building the run's state (which reads and checks the
// corpus) and before they write, so a refusal the user can fix leaves the database — and a
// run's status — exactly as it was. Reads the file system, writes nothing.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkFolder } from '../store/open.js';
import type { ModelFactory, ModelSpec } from '../model/types.js';
import { UserError } from '../errors.js';
import type { RunConfig } from './config.js';
import type { RunState } from './state.js';
import { checkScorer, parseScorer } from './scorers.js';

/**
 * Bytes of memory per sampled token while a generation is in memory: the token id in a JS
 * array (8), the decoded text (2 per UTF-16 unit), the stored Uint16 blob (2), and the copies
 * made for histograms and text metrics. A deliberately generous round figure: the check is
 * meant to refuse sizes that cannot possibly fit (1e12 samples), not to predict the peak.
 */
export const BYTES_PER_SAMPLED_TOKEN = 16;

export interface PreflightInput {
  config: Readonly<RunConfig>;
  state: RunState;
  factory: ModelFactory;
  /** The spec the loop will create generation 0's model from. */
  spec: ModelSpec;
  modelsDir: string;
  /** Memory a process may use (the CLI passes the smaller of RAM and the JS heap limit). */
  memoryBytes?: number;
  /** On resume: the checkpoint folder the loop starts from (null: starts at generation 0). */
  resumeFrom?: { gen: number; dir: string | null; runName: string; gen0Dir: string } | null;
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(n < 2 ** 32 ? 1 : 0)} GiB`;

/** Throws the first problem as a UserError; returns when the run can start. */
export function preflight(p: PreflightInput): void {
  // Model options against this vocabulary (e.g. --buckets larger than the table bound allows).
  p.factory.normalize(p.spec);

  // A scorer that needs the corpus's labels (label:<L>) names one it has.
  if (p.config.select !== null) checkScorer(parseScorer(p.config.select), p.state.classifier?.labels ?? []);

  // One generation's samples are held in memory: refuse sizes that cannot fit.
  if (p.memoryBytes !== undefined) {
    const drawn = p.config.select === null ? p.config.samples : p.config.samples * p.config.candidates;
    const need = drawn * (p.state.maxLength + 1) * BYTES_PER_SAMPLED_TOKEN;
    if (need > p.memoryBytes) {
      throw new UserError(
        `--samples ${p.config.samples}${p.config.select === null ? '' : ` × --candidates ${p.config.candidates}`} of up to ${p.state.maxLength} tokens needs about ${gib(need)} of memory per generation; this process can use ${gib(p.memoryBytes)} (lower --samples or --max-length)`,
        'E_TOO_BIG',
      );
    }
  }

  checkFolder('--models-dir', p.modelsDir);

  // Resume: the checkpoint the loop continues from must be on disk.
  const from = p.resumeFrom;
  if (from && (!from.dir || !existsSync(join(from.dir, 'model.json')))) {
    throw new UserError(
      `the checkpoint of generation ${from.gen} of run '${from.runName}' is missing (${from.dir ?? 'pruned'}); cannot resume (if the models folder moved, pass its new place with --models-dir)`,
      'E_NO_CHECKPOINT',
    );
  }
  // The generation-0 model scores every new document (gen0_loglik); its checkpoint is never pruned.
  if (from && !existsSync(join(from.gen0Dir, 'model.json'))) {
    throw new UserError(`the generation-0 checkpoint of run '${from.runName}' is missing (${from.gen0Dir}); cannot resume`, 'E_NO_CHECKPOINT');
  }
}
