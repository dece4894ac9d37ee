// Small pieces every command shares: option parsers that turn bad input into a UserError,
// JSON printing, and the default paths (the library never knows them; the CLI passes them in).

import { InvalidArgumentError, type Command } from 'commander';
import { totalmem } from 'node:os';
import { resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';

export const DEFAULT_DB = 'runs/heatdeath.sqlite';
export const DEFAULT_MODELS_DIR = 'models';
export const DEFAULT_CORPORA_DIR = 'corpora';

/** Commander parser for a finite number; commander turns the error into exit 2 (see main.ts). */
export function parseNumber(value: string): number {
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x)) throw new InvalidArgumentError(`'${value}' is not a number.`);
  return x;
}

/** Commander parser for an integer ≥ 0. */
export function parseCount(value: string): number {
  const x = parseNumber(value);
  if (!Number.isInteger(x) || x < 0) throw new InvalidArgumentError(`'${value}' is not a whole number ≥ 0.`);
  return x;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Progress and logs go to stderr so that stdout stays one JSON document with --json. */
export function log(line: string): void {
  process.stderr.write(line + '\n');
}

/** Whether a process id is alive on this machine (null: no pid recorded). */
export function pidAlive(pid: number | null): boolean | null {
  if (!pid) return null;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A fixed-width text table: header row, then rows; numbers right-aligned. */
export function table(header: string[], rows: (string | number | null)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? '–' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const right = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null));
  return cells.map((r) => r.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** A number for a table cell: 3 decimals for fractions, fewer for big numbers. */
/** "0.4σ·0.031": a verdict's temperature-term z and model error δ̂ (status and compare). */
export function termsText(t: { tau_z: number; err_tv: number }): string {
  return `${t.tau_z.toFixed(1)}σ·${t.err_tv.toFixed(3)}`;
}

export function num(x: number | null | undefined, digits = 3): number | null {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  return Number(x.toFixed(Math.abs(x) >= 100 ? 1 : digits));
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** The --models-dir the user typed (it says a run's folder moved there), or undefined for the default. */
export function movedModelsDir(cmd: Command): string | undefined {
  return cmd.getOptionValueSource('modelsDir') === 'cli' ? String(cmd.opts().modelsDir) : undefined;
}

/** The command that continues a run, valid from any folder (its models folder is stored with it). */
export function resumeCommand(name: string, db: string): string {
  return `heatdeath resume ${name} --db ${resolve(db)}`;
}

/** Memory a run may plan for: RAM, but no more than the JS heap holds (samples live there). */
export function memoryBytes(): number {
  return Math.min(totalmem(), getHeapStatistics().heap_size_limit);
}
