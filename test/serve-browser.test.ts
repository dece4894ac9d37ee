// `heatdeath serve` in a real browser (puppeteer-core + the npm Chromium): a run a child process
// is running advances on the runs page and the run page without a reload (the child is held at
// committed@1, then released to committed@2: no timing); the text page finds a document by
// search and by category; the comparison lists the categories that vanished in a collapsing
// run; the sweep page shows every cell; a curated run's text page shows each document's
// generation-0 log-likelihood and selection as stored, sorts by it and filters by range and
// selection through its form (counts as `samples --json` counts), and its run page shows the
// likelihood quantiles the loop stored; hostile document text runs no script and is shown
// literally; every page lays out at laptop and phone width and fetches nothing from elsewhere.
// Screenshots go to test-artifacts/.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyRuns } from './fixtures/tiny-runs.js';
import { launchBrowser, openPage, screenshot, type Browser } from './helpers/browser.js';
import { heatdeath, json, query, startHeatdeath, workDir } from './helpers/cli.js';
import { holdEnv, release, waitReached } from './helpers/hold.js';
import { startServe, type Served } from './helpers/serve.js';
import { HOSTILE, hostileCorpus } from './fixtures/hostile.js';
import { CURATED, curatedRun } from './fixtures/curated-run.js';

let browser: Browser;
let served: Served;
let sweepServed: Served;
let file = '';
const dirs: string[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  const made = await tinyRuns({ collapse: { temperature: 0.5, policy: 'replace', generations: 3 } });
  made.db.close();
  const hostile = await tinyRuns({ hostile: { corpus: hostileCorpus(made.dir), generations: 1, samples: 40 } });
  hostile.db.close();
  expect((await heatdeath(['merge', made.file, hostile.file])).code).toBe(0);
  file = made.file;
  await curatedRun(file, join(made.dir, 'models-curated'));
  const grid = await tinyRuns(
    { 't0.5-l0': { temperature: 0.5 }, 't0.5-l0.5': { temperature: 0.5, freshFraction: 0.5 }, 't1.5-l0': { temperature: 1.5 }, 't1.5-l0.5': { temperature: 1.5, freshFraction: 0.5 } },
    { sweepId: 'grid' },
  );
  grid.db.close();
  dirs.push(made.dir, hostile.dir, grid.dir);
  served = await startServe(file);
  sweepServed = await startServe(grid.file);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await served?.stop();
  await sweepServed?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const runId = (name: string) => query(file, (db) => db.prepare(`SELECT id FROM runs WHERE name = ?`).pluck().get(name)) as number;

describe('serve in a browser', () => {
  it('a run a child process is running advances on the runs page and the run page without a reload', { timeout: 240_000 }, async () => {
    const w = workDir('serve-live');
    const hold = mkdtempSync(join(tmpdir(), 'serve-hold-'));
    const run = startHeatdeath(
      ['run', '--model', 'ngram', '--corpus', 'names', '--generations', '3', '--samples', '100', '--steps', '20', '--name', 'live', ...w.store],
      { env: holdEnv(hold, ['committed@1', 'committed@2']) },
    );
    let live: Served | null = null;
    try {
      await waitReached(hold, 'live', 'committed@1', { alive: run.alive });
      live = await startServe(w.db);
      const list = await openPage(browser, live.url);
      const one = await openPage(browser, `${live.url}runs/live`);
      const gen = (p: typeof list, sel: string) => p.page.$eval(sel, (e) => e.getAttribute('data-gen'));
      expect(await gen(list, 'table.runs .gen')).toBe('1');
      expect(await gen(one, 'p.live .gen')).toBe('1');
      expect(await list.page.$eval('table.runs .status', (e) => e.textContent)).toBe('running');
      // A reload would lose this mark.
      for (const p of [list, one]) await p.page.evaluate(() => ((window as unknown as { mark: string }).mark = 'same page'));
      release(hold, 'live', 'committed@1');
      await waitReached(hold, 'live', 'committed@2', { alive: run.alive });
      await list.page.waitForFunction(() => document.querySelector('table.runs .gen')?.getAttribute('data-gen') === '2', { timeout: 60_000 });
      await one.page.waitForFunction(() => document.querySelector('p.live .gen')?.getAttribute('data-gen') === '2', { timeout: 60_000 });
      for (const p of [list, one]) {
        expect(await p.page.evaluate(() => (window as unknown as { mark: string }).mark)).toBe('same page');
        expect(p.consoleErrors).toEqual([]);
        expect(p.externalRequests).toEqual([]);
      }
      // The run page's charts grew by a generation too: the report's stacked area has 3 points now.
      expect(await one.page.$$eval('svg[role=img]', (s) => s.length)).toBeGreaterThan(2);
      await screenshot(list.page, 'serve-runs-live');
      release(hold, 'live', 'committed@2');
      const done = await run.result;
      expect(done.code, done.stderr).toBe(0);
      await list.page.waitForFunction(() => document.querySelector('table.runs .status')?.textContent === 'complete', { timeout: 60_000 });
      expect(await gen(list, 'table.runs .gen')).toBe('3');
      await list.page.close();
      await one.page.close();
    } finally {
      for (const p of ['committed@1', 'committed@2']) release(hold, 'live', p);
      await run.result;
      await live?.stop();
      rmSync(hold, { recursive: true, force: true });
      w.cleanup();
    }
  });

  it('the text page finds a document by search and by category', { timeout: 60_000 }, async () => {
    const id = runId('collapse');
    const target = query(file, (db) => db.prepare(`SELECT id, text FROM documents WHERE run_id = ? AND gen = 0 AND length(text) >= 6 ORDER BY id LIMIT 1 OFFSET 23`).get(id)) as { id: number; text: string };
    const p = await openPage(browser, `${served.url}runs/${id}/gen/0`);
    await p.page.type('input[name=q]', target.text);
    await Promise.all([p.page.waitForNavigation(), p.page.click('form.filters button')]);
    const ids = await p.page.$$eval('table.documents tbody tr td:first-child', (tds) => tds.map((td) => Number(td.textContent)));
    expect(ids).toContain(target.id);

    const letter = target.text[0];
    const expected = query(file, (db) => db.prepare(`SELECT count(*) FROM documents WHERE run_id = ? AND gen = 0 AND substr(text, 1, 1) = ?`).pluck().get(id, letter)) as number;
    await p.page.goto(`${served.url}runs/${id}/gen/0`);
    await p.page.select('select[name=coarse]', 'first');
    await p.page.type('input[name=category]', letter);
    await Promise.all([p.page.waitForNavigation(), p.page.click('form.filters button')]);
    expect(Number(await p.page.$eval('.total', (e) => e.getAttribute('data-total')))).toBe(expected);
    const firsts = await p.page.$$eval('table.documents tbody tr td:nth-child(5)', (tds) => tds.map((td) => td.textContent));
    expect(firsts.length).toBe(Math.min(50, expected));
    expect(new Set(firsts)).toEqual(new Set([letter]));
    expect(p.consoleErrors).toEqual([]);
    await screenshot(p.page, 'serve-text-category');
    await p.page.close();
  });

  it('the comparison lists every category that vanished in a collapsing (T = 0.5, replace) run', { timeout: 60_000 }, async () => {
    const id = runId('collapse');
    const names = query(file, (db) => {
      const state = JSON.parse(db.prepare(`SELECT json FROM run_state WHERE run_id = ? AND key = 'coarse'`).pluck().get(id) as string) as { name: string; categories: string[] }[];
      const cats = state.find((c) => c.name === 'first')!.categories;
      const at = (g: number) => new Set(db.prepare(`SELECT category FROM histograms WHERE run_id = ? AND coarse = 'first' AND kind = 'samples' AND gen = ?`).pluck().all(id, g) as number[]);
      const [a, b] = [at(0), at(3)];
      return [...a].filter((k) => !b.has(k)).map((k) => cats[k]);
    });
    expect(names.length).toBeGreaterThan(0);
    const p = await openPage(browser, `${served.url}runs/${id}/compare?a=0&b=3`);
    const shown = await p.page.$$eval('section[data-coarse=first] table.vanished [data-category]', (es) => es.map((e) => e.getAttribute('data-category')));
    expect(new Set(shown)).toEqual(new Set(names));
    expect(await p.page.$$eval('table.vanished-texts tbody tr', (r) => r.length)).toBeGreaterThan(0);
    await screenshot(p.page, 'serve-compare');
    await p.page.close();
  });

  it('the sweep page shows every cell of the T × λ grid on every coarse-graining, with the mean-field prediction', { timeout: 60_000 }, async () => {
    const p = await openPage(browser, `${sweepServed.url}sweeps/grid`);
    const grids = await p.page.$$eval('section.grid', (ss) =>
      ss.map((s) => ({
        coarse: s.getAttribute('data-coarse'),
        cells: Array.from(s.querySelectorAll('g.cell')).map((c) => `${c.querySelector('.cell-value')?.textContent} ${c.querySelector('.cell-label')?.textContent}`),
        rows: s.querySelectorAll('table.cells tbody tr').length,
      })),
    );
    expect(grids.map((g) => g.coarse)).toEqual(['first', 'length']);
    for (const g of grids) {
      expect(g.cells).toHaveLength(4);
      expect(g.rows).toBe(4);
      for (const c of g.cells) expect(c).toMatch(/^\d\.\d\d (mode-collapse|heat-death|stable|drift|undetermined) · mf (\d\.\d\d|–)$/);
      expect(g.cells.some((c) => /no run/.test(c))).toBe(false);
    }
    expect(p.consoleErrors).toEqual([]);
    await screenshot(p.page, 'serve-sweep');
    await p.page.close();
  });

  it('a curated run: the text page shows gen0_loglik and selection as stored, sorts by it and filters as `samples` does; the run page its quantiles', { timeout: 90_000 }, async () => {
    const id = runId('curated');
    const G = CURATED.generations;
    const stored = (order: string) =>
      query(file, (db) => db.prepare(`SELECT id, gen0_loglik, selected FROM documents WHERE run_id = ? AND gen = ? ORDER BY ${order}`).all(id, G)) as { id: number; gen0_loglik: number; selected: number }[];
    const shown = (s: typeof stored extends (o: string) => infer R ? R : never) => s.map((r) => ({ id: r.id, ll: r.gen0_loglik.toFixed(3), sel: r.selected ? 'kept' : 'discarded' }));
    const p = await openPage(browser, `${served.url}runs/${id}/gen/${G}?limit=500`);
    const rows = () =>
      p.page.$$eval('table.documents tbody tr', (trs) => trs.map((tr) => ({ id: Number(tr.querySelector('td')!.textContent), ll: tr.querySelector('td.ll0')!.textContent, sel: tr.querySelector('td.sel')!.textContent })));
    const total = async () => Number(await p.page.$eval('.total', (e) => e.getAttribute('data-total')));
    expect(await rows()).toEqual(shown(stored('id')));
    expect(await total()).toBe(CURATED.candidates * CURATED.samples);

    // Least likely first, chosen in the form.
    await p.page.select('select[name=sort]', 'gen0_loglik');
    await Promise.all([p.page.waitForNavigation(), p.page.click('form.filters button')]);
    expect(await rows()).toEqual(shown(stored('gen0_loglik, id')));

    // A range and the discarded candidates only: the total is what `samples --json` counts.
    const ll = stored('gen0_loglik').map((r) => r.gen0_loglik);
    const [lo, hi] = [ll[30], ll[150]].map((x) => x.toFixed(3));
    await p.page.type('input[name="loglik-min"]', lo);
    await p.page.type('input[name="loglik-max"]', hi);
    await p.page.select('select[name=selected]', 'no');
    await Promise.all([p.page.waitForNavigation(), p.page.click('form.filters button')]);
    const cli = json(await heatdeath(['samples', 'curated', '--db', file, '--gen', String(G), '--loglik-min', lo, '--loglik-max', hi, '--selected', 'no', '--sort', 'gen0_loglik', '--limit', '500', '--json']));
    const filtered = await rows();
    expect(cli.total).toBeGreaterThan(10);
    expect(cli.total).toBeLessThan(CURATED.candidates * CURATED.samples - CURATED.samples);
    expect(await total()).toBe(cli.total);
    expect(filtered.map((r) => r.id)).toEqual(cli.documents.map((d: { id: number }) => d.id));
    for (const r of filtered) {
      expect(r.sel).toBe('discarded');
      expect(Number(r.ll)).toBeGreaterThanOrEqual(Number(lo));
      expect(Number(r.ll)).toBeLessThanOrEqual(Number(hi));
    }
    // The other order by its link keeps the filters.
    await Promise.all([p.page.waitForNavigation(), p.page.click('.sorts a:last-child')]);
    expect(await total()).toBe(cli.total);
    expect((await rows()).map((r) => r.id)).toEqual([...cli.documents].sort((a: { gen0_loglik: number; id: number }, b: { gen0_loglik: number; id: number }) => b.gen0_loglik - a.gen0_loglik || a.id - b.id).map((d: { id: number }) => d.id));
    expect(p.consoleErrors).toEqual([]);
    await screenshot(p.page, 'serve-curated-text');
    await p.page.close();

    // The run page: the report's likelihood section, its table the metrics the loop stored.
    const r = await openPage(browser, `${served.url}runs/${id}`);
    const table = await r.page.$$eval('section.loglik table tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    const keys = ['mean', 'q01', 'q10', 'q50', 'q90', 'q99'];
    const metrics = query(file, (db) =>
      Array.from({ length: G + 1 }, (_, g) => keys.map((k) => (db.prepare(`SELECT value FROM metrics WHERE run_id = ? AND gen = ? AND key = ?`).pluck().get(id, g, `gen0_loglik_${k}`) as number).toFixed(3))),
    );
    const kept = query(file, (db) => db.prepare(`SELECT count(*) FROM documents WHERE run_id = ? AND gen > 0 AND selected = 1 GROUP BY gen ORDER BY gen`).pluck().all(id)) as number[];
    expect(kept).toEqual(new Array(G).fill(CURATED.samples));
    expect(table.map((row) => row[0])).toEqual(Array.from({ length: G + 1 }, (_, g) => String(g)));
    expect(table.slice(1).map((row) => row[1])).toEqual(kept.map(String));
    expect(table.map((row) => row.slice(2))).toEqual(metrics);
    const charts = await r.page.$$eval('section.loglik svg[role=img]', (svgs) => svgs.map((svg) => Array.from(svg.querySelectorAll('g[data-series]'), (g) => g.getAttribute('data-series'))));
    expect(charts).toEqual([['seed (gen 0)', 'gen 1', 'gen 2'], ['1 % quantile', '10 % quantile', '50 % quantile', '90 % quantile', '99 % quantile', 'mean']]);
    expect(await r.page.$eval('dl.settings', (e) => e.textContent)).toContain(`best of ${CURATED.candidates} by gen0-likelihood`);
    // Each generation's least likely documents, one click away.
    expect(await r.page.$$eval('p.loglik-links a', (as) => as.map((x) => x.getAttribute('href')))).toEqual(Array.from({ length: G + 1 }, (_, g) => `/runs/${id}/gen/${g}?sort=gen0_loglik`));
    expect(r.consoleErrors).toEqual([]);
    await r.page.close();
  });

  it('hostile document text runs no script and is shown literally', { timeout: 60_000 }, async () => {
    const id = runId('hostile');
    for (const path of [`runs/${id}/gen/0?limit=500`, `runs/${id}/search?q=alert`, `runs/${id}/compare?a=0&b=1`, `runs/${id}`, '']) {
      const page = await browser.newPage();
      const dialogs: string[] = [];
      const consoleAll: string[] = [];
      page.on('dialog', (d) => (dialogs.push(d.message()), void d.dismiss()));
      page.on('console', (m) => consoleAll.push(m.text()));
      page.on('pageerror', (e) => consoleAll.push(String(e)));
      await page.goto(`${served.url}${path}`, { waitUntil: 'load' });
      await new Promise((r) => setTimeout(r, 300)); // onerror/onload handlers would have fired by now
      expect(dialogs, path).toEqual([]);
      expect(consoleAll, path).toEqual([]);
      expect(await page.$$eval('main img, main script, main svg[onload]', (es) => es.length), path).toBe(0);
      if (path.includes('gen/0') || path.includes('search')) {
        const text = await page.$eval('main', (m) => (m as HTMLElement).innerText);
        for (const h of HOSTILE) expect(text, path).toContain(h);
      }
      await page.close();
    }
  });

  it('every page lays out at laptop (1280 px) and phone (390 px) width and fetches nothing elsewhere', { timeout: 120_000 }, async () => {
    const id = runId('collapse');
    const cid = runId('curated');
    const pages: [string, string][] = [
      ['runs', served.url],
      ['run', `${served.url}runs/${id}`],
      ['text', `${served.url}runs/${id}/gen/2`],
      ['curated-run', `${served.url}runs/${cid}`],
      ['curated-text', `${served.url}runs/${cid}/gen/2?sort=-gen0_loglik&selected=yes`],
      ['compare', `${served.url}runs/${id}/compare?a=0&b=3`],
      ['sweep', `${sweepServed.url}sweeps/grid`],
    ];
    for (const [name, url] of pages)
      for (const width of [1280, 390]) {
        const p = await openPage(browser, url, { width });
        const size = await p.page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, h1: document.querySelector('h1')?.getBoundingClientRect().width ?? 0 }));
        expect(size.scroll, `${name} at ${width}`).toBeLessThanOrEqual(width);
        expect(size.h1, `${name} at ${width}`).toBeGreaterThan(0);
        expect(p.externalRequests, name).toEqual([]);
        expect(p.failedRequests, name).toEqual([]);
        expect(p.consoleErrors, name).toEqual([]);
        await screenshot(p.page, `serve-${name}-${width}`);
        await p.page.close();
      }
  });
});
