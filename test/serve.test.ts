// `heatdeath serve` through its HTTP surface (the real CLI on an ephemeral port, real runs in a
// real SQLite file): the JSON API's numbers against the database, search and category filters,
// the error contract (400 one-line JSON, 404 for unknown ids and `..` paths, 405, 403 for a
// foreign Host), escaping of hostile document text, a full crawl leaving the file's bytes
// unchanged, and the start-up errors (port in use, missing database: one line, exit 2).

import { createServer } from 'node:net';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyRuns } from './fixtures/tiny-runs.js';
import { fileHash, heatdeath, json, query, startHeatdeath, waitFor, workDir } from './helpers/cli.js';
import { holdEnv, release, waitReached } from './helpers/hold.js';
import { crawl, get, startServe, type Served } from './helpers/serve.js';
import { HOSTILE, hostileCorpus } from './fixtures/hostile.js';
import { CURATED, curatedRun } from './fixtures/curated-run.js';

let file = '';
let served: Served;
let cleanup = () => {};

beforeAll(async () => {
  const made = await tinyRuns({ collapse: { temperature: 0.5, policy: 'replace', generations: 3 } });
  made.db.close();
  file = made.file;
  const hostile = await tinyRuns({ hostile: { corpus: hostileCorpus(made.dir), generations: 1, samples: 40 } });
  hostile.db.close();
  // One database with both runs: merge the second into the first with the real CLI.
  const merged = await heatdeath(['merge', file, hostile.file]);
  expect(merged.code, merged.stderr).toBe(0);
  await curatedRun(file, join(made.dir, 'models-curated'));
  served = await startServe(file);
  cleanup = () => {
    void served.stop();
    for (const d of [made.dir, hostile.dir]) rmSync(d, { recursive: true, force: true });
  };
}, 120_000);
afterAll(() => cleanup());

const api = async (path: string) => {
  const r = await get(served.url, path);
  return { ...r, json: JSON.parse(r.body) };
};

describe('serve: JSON API', () => {
  it('lists the runs with their committed generation, as the database has them', async () => {
    const r = await api('/api/runs');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    const expected = query(file, (db) => db.prepare(`SELECT r.name, max(g.gen) AS gen FROM runs r JOIN generations g ON g.run_id = r.id GROUP BY r.id ORDER BY r.id`).all());
    expect(r.json.runs.map((x: { name: string; gen: number }) => ({ name: x.name, gen: x.gen }))).toEqual(expected);
    expect(r.json.runs[0].status).toBe('complete');
    expect(r.json.runs[0].topShare).toHaveLength(4);
  });

  it('metrics are the rows of the metrics table', async () => {
    const r = await api('/api/runs/collapse/metrics');
    const n = query(file, (db) => db.prepare(`SELECT count(*) FROM metrics WHERE run_id = (SELECT id FROM runs WHERE name = 'collapse')`).pluck().get()) as number;
    expect(r.json.metrics).toHaveLength(n);
  });

  it('finds documents by full-text search, and by category under a coarse-graining', async () => {
    const id = query(file, (db) => db.prepare(`SELECT id FROM runs WHERE name = 'collapse'`).pluck().get()) as number;
    const target = query(file, (db) => db.prepare(`SELECT id, text FROM documents WHERE run_id = ? AND gen = 0 AND length(text) >= 6 ORDER BY id LIMIT 1 OFFSET 17`).get(id)) as { id: number; text: string };
    const s = await api(`/api/runs/${id}/documents?gen=0&q=${encodeURIComponent(target.text)}&limit=500`);
    expect(s.json.search).toBe('fts5');
    expect(s.json.documents.map((d: { id: number }) => d.id)).toContain(target.id);
    for (const d of s.json.documents) expect(d.text.toLowerCase()).toContain(target.text.toLowerCase().split(/[^\p{L}\p{N}]+/u)[0]);
    // `first` on a character tokenizer is the first character: count those independently.
    const letter = target.text[0];
    const expected = query(file, (db) => db.prepare(`SELECT count(*) FROM documents WHERE run_id = ? AND gen = 0 AND substr(text, 1, 1) = ?`).pluck().get(id, letter)) as number;
    const c = await api(`/api/runs/${id}/documents?gen=0&coarse=first&category=${encodeURIComponent(letter)}&limit=7&offset=2`);
    expect(c.json.total).toBe(expected);
    expect(c.json.documents).toHaveLength(Math.min(7, expected - 2));
    for (const d of c.json.documents) expect(d.categories.first).toBe(letter);
    const o = await api(`/api/runs/${id}/documents?gen=0&origin=synthetic`);
    expect(o.json.total).toBe(0);
  });

  it('compare: every category of generation 0 missing at 3 is listed as vanished', async () => {
    const r = await api('/api/runs/collapse/compare?a=0&b=3');
    const first = r.json.coarse.find((c: { coarse: string }) => c.coarse === 'first');
    const expected = query(file, (db) =>
      db.prepare(
        `SELECT category FROM histograms h WHERE run_id = (SELECT id FROM runs WHERE name = 'collapse') AND coarse = 'first' AND kind = 'samples' AND gen = 0
         AND NOT EXISTS (SELECT 1 FROM histograms k WHERE k.run_id = h.run_id AND k.coarse = 'first' AND k.kind = 'samples' AND k.gen = 3 AND k.category = h.category)`,
      ).pluck().all(),
    ) as number[];
    expect(expected.length).toBeGreaterThan(0); // T = 0.5, replace: the tails go
    expect(first.vanished).toHaveLength(expected.length);
    expect(r.json.documents.vanished.length).toBeGreaterThan(0);
  });

  it('bad parameters are 400 with one line of JSON naming the problem', async () => {
    const bad: [string, RegExp][] = [
      ['/api/runs/collapse/documents?gen=x', /'gen' must be a whole number/],
      ['/api/runs/collapse/documents?limit=0', /'limit' must be between 1 and 500/],
      ['/api/runs/collapse/documents?limit=501', /'limit'/],
      ['/api/runs/collapse/documents?offset=-1', /'offset'/],
      ['/api/runs/collapse/documents?origin=martian', /'origin' must be one of/],
      ['/api/runs/collapse/documents?orgin=seed', /unknown parameter 'orgin'/],
      ['/api/runs/collapse/documents?gen=1&gen=2', /given twice/],
      ['/api/runs/collapse/documents?coarse=nope', /does not track coarse-graining 'nope'/],
      ['/api/runs/collapse/documents?category=A', /needs 'coarse'/],
      ['/api/runs/collapse/documents?coarse=first&category=not-a-category', /no category/],
      ['/api/runs/collapse/documents?q=' + 'x'.repeat(201), /longer than 200/],
      ['/api/runs/collapse/documents?loglik-min=abc', /'loglik-min' must be a number, got 'abc'/],
      ['/api/runs/collapse/documents?loglik-max=1e999', /'loglik-max' must be a number/],
      ['/api/runs/collapse/documents?loglik-min=-2&loglik-max=-3', /'loglik-min' \(-2\) is above 'loglik-max' \(-3\)/],
      ['/api/runs/collapse/documents?selected=maybe', /'selected' must be one of yes, no/],
      ['/api/runs/collapse/documents?sort=loglik', /'sort' must be one of id, gen0_loglik, -gen0_loglik/],
      ['/api/runs/collapse/compare?a=0', /'a' and 'b'/],
      ['/api/runs?x=1', /unknown parameter 'x'/],
    ];
    for (const [path, message] of bad) {
      const r = await get(served.url, path);
      expect(r.status, path).toBe(400);
      expect(r.body.trimEnd().split('\n'), path).toHaveLength(1);
      expect(JSON.parse(r.body).error, path).toMatch(message);
    }
  });

  it('unknown ids and generations are 404; so is every `..`-style path', async () => {
    for (const path of ['/api/runs/nope', '/api/runs/999', '/runs/999', '/api/sweeps/nope', '/api/runs/collapse/documents?gen=99', '/runs/collapse/gen/99', '/runs/collapse/gen/x', '/api/runs/collapse/compare?a=0&b=9'])
      expect((await get(served.url, path)).status, path).toBe(404);
    for (const path of ['/../../etc/passwd', '/runs/../api/runs', '/%2e%2e/%2e%2e/etc/passwd', '/runs/1/..%2f..%2fetc%2fpasswd', '/app.js/..', '/./app.js', '/api/runs/%2e%2e', '/etc/passwd', '/package.json', '/src/serve/server.ts', '//etc/passwd', 'http://example.com/'])
      expect((await get(served.url, path)).status, path).toBe(404);
    const r = await get(served.url, '/api/../../etc/passwd');
    expect(r.status).toBe(404);
    expect(r.body).not.toMatch(/root:/);
  });

  it('is read-only and answers only its own host names', async () => {
    const post = await get(served.url, '/api/runs', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(JSON.parse(post.body).error).toMatch(/read-only/);
    const rebind = await get(served.url, '/api/runs', { headers: { Host: 'evil.example:8080' } });
    expect(rebind.status).toBe(403);
    expect((await get(served.url, '/api/runs', { headers: { Host: 'localhost:1234' } })).status).toBe(200);
  });

  it('escapes hostile document text in pages and keeps it intact in the API', async () => {
    const page = await get(served.url, '/runs/hostile/gen/0?limit=500');
    expect(page.status).toBe(200);
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.body).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(page.body).not.toContain('<script>alert');
    expect(page.body).not.toContain('<img src=x');
    const docs = await api('/api/runs/hostile/documents?gen=0&limit=500');
    expect(docs.json.documents.map((d: { text: string }) => d.text)).toEqual(expect.arrayContaining(HOSTILE));
  });
});

describe('serve: what a curated run stores', () => {
  const G = CURATED.generations;
  const M = CURATED.candidates;
  type Doc = { id: number; gen0_loglik: number | null; selected: boolean };
  const rowsOf = (sql: string, ...p: unknown[]) =>
    query(file, (db) => db.prepare(sql).all(...p)) as { id: number; gen0_loglik: number | null; selected: number }[];
  const pick = (ds: Doc[]) => ds.map((d) => [d.id, d.gen0_loglik, d.selected]);

  it('every document with its gen0_loglik and selected flag as stored; both sorts in the database order, across pages', async () => {
    const all = await api(`/api/runs/curated/documents?gen=${G}&limit=500`);
    const rows = rowsOf(`SELECT id, gen0_loglik, selected FROM documents WHERE run_id = (SELECT id FROM runs WHERE name = 'curated') AND gen = ? ORDER BY id`, G);
    expect(all.json.curated).toBe(true);
    expect(all.json.total).toBe(M * CURATED.samples);
    expect(rows.filter((r) => r.selected === 1)).toHaveLength(CURATED.samples);
    expect(pick(all.json.documents)).toEqual(rows.map((r) => [r.id, r.gen0_loglik, r.selected === 1]));
    expect(rows.every((r) => r.gen0_loglik !== null && r.gen0_loglik < 0)).toBe(true);
    for (const [sort, dir] of [['gen0_loglik', 'ASC'], ['-gen0_loglik', 'DESC']] as const) {
      const r = await api(`/api/runs/curated/documents?gen=${G}&sort=${sort}&limit=500`);
      const want = rowsOf(`SELECT id FROM documents WHERE run_id = (SELECT id FROM runs WHERE name = 'curated') AND gen = ? ORDER BY gen0_loglik ${dir}, id`, G).map((x) => x.id);
      expect(r.json.documents.map((d: Doc) => d.id), sort).toEqual(want);
      const ll = r.json.documents.map((d: Doc) => d.gen0_loglik as number);
      expect(ll[0], sort).not.toBe(ll[ll.length - 1]);
      const page = await api(`/api/runs/curated/documents?gen=${G}&sort=${sort}&limit=7&offset=30`);
      expect(page.json.documents.map((d: Doc) => d.id), sort).toEqual(want.slice(30, 37));
    }
  });

  it('filters by selection and by a log-likelihood range count what `samples --json` counts for the same filter', async () => {
    const ll = rowsOf(`SELECT id, gen0_loglik, selected FROM documents WHERE run_id = (SELECT id FROM runs WHERE name = 'curated') AND gen = ?`, G)
      .map((r) => r.gen0_loglik as number)
      .sort((a, b) => a - b);
    // Bounds as a user types them (3 decimals), inside the data, so either side has documents.
    const [lo, hi] = [ll[40], ll[140]].map((x) => x.toFixed(3));
    const cases: { url: string; cli: string[]; sql: string }[] = [
      { url: 'selected=no', cli: ['--selected', 'no'], sql: 'selected = 0' },
      { url: `loglik-min=${lo}&loglik-max=${hi}&selected=yes`, cli: ['--loglik-min', lo, '--loglik-max', hi, '--selected', 'yes'], sql: `gen0_loglik BETWEEN ${lo} AND ${hi} AND selected = 1` },
      { url: `loglik-min=${lo}&coarse=label&category=female`, cli: ['--loglik-min', lo, '--coarse', 'label', '--category', 'female'], sql: `gen0_loglik >= ${lo} AND label = 'female'` },
    ];
    for (const c of cases) {
      const served = (await api(`/api/runs/curated/documents?gen=${G}&${c.url}&limit=500`)).json;
      const cli = json(await heatdeath(['samples', 'curated', '--db', file, '--gen', String(G), ...c.cli, '--limit', '500', '--json']));
      const inDb = query(file, (db) => db.prepare(`SELECT count(*) FROM documents WHERE run_id = (SELECT id FROM runs WHERE name = 'curated') AND gen = ? AND ${c.sql}`).pluck().get(G)) as number;
      expect(inDb, c.url).toBeGreaterThan(0);
      expect(inDb, c.url).toBeLessThan(M * CURATED.samples);
      expect([served.total, cli.total], c.url).toEqual([inDb, inDb]);
      expect(pick(served.documents), c.url).toEqual(pick(cli.documents));
    }
  });

  it('a hostile search text echoed into the sort links, pager and form stays escaped', async () => {
    for (const h of HOSTILE) {
      const r = await get(served.url, `/runs/hostile/gen/0?q=${encodeURIComponent(h)}&sort=-gen0_loglik&loglik-max=0&limit=1`);
      expect(r.status, h).toBe(200);
      expect(r.body, h).not.toMatch(/<script>alert|<img src=x|<svg onload/);
      expect(r.body, h).toContain('sort=gen0_loglik');
    }
  });
});

describe('serve: never writes', () => {
  it('a full crawl of every page and API route leaves the database bytes unchanged', async () => {
    const before = [fileHash(file), fileHash(file + '-wal')];
    const statuses = await crawl(served.url, file);
    expect(statuses.length).toBeGreaterThan(30);
    expect(statuses.filter(([, s]) => s !== 200)).toEqual([]);
    expect([fileHash(file), fileHash(file + '-wal')]).toEqual(before);
  });
});

describe('serve: beside a writing run', () => {
  it('crawling while a run writes: the run commits every generation, every request succeeds', async () => {
    const w = workDir('serve-writer');
    const hold = mkdtempSync(join(tmpdir(), 'serve-hold-'));
    const G = 4;
    const run = startHeatdeath(['run', '--model', 'ngram', '--corpus', 'names', '--generations', String(G), '--samples', '100', '--steps', '20', '--name', 'w', ...w.store], {
      env: holdEnv(hold, ['committed@0']),
    });
    let s: Served | null = null;
    try {
      await waitReached(hold, 'w', 'committed@0', { alive: run.alive });
      s = await startServe(w.db);
      release(hold, 'w', 'committed@0');
      let exited = false;
      void run.result.then(() => (exited = true));
      const failures: [string, number][] = [];
      let crawls = 0;
      // At least one full crawl after the release, however fast the run is; then until it ends.
      do {
        failures.push(...(await crawl(s.url, w.db)).filter(([, st]) => st !== 200));
        crawls++;
      } while (!exited);
      const done = await run.result;
      expect(done.code, done.stderr).toBe(0);
      expect(failures).toEqual([]);
      expect(crawls).toBeGreaterThan(0);
      expect(query(w.db, (db) => db.prepare(`SELECT gen FROM generations ORDER BY gen`).pluck().all())).toEqual([0, 1, 2, 3, 4]);
      expect(query(w.db, (db) => db.prepare(`SELECT status FROM runs`).pluck().get())).toBe('complete');
      const served = JSON.parse((await get(s.url, '/api/runs')).body).runs[0];
      expect([served.status, served.gen]).toEqual(['complete', G]);
    } finally {
      release(hold, 'w', 'committed@0');
      await run.result;
      await s?.stop();
      rmSync(hold, { recursive: true, force: true });
      w.cleanup();
    }
  }, 180_000);
});

describe('serve: a database from before the full-text index and the curated columns', () => {
  it('searches by substring instead, shows no log-likelihood, counts every document as kept, and leaves the file at its schema version', async () => {
    const old = file.replace(/\.sqlite$/, '-v1.sqlite');
    copyFileSync(file, old);
    const w = new Database(old);
    // Back to schema 1: no full-text index, and no gen0_loglik or selected column (schema 5).
    w.exec(`DROP TRIGGER documents_fts_insert; DROP TRIGGER documents_fts_delete; DROP TRIGGER documents_fts_update; DROP TABLE documents_fts;
      ALTER TABLE documents DROP COLUMN gen0_loglik; ALTER TABLE documents DROP COLUMN selected; PRAGMA user_version = 1`);
    w.close();
    const before = fileHash(old);
    const s = await startServe(old);
    try {
      const r = JSON.parse((await get(s.url, '/api/runs/hostile/documents?q=ONERROR%3Dalert')).body);
      expect(r.search).toBe('substring');
      expect(r.documents.map((d: { text: string }) => d.text)).toEqual([HOSTILE[1], HOSTILE[1]]);
      // Before schema 5 no document has a gen0_loglik and every one counts as kept.
      expect(r.documents.map((d: { gen0_loglik: number | null; selected: boolean }) => [d.gen0_loglik, d.selected])).toEqual([[null, true], [null, true]]);
      const n = query(old, (db) => db.prepare(`SELECT count(*) FROM documents WHERE run_id = (SELECT id FROM runs WHERE name = 'curated') AND gen = 1`).pluck().get()) as number;
      const total = async (q: string) => JSON.parse((await get(s.url, `/api/runs/curated/documents?gen=1&${q}`)).body).total;
      expect([await total('sort=gen0_loglik'), await total('selected=yes'), await total('selected=no'), await total('loglik-max=0')]).toEqual([n, n, 0, 0]);
      const page = await get(s.url, '/runs/curated/gen/1?sort=-gen0_loglik');
      expect(page.status).toBe(200);
      expect([...page.body.matchAll(/<td class="num ll0">([^<]*)<\/td>/g)].map((m) => m[1])).toEqual(new Array(50).fill(''));
    } finally {
      await s.stop();
    }
    expect(fileHash(old)).toBe(before);
    expect(query(old, (db) => db.pragma('user_version', { simple: true }))).toBe(1);
  }, 30_000);
});

describe('serve: start-up errors', () => {
  it('a port in use and a missing database are one line and exit 2; a public --host warns', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = await heatdeath(['serve', '--db', file, '--port', String(port)]);
      expect(busy.code).toBe(2);
      expect(busy.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(busy.stderr).toMatch(new RegExp(`port ${port} .*already in use`));
    } finally {
      blocker.close();
    }
    const missing = await heatdeath(['serve', '--db', file + '.missing', '--port', '0']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/no database at/);
    const open = await startServe(file, ['--host', '0.0.0.0']);
    try {
      await waitFor(() => open.stderr().includes('warning'), 10_000, 'the warning');
      expect(open.stderr()).toMatch(/warning: listening on 0\.0\.0\.0: the runs and every document are readable by anyone who can reach this port/);
      expect((await get(open.url, '/api/runs', { headers: { Host: 'some.host:1' } })).status).toBe(200);
    } finally {
      expect(await open.stop()).toBe(0);
    }
  }, 60_000);
});
