// The contract of bad input, checked the same way everywhere: exit 2, nothing on stdout,
// exactly one stderr line matching the problem, and the database it was pointed at unchanged
// (the main file, the WAL's content, the runs and their status). Each case works on its own
// copy of a prepared database, so cases run concurrently and a change is pinned on its case.

import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { fileHash, heatdeath, query, type CliResult } from './cli.js';

/** What must not change: the main file, the WAL's content (absent = empty), the runs. */
export function fingerprint(file: string) {
  const wal = `${file}-wal`;
  const walBytes = existsSync(wal) ? statSync(wal).size : 0;
  return {
    main: fileHash(file),
    wal: walBytes === 0 ? null : fileHash(wal),
    runs: query(file, (db) => (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'`).get() ? db.prepare(`SELECT id, name, status FROM runs ORDER BY id`).all() : null)),
  };
}

/** Expects the refusal contract of `r`: exit 2, no stdout, one stderr line matching `problem`. */
export function expectOneLine(r: CliResult, problem: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(problem);
}

/** Copies of prepared databases under `dir` (a checkpointed WAL database: the main file is the whole of it). */
export function refusals(dir: string) {
  let caseNo = 0;
  const copyOf = (file: string): string => {
    const caseDir = join(dir, `case-${++caseNo}`);
    mkdirSync(caseDir);
    const copy = join(caseDir, 'db.sqlite');
    copyFileSync(file, copy);
    return copy;
  };
  /**
   * Runs the CLI with `--db <a copy of source>` appended (or, with `dbArg: false`, the args as
   * they are: the copy is then only watched), expects the refusal, and the copy unchanged.
   */
  const refused = async (args: string[], problem: RegExp, source: string, options: { dbArg?: boolean; cwd?: string } = {}): Promise<string> => {
    const db = copyOf(source);
    const before = fingerprint(db);
    const r = await heatdeath(options.dbArg === false ? args : [...args, '--db', db], { cwd: options.cwd });
    expectOneLine(r, problem);
    expect(fingerprint(db)).toEqual(before);
    return db;
  };
  return { copyOf, refused };
}
