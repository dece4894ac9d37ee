// The kernel on record: each run stores the kernel of its matrix products beside its backend
// (the n-gram computes none), `status --json` shows it and which generations used which, and a
// resume under another kernel (simulated by editing the stored record) prints one notice line
// and records the change; a resume under the same kernel says nothing and changes nothing.

import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { continueKernels } from '../src/loop/kernels.js';
import { heatdeath, json, workDir, type CliResult } from './helpers/cli.js';

const w = workDir('kernel');
afterAll(() => w.cleanup());

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code} (signal ${r.signal})\nstderr: ${r.stderr.slice(-3000)}`);
  return r;
}

const status = async (run: string) => json<{ backend: string; kernel: string | null; kernels: { fromGen: number; kernel: string }[]; gen: number }>(ok(await heatdeath(['status', run, ...w.store, '--json'])));
const NOTICE = /^note: generations 0–(\d+) were computed with the (\S+) matrix-product kernel and this machine uses (\S+), so the continuation will not be bit-identical to an uninterrupted run/;
const notices = (r: CliResult) => r.stderr.split('\n').filter((l) => l.startsWith('note: generations'));

describe('kernel history', () => {
  it('keeps the spans of committed generations and adds one when the kernel changes', () => {
    const spans = [{ fromGen: 0, kernel: 'a' }, { fromGen: 3, kernel: 'b' }];
    expect(continueKernels([], -1, null, 'a')).toEqual({ spans: [{ fromGen: 0, kernel: 'a' }], change: null });
    expect(continueKernels(spans, 5, 'b', 'b')).toEqual({ spans, change: null });
    expect(continueKernels(spans, 5, 'b', 'a')).toEqual({ spans: [...spans, { fromGen: 6, kernel: 'a' }], change: { from: 'b', to: 'a', fromGen: 6 } });
    // A span started by an attempt that committed nothing is dropped.
    expect(continueKernels(spans, 2, 'a', 'a')).toEqual({ spans: [spans[0]], change: null });
    // No kernel on record (a run from before it was recorded): nothing to compare with.
    expect(continueKernels([], 4, null, 'a')).toEqual({ spans: [{ fromGen: 5, kernel: 'a' }], change: null });
  });
});

describe('the kernel on record through the CLI', () => {
  it('an n-gram run records that it computes no matrix products; resuming says nothing', async () => {
    const run = ['run', '--model', 'ngram', '--corpus', 'names', '--generations', '1', '--samples', '60', '--steps', '10', '--seed', '2', '--name', 'ng', ...w.store, '--json'];
    const r = json(ok(await heatdeath(run)));
    expect(r.kernel).toBe('none');
    expect(await status('ng')).toMatchObject({ kernel: 'none', kernels: [{ fromGen: 0, kernel: 'none' }] });
    const resumed = ok(await heatdeath(['resume', 'ng', '--generations', '2', ...w.store]));
    expect(notices(resumed)).toEqual([]);
    expect(await status('ng')).toMatchObject({ gen: 2, kernel: 'none', kernels: [{ fromGen: 0, kernel: 'none' }] });
  });

  it('a transformer run records its product kernel; a resume under another one says so in one line and records it', async () => {
    const run = ['run', '--model', 'transformer', '--size', 'tiny', '--threads', '1', '--corpus', 'names', '--generations', '1', '--samples', '20', '--steps', '4', '--initial-steps', '4', '--seed', '3', '--name', 'tf', ...w.store, '--json'];
    const r = json(ok(await heatdeath(run)));
    const here: string = r.kernel;
    expect(here).toMatch(r.backend === 'wasm' ? /^wasm-simd(-fma)?$/ : /^tfjs$/);
    expect(await status('tf')).toMatchObject({ kernel: here, kernels: [{ fromGen: 0, kernel: here }] });

    // As if generations 0 and 1 had been computed on a machine with another kernel.
    const other = here === 'wasm-simd-fma' ? 'wasm-simd' : 'wasm-simd-fma';
    const db = new Database(w.db);
    db.prepare(`UPDATE runs SET kernel = ? WHERE name = 'tf'`).run(other);
    db.prepare(`UPDATE run_state SET json = ? WHERE key = 'kernels' AND run_id = (SELECT id FROM runs WHERE name = 'tf')`).run(JSON.stringify([{ fromGen: 0, kernel: other }]));
    db.close();

    const resumed = ok(await heatdeath(['resume', 'tf', '--generations', '2', ...w.store]));
    const lines = notices(resumed);
    expect(lines).toHaveLength(1);
    expect(NOTICE.exec(lines[0])?.slice(1)).toEqual(['1', other, here]);
    expect(await status('tf')).toMatchObject({ gen: 2, kernel: here, kernels: [{ fromGen: 0, kernel: other }, { fromGen: 2, kernel: here }] });
  });
});
