// The SQLite schema and its migrations, by PRAGMA user_version. Every migration
// runs in one transaction; a database from a newer heatdeath, or a SQLite file that is not ours,
// is refused before anything is written. `application_id` marks our files.

import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';

/** 'HDTH' — written by migration 1, checked on every open. */
export const APPLICATION_ID = 0x48445448;

/** Each entry migrates from version i to i + 1. Append only; never edit a released one. */
const migrations: string[] = [
  // 1: the data model (runs, generations, documents, histograms, metrics), plus run state (tokenizer, coarse-grainings, classifier),
  // live progress columns, sweeps, and per-document columns that make category filters cheap.
  `
  CREATE TABLE sweeps (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    grid_json TEXT NOT NULL
  );
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,            -- running | complete | interrupted | failed
    config_json TEXT NOT NULL,       -- the resolved, frozen run config
    seed INTEGER NOT NULL,
    backend TEXT,
    corpus_hash TEXT NOT NULL,
    sweep_id TEXT REFERENCES sweeps(id),
    generations INTEGER NOT NULL,    -- target G (resume --generations may raise it)
    heartbeat_at TEXT,               -- live status: last sign of life of the writing process
    phase TEXT,                      -- train | sample | metrics | commit | null
    progress_json TEXT,              -- {gen, done, total, rate, eta} of the current phase
    pid INTEGER,
    note TEXT                        -- why it stopped (stop-when, signal, error)
  );
  CREATE TABLE run_state (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,               -- tokenizer | coarse | classifier | classifier_eval | ...
    json TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
  ) WITHOUT ROWID;
  CREATE TABLE generations (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    gen INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    train_loss REAL,
    val_loss REAL,
    n_docs INTEGER NOT NULL,         -- documents in the training set of this generation's model
    checkpoint TEXT,                 -- folder of the model; null once pruned
    timings_json TEXT,               -- seconds per phase (not part of the reproducible result)
    PRIMARY KEY (run_id, gen)
  ) WITHOUT ROWID;
  CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    gen INTEGER NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('seed', 'fresh', 'synthetic')),
    text TEXT NOT NULL,
    tokens BLOB NOT NULL,            -- Uint16 little-endian token ids, no BOS/EOS
    label TEXT,                      -- the label coarse-graining's category (classifier output)
    true_label TEXT,                 -- the corpus label of seed and fresh documents
    in_train INTEGER NOT NULL,       -- 0 only for the seed validation split
    first_token INTEGER NOT NULL,    -- EOS id for an empty document
    length INTEGER NOT NULL,         -- tokens
    text_hash INTEGER NOT NULL       -- fnv1a(text), for verbatim-copy look-ups
  );
  CREATE INDEX documents_by_gen ON documents (run_id, gen, origin);
  CREATE INDEX documents_by_hash ON documents (run_id, text_hash);
  CREATE TABLE histograms (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    gen INTEGER NOT NULL,
    coarse TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('samples', 'train')),  -- new documents / training set
    category INTEGER NOT NULL,
    count REAL NOT NULL,
    PRIMARY KEY (run_id, gen, coarse, kind, category)
  ) WITHOUT ROWID;
  CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    gen INTEGER NOT NULL,
    coarse TEXT NOT NULL,            -- '' for run-level metrics (perplexity, distinct-n, ...)
    key TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, gen, coarse, key)
  ) WITHOUT ROWID;
  `,
  // 2: the kernel that computes a run's matrix products (wasm-simd-fma, wasm-simd, tfjs, none),
  // beside its backend: FMA rounds differently, so a run's exact numbers depend on it. Null for
  // runs made before it was recorded.
  `
  ALTER TABLE runs ADD COLUMN kernel TEXT;
  `,
  // 3: where a run's checkpoints live (absolute), so a resume or a probe from any folder finds
  // them; null for runs made before it was recorded (their checkpoint paths are as stored).
  `
  ALTER TABLE runs ADD COLUMN models_dir TEXT;
  `,
  // 4: a full-text index of document texts for `serve`'s search. External content (the text is
  // stored once, in documents); triggers keep it in step inside the writer's own transaction, so
  // a reader never sees a document without its index entry. Readers open the file read-only and
  // could not build it themselves. Existing documents are indexed here, once.
  `
  CREATE VIRTUAL TABLE documents_fts USING fts5(text, content='documents', content_rowid='id');
  CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, text) VALUES (new.id, new.text);
  END;
  CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, text) VALUES ('delete', old.id, old.text);
  END;
  CREATE TRIGGER documents_fts_update AFTER UPDATE OF text ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO documents_fts (rowid, text) VALUES (new.id, new.text);
  END;
  INSERT INTO documents_fts (documents_fts) VALUES ('rebuild');
  `,
  // 5: curated loops. gen0_loglik: per-token log-likelihood of the document under the
  // generation-0 model (null in runs made before it existed); selected: 0 for a candidate the
  // selection step (--select, --dedupe) discarded, 1 otherwise.
  `
  ALTER TABLE documents ADD COLUMN gen0_loglik REAL;
  ALTER TABLE documents ADD COLUMN selected INTEGER NOT NULL DEFAULT 1;
  `,
];

export const SCHEMA_VERSION = migrations.length;

/**
 * Checks that an open connection is a heatdeath database (or an empty SQLite file) that this
 * version can use. Throws UserError otherwise. Reads only.
 */
export function checkSchema(db: Database.Database, file: string): { version: number; empty: boolean } {
  let version: number, appId: number, tables: number;
  try {
    version = db.pragma('user_version', { simple: true }) as number;
    appId = db.pragma('application_id', { simple: true }) as number;
    tables = (db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number }).n;
  } catch {
    throw new UserError(`${file} is not a heatdeath database (not SQLite)`, 'E_FOREIGN_DB');
  }
  const empty = version === 0 && appId === 0 && tables === 0;
  if (!empty && appId !== APPLICATION_ID) {
    throw new UserError(`${file} is not a heatdeath database`, 'E_FOREIGN_DB');
  }
  if (version > SCHEMA_VERSION) {
    throw new UserError(
      `${file} has schema version ${version}, newer than this heatdeath understands (${SCHEMA_VERSION}); upgrade heatdeath`,
      'E_NEWER_DB',
    );
  }
  return { version, empty };
}

/**
 * Brings a checked database to SCHEMA_VERSION; each step in its own transaction. The version is
 * read inside an IMMEDIATE transaction: two processes opening a new file at once (two runs, sweep
 * workers) would otherwise both see version 0 and the second would fail on CREATE TABLE.
 */
export function migrate(db: Database.Database): void {
  const step = db.transaction((): boolean => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version >= SCHEMA_VERSION) return false;
    db.exec(migrations[version]);
    if (version === 0) db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${version + 1}`);
    return true;
  });
  while ((db.pragma('user_version', { simple: true }) as number) < SCHEMA_VERSION) {
    if (!step.immediate()) break; // another process finished the migration meanwhile
  }
}
