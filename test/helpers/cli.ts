// Running the real `heatdeath` binary from end-to-end tests: the path is computed from this
// file's location, each test gets its own temporary folder for the database and checkpoints,
// and results are read back read-only from the SQLite file (never through the code under test).

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export const BIN = fileURLToPath(new URL('../../bin/heatdeath.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts the CLI without waiting; `result` resolves when it exits. `alive` throws (with the
 * child's stderr) once it has exited: call it while waiting for a moment of the child.
 */
export function startHeatdeath(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): { child: ChildProcess; result: Promise<CliResult>; stderr: () => string; alive: () => void } {
  const env = options.env ? { ...process.env, ...options.env } : undefined;
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '',
    stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  let exited = false;
  const alive = () => {
    if (exited) throw new Error(`the process exited before the moment the test waits for\n${stderr.slice(-2000)}`);
  };
  return { child, result, stderr: () => stderr, alive };
}

/** Runs the CLI to completion and returns its exit code and output. */
export function heatdeath(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return startHeatdeath(args, options).result;
}

/** Parses stdout of a `--json` command, failing with the command's stderr when it is not JSON. */
export function json<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout.slice(0, 200)}\nstderr: ${r.stderr.slice(-2000)}`);
  }
}

/** A fresh temporary folder with the paths a run needs; `cleanup` removes it. */
export function workDir(prefix: string): { dir: string; db: string; models: string; store: string[]; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `heatdeath-${prefix}-`));
  const db = join(dir, 'runs.sqlite');
  const models = join(dir, 'models');
  return { dir, db, models, store: ['--db', db, '--models-dir', models], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens a database read-only for assertions (the caller closes it). */
export function openReadonly(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true });
}

/** Runs `f` on a read-only connection and closes it. */
export function query<T>(file: string, f: (db: Database.Database) => T): T {
  const db = openReadonly(file);
  try {
    return f(db);
  } finally {
    db.close();
  }
}

/** SHA-256 of a file, or null when it does not exist (a database and its -wal, -shm). */
export function fileHash(file: string): string | null {
  return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : null;
}

/** Waits until `check` returns a value (polling), or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => T | undefined | null | false, timeoutMs: number, what: string, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
