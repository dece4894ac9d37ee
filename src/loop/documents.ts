// Selecting stored documents for reading: by generation, origin, text (substring or full-text),
// coarse-graining category, selection flag and generation-0 log-likelihood, each returned with
// its category under every coarse-graining of the run; in id order, or by gen0_loglik (either
// way). The `samples` and `export` commands and the `serve` pages and API all read through here.

import { onePerDocument } from '../metrics/coarse.js';
import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import { countDocumentRows, decodeTokens, documentRowPage, documentSorts, iterateDocumentRows, type DocumentFilter, type DocumentRow, type Origin } from '../store/documents.js';

export { documentSorts, type DocumentSort } from '../store/documents.js';
import { coarseOf, type RunView } from './view.js';
import type { CoarseGraining } from '../metrics/coarse.js';

export interface DocumentView {
  id: number;
  gen: number;
  origin: Origin;
  inTrain: boolean;
  text: string;
  label: string | null;
  trueLabel: string | null;
  length: number;
  /** Per-token log-likelihood under the generation-0 model (null in runs made before it was stored). */
  gen0_loglik: number | null;
  /** False for a candidate the selection step discarded. */
  selected: boolean;
  categories: Record<string, string>;
}

/** A store filter (generation, origin, text, selection, gen0_loglik bounds, sort) plus what needs the run's view. */
export interface DocumentQuery extends DocumentFilter {
  coarse?: string;
  category?: string;
  /** Matching documents to skip (in the query's order) before the first one returned. */
  offset?: number;
  limit?: number;
}

const origins = ['seed', 'fresh', 'synthetic'];

/** The category index named by `k` (a category name, or its index). */
function categoryIndex(categories: readonly string[], k: string, coarse: string): number {
  const byName = categories.indexOf(k);
  if (byName >= 0) return byName;
  if (/^\d+$/.test(k) && Number(k) < categories.length) return Number(k);
  const shown = categories.length > 12 ? `${categories.slice(0, 12).join(', ')}, …` : categories.join(', ');
  throw new UserError(`no category '${k}' in coarse-graining '${coarse}' (categories: ${shown})`);
}

/** Checks a query; its category filter (a coarse-graining and the category's index), if any. */
function checkQuery(view: RunView, q: DocumentQuery): { cg: CoarseGraining; k: number } | null {
  if (q.origin !== undefined && !origins.includes(q.origin)) throw new UserError(`unknown origin '${q.origin}' (choose from ${origins.join(', ')})`);
  if (q.sort !== undefined && !documentSorts.includes(q.sort)) throw new UserError(`unknown sort '${String(q.sort)}' (choose from ${documentSorts.join(', ')})`);
  if ((q.coarse === undefined) !== (q.category === undefined)) throw new UserError('--coarse and --category go together');
  if (q.coarse === undefined) return null;
  const cg = coarseOf(view, q.coarse);
  if (!onePerDocument(cg.name)) throw new UserError(`'token' has no category per document; filter by first, length or label`);
  return { cg, k: categoryIndex(cg.categories, q.category!, cg.name) };
}

function documentView(view: RunView, r: DocumentRow, doc: { text: string; tokens: number[] }): DocumentView {
  const categories: Record<string, string> = {};
  for (const cg of view.coarse) {
    const k = cg.categoryOf(doc);
    if (k !== null) categories[cg.name] = cg.categories[k];
  }
  return { id: r.id, gen: r.gen, origin: r.origin, inTrain: r.in_train === 1, text: r.text, label: r.label, trueLabel: r.true_label, length: r.length, gen0_loglik: r.gen0_loglik, selected: r.selected === 1, categories };
}

/** Iterates the matching documents in the query's order (all of them: offset and limit are the caller's). */
export function* iterateDocuments(db: Database.Database, view: RunView, q: DocumentQuery): Generator<DocumentView> {
  const filter = checkQuery(view, q);
  for (const r of iterateDocumentRows(db, view.run.id, q)) {
    const doc = { text: r.text, tokens: decodeTokens(r.tokens) };
    if (filter && filter.cg.categoryOf(doc) !== filter.k) continue;
    yield documentView(view, r, doc);
  }
}

/**
 * The matching documents from `offset` on, at most `limit` of them, and how many match in all:
 * the `samples` command and the `serve` pages both read through this. Without a category the
 * store counts and pages in SQL; a category is a function of the tokens (coarse.ts), not a
 * column, so then the rows are filtered as they stream by.
 */
export function selectDocuments(db: Database.Database, view: RunView, q: DocumentQuery): { total: number; docs: DocumentView[] } {
  const offset = q.offset ?? 0;
  const limit = q.limit ?? Infinity;
  if (checkQuery(view, q) === null) {
    const rows = documentRowPage(db, view.run.id, q, offset, Number.isFinite(limit) ? limit : -1);
    return { total: countDocumentRows(db, view.run.id, q), docs: rows.map((r) => documentView(view, r, { text: r.text, tokens: decodeTokens(r.tokens) })) };
  }
  const docs: DocumentView[] = [];
  let total = 0;
  for (const d of iterateDocuments(db, view, q)) {
    if (total >= offset && docs.length < limit) docs.push(d);
    total++;
  }
  return { total, docs };
}
