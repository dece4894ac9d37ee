// Read queries for browsing a run's documents (the `serve` pages and API): a user's search text
// as a document filter (full-text where the file has the index; the filter itself is
// documents.ts's, the one the CLI uses), the most frequent texts of a generation, and the
// database's change counter that live pages poll. Reads only; every function takes an open connection.
//
// Search uses the FTS5 index `documents_fts` (schema.ts; maintained by triggers at commit time). A database
// written by an older heatdeath has no index and is opened read-only, so nobody can build one:
// then search falls back to a case-insensitive substring scan, and `searchMode` says so.

import type Database from 'better-sqlite3';
import type { DocumentFilter, Origin } from './documents.js';

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

/**
 * A user's search text as a document filter (documents.ts): the FTS5 query of its words where
 * the file has the index, else (or when the text has no word characters) a substring.
 */
export function searchFilter(db: Database.Database, q: string | null): Pick<DocumentFilter, 'match' | 'grep'> {
  const text = q?.trim();
  if (!text) return {};
  const match = searchMode(db) === 'fts5' ? ftsQuery(text) : null;
  return match ? { match } : { grep: text };
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
