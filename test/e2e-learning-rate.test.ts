// End to end: --learning-rate and --initial-learning-rate through the real CLI (names, n-gram,
// tiny runs). Each rate reaches exactly the training it names: the preset's own rate given
// explicitly stores the same documents as no flag; a different fine-tuning rate leaves
// generation 0 (fit from scratch) as it was and changes what later generations draw; a
// different initial rate changes generation 0 already. The stored config records both.

import { afterAll, describe, expect, it } from 'vitest';
import { defaultNgramConfig } from '../src/model/ngram/ngram.js';
import { heatdeath, json, query, workDir, type CliResult } from './helpers/cli.js';

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstderr: ${r.stderr.slice(-3000)}`);
  return r;
}

const w = workDir('e2e-learning-rate');
afterAll(() => w.cleanup());

const BASE = ['run', '--model', 'ngram', '--corpus', 'names', '--coarse', 'first', '--samples', '200', '--generations', '2', '--steps', '20', '--initial-steps', '60', '--seed', '5'];

/** The texts a run drew, by generation. */
function texts(run: string): string[][] {
  return query(w.db, (db) => {
    const id = db.prepare(`SELECT id FROM runs WHERE name = ?`).pluck().get(run) as number;
    return [0, 1, 2].map((g) => db.prepare(`SELECT text FROM documents WHERE run_id = ? AND gen = ? AND origin = 'synthetic' ORDER BY id`).pluck().all(id, g) as string[]);
  });
}

describe('learning rates through the CLI', () => {
  const runs: Record<string, string[]> = {
    none: [],
    preset: ['--learning-rate', String(defaultNgramConfig.learningRate), '--initial-learning-rate', String(defaultNgramConfig.learningRate)],
    finetune: ['--learning-rate', '0.01'],
    initial: ['--initial-learning-rate', '0.01'],
  };
  const drawn: Record<string, string[][]> = {};

  it('runs four rate settings', async () => {
    await Promise.all(
      Object.entries(runs).map(async ([name, extra]) => {
        ok(await heatdeath([...BASE, ...extra, '--name', name, ...w.store, '--json']));
        drawn[name] = texts(name);
      }),
    );
    // Generation 0 samples the seed split's model; generations 1 and 2 draw 200 each.
    for (const name of Object.keys(runs)) expect(drawn[name].map((t) => t.length)).toEqual([0, 200, 200]);
  });

  it("the preset's rate given explicitly is no flag at all", () => {
    expect(drawn.preset).toEqual(drawn.none);
  });

  it('--learning-rate leaves generation 0 and changes the fine-tuned generations', () => {
    // Generation 1's documents are drawn by the generation-0 model, fit at the initial rate.
    expect(drawn.finetune[1]).toEqual(drawn.none[1]);
    const same = drawn.finetune[2].filter((t, i) => t === drawn.none[2][i]).length;
    expect(same).toBeLessThan(150);
  });

  it('--initial-learning-rate changes generation 0 already', () => {
    const same = drawn.initial[1].filter((t, i) => t === drawn.none[1][i]).length;
    expect(same).toBeLessThan(150);
  });

  it('status records the rates in the resolved config', async () => {
    const s = json(ok(await heatdeath(['status', 'finetune', ...w.store, '--json'])));
    const config = s.config ?? s.run?.config;
    expect(config.learningRate).toBe(0.01);
    expect(config.initialLearningRate).toBeNull();
  });
});
