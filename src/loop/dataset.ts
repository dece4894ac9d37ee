// The training set of a generation, as its data policy's window defines it, without loading the
// documents: an in-memory list of document ids (4 bytes each) that grows by N per generation
// under `accumulate`, and a point look-up of tokens when a batch needs them. The id list, the
// copy check's id ranges and the training histogram are all derived from the policy's window
// (src/loop/policy/); the SQL lives in the store.

import type Database from 'better-sqlite3';
import type { TrainingSet } from '../model/types.js';
import { committedWindow, extendsPrevious, sameWindow, windowExtends, type DataPolicy, type PolicyParams } from './policy/index.js';
import { documentsById, inTrainTextLookup, tokenReader, windowIdBounds, windowIds } from '../store/documents.js';

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
  toArray(): Int32Array {
    return this.buf.slice(0, this.length);
  }
  /** The ids without a copy (valid until the next push). */
  view(): Int32Array {
    return this.buf.subarray(0, this.length);
  }
  /** Bytes held, for the flat-cost checks of long runs. */
  get capacityBytes(): number {
    return this.buf.byteLength;
  }
}

/** The committed ids the model of generation `gen` trains on, from the database: the window, then the policy's choice. */
function chosenIds(db: Database.Database, runId: number, policy: DataPolicy, gen: number, params: PolicyParams): Int32Array {
  const ids = windowIds(db, runId, committedWindow(policy, gen));
  return policy.select ? policy.select(ids, gen, params) : ids;
}

/**
 * The committed part of generation gen's training set (its own new documents come on top).
 * `current` is gen−1's training set, kept as it is when gen's set extends it (accumulate).
 */
export function committedIds(db: Database.Database, runId: number, policy: DataPolicy, gen: number, params: PolicyParams, current: IdList, pool: IdList | null = null): IdList {
  if (gen === 0 || extendsPrevious(policy, gen)) return current;
  // A choice among a growing window (accumulate-subsample) chooses from the pool kept in memory,
  // so a generation reads the S chosen documents, not the whole window's ids.
  if (pool && policy.select && windowExtends(policy, gen)) return new IdList(policy.select(pool.view(), gen, params));
  return new IdList(chosenIds(db, runId, policy, gen, params));
}

/**
 * The pool a policy's choice draws from, kept in memory while the window grows by whole
 * generations (every in-train id of window(gen)); null when there is no choice or no such growth.
 */
export function initialPool(db: Database.Database, runId: number, policy: DataPolicy, gen: number): IdList | null {
  if (!policy.select || !windowExtends(policy, Math.max(1, gen + 1))) return null;
  return new IdList(gen < 0 ? [] : windowIds(db, runId, policy.window(gen)));
}

/** Ids of the training set of generation `gen` after it committed (used on resume). */
export function trainingIds(db: Database.Database, runId: number, policy: DataPolicy, gen: number, params: PolicyParams): IdList {
  if (!policy.select) return new IdList(windowIds(db, runId, policy.window(gen)));
  const own = windowIds(db, runId, [[gen, gen]]);
  return new IdList([...chosenIds(db, runId, policy, gen, params), ...own]);
}

/**
 * The histograms of generation gen's training set: its committed part (gen−1's training
 * histogram when gen's set extends it, none, the seed's, or else counted from the documents)
 * plus `added`, the histograms of gen's own training documents.
 */
export function trainingHistograms(
  db: Database.Database,
  policy: DataPolicy,
  gen: number,
  parts: { previous: Map<string, number[]>; seed: Map<string, number[]>; added: Map<string, number[]>; committed: IdList },
  count: (docs: { text: string; tokens: number[] }[]) => Map<string, number[]>,
): Map<string, number[]> {
  if (gen === 0) return parts.seed;
  const part = committedWindow(policy, gen);
  if (extendsPrevious(policy, gen)) return addHistograms(parts.previous, parts.added);
  if (part.length === 0) return parts.added;
  if (!policy.select && sameWindow(part, [[0, 0]])) return addHistograms(parts.seed, parts.added);
  return addHistograms(count(documentsById(db, parts.committed.toArray())), parts.added);
}

export function addHistograms(a: Map<string, number[]>, b: Map<string, number[]>): Map<string, number[]> {
  return new Map([...a].map(([k, v]) => [k, v.map((x, i) => x + b.get(k)![i])]));
}

/**
 * Whether a text is in the training set the model of generation `gen` was trained on: a look-up
 * on the text-hash index, bounded to the id ranges of the window's generations. (A policy's
 * seeded choice is not applied: the check counts a copy of any document of the window.)
 */
export function trainingTextLookup(db: Database.Database, runId: number, policy: DataPolicy, gen: number): (text: string) => boolean {
  return inTrainTextLookup(db, runId, windowIdBounds(db, runId, policy.window(gen)));
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
