// Small pieces every command shares: option parsers that turn bad input into a UserError,
// JSON printing, and the default paths (the library never knows them; the CLI passes them in).

import { InvalidArgumentError } from 'commander';

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
