// The training set of a generation, as the data policy defines it, without loading the
// documents: an in-memory list of document ids (4 bytes each) that grows by N per generation
// under `accumulate`, and a point look-up of tokens when a batch needs them.

import type Database from 'better-sqlite3';
import type { TrainingSet } from '../model/types.js';
import type { Policy } from './config.js';
import { documentIds, textHash, tokenReader } from '../store/documents.js';

/** SQL condition selecting the documents the model of generation `gen` trains on. */
export function trainingWhere(policy: Policy, gen: number): { where: string; params: number[] } {
  const seedTrain = `(gen = 0 AND in_train = 1)`;
  if (gen === 0) return { where: seedTrain, params: [] };
  switch (policy) {
    case 'accumulate':
      return { where: `in_train = 1 AND gen <= ?`, params: [gen] };
    case 'replace':
      return { where: `gen = ? AND in_train = 1`, params: [gen] };
    case 'augment':
      return { where: `${seedTrain} OR (gen = ? AND in_train = 1)`, params: [gen] };
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

/**
 * Whether a text is in the training set the model of generation `gen` was trained on: a look-up
 * on the text-hash index, bounded to the id ranges of the generations that set spans (ids of one
 * generation are consecutive for a run: it commits in one transaction). A `gen <= g` condition
 * instead made SQLite pick the generation index and scan every stored document per sample,
 * so the copy check grew with the run.
 */
export function trainingTextLookup(db: Database.Database, runId: number, policy: Policy, gen: number): (text: string) => boolean {
  const range = (g: number) => db.prepare(`SELECT min(id) AS lo, max(id) AS hi FROM documents WHERE run_id = ? AND gen = ?`).get(runId, g) as { lo: number | null; hi: number | null };
  const all = { lo: 0, hi: Number.MAX_SAFE_INTEGER };
  const ranges = gen === 0 ? [range(0)] : policy === 'accumulate' ? [all] : policy === 'replace' ? [range(gen)] : [range(0), range(gen)];
  const stmt = db
    .prepare(`SELECT 1 FROM documents INDEXED BY documents_by_hash WHERE run_id = ? AND text_hash = ? AND id BETWEEN ? AND ? AND text = ? AND in_train = 1 LIMIT 1`)
    .pluck();
  const live = ranges.filter((r): r is { lo: number; hi: number } => r.lo !== null && r.hi !== null);
  return (text) => {
    const h = textHash(text);
    return live.some((r) => stmt.get(runId, h, r.lo, r.hi, text) !== undefined);
  };
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
