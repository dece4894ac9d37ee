// End to end: the inputs a red-team pass found getting past the contract "exit 2, one line
// naming the problem, nothing stored changed" — paths that cannot hold a run, sizes that cannot
// fit, hostile corpus files, a moved checkpoint folder, generations that do not exist — and the
// small faults around them (one-line option errors, the resume target, a corpus without labels,
// checkpoint sizes of a run's own models folder). One small prepared database serves every case;
// each case works on its own copy (see helpers/refusal.ts).

import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, heatdeath, json, query, workDir, type CliResult } from './helpers/cli.js';
import { expectOneLine, fingerprint, refusals } from './helpers/refusal.js';

const w = workDir('e2e-hard');
const { copyOf, refused } = refusals(w.dir);
const RUN = ['run', '--model', 'ngram', '--generations', '1', '--samples', '10', '--steps', '2'];
const file = (name: string) => join(w.dir, name);
const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n') + '\n';

beforeAll(async () => {
  const tiny = ['--model', 'ngram', '--corpus', 'names', '--generations', '1', '--samples', '40', '--steps', '5', '--coarse', 'first,length', '--db', w.db];
  // 'done': complete, checkpoints in w.models. 'moved': its models folder is moved away afterwards.
  for (const [name, models] of [['done', w.models], ['moved', file('moved-models')]]) {
    const r = await heatdeath(['run', ...tiny, '--name', name, '--models-dir', models]);
    expect(r.code, r.stderr).toBe(0);
  }
  renameSync(file('moved-models'), file('moved-elsewhere'));
  // Corpus files: Latin-1 on line 3, a 1.5 MiB document on line 2, random bytes, 7000 distinct
  // (valid) characters, and an unlabelled one.
  writeFileSync(file('latin.txt'), Buffer.concat([Buffer.from(lines(2, (i) => `name${i}`)), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), Buffer.from(lines(30, (i) => `word${i}`))]));
  writeFileSync(file('big.txt'), `first\n${'a'.repeat(1.5 * 2 ** 20)}\n${lines(30, (i) => `w${i}`)}`);
  writeFileSync(file('binary.txt'), Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919 + 13) % 256)));
  writeFileSync(file('vocab.txt'), lines(35, (i) => Array.from({ length: 200 }, (_, k) => String.fromCodePoint(0x4e00 + i * 200 + k)).join('')));
  writeFileSync(file('plain.txt'), lines(40, (i) => `${['ba', 'ko', 'mi', 'te'][i % 4]}${['ru', 'sa', 'no'][i % 3]}${i}`));
  writeFileSync(file('a-file'), 'not a folder\n');
  mkdirSync(file('a-folder'));
});
afterAll(() => w.cleanup());

describe.concurrent('refused: exit 2, one line, the database as it was', () => {
  // [name, args (--db <copy> appended unless the case gives its own), problem, the case gives --db itself]
  const cases: [string, () => string[], RegExp, boolean?][] = [
    // 3. Results thrown away.
    ['--db ""', () => [...RUN, '--db', ''], /^heatdeath: --db is empty; give a database file$/, true],
    ['--db :memory:', () => [...RUN, '--db', ':memory:'], /--db :memory: is not a file: a run there is lost/, true],
    // 5. Paths the user can fix.
    ['run --db <a folder>', () => [...RUN, '--db', file('a-folder')], /--db .*a-folder is a folder, not a database file/, true],
    ['status --db <a folder>', () => ['status', '--db', file('a-folder')], /--db .*a-folder is a folder, not a database file/, true],
    ['merge <a folder> IN', () => ['merge', file('a-folder'), w.db], /OUT .*a-folder is a folder, not a database file/, true],
    ['run --models-dir <a file>', () => [...RUN, '--models-dir', file('a-file')], /--models-dir .*a-file: is a file, not a folder/],
    ['report --out <a folder>', () => ['report', 'done', '--out', file('a-folder')], /--out .*a-folder is a folder; give a file name/],
    ['sim --replicates 1e12', () => ['sim', '--replicates', '1e12'], /--replicates must be a whole number from 1 to 1000000, got '1000000000000'/, true],
    ['theory --steps 1e12', () => ['theory', '--steps', '1e12'], /--steps must be a whole number from 1 to 1000000, got '1000000000000'/, true],
    // 4. Checked before the first write.
    ['--samples 1e12', () => [...RUN, '--samples', '1e12', '--corpus', 'names'], /--samples 1000000000000 of up to \d+ tokens needs about \d+ GiB of memory per generation/],
    ['a binary corpus under --coarse first,length', () => [...RUN, '--corpus', file('binary.txt'), '--coarse', 'first,length'], /binary\.txt:1: not valid UTF-8 at byte 1 of the line \(byte offset 1 of the file, 0xfc\)/],
    ['--buckets too many for a 7000-character vocabulary', () => [...RUN, '--corpus', file('vocab.txt'), '--coarse', 'first,length', '--buckets', '65536'], /ngram: buckets must be a whole number from 1 to \d+, got 65536/],
    ['resume when the checkpoint folder moved', () => ['resume', 'moved', '--generations', '2'], /the checkpoint of generation 1 of run 'moved' is missing \(.*moved-models.*\); cannot resume \(if the models folder moved, pass its new place with --models-dir\)/],
    ['probe-tau when the checkpoint folder moved', () => ['probe-tau', 'moved', '--samples', '10'], /the checkpoint of generation 1 of run 'moved' is missing at .*moved-models/],
    // 7. Hostile files.
    ['a 1.5 MiB document', () => [...RUN, '--corpus', file('big.txt')], /big\.txt:2: a document of 1572864 bytes; heatdeath reads documents \(lines\) of at most 1048576 bytes \(1 MiB\)/],
    ['a Latin-1 corpus', () => [...RUN, '--corpus', file('latin.txt'), '--coarse', 'first,length'], /latin\.txt:3: not valid UTF-8 at byte 3 of the line \(byte offset 15 of the file, 0xe9\)/],
    // 8. Generations that do not exist.
    ['samples --gen 99', () => ['samples', 'done', '--gen', '99'], /run 'done' has generations 0–1; there is no generation 99/],
    ['export --gen 99', () => ['export', 'done', '--gen', '99'], /run 'done' has generations 0–1; there is no generation 99/],
    // 9. Small ones.
    ['an unknown option with a suggestion', () => ['status', '--jsn'], /^error: unknown option '--jsn' \(Did you mean --json\?\)$/],
    ['resume --generations not beyond the committed ones', () => ['resume', 'done', '--generations', '1'], /run 'done' has 1 generations committed; --generations must be more than 1 to extend it, got 1/],
    ["an unlabelled corpus when 'label' is named", () => [...RUN, '--corpus', file('plain.txt'), '--coarse', 'first,label'], /corpus 'plain' has no labels, so the 'label' coarse-graining is unavailable/],
  ];
  for (const [name, args, problem, ownDb] of cases) {
    it(name, async () => {
      if (ownDb) await refused(args(), problem, w.db, { dbArg: false });
      else await refused(args(), problem, w.db);
    });
  }

  it('a run refused by the preflight leaves no new database file or folder behind', async () => {
    const db = file('new-folder/inner/new.sqlite');
    const r = await heatdeath([...RUN, '--samples', '1e12', '--db', db, '--models-dir', w.models]);
    expectOneLine(r, /--samples 1000000000000 of up to/);
    expect(existsSync(file('new-folder'))).toBe(false);
  });

  it('report --out <a folder> leaves no temporary file', async () => {
    await refused(['report', 'done', '--out', file('a-folder')], /is a folder/, w.db);
    expect(readdirSync(file('a-folder'))).toEqual([]);
    expect(readdirSync(w.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a read-only database, as a user without write permission', async (ctx) => {
    const db = copyOf(w.db);
    const dir = join(db, '..');
    let r: CliResult;
    if (process.getuid?.() === 0) {
      // Root may write anything, so the CLI runs as `nobody`, who must be able to read the sources.
      if (!othersCanRead(BIN)) ctx.skip('running as root in a folder other users cannot read: no user to be read-only for');
      // `nobody` may read the copy but not write it.
      for (const d of [w.dir, dir]) chmodSync(d, 0o755);
      chmodSync(db, 0o644);
      r = await new Promise<CliResult>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, 'resume', 'done', '--generations', '2', '--db', db], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '', stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
    } else {
      chmodSync(db, 0o444);
      chmodSync(dir, 0o555);
      r = await heatdeath(['resume', 'done', '--generations', '2', '--db', db]);
      chmodSync(dir, 0o755);
    }
    const before = fingerprint(db);
    expectOneLine(r, /database .*db\.sqlite is read-only \(no write permission on its (file|folder)\)/);
    expect(fingerprint(db)).toEqual(before);
    expect(query(db, (d) => d.prepare(`SELECT status FROM runs WHERE name = 'done'`).pluck().get())).toBe('complete');
  });
});

/** Whether every folder above `path` lets other users through and `path` is theirs to read. */
function othersCanRead(path: string): boolean {
  for (let d = dirname(path); d !== dirname(d); d = dirname(d)) if ((statSync(d).mode & 0o001) === 0) return false;
  return (statSync(path).mode & 0o004) !== 0;
}

describe('what runs now', () => {
  it("metrics of a run that does not track 'first' read the first coarse-graining it tracks", async () => {
    const r = await heatdeath(['run', '--model', 'ngram', '--corpus', 'names', '--generations', '1', '--samples', '20', '--steps', '2', '--coarse', 'length,label', '--name', 'no-first', '--db', w.db, '--models-dir', w.models]);
    expect(r.code, r.stderr).toBe(0);
    const m = json(await heatdeath(['metrics', 'no-first', '--db', w.db, '--json']));
    expect(m.coarse).toBe('length');
    expect(m.rows.map((row: { gen: number }) => row.gen)).toEqual([0, 1]);
    expect(m.rows[1].entropy_norm).toBeGreaterThan(0);
  });

  it('a reader that closes the pipe early (| head) ends the command quietly with exit 0', async () => {
    // The read end is closed before the child writes anything, so its first write fails: no timing.
    const child = spawn(process.execPath, [BIN, 'export', 'done', '--format', 'txt', '--db', w.db], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it("an unlabelled corpus under the default --coarse drops 'label' with a one-line notice", async () => {
    const db = copyOf(w.db);
    const r = await heatdeath([...RUN, '--corpus', file('plain.txt'), '--name', 'plain', '--db', db, '--models-dir', w.models]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => /no labels/.test(l))).toEqual([
      "heatdeath: corpus '" + file('plain.txt') + "' has no labels: tracking first, length (the default 'label' coarse-graining needs labels)",
    ]);
    const config = JSON.parse(query(db, (d) => d.prepare(`SELECT config_json FROM runs WHERE name = 'plain'`).pluck().get()) as string);
    expect(config.coarse).toEqual(['first', 'length']);
  });

  it("status counts the checkpoints of the run's own models folder, from any folder", async () => {
    const elsewhere = file('elsewhere');
    mkdirSync(elsewhere);
    const r = await heatdeath(['status', 'done', '--json', '--db', w.db], { cwd: elsewhere });
    expect(r.code, r.stderr).toBe(0);
    const s = json(r);
    expect(s.checkpoints).toEqual([0, 1]);
    // Two checkpoints of a few KiB each (an order-3 n-gram over the names' characters).
    expect(s.checkpointBytes).toBeGreaterThan(1000);
    expect(existsSync(join(elsewhere, 'models'))).toBe(false);
  });
});
