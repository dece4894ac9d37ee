// End to end: generation 0's reference row of gen0_loglik on a corpus larger than its budget
// (src/loop/validation.ts REFERENCE_TOKEN_BUDGET). A user corpus of 3,000 lines (~290,000
// tokens), n-gram: generation 0 scores a seeded subset of its training documents that fills the
// budget (the others keep no gen0_loglik), every validation document, and every later document;
// the gen-0 metric is the mean over the documents scored. Names and the test corpora fit the
// budget whole (test/e2e-curated.test.ts: no document without gen0_loglik).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REFERENCE_TOKEN_BUDGET } from '../src/loop/validation.js';
import { rngFor } from '../src/rng.js';
import { heatdeath, query, workDir } from './helpers/cli.js';

const w = workDir('e2e-reference');
afterAll(() => w.cleanup());

describe('the generation-0 reference on a large corpus', () => {
  it('scores a seeded subset of the seed training documents within the budget, and everything else', { timeout: 120_000 }, async () => {
    const rng = rngFor(8, 'reference-corpus');
    const words = ['tail', 'mode', 'heat', 'death', 'loop', 'model', 'sample', 'fresh', 'data', 'token'];
    const lines = Array.from({ length: 3000 }, () => Array.from({ length: 8 + rng.int(20) }, () => words[rng.int(words.length)]).join(' '));
    const corpus = join(w.dir, 'long.txt');
    writeFileSync(corpus, lines.join('\n') + '\n');
    const r = await heatdeath(['run', '--corpus', corpus, '--model', 'ngram', '--generations', '1', '--samples', '100', '--db', w.db, '--models-dir', w.models, '--name', 'long']);
    expect(r.code, r.stderr).toBe(0);
    const q = query(w.db, (db) => {
      const id = db.prepare(`SELECT id FROM runs WHERE name = 'long'`).pluck().get() as number;
      const count = (where: string) => db.prepare(`SELECT count(*) FROM documents WHERE run_id = ? AND ${where}`).pluck().get(id) as number;
      return {
        trainAll: count(`gen = 0 AND in_train = 1`),
        trainScored: count(`gen = 0 AND in_train = 1 AND gen0_loglik IS NOT NULL`),
        scoredTokens: db.prepare(`SELECT sum(length + 1) FROM documents WHERE run_id = ? AND gen = 0 AND in_train = 1 AND gen0_loglik IS NOT NULL`).pluck().get(id) as number,
        allTokens: db.prepare(`SELECT sum(length + 1) FROM documents WHERE run_id = ? AND gen = 0 AND in_train = 1`).pluck().get(id) as number,
        lastScoredId: db.prepare(`SELECT max(id) - min(id) FROM documents WHERE run_id = ? AND gen = 0 AND in_train = 1 AND gen0_loglik IS NOT NULL`).pluck().get(id) as number,
        valUnscored: count(`gen = 0 AND in_train = 0 AND gen0_loglik IS NULL`),
        val: count(`gen = 0 AND in_train = 0`),
        laterUnscored: count(`gen > 0 AND gen0_loglik IS NULL`),
        later: count(`gen > 0`),
        mean: db.prepare(`SELECT avg(gen0_loglik) FROM documents WHERE run_id = ? AND gen = 0 AND in_train = 1`).pluck().get(id) as number,
        metric: db.prepare(`SELECT value FROM metrics WHERE run_id = ? AND gen = 0 AND key = 'gen0_loglik_mean'`).pluck().get(id) as number,
      };
    });
    expect(q.allTokens).toBeGreaterThan(REFERENCE_TOKEN_BUDGET * 1.2); // the corpus is past the budget
    expect(q.trainScored).toBeLessThan(q.trainAll);
    expect(q.scoredTokens).toBeLessThanOrEqual(REFERENCE_TOKEN_BUDGET);
    expect(q.scoredTokens).toBeGreaterThan(REFERENCE_TOKEN_BUDGET - 200); // filled up to one document
    expect(q.lastScoredId).toBeGreaterThan(0.9 * q.trainAll); // spread over the corpus, not its first lines
    expect(q.val).toBeGreaterThan(0);
    expect(q.valUnscored).toBe(0);
    expect(q.later).toBeGreaterThan(0);
    expect(q.laterUnscored).toBe(0);
    expect(q.metric).toBeCloseTo(q.mean, 9);
  });
});
