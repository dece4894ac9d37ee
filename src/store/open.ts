// Opening a database file safely. The file is first opened read-only and checked (ours? not
// newer?), so a foreign or newer file is refused byte-identical; only then is it opened for
// writing, put in WAL mode and migrated.

import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import { checkSchema, migrate } from './schema.js';

export interface OpenOptions {
  /** Create the file (and its folder) if missing. Reading commands pass false. */
  create?: boolean;
  readonly?: boolean;
}

export function openDatabase(file: string, options: OpenOptions = {}): Database.Database {
  if (file !== ':memory:' && !existsSync(file)) {
    if (!options.create) throw new UserError(`no database at ${file} (start a run first, or pass --db)`, 'E_NO_DB');
    mkdirSync(dirname(file), { recursive: true });
  } else if (file !== ':memory:') {
    const probe = new Database(file, { readonly: true, fileMustExist: true });
    try {
      checkSchema(probe, file);
    } finally {
      probe.close();
    }
  }
  const db = new Database(file, { readonly: options.readonly ?? false });
  try {
    // Several processes (sweep workers, `status` from another terminal) share one file. A writer
    // waits for another's generation commit (documents, their full-text index, histograms): a
    // second or so of CPU, but many seconds of wall time on a loaded machine — wait, don't fail.
    db.pragma('busy_timeout = 60000');
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      checkSchema(db, file);
      migrate(db);
    }
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
