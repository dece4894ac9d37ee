// End to end: bad input to the real CLI. Each case exits 2 with exactly one line on stderr
// naming the problem, and leaves the database it was pointed at byte-identical (the main file
// and its WAL; no run added). Every case gets its own copy of one small finished run's
// database, so the cases run concurrently and a change is pinned on the case that made it.

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileHash, heatdeath, query, workDir } from './helpers/cli.js';
import { refusals } from './helpers/refusal.js';

const w = workDir('e2e-bad');
const { copyOf, refused: refusedFrom } = refusals(w.dir);

/** Runs the CLI with `--db <a copy>`, expects exit 2 and one line matching `problem`, and the copy unchanged. */
const refused = (args: string[], problem: RegExp, source = w.db) => refusedFrom(args, problem, source);

beforeAll(async () => {
  const r = await heatdeath(['run', '--model', 'ngram', '--corpus', 'names', '--generations', '1', '--samples', '40', '--steps', '5', '--coarse', 'first,length', '--name', 'done', ...w.store]);
  expect(r.code, r.stderr).toBe(0);
  // Every connection is closed: the WAL has been checkpointed into the main file.
  expect(existsSync(`${w.db}-wal`) ? statSync(`${w.db}-wal`).size : 0).toBe(0);
});
afterAll(() => w.cleanup());

const RUN = ['run', '--model', 'ngram', '--generations', '1', '--samples', '10', '--steps', '2'];

describe.concurrent('bad input: exit 2, one line, the database as it was', () => {
  const cases: [string, string[], RegExp][] = [
    ['--temperature 0', [...RUN, '--temperature', '0'], /--temperature must be a number > 0, got '0'/],
    ['--temperature -1', [...RUN, '--temperature', '-1'], /--temperature must be a number > 0, got '-1'/],
    ['--temperature abc', [...RUN, '--temperature', 'abc'], /--temperature must be a number > 0, got 'abc'/],
    ['--fresh 1.5', [...RUN, '--fresh', '1.5'], /--fresh must be a number from 0 to 1, got '1.5'/],
    ['--fresh -0.1', [...RUN, '--fresh', '-0.1'], /--fresh must be a number from 0 to 1, got '-0.1'/],
    ['--generations 0', [...RUN, '--generations', '0'], /--generations must be a whole number ≥ 1, got '0'/],
    ['--samples 0', [...RUN, '--samples', '0'], /--samples must be a whole number ≥ 1, got '0'/],
    ['--policy bogus', [...RUN, '--policy', 'bogus'], /unknown policy 'bogus' \(choose from accumulate, replace, augment, accumulate-subsample\)/],
    ['--coarse bogus', [...RUN, '--coarse', 'bogus'], /unknown coarse-graining 'bogus'/],
    ['--select bogus', [...RUN, '--select', 'bogus'], /unknown scorer 'bogus' \(choose from gen0-likelihood, label, label-prob, length, random\)/],
    ['--select label:nobody', [...RUN, '--select', 'label:nobody'], /--select label:nobody: no label 'nobody' \(labels: female, male\)/],
    ['--select random@noise=-1', [...RUN, '--select', 'random@noise=-1'], /--select noise must be a number ≥ 0, got '-1'/],
    ['--candidates 0', [...RUN, '--select', 'random', '--candidates', '0'], /--candidates must be a whole number from 1 to 64, got '0'/],
    ['--policy accumulate-subsample without --train-size', [...RUN, '--policy', 'accumulate-subsample'], /--policy accumulate-subsample needs --train-size S/],
    ['--train-size without accumulate-subsample', [...RUN, '--train-size', '50'], /--train-size goes with --policy accumulate-subsample/],
    ['--learning-rate 0', [...RUN, '--learning-rate', '0'], /--learning-rate must be a number in \(0, 10\], got '0'/],
    ['--initial-learning-rate abc', [...RUN, '--initial-learning-rate', 'abc'], /--initial-learning-rate must be a number in \(0, 10\], got 'abc'/],
    ['--corpus does-not-exist', [...RUN, '--corpus', 'does-not-exist'], /does-not-exist/],
    ['a duplicate run name', [...RUN, '--name', 'done'], /a run named 'done' already exists/],
    ['resume no-such-run', ['resume', 'no-such-run'], /no run 'no-such-run'/],
    ['resume a complete run', ['resume', 'done'], /run 'done' is complete \(1 of 1 generations\); pass --generations with more than 1/],
    ['status no-such-run', ['status', 'no-such-run', '--json'], /no run 'no-such-run'/],
    ['samples --origin bogus', ['samples', 'done', '--origin', 'bogus'], /unknown origin 'bogus'/],
    ['samples --category without --coarse', ['samples', 'done', '--category', 'A'], /--coarse and --category go together/],
    ['samples --coarse first --category bogus', ['samples', 'done', '--coarse', 'first', '--category', 'bogus'], /no category 'bogus' in coarse-graining 'first'/],
    ['metrics --coarse bogus', ['metrics', 'done', '--coarse', 'bogus'], /does not track coarse-graining 'bogus'/],
    ['metrics --format bogus', ['metrics', 'done', '--format', 'bogus'], /unknown format 'bogus'/],
    ['samples --gen abc', ['samples', 'done', '--gen', 'abc'], /'abc' is not a number/],
    ['samples --sort bogus', ['samples', 'done', '--sort', 'bogus'], /unknown sort 'bogus' \(choose from id, gen0_loglik, -gen0_loglik\)/],
    ['samples --selected maybe', ['samples', 'done', '--selected', 'maybe'], /--selected must be yes or no, got 'maybe'/],
    ['export --format bogus', ['export', 'done', '--format', 'bogus'], /unknown format 'bogus' \(choose from jsonl, csv, txt\)/],
  ];
  for (const [name, args, problem] of cases) {
    it(name, () => refused(args, problem));
  }
});

describe.concurrent('databases that are not ours are refused byte-identical', () => {
  let text: string;
  let foreign: string;
  beforeAll(() => {
    text = join(w.dir, 'notes.txt');
    writeFileSync(text, 'these are my notes, not a database\n'.repeat(200));
    foreign = join(w.dir, 'foreign.sqlite');
    const db = new Database(foreign);
    db.exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('Ada'), ('Grace');`);
    db.close();
  });

  // The writing commands open the file for writing once it passes the check; the reading ones read-only.
  for (const args of [RUN, ['status', '--json']]) {
    it(`${args[0]} on a text file`, async () => {
      const before = readFileSync(text);
      const r = await heatdeath([...args, '--db', text]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/notes\.txt is not a heatdeath database/)]);
      expect(readFileSync(text).equals(before)).toBe(true);
      expect(existsSync(`${text}-wal`)).toBe(false);
    });
  }
  for (const args of [RUN, ['resume', 'done'], ['samples', 'done']]) {
    it(`${args[0]} on a SQLite file with a foreign table`, async () => {
      const copy = copyOf(foreign);
      const before = fileHash(copy);
      const r = await heatdeath([...args, '--db', copy]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/db\.sqlite is not a heatdeath database/)]);
      expect(fileHash(copy)).toBe(before);
      expect(existsSync(`${copy}-wal`)).toBe(false);
      expect(query(copy, (db) => db.prepare(`SELECT name FROM sqlite_master ORDER BY name`).pluck().all())).toEqual(['customers']);
    });
  }
});

describe('a bad corpus creates no database', () => {
  it('--corpus does-not-exist with a new --db path: exit 2, no file, no folder', async () => {
    const db = join(w.dir, 'fresh', 'new.sqlite');
    const r = await heatdeath([...RUN, '--corpus', 'does-not-exist', '--db', db, '--models-dir', join(w.dir, 'fresh', 'models')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/does-not-exist/);
    expect(existsSync(db)).toBe(false);
    expect(existsSync(join(w.dir, 'fresh'))).toBe(false);
  });

  it('reading commands on a missing database: exit 2, no file', async () => {
    const db = join(w.dir, 'missing.sqlite');
    for (const args of [['status'], ['samples', 'x']]) {
      const r = await heatdeath([...args, '--db', db]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/no database at .*missing\.sqlite/)]);
      expect(existsSync(db)).toBe(false);
    }
  });
});
