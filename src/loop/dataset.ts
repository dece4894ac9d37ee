// The training set of a generation, as the data policy defines it, without loading the
// documents: an in-memory list of document ids (4 bytes each) that grows by N per generation
// under `accumulate`, and a point look-up of tokens when a batch needs them.

import type Database from 'better-sqlite3';
import type { TrainingSet } from '../model/types.js';
import type { Policy } from './config.js';
import { documentIds, tokenReader } from '../store/documents.js';

/** SQL condition selecting the documents the model of generation `gen` trains on. */
export function trainingWhere(policy: Policy, gen: number): { where: string; params: number[] } {
  const seedTrain = `(gen = 0 AND in_train = 1)`;
  if (gen === 0) return { where: seedTrain, params: [] };
  switch (policy) {
    case 'accumulate':
      return { where: `in_train = 1 AND gen <= ?`, params: [gen] };
    case 'replace':
      return { where: `gen = ?`, params: [gen] };
    case 'augment':
      return { where: `${seedTrain} OR gen = ?`, params: [gen] };
  }
}

/** A growable Int32 list (amortised doubling). */
export class IdList {
  private buf: Int32Array;
  length = 0;
  constructor(initial: ArrayLike<number> = []) {
    this.buf = new Int32Array(Math.max(16, initial.length * 2));
    this.push(initial);
  }
  push(ids: ArrayLike<number>): void {
    if (this.length + ids.length > this.buf.length) {
      const next = new Int32Array(Math.max(this.buf.length * 2, this.length + ids.length));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    for (let i = 0; i < ids.length; i++) this.buf[this.length++] = ids[i];
  }
  get(i: number): number {
    return this.buf[i];
  }
  /** Bytes held, for the flat-cost checks of long runs. */
  get capacityBytes(): number {
    return this.buf.byteLength;
  }
}

/** Ids of the training set of generation `gen`, from the database (used at start and on resume). */
export function loadTrainingIds(db: Database.Database, runId: number, policy: Policy, gen: number): IdList {
  const { where, params } = trainingWhere(policy, gen);
  return new IdList(documentIds(db, runId, where, params));
}

/** Counts the rows read, so tests can check that per-generation work does not grow. */
export interface ReadCounter {
  rows: number;
}

/**
 * The training set: committed documents by id (read from SQLite when a batch needs them) followed
 * by this generation's pending documents, which are committed only with the whole generation.
 */
export function sqliteTrainingSet(db: Database.Database, ids: IdList, pending: readonly number[][], counter?: ReadCounter): TrainingSet {
  const read = tokenReader(db);
  return {
    size: ids.length + pending.length,
    docs(indices) {
      if (counter) counter.rows += indices.length;
      return indices.map((i) => (i < ids.length ? read(ids.get(i)) : pending[i - ids.length]));
    },
  };
}
