// Documents, histograms and metrics: the rows one generation commits. Token ids are stored as
// a Uint16 blob (compact; every tokenizer here has < 65,536 ids), text hashes make verbatim-copy
// checks an index look-up instead of a scan.

import type Database from 'better-sqlite3';
import { fnv1a } from '../rng.js';

export type Origin = 'seed' | 'fresh' | 'synthetic';

export interface NewDocument {
  gen: number;
  origin: Origin;
  text: string;
  tokens: readonly number[];
  label: string | null;
  trueLabel: string | null;
  inTrain: boolean;
  firstToken: number;
  /** Per-token log-likelihood under the generation-0 model (null until known; seed docs get it after generation 0 trains). */
  gen0Loglik?: number | null;
  /** False for a candidate the selection step discarded (default true). */
  selected?: boolean;
}

export function encodeTokens(tokens: readonly number[]): Buffer {
  const a = Uint16Array.from(tokens);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function decodeTokens(blob: Buffer): number[] {
  const out = new Array<number>(blob.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = blob.readUInt16LE(i * 2);
  return out;
}

export function textHash(text: string): number {
  // Signed 32-bit so it fits SQLite's INTEGER without surprises in either direction.
  return fnv1a(text) | 0;
}

export function insertDocuments(db: Database.Database, runId: number, docs: readonly NewDocument[]): number[] {
  const stmt = db.prepare(
    `INSERT INTO documents (run_id, gen, origin, text, tokens, label, true_label, in_train, first_token, length, text_hash, gen0_loglik, selected)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return docs.map((d) =>
    Number(
      stmt.run(runId, d.gen, d.origin, d.text, encodeTokens(d.tokens), d.label, d.trueLabel, d.inTrain ? 1 : 0, d.firstToken, d.tokens.length, textHash(d.text), d.gen0Loglik ?? null, d.selected === false ? 0 : 1)
        .lastInsertRowid,
    ),
  );
}

/** Ids, in id order, of the in-train documents of the generations in these ranges (a data policy's window). */
export function windowIds(db: Database.Database, runId: number, ranges: readonly (readonly [number, number])[]): Int32Array {
  if (ranges.length === 0) return new Int32Array(0);
  const where = ranges.map(() => 'gen BETWEEN ? AND ?').join(' OR ');
  const rows = db.prepare(`SELECT id FROM documents WHERE run_id = ? AND in_train = 1 AND (${where}) ORDER BY id`).pluck().all(runId, ...ranges.flat()) as number[];
  return Int32Array.from(rows);
}

/**
 * The id bounds of each range of generations: the first id of its first generation to the last
 * id of its last (ids of one generation are consecutive for a run: it commits in one
 * transaction, and later generations get larger ids). Each bound reads one generation's index
 * entries, so the cost does not grow with the run. Ranges with no committed end are left out.
 */
export function windowIdBounds(db: Database.Database, runId: number, ranges: readonly (readonly [number, number])[]): { lo: number; hi: number }[] {
  const lo = db.prepare(`SELECT min(id) FROM documents WHERE run_id = ? AND gen = ?`).pluck();
  const hi = db.prepare(`SELECT max(id) FROM documents WHERE run_id = ? AND gen = ?`).pluck();
  return ranges
    .map(([a, b]) => ({ lo: lo.get(runId, a) as number | null, hi: hi.get(runId, b) as number | null }))
    .filter((r): r is { lo: number; hi: number } => r.lo !== null && r.hi !== null);
}

/**
 * Whether an in-train document with this text has an id within the bounds: a look-up on the
 * text-hash index. (A `gen <= g` condition instead made SQLite pick the generation index and scan
 * every stored document per sample, so the copy check grew with the run.)
 */
export function inTrainTextLookup(db: Database.Database, runId: number, bounds: readonly { lo: number; hi: number }[]): (text: string) => boolean {
  const stmt = db
    .prepare(`SELECT 1 FROM documents INDEXED BY documents_by_hash WHERE run_id = ? AND text_hash = ? AND id BETWEEN ? AND ? AND text = ? AND in_train = 1 LIMIT 1`)
    .pluck();
  return (text) => {
    const h = textHash(text);
    return bounds.some((r) => stmt.get(runId, h, r.lo, r.hi, text) !== undefined);
  };
}

/** Text and token ids of documents by id, in the order given. */
export function documentsById(db: Database.Database, ids: ArrayLike<number>): { text: string; tokens: number[] }[] {
  const stmt = db.prepare(`SELECT text, tokens FROM documents WHERE id = ?`);
  return Array.from(ids, (id) => {
    const r = stmt.get(id) as { text: string; tokens: Buffer };
    return { text: r.text, tokens: decodeTokens(r.tokens) };
  });
}

/** A point look-up of token ids by document id (training batches read only what they use). */
export function tokenReader(db: Database.Database): (id: number) => number[] {
  const stmt = db.prepare(`SELECT tokens FROM documents WHERE id = ?`).pluck();
  return (id) => decodeTokens(stmt.get(id) as Buffer);
}

export interface HistogramRow {
  gen: number;
  coarse: string;
  kind: 'samples' | 'train';
  counts: number[];
}

export function insertHistogram(db: Database.Database, runId: number, h: HistogramRow): void {
  const stmt = db.prepare(`INSERT INTO histograms (run_id, gen, coarse, kind, category, count) VALUES (?, ?, ?, ?, ?, ?)`);
  // Only non-zero counts are stored; readers fill in zeros from the coarse-graining's size.
  h.counts.forEach((c, i) => {
    if (c !== 0) stmt.run(runId, h.gen, h.coarse, h.kind, i, c);
  });
}

/** Histograms of one coarse-graining and kind, one array per generation (index = gen). */
export function readHistograms(db: Database.Database, runId: number, coarse: string, kind: 'samples' | 'train', size: number): number[][] {
  const rows = db
    .prepare(`SELECT gen, category, count FROM histograms WHERE run_id = ? AND coarse = ? AND kind = ? ORDER BY gen`)
    .all(runId, coarse, kind) as { gen: number; category: number; count: number }[];
  const out: number[][] = [];
  for (const r of rows) {
    while (out.length <= r.gen) out.push(new Array<number>(size).fill(0));
    out[r.gen][r.category] = r.count;
  }
  return out;
}

/** Histograms of one coarse-graining and kind at the given generations only (gen → counts; zeros where none). */
export function readHistogramsAt(db: Database.Database, runId: number, coarse: string, kind: 'samples' | 'train', size: number, gens: readonly number[]): Map<number, number[]> {
  const stmt = db.prepare(`SELECT category, count FROM histograms WHERE run_id = ? AND gen = ? AND coarse = ? AND kind = ?`);
  const out = new Map<number, number[]>();
  for (const g of gens) {
    const h = new Array<number>(size).fill(0);
    for (const r of stmt.all(runId, g, coarse, kind) as { category: number; count: number }[]) h[r.category] = r.count;
    out.set(g, h);
  }
  return out;
}

export interface MetricRow {
  gen: number;
  coarse: string;
  key: string;
  value: number | null;
}

export function insertMetrics(db: Database.Database, runId: number, rows: readonly MetricRow[]): void {
  const stmt = db.prepare(`INSERT OR REPLACE INTO metrics (run_id, gen, coarse, key, value) VALUES (?, ?, ?, ?, ?)`);
  for (const r of rows) stmt.run(runId, r.gen, r.coarse, r.key, r.value === null || Number.isFinite(r.value) ? r.value : null);
}

export function readMetrics(db: Database.Database, runId: number, coarse?: string): MetricRow[] {
  return (coarse === undefined
    ? db.prepare(`SELECT gen, coarse, key, value FROM metrics WHERE run_id = ? ORDER BY gen, coarse, key`).all(runId)
    : db.prepare(`SELECT gen, coarse, key, value FROM metrics WHERE run_id = ? AND coarse = ? ORDER BY gen, key`).all(runId, coarse)) as MetricRow[];
}

/** The metrics of one generation; the run-level ones (coarse '') only when asked. */
export function readGenerationMetrics(db: Database.Database, runId: number, gen: number, runLevel = false): MetricRow[] {
  const sql = `SELECT gen, coarse, key, value FROM metrics WHERE run_id = ? AND gen = ?${runLevel ? '' : ` AND coarse != ''`}`;
  return db.prepare(sql).all(runId, gen) as MetricRow[];
}

/** Named metrics of one coarse-graining at the given generations only (gen → key → value; missing and null values left out). */
export function readMetricsAt(db: Database.Database, runId: number, coarse: string, keys: readonly string[], gens: readonly number[]): Map<number, Record<string, number>> {
  const stmt = db.prepare(`SELECT key, value FROM metrics WHERE run_id = ? AND gen = ? AND coarse = ? AND key IN (${keys.map(() => '?').join(', ')})`);
  const out = new Map<number, Record<string, number>>();
  for (const g of gens) {
    const row: Record<string, number> = {};
    for (const r of stmt.all(runId, g, coarse, ...keys) as { key: string; value: number | null }[]) if (r.value !== null) row[r.key] = r.value;
    out.set(g, row);
  }
  return out;
}

/** A stored document as the reading commands show it. */
export interface DocumentRow {
  id: number;
  gen: number;
  origin: Origin;
  in_train: number;
  text: string;
  tokens: Buffer;
  label: string | null;
  true_label: string | null;
  length: number;
  /** Per-token log-likelihood under the generation-0 model (null in runs made before schema 5). */
  gen0_loglik: number | null;
  /** 0 for a candidate the selection step discarded. */
  selected: number;
}

/** Whether the file has gen0_loglik and selected (schema 5); a reader never migrates an older one. */
function hasCuratedColumns(db: Database.Database): boolean {
  return (db.pragma('user_version', { simple: true }) as number) >= 5;
}

export const documentSorts = ['id', 'gen0_loglik', '-gen0_loglik'] as const;
export type DocumentSort = (typeof documentSorts)[number];

export interface DocumentFilter {
  gen?: number;
  origin?: string;
  /** A substring (case-insensitive). */
  grep?: string;
  /** An FTS5 query over `documents_fts` (browse.ts builds it from a user's words); only where the index exists. */
  match?: string;
  /** Only kept (true) or only discarded (false) candidates. */
  selected?: boolean;
  /** gen0_loglik bounds (inclusive); a document without it (an older file) matches neither. */
  loglikMin?: number;
  loglikMax?: number;
  /** By id (default), or by gen0_loglik ascending / descending (documents without it last). */
  sort?: DocumentSort;
}

/**
 * The one SQL of a document filter: every reader of documents (the CLI's `samples` and
 * `export`, the `serve` pages and API) selects through it, so a filter means the same
 * everywhere. In a file from before schema 5 gen0_loglik reads as unknown (NULL) and every
 * document as kept (selected = 1).
 */
function documentQuery(db: Database.Database, runId: number, f: DocumentFilter): { from: string; params: unknown[]; order: string; columns: string } {
  const curated = hasCuratedColumns(db);
  const ll = curated ? 'gen0_loglik' : 'NULL';
  const sel = curated ? 'selected' : '1';
  const where = ['run_id = ?'];
  const params: unknown[] = [runId];
  if (f.gen !== undefined) where.push('gen = ?'), params.push(f.gen);
  if (f.origin) where.push('origin = ?'), params.push(f.origin);
  if (f.grep) where.push(`instr(lower(text), lower(?)) > 0`), params.push(f.grep);
  if (f.match) where.push('id IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?)'), params.push(f.match);
  if (f.selected !== undefined) where.push(`${sel} = ?`), params.push(f.selected ? 1 : 0);
  if (f.loglikMin !== undefined) where.push(`${ll} >= ?`), params.push(f.loglikMin);
  if (f.loglikMax !== undefined) where.push(`${ll} <= ?`), params.push(f.loglikMax);
  const sort = f.sort ?? 'id';
  // Ids of a run grow with its generations (one transaction each), so id order is generation order.
  const order = sort === 'id' ? 'id' : `${ll} IS NULL, ${ll} ${sort === 'gen0_loglik' ? 'ASC' : 'DESC'}, id`;
  const columns = `id, gen, origin, in_train, text, tokens, label, true_label, length, ${ll} AS gen0_loglik, ${sel} AS selected`;
  return { from: `FROM documents WHERE ${where.join(' AND ')}`, params, order, columns };
}

/**
 * The run's documents, optionally of one generation and origin, containing a text
 * (case-insensitive) or matching a full-text query, kept or discarded by selection, within
 * gen0_loglik bounds; in id order or by gen0_loglik.
 */
export function iterateDocumentRows(db: Database.Database, runId: number, f: DocumentFilter): IterableIterator<DocumentRow> {
  const q = documentQuery(db, runId, f);
  return db.prepare(`SELECT ${q.columns} ${q.from} ORDER BY ${q.order}`).iterate(...q.params) as IterableIterator<DocumentRow>;
}

/** One page of the same rows, in the same order. */
export function documentRowPage(db: Database.Database, runId: number, f: DocumentFilter, offset: number, limit: number): DocumentRow[] {
  const q = documentQuery(db, runId, f);
  return db.prepare(`SELECT ${q.columns} ${q.from} ORDER BY ${q.order} LIMIT ? OFFSET ?`).all(...q.params, limit, offset) as DocumentRow[];
}

/** How many documents the filter matches. */
export function countDocumentRows(db: Database.Database, runId: number, f: DocumentFilter): number {
  const q = documentQuery(db, runId, f);
  return db.prepare(`SELECT count(*) ${q.from}`).pluck().get(...q.params) as number;
}

/**
 * The gen0_loglik values the loop's gen0_loglik_* metrics summarise: generation 0's seed training
 * documents, a later generation's kept samples (none in a database before schema 5).
 */
export function keptLogliks(db: Database.Database, runId: number, gen: number): number[] {
  if (!hasCuratedColumns(db)) return [];
  const sql = gen === 0
    ? `SELECT gen0_loglik FROM documents WHERE run_id = ? AND gen = ? AND origin = 'seed' AND in_train = 1 AND gen0_loglik IS NOT NULL`
    : `SELECT gen0_loglik FROM documents WHERE run_id = ? AND gen = ? AND origin = 'synthetic' AND selected = 1 AND gen0_loglik IS NOT NULL`;
  return db.prepare(sql).pluck().all(runId, gen) as number[];
}

/** The first `limit` documents of one generation and origin, by id. */
export function firstDocuments(db: Database.Database, runId: number, gen: number, origin: string, limit: number): { text: string; tokens: Buffer; origin: 'seed' | 'fresh' | 'synthetic' }[] {
  return db.prepare(`SELECT text, tokens, origin FROM documents WHERE run_id = ? AND gen = ? AND origin = ? ORDER BY id LIMIT ?`).all(runId, gen, origin, limit) as {
    text: string; tokens: Buffer; origin: 'seed' | 'fresh' | 'synthetic';
  }[];
}

/** ℓ: the number of seed documents generation 0 trained on. */
export function seedTrainSize(db: Database.Database, runId: number): number {
  return (db.prepare(`SELECT count(*) FROM documents WHERE run_id = ? AND gen = 0 AND in_train = 1`).pluck().get(runId) as number) ?? 0;
}
