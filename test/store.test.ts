// The store: migrations by PRAGMA user_version, our application_id, refusal of foreign and newer
// files without touching them, and the typed queries on an in-memory database.

import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/store/open.js';
import { APPLICATION_ID, SCHEMA_VERSION, migrate, checkSchema } from '../src/store/schema.js';
import { insertRun, getRun, lastGeneration, insertGeneration, updateRun } from '../src/store/runs.js';
import { decodeTokens, encodeTokens, insertDocuments, insertHistogram, readHistograms } from '../src/store/documents.js';

const dir = mkdtempSync(join(tmpdir(), 'heatdeath-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('schema and migrations', () => {
  it('creates, migrates, reopens: version, application id and tables are there once', () => {
    const file = join(dir, 'a.sqlite');
    const db = openDatabase(file, { create: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    insertRun(db, { name: 'r', createdAt: '2026-01-01T00:00:00Z', config: { a: 1 }, seed: 1, backend: 'cpu', corpusHash: 'h', generations: 3 });
    db.close();
    const again = openDatabase(file);
    expect(again.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(getRun(again, 'r').generations).toBe(3);
    migrate(again); // idempotent at the current version
    const tables = again.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
    expect(tables).toEqual(['documents', 'documents_fts', 'documents_fts_config', 'documents_fts_data', 'documents_fts_docsize', 'documents_fts_idx', 'generations', 'histograms', 'metrics', 'run_state', 'runs', 'sweeps']);
    again.close();
  });

  it('refuses a foreign SQLite file and a text file, leaving them byte-identical', () => {
    const foreign = join(dir, 'foreign.sqlite');
    const f = new Database(foreign);
    f.exec('CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES (1)');
    f.close();
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello, not a database\n');
    for (const file of [foreign, text]) {
      const before = sha(file);
      expect(() => openDatabase(file)).toThrow(/is not a heatdeath database/);
      expect(() => openDatabase(file, { readonly: true })).toThrow(/is not a heatdeath database/);
      expect(sha(file)).toBe(before);
    }
  });

  it('a file read without migrating (read-only) gives the later columns as null, not undefined', () => {
    const file = join(dir, 'schema1.sqlite');
    const db = openDatabase(file, { create: true });
    insertRun(db, { name: 'old', createdAt: '2026-01-01T00:00:00Z', config: {}, seed: 1, backend: 'cpu', corpusHash: 'h', generations: 1 });
    db.exec(`ALTER TABLE runs DROP COLUMN kernel; ALTER TABLE runs DROP COLUMN models_dir; PRAGMA user_version = 1`);
    db.close();
    const ro = openDatabase(file, { readonly: true });
    expect(ro.pragma('user_version', { simple: true })).toBe(1);
    const run = getRun(ro, 'old');
    expect(run.kernel).toBeNull();
    expect(run.models_dir).toBeNull();
    ro.close();
  });

  it('refuses a database from a newer heatdeath without changing it', () => {
    const file = join(dir, 'newer.sqlite');
    openDatabase(file, { create: true }).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.pragma('journal_mode = DELETE');
    raw.close();
    const before = sha(file);
    expect(() => openDatabase(file)).toThrow(/newer than this heatdeath understands/);
    expect(sha(file)).toBe(before);
  });

  it('an empty SQLite file is initialised; a missing file is created only when asked', () => {
    expect(() => openDatabase(join(dir, 'missing.sqlite'))).toThrow(/no database at/);
    const mem = new Database(':memory:');
    expect(checkSchema(mem, ':memory:')).toEqual({ version: 0, empty: true });
    migrate(mem);
    expect(checkSchema(mem, ':memory:')).toEqual({ version: SCHEMA_VERSION, empty: false });
  });
});

describe('typed queries', () => {
  const db = new Database(':memory:');
  migrate(db);
  const runId = insertRun(db, { name: 'q', createdAt: 't0', config: {}, seed: 7, backend: 'wasm', corpusHash: 'h', generations: 2 });

  it('token blobs round-trip', () => {
    const t = [0, 1, 2, 65535, 300];
    expect(decodeTokens(encodeTokens(t))).toEqual(t);
  });

  it('histograms store non-zero counts and read back dense per generation', () => {
    insertHistogram(db, runId, { gen: 0, coarse: 'first', kind: 'samples', counts: [3, 0, 1] });
    insertHistogram(db, runId, { gen: 1, coarse: 'first', kind: 'samples', counts: [0, 2, 2] });
    expect(readHistograms(db, runId, 'first', 'samples', 3)).toEqual([[3, 0, 1], [0, 2, 2]]);
    expect(db.prepare(`SELECT count(*) FROM histograms`).pluck().get()).toBe(4);
  });

  it('documents, generations and run updates', () => {
    const ids = insertDocuments(db, runId, [
      { gen: 0, origin: 'seed', text: 'Ann', tokens: [2, 3, 3], label: 'female', trueLabel: 'female', inTrain: true, firstToken: 2 },
      { gen: 0, origin: 'seed', text: '', tokens: [], label: null, trueLabel: null, inTrain: false, firstToken: 1 },
    ]);
    expect(ids).toHaveLength(2);
    expect(lastGeneration(db, runId)).toBe(-1);
    insertGeneration(db, { run_id: runId, gen: 0, started_at: 'a', finished_at: 'b', train_loss: 1, val_loss: 2, n_docs: 1, checkpoint: null, timings_json: null });
    expect(lastGeneration(db, runId)).toBe(0);
    updateRun(db, runId, { status: 'complete', note: 'done' });
    expect(getRun(db, 'q')).toMatchObject({ status: 'complete', note: 'done', seed: 7 });
    expect(() => getRun(db, 'nope')).toThrow(/no run 'nope'/);
  });
});
