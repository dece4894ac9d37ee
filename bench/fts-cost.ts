// What the full-text index (`documents_fts`, schema.ts) costs a run: the time to commit a generation's
// documents with and without the index's triggers, and the bytes it adds to the file. Two fresh
// databases, identical except that one has the index dropped; each round commits one generation
// of N Brown sentences into both, in alternating order (A/B, B/A) so load on a shared machine
// hits both alike. Prints medians per generation and the file sizes, then one JSON document.
//
//   npx tsx bench/fts-cost.ts [N=1000] [generations=20]

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { loadCorpus } from '../src/corpus/index.js';
import { insertDocuments, type NewDocument } from '../src/store/documents.js';
import { insertRun } from '../src/store/runs.js';
import { openDatabase } from '../src/store/open.js';

const N = Number(process.argv[2] ?? 1000);
const G = Number(process.argv[3] ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'fts-cost-'));
const texts = loadCorpus('brown', { corporaDir: 'corpora' }).docs.map((d) => d.text);

function fresh(name: string, index: boolean) {
  const file = join(dir, `${name}.sqlite`);
  const db = openDatabase(file, { create: true });
  if (!index) db.exec(`DROP TRIGGER documents_fts_insert; DROP TRIGGER documents_fts_delete; DROP TRIGGER documents_fts_update; DROP TABLE documents_fts;`);
  const runId = insertRun(db, { name: 'r', createdAt: '2026-01-01T00:00:00Z', config: {}, seed: 1, backend: 'cpu', corpusHash: 'x', generations: G });
  return { file, db, runId, ms: [] as number[] };
}
const withIndex = fresh('with', true);
const without = fresh('without', false);

for (let g = 0; g < G; g++) {
  const docs: NewDocument[] = Array.from({ length: N }, (_, i) => {
    const text = texts[(g * N + i) % texts.length];
    return { gen: g, origin: 'synthetic', text, tokens: Array.from(text, (c) => c.charCodeAt(0) & 0xffff), label: null, trueLabel: null, inTrain: true, firstToken: 0 };
  });
  for (const side of g % 2 ? [without, withIndex] : [withIndex, without]) {
    const t0 = performance.now();
    side.db.transaction(() => insertDocuments(side.db, side.runId, docs))();
    side.ms.push(performance.now() - t0);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const bytes = (f: string) => ['', '-wal'].reduce((n, s) => n + (statSync(f + s, { throwIfNoEntry: false })?.size ?? 0), 0);
for (const s of [withIndex, without]) s.db.pragma('wal_checkpoint(TRUNCATE)');
const out = {
  cpu: cpus()[0]?.model ?? 'unknown',
  documentsPerGeneration: N,
  generations: G,
  commitMsMedian: { withIndex: median(withIndex.ms), without: median(without.ms) },
  bytes: { withIndex: bytes(withIndex.file), without: bytes(without.file) },
};
for (const s of [withIndex, without]) s.db.close();
rmSync(dir, { recursive: true, force: true });
process.stderr.write(
  `commit of ${N} documents: ${out.commitMsMedian.withIndex.toFixed(1)} ms with the index, ${out.commitMsMedian.without.toFixed(1)} ms without (median of ${G}); ` +
    `file ${(out.bytes.withIndex / 2 ** 20).toFixed(1)} MiB vs ${(out.bytes.without / 2 ** 20).toFixed(1)} MiB\n`,
);
process.stdout.write(JSON.stringify(out) + '\n');
