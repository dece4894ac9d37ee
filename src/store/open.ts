// Opening a database file safely. The file is first opened read-only and checked (ours? not
// newer?), so a foreign or newer file is refused byte-identical; only then is it opened for
// writing, put in WAL mode and migrated. A path that cannot hold a run (empty, `:memory:`, a
// folder, a read-only file) is refused first: a run there would be lost or fail at its first write.

import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import { checkSchema, migrate } from './schema.js';

export interface OpenOptions {
  /** Create the file (and its folder) if missing. Reading commands pass false. */
  create?: boolean;
  readonly?: boolean;
}

/** Throws a UserError when `file` cannot be a database file to write (or, `readonly`, to read). */
export function checkDatabasePath(file: string, readonly = false, label = '--db'): void {
  if (file.trim() === '') throw new UserError(`${label} is empty; give a database file`, 'E_DB_PATH');
  if (file === ':memory:') {
    throw new UserError(`${label} ${file} is not a file: a run there is lost when the process ends; give a database file`, 'E_DB_PATH');
  }
  if (existsSync(file) && statSync(file).isDirectory()) throw new UserError(`${label} ${file} is a folder, not a database file`, 'E_DB_PATH');
  checkFolder(label, dirname(file));
  if (readonly || !existsSync(file)) return;
  // WAL mode writes beside the file (-wal, -shm): both the file and its folder must be writable.
  for (const [path, what] of [[file, 'file'], [dirname(file), 'folder']] as const) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      throw new UserError(`database ${file} is read-only (no write permission on its ${what})`, 'E_DB_READONLY');
    }
  }
}

/** A folder that is, or can be created as, a directory: no part of its path is a file. */
export function checkFolder(flag: string, dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d)) {
      if (!statSync(d).isDirectory()) throw new UserError(`${flag} ${dir}: ${d === dir ? 'is a file, not a folder' : `${d} is a file, not a folder`}`, 'E_NOT_FOLDER');
      return;
    }
    if (dirname(d) === d) return;
  }
}

/**
 * Test facility (the CLI's HEATDEATH_DISK_FULL): from now on this connection may not grow the
 * file, so the next write that needs a page fails with SQLite's own SQLITE_FULL, as on a full disk.
 */
export function capDatabaseGrowth(db: Database.Database): void {
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
}

export function openDatabase(file: string, options: OpenOptions = {}): Database.Database {
  checkDatabasePath(file, options.readonly);
  if (!existsSync(file)) {
    if (!options.create) throw new UserError(`no database at ${file} (start a run first, or pass --db)`, 'E_NO_DB');
    mkdirSync(dirname(file), { recursive: true });
  } else {
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
