// Merging run databases (e.g. the one-database-per-job output of `sweep --emit-jobs`) into one.
// Every input is opened read-only and checked before anything is written; then each input is
// copied in one transaction. Runs keep their sweep id (the sweeps row comes along).
//
// Ids: a run keeps its id when that id is free in the output, else it gets the next free one; a
// run's documents keep their ids when all of them are free, else they are shifted together by
// one offset past the output's largest id (their order, which training relies on, is kept).
// Everything that points at a run (run_state, generations, documents, histograms, metrics)
// follows its new id. Checkpoint paths are copied as they are.
//
// Refused (nothing written): a file that is not a heatdeath database or has another schema
// version, the same file given twice, a run already in the output or in an earlier input (same
// name, created_at and config: merged before), and a different run with a name already taken.

import Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import { checkSchema, SCHEMA_VERSION } from './schema.js';
import type { RunRow, SweepRow } from './runs.js';

export interface MergeSource {
  file: string;
  db: Database.Database;
}

export interface MergedRun {
  name: string;
  from: string;
  sweep: string | null;
  /** Old and new run id. */
  id: number;
  newId: number;
  documents: number;
  /** 0 when the documents kept their ids. */
  documentShift: number;
}

/** Opens an input read-only and checks it is a heatdeath database of this schema version. */
export function openMergeSource(file: string): MergeSource {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch {
    throw new UserError(`cannot open ${file} (no such file, or not readable)`, 'E_NO_DB');
  }
  try {
    const { version, empty } = checkSchema(db, file);
    if (empty) throw new UserError(`${file} is an empty SQLite file, not a heatdeath database`, 'E_FOREIGN_DB');
    if (version !== SCHEMA_VERSION) throw new UserError(`${file} has schema version ${version}; open it once with this heatdeath (e.g. resume a run) before merging`, 'E_OLD_DB');
  } catch (e) {
    db.close();
    throw e;
  }
  return { file, db };
}

const identity = (r: Pick<RunRow, 'name' | 'created_at' | 'config_json'>) => JSON.stringify([r.name, r.created_at, r.config_json]);

/**
 * Checks that every run of every input can go into `out` (null: the output does not exist yet).
 * Throws a UserError naming the first problem; writes nothing.
 */
export function checkMerge(out: Database.Database | null, sources: readonly MergeSource[]): void {
  const byName = new Map<string, { id: string; where: string }>();
  for (const r of (out?.prepare(`SELECT name, created_at, config_json FROM runs`).all() ?? []) as RunRow[]) byName.set(r.name, { id: identity(r), where: 'the output' });
  for (const s of sources) {
    for (const r of s.db.prepare(`SELECT name, created_at, config_json FROM runs ORDER BY id`).all() as RunRow[]) {
      const seen = byName.get(r.name);
      if (seen && seen.id === identity(r)) throw new UserError(`run '${r.name}' of ${s.file} is already in ${seen.where} (merged before?); nothing merged`, 'E_ALREADY_MERGED');
      if (seen) throw new UserError(`run name '${r.name}' of ${s.file} is taken by a different run in ${seen.where}; nothing merged`, 'E_NAME_CLASH');
      byName.set(r.name, { id: identity(r), where: s.file });
    }
  }
}

type Row = Record<string, unknown>;

function inserter(db: Database.Database, table: string, columns: string[]): Database.Statement {
  return db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => '@' + c).join(', ')})`);
}

function columnsOf(db: Database.Database, table: string): string[] {
  return (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]);
}

/** Copies one input into `out` in one transaction; returns what happened to each run. */
export function mergeSource(out: Database.Database, source: MergeSource): MergedRun[] {
  const src = source.db;
  return out.transaction(() => {
    const merged: MergedRun[] = [];
    // Sweeps first (runs point at them). An id-only row (written by `run --sweep-id`) gives way to a full grid.
    for (const s of src.prepare(`SELECT * FROM sweeps WHERE id IN (SELECT sweep_id FROM runs)`).all() as SweepRow[]) {
      const have = out.prepare(`SELECT * FROM sweeps WHERE id = ?`).get(s.id) as SweepRow | undefined;
      if (!have) out.prepare(`INSERT INTO sweeps (id, created_at, grid_json) VALUES (?, ?, ?)`).run(s.id, s.created_at, s.grid_json);
      else if (have.grid_json === '{}' && s.grid_json !== '{}') out.prepare(`UPDATE sweeps SET grid_json = ? WHERE id = ?`).run(s.grid_json, s.id);
    }
    const runCols = columnsOf(out, 'runs');
    const insertRun = inserter(out, 'runs', runCols);
    const childTables = ['run_state', 'generations', 'histograms', 'metrics'];
    const children = new Map(childTables.map((t) => [t, { cols: columnsOf(out, t), stmt: inserter(out, t, columnsOf(out, t)) }]));
    const docCols = columnsOf(out, 'documents');
    const insertDoc = inserter(out, 'documents', docCols);
    const pick = (row: Row, cols: string[]) => Object.fromEntries(cols.map((c) => [c, row[c] ?? null]));

    for (const run of src.prepare(`SELECT * FROM runs ORDER BY id`).all() as RunRow[]) {
      const free = out.prepare(`SELECT 1 FROM runs WHERE id = ?`).get(run.id) === undefined;
      const newId = free ? run.id : ((out.prepare(`SELECT max(id) FROM runs`).pluck().get() as number | null) ?? 0) + 1;
      insertRun.run(pick({ ...run, id: newId }, runCols));
      for (const [t, { cols, stmt }] of children) {
        for (const row of src.prepare(`SELECT * FROM ${t} WHERE run_id = ?`).iterate(run.id) as Iterable<Row>) stmt.run(pick({ ...row, run_id: newId }, cols));
      }
      // Documents: try to keep every id (a savepoint); on the first taken id, shift them all.
      const docs = () => src.prepare(`SELECT * FROM documents WHERE run_id = ? ORDER BY id`).iterate(run.id) as Iterable<Row>;
      const copy = (shift: number) => {
        let n = 0;
        for (const d of docs()) {
          insertDoc.run(pick({ ...d, id: (d.id as number) + shift, run_id: newId }, docCols));
          n++;
        }
        return n;
      };
      let shift = 0;
      let n: number;
      try {
        n = out.transaction(() => copy(0))();
      } catch (e) {
        if (!/UNIQUE|PRIMARY KEY/i.test(String((e as Error).message))) throw e;
        const outMax = (out.prepare(`SELECT max(id) FROM documents`).pluck().get() as number | null) ?? 0;
        const srcMin = (src.prepare(`SELECT min(id) FROM documents WHERE run_id = ?`).pluck().get(run.id) as number | null) ?? 0;
        shift = outMax + 1 - srcMin;
        n = out.transaction(() => copy(shift))();
      }
      merged.push({ name: run.name, from: source.file, sweep: run.sweep_id, id: run.id, newId, documents: n, documentShift: shift });
    }
    return merged;
  }).immediate();
}
