// End to end: the real `heatdeath corpora` binary, in JSON and as a table, with and without
// user corpora (a temporary directory as the working directory, so the default `corpora`
// directory is the test's own).

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CorpusSummary } from '../src/corpus/types.js';

const BIN = fileURLToPath(new URL('../bin/heatdeath.mjs', import.meta.url));
const exec = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function heatdeath(args: string[], cwd: string): Promise<Result> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { cwd, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'heatdeath-cli-corpora-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Sequential: each run is a few seconds of CPU, and vitest already runs two files at once.
describe('heatdeath corpora', () => {
  it('--json lists the three built-ins with documents, tokens and label proportions', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    const r = await heatdeath(['corpora', '--json'], empty);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { corporaDir: string; corpora: CorpusSummary[] };
    expect(out.corporaDir).toBe('corpora');
    expect(out.corpora.map((c) => c.name)).toEqual(['names', 'brown', 'synthetic']);
    const [names, brown, synthetic] = out.corpora;
    expect(names.documents).toBe(8849);
    expect(names.labels.map((l) => l.label)).toEqual(['female', 'male']);
    expect(names.labels[0].share).toBeCloseTo(0.5595, 3);
    expect(names.labels[1].share).toBeCloseTo(0.4405, 3);
    expect(names.charTokens).toBe(52913);
    expect(names.bpeTokens).toBe(20691);
    expect(brown.documents).toBe(57340);
    expect(brown.charTokens).toBeGreaterThan(5_000_000);
    expect(brown.bpeTokens).toBeGreaterThan(1_000_000);
    expect(brown.labels.map((l) => l.label).sort()).toEqual(['fiction', 'learned', 'nonfiction', 'press']);
    expect(brown.fineLabels).toHaveLength(15);
    expect(brown.fineLabels!.reduce((s, l) => s + l.count, 0)).toBe(57340);
    expect(synthetic.documents).toBe(4000);
    expect(synthetic.labels[0]).toMatchObject({ label: 'weather' });
    expect(synthetic.labels[0].share).toBeCloseTo(0.4, 1);
  });

  it('lists a user file in the default corpora directory of the working directory', async () => {
    const project = join(work, 'project');
    mkdirSync(join(project, 'corpora'), { recursive: true });
    writeFileSync(join(project, 'corpora', 'mine.txt'), 'one doc\n\nanother doc\nthird\n');
    writeFileSync(join(project, 'corpora', 'tagged.jsonl'), '{"text":"a","label":"x"}\n{"text":"b","label":"y"}\n{"text":"c","label":"x"}\n');
    const r = await heatdeath(['corpora', '--json', '--no-bpe'], project);
    expect(r.code).toBe(0);
    const { corpora } = JSON.parse(r.stdout) as { corpora: CorpusSummary[] };
    expect(corpora.map((c) => c.name)).toEqual(['names', 'brown', 'synthetic', 'mine', 'tagged']);
    const mine = corpora[3];
    expect(mine).toMatchObject({ documents: 3, charTokens: 'one docanother docthird'.length, labels: [] });
    expect(mine.source).toBe(join('corpora', 'mine.txt'));
    expect(mine.bpeTokens).toBeUndefined();
    expect(corpora[4].labels).toEqual([
      { label: 'x', count: 2, share: 2 / 3 },
      { label: 'y', count: 1, share: 1 / 3 },
    ]);
  });

  it('prints a table by default, with --corpora-dir, and lists a broken file with its error', async () => {
    const other = join(work, 'elsewhere');
    mkdirSync(other);
    writeFileSync(join(other, 'bad.jsonl'), '{"text":"ok"}\nnot json\n');
    const r = await heatdeath(['corpora', '--no-bpe', '--corpora-dir', other], work);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^name\s+source\s+documents\s+char tokens\s+bpe tokens\s+labels$/);
    expect(lines[1]).toMatch(/^names\s+builtin\s+8,849\s+52,913 \(53 distinct\)\s+-\s+female 55\.9%, male 44\.1%$/);
    expect(r.stdout).toMatch(/bad\.jsonl .*error: .*bad\.jsonl:2: not valid JSON/);
    expect(r.stdout).toMatch(/brown fine labels: learned 13\.5%, .*science_fiction 1\.7%/);
    // Progress goes to stderr, never into the table.
    expect(r.stderr).toMatch(/read 4 corpora/);
    expect(r.stdout).not.toMatch(/read 4 corpora/);
  });
});

describe('a run on a user corpus', () => {
  it('stores the corpus file by its absolute path, so that resume from another folder reads it', async () => {
    const here = join(work, 'project');
    const elsewhere = join(work, 'resume-elsewhere');
    mkdirSync(join(here, 'corpora'), { recursive: true });
    mkdirSync(elsewhere);
    writeFileSync(join(here, 'corpora', 'pets.txt'), ['rex', 'fido', 'bella', 'max', 'luna', 'coco', 'milo', 'nala', 'oscar', 'tilly'].join('\n').repeat(20) + '\n');
    const store = ['--db', join(work, 'pets.sqlite'), '--models-dir', join(work, 'pets-models')];
    // By its name in the default corpora folder of the working directory.
    const run = await heatdeath(['run', '--model', 'ngram', '--corpus', 'pets', '--coarse', 'first', '--generations', '1', '--samples', '20', '--steps', '3', '--initial-steps', '10', '--name', 'pets', ...store, '--json'], here);
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    const resumed = await heatdeath(['resume', 'pets', '--generations', '2', ...store, '--json'], elsewhere);
    expect(resumed.stderr).not.toMatch(/corpus|Error/);
    expect(resumed.code).toBe(0);
    const status = JSON.parse((await heatdeath(['status', 'pets', '--db', join(work, 'pets.sqlite'), '--json'], elsewhere)).stdout);
    expect(status.config.corpus).toBe(join(here, 'corpora', 'pets.txt'));
    expect(status.generation ?? status.gen ?? status.lastGeneration).toBe(2);
  });
});
