// Selecting stored documents for reading: by generation, origin, substring, coarse-graining
// category, selection flag and generation-0 log-likelihood, each returned with its category under
// every coarse-graining of the run; in id order, or by gen0_loglik (either way).

import { onePerDocument } from '../metrics/coarse.js';
import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import { decodeTokens, documentSorts, iterateDocumentRows, type DocumentSort, type Origin } from '../store/documents.js';

export { documentSorts, type DocumentSort } from '../store/documents.js';
import { coarseOf, type RunView } from './view.js';

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

export interface DocumentQuery {
  gen?: number;
  origin?: string;
  coarse?: string;
  category?: string;
  grep?: string;
  limit?: number;
  /** Only kept (true) or only discarded (false) candidates. */
  selected?: boolean;
  /** gen0_loglik bounds (inclusive). */
  loglikMin?: number;
  loglikMax?: number;
  sort?: DocumentSort;
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

/** Iterates the matching documents in the query's order (all of them when no limit). */
export function* iterateDocuments(db: Database.Database, view: RunView, q: DocumentQuery): Generator<DocumentView> {
  if (q.origin !== undefined && !origins.includes(q.origin)) throw new UserError(`unknown origin '${q.origin}' (choose from ${origins.join(', ')})`);
  if (q.sort !== undefined && !documentSorts.includes(q.sort)) throw new UserError(`unknown sort '${String(q.sort)}' (choose from ${documentSorts.join(', ')})`);
  if ((q.coarse === undefined) !== (q.category === undefined)) throw new UserError('--coarse and --category go together');
  const filter = q.coarse !== undefined ? { cg: coarseOf(view, q.coarse), k: -1 } : null;
  if (filter) {
    if (!onePerDocument(filter.cg.name)) throw new UserError(`'token' has no category per document; filter by first, length or label`);
    filter.k = categoryIndex(filter.cg.categories, q.category!, filter.cg.name);
  }
  for (const r of iterateDocumentRows(db, view.run.id, q)) {
    const doc = { text: r.text, tokens: decodeTokens(r.tokens) };
    if (filter && filter.cg.categoryOf(doc) !== filter.k) continue;
    const categories: Record<string, string> = {};
    for (const cg of view.coarse) {
      const k = cg.categoryOf(doc);
      if (k !== null) categories[cg.name] = cg.categories[k];
    }
    yield { id: r.id, gen: r.gen, origin: r.origin, inTrain: r.in_train === 1, text: r.text, label: r.label, trueLabel: r.true_label, length: r.length, gen0_loglik: r.gen0_loglik, selected: r.selected === 1, categories };
  }
}

/** The first `limit` matching documents and how many match in all. */
export function selectDocuments(db: Database.Database, view: RunView, q: DocumentQuery): { total: number; docs: DocumentView[] } {
  const docs: DocumentView[] = [];
  let total = 0;
  for (const d of iterateDocuments(db, view, q)) {
    total++;
    if (docs.length < (q.limit ?? Infinity)) docs.push(d);
  }
  return { total, docs };
}
