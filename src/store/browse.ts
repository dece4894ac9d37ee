// Read queries for browsing a run's documents (the `serve` pages and API): filtered pages of
// documents with full-text search, the most frequent texts of a generation, and the database's
// change counter that live pages poll. Reads only; every function takes an open connection.
//
// Search uses the FTS5 index `documents_fts` (schema.ts; maintained by triggers at commit time). A database
// written by an older heatdeath has no index and is opened read-only, so nobody can build one:
// then search falls back to a case-insensitive substring scan, and `searchMode` says so.

import type Database from 'better-sqlite3';
import type { Origin } from './documents.js';

export interface DocumentFilter {
  runId: number;
  /** null: every generation. */
  gen: number | null;
  origin: Origin | null;
  /** Free text; null or blank: no search. */
  q: string | null;
}

export interface BrowseRow {
  id: number;
  gen: number;
  origin: Origin;
  text: string;
  tokens: Buffer;
  label: string | null;
  true_label: string | null;
  in_train: number;
}

export type SearchMode = 'fts5' | 'substring';

/** Whether the file carries the full-text index (schema version ≥ 2). */
export function searchMode(db: Database.Database): SearchMode {
  const has = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'documents_fts'`).get();
  return has ? 'fts5' : 'substring';
}

/**
 * A user's words as an FTS5 query: every word must occur, each as a prefix ("mar" finds
 * "Maria"). Words are quoted, so FTS5 operators and punctuation in the input are plain text.
 * null when the input has no word characters at all.
 */
export function ftsQuery(q: string): string | null {
  const words = q.match(/[\p{L}\p{N}]+/gu);
  return words ? words.map((w) => `"${w}"*`).join(' ') : null;
}

function where(db: Database.Database, f: DocumentFilter): { sql: string; params: unknown[] } {
  const parts = ['d.run_id = ?'];
  const params: unknown[] = [f.runId];
  if (f.gen !== null) (parts.push('d.gen = ?'), params.push(f.gen));
  if (f.origin !== null) (parts.push('d.origin = ?'), params.push(f.origin));
  const q = f.q?.trim();
  if (q) {
    const match = searchMode(db) === 'fts5' ? ftsQuery(q) : null;
    if (match) (parts.push('d.id IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?)'), params.push(match));
    else (parts.push(`instr(lower(d.text), lower(?)) > 0`), params.push(q));
  }
  return { sql: parts.join(' AND '), params };
}

const COLUMNS = 'd.id, d.gen, d.origin, d.text, d.tokens, d.label, d.true_label, d.in_train';

/** How many documents match. */
export function countDocuments(db: Database.Database, f: DocumentFilter): number {
  const w = where(db, f);
  return db.prepare(`SELECT count(*) FROM documents d WHERE ${w.sql}`).pluck().get(...w.params) as number;
}

/** One page of matching documents, by generation then id. */
export function documentPage(db: Database.Database, f: DocumentFilter, offset: number, limit: number): BrowseRow[] {
  const w = where(db, f);
  return db.prepare(`SELECT ${COLUMNS} FROM documents d WHERE ${w.sql} ORDER BY d.gen, d.id LIMIT ? OFFSET ?`).all(...w.params, limit, offset) as BrowseRow[];
}

/** Every matching document, by generation then id, one at a time (for filters SQL cannot express). */
export function iterateDocuments(db: Database.Database, f: DocumentFilter): IterableIterator<BrowseRow> {
  const w = where(db, f);
  return db.prepare(`SELECT ${COLUMNS} FROM documents d WHERE ${w.sql} ORDER BY d.gen, d.id`).iterate(...w.params) as IterableIterator<BrowseRow>;
}

export interface TextCount {
  text: string;
  count: number;
}

/** Each distinct text of a generation's documents of one origin with how often it occurs, most frequent first. */
export function textCounts(db: Database.Database, runId: number, gen: number, origin: Origin): TextCount[] {
  return db
    .prepare(`SELECT text, count(*) AS count FROM documents WHERE run_id = ? AND gen = ? AND origin = ? GROUP BY text ORDER BY count DESC, text`)
    .all(runId, gen, origin) as TextCount[];
}

/** SQLite's counter of commits by other connections: a change means there is something new to show. */
export function dataVersion(db: Database.Database): number {
  return db.pragma('data_version', { simple: true }) as number;
}
