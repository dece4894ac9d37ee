// End to end: the disk fills up during generation 2's commit, once under the checkpoint write
// (ENOSPC half-way through weights.bin) and once under the database (SQLite's own SQLITE_FULL:
// the test facility HEATDEATH_DISK_FULL caps the file with PRAGMA max_page_count, so no small
// file system has to be mounted and the test runs the same everywhere). Each time: exit 2, one
// "disk full at <path>" line with the resume command and no stack trace, the run stored
// `interrupted`, no temporary checkpoint folder left; resumed with space back, the run is
// identical to an uninterrupted one (documents, histograms, metrics).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { heatdeath, query, workDir } from './helpers/cli.js';

const w = workDir('e2e-full');
const RUN = ['run', '--model', 'ngram', '--corpus', 'names', '--generations', '3', '--samples', '40', '--steps', '5', '--coarse', 'first,length', '--name', 'r'];
const store = (tag: string) => ({ db: join(w.dir, `${tag}.sqlite`), models: join(w.dir, `${tag}-models`) });
const args = (s: { db: string; models: string }) => ['--db', s.db, '--models-dir', s.models];

/** Everything a run's result is: documents, histograms, metrics (timings are not part of it). */
function result(db: string) {
  return query(db, (d) => ({
    documents: d.prepare(`SELECT gen, origin, text, in_train FROM documents ORDER BY id`).all(),
    histograms: d.prepare(`SELECT gen, coarse, kind, category, count FROM histograms ORDER BY gen, coarse, kind, category`).all(),
    metrics: d.prepare(`SELECT gen, coarse, key, value FROM metrics ORDER BY gen, coarse, key`).all(),
  }));
}

afterAll(() => w.cleanup());

describe('disk full during a commit', () => {
  const ref = store('ref');
  const reference = heatdeath([...RUN, ...args(ref)]);

  for (const [what, where] of [['checkpoint', /disk full at .*r-models\/r\/\.gen-0002\.tmp-\d+\/weights\.bin/], ['database', /disk full at .*database\.sqlite/]] as const) {
    it(`${what}: exit 2, one line, interrupted, nothing temporary left; resume gives the uninterrupted run`, async () => {
      const s = what === 'checkpoint' ? { db: join(w.dir, 'c.sqlite'), models: join(w.dir, 'r-models') } : { db: join(w.dir, 'database.sqlite'), models: join(w.dir, 'd-models') };
      const full = await heatdeath([...RUN, ...args(s)], { env: { HEATDEATH_DISK_FULL: `${what}@2` } });
      expect(full.code, full.stderr).toBe(2);
      // Progress lines of generations 0 and 1, then exactly one error line and no stack trace.
      const errors = full.stderr.split('\n').filter((l) => l.startsWith('heatdeath:'));
      expect(errors, full.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(where);
      expect(errors[0]).toMatch(new RegExp(`; free some space, then: heatdeath resume r --db ${s.db.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
      expect(full.stderr).not.toMatch(/\n\s+at /);
      const row = query(s.db, (d) => d.prepare(`SELECT status, note, (SELECT max(gen) FROM generations) AS last FROM runs WHERE name = 'r'`).get()) as { status: string; note: string; last: number };
      expect(row).toMatchObject({ status: 'interrupted', last: 1 });
      expect(row.note).toMatch(/^disk full at /);
      expect(readdirSync(join(s.models, 'r')).filter((f) => f.includes('.tmp'))).toEqual([]);

      const resumed = await heatdeath(['resume', 'r', ...args(s)]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect((await reference).code).toBe(0);
      const a = result(s.db);
      expect(a.documents.length).toBeGreaterThan(100);
      expect(a).toEqual(result(ref.db));
    });
  }
});
