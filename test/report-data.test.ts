// Report data read from a real tiny run: counts and metrics are the stored rows, the theory
// overlay is p₀ at generation 0 and τ_T(θ_{g−1}) after (hand-computed for `replace`), example
// documents carry their category, and the rendered pages have the charts the data call for (also
// checked in headless Chromium at 1280 and 390 px: laid out, verdicts shown, no errors, no
// requests, no sideways overflow; screenshots in test-artifacts/).

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Database from 'better-sqlite3';
import { buildRunReport, buildSweepReport } from '../src/report/data.js';
import { renderRunReport, renderSweepReport } from '../src/report/html.js';
import type { RunReportData } from '../src/report/types.js';
import { getRun } from '../src/store/runs.js';
import { readHistograms, readMetrics } from '../src/store/documents.js';
import { normalize, tau } from '../src/theory/core.js';
import { withBrowser } from './helpers/browser.js';
import { expectQuietAndFitting, viewReport } from './fixtures/report-page.js';
import { tinyRuns } from './fixtures/tiny-runs.js';

const T = 0.7;
const LAMBDA = 0.5;
let db: Database.Database;
let dir: string;
let data: RunReportData;

beforeAll(async () => {
  ({ db, dir } = await tinyRuns({ r: { temperature: T, freshFraction: LAMBDA, policy: 'replace' }, s: { temperature: 1.5, seed: 3 } }, { sweepId: 'rd' }));
  data = buildRunReport(db, getRun(db, 'r'), '2026-01-01T00:00:00.000Z');
});
afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Number of <svg role="img"> charts and their data-series counts, from the HTML text. */
function charts(html: string): number[] {
  return html.split('<svg role="img"').slice(1).map((part) => (part.split('</svg>')[0].match(/data-series="/g) ?? []).length);
}

describe('run report data from the database', () => {
  it('holds the stored histograms and metrics of every generation', () => {
    const run = getRun(db, 'r');
    expect(data.settings).toMatchObject({ model: 'ngram/3', temperature: T, freshFraction: LAMBDA, policy: 'replace', samples: 120, generations: 2 });
    expect(data.coarse.map((c) => c.coarse)).toEqual(['first', 'length']);
    for (const c of data.coarse) {
      const hist = readHistograms(db, run.id, c.coarse, 'samples', c.categories.length);
      expect(c.generations.map((g) => g.gen)).toEqual([0, 1, 2]);
      expect(c.generations.map((g) => g.counts)).toEqual(hist);
      // All N model samples are counted at every generation, fresh documents are not.
      expect(c.generations.slice(1).map((g) => g.counts.reduce((a, b) => a + b, 0))).toEqual([120, 120]);
      const top = readMetrics(db, run.id, c.coarse).filter((m) => m.key === 'top_share').map((m) => m.value);
      expect(c.generations.map((g) => g.metrics.top_share)).toEqual(top);
      expect(['mode-collapse', 'heat-death', 'stable', 'drift', 'undetermined']).toContain(c.verdict.verdict);
    }
    expect(data.runMetrics.map((r) => r.gen)).toEqual([0, 1, 2]);
    expect(data.runMetrics.every((r) => r.perplexity! > 1)).toBe(true);
  });

  it('overlays p₀, then τ_T(θ_{g−1}) with θ from the replace recursion', () => {
    const first = data.coarse[0];
    const p0 = normalize(first.generations[0].counts);
    const theta1 = tau(p0, T).map((q, i) => (1 - LAMBDA) * q + LAMBDA * p0[i]);
    const want = [p0, tau(p0, T), tau(theta1, T)];
    expect(first.predicted).toHaveLength(3);
    first.predicted!.forEach((row, g) => row.forEach((x, i) => expect(x).toBeCloseTo(want[g][i], 12)));
    // At T < 1 the predicted top share rises.
    expect(Math.max(...first.predicted![2])).toBeGreaterThan(Math.max(...p0));
  });

  it('shows a handful of example documents per generation with their category', () => {
    expect(data.examplesCoarse).toBe('first');
    expect(data.examples.map((e) => e.gen)).toEqual([0, 1, 2]);
    expect(data.examples[0].docs.every((d) => d.origin === 'seed')).toBe(true);
    for (const e of data.examples.slice(1)) {
      expect(e.docs).toHaveLength(5);
      expect(e.docs.map((d) => d.origin)).toEqual(['synthetic', 'synthetic', 'synthetic', 'synthetic', 'fresh']);
    }
    const cats = new Set(data.coarse[0].categories);
    for (const d of data.examples.flatMap((e) => e.docs)) if (d.text) expect(cats.has(d.category!)).toBe(true);
  });

  it('renders a chart per coarse-graining and run-level chart, with the series the data have', () => {
    const html = renderRunReport(data);
    const m = data.coarse.map((c) => c.categories.length);
    // Stacked area: min(m, 7) bands when m ≤ 7, else 6 + "other"; plus one theory edge per named band.
    const area = (k: number) => (k <= 7 ? 2 * k : 6 + 1 + 6);
    // Metric curves: the registry's unit-scale report metrics (survival among them) the data have, plus the theory top share.
    // Each coarse-graining's decomposition chart: temperature term, model-error term, noise band edges.
    // Then the likelihood section: one curve per generation (3 here, at most 6) and the five quantiles plus the mean.
    expect(charts(html)).toEqual([area(m[0]), 6, 4, area(m[1]), 5, 4, 1, 2, 3, 6]);
  });

  it('reads the generation-0 log-likelihood of the seed and of each generation\'s kept samples', () => {
    const L = data.loglik!;
    expect(L.generations.map((g) => g.gen)).toEqual([0, 1, 2]);
    // Generation 0: the seed's training documents; later: the model's samples (λN of them replaced by fresh ones are still kept candidates).
    expect(L.generations[1].n).toBe(120);
    for (const g of L.generations) {
      expect(g.counts.reduce((a, b) => a + b, 0)).toBe(g.n);
      expect(g.q01).toBeLessThanOrEqual(g.q50);
      expect(g.mean).toBeLessThan(0);
    }
  });

  it('sums the stored temperature and model-error terms generation by generation', () => {
    const rows = readMetrics(db, getRun(db, 'r').id);
    for (const c of data.coarse) {
      const stored = (key: string, g: number) => rows.find((r) => r.coarse === c.coarse && r.gen === g && r.key === key)!.value!;
      expect(c.decomposition.map((p) => p.gen)).toEqual([1, 2]);
      expect(c.decomposition[1].temperature).toBeCloseTo(stored('tau_dH', 1) + stored('tau_dH', 2), 12);
      expect(c.decomposition[1].error).toBeCloseTo(stored('err_dH', 1) + stored('err_dH', 2), 12);
      expect(c.decomposition[1].noise).toBeCloseTo(3.0902 * Math.hypot(stored('tau_sd', 1), stored('tau_sd', 2)), 3);
      // T = 0.7 sharpens: a control at T = 1 is flatter than the samples on the first letter.
      if (c.coarse === 'first') expect(c.decomposition[1].temperature).toBeLessThan(0);
    }
  });

  it('builds sweep data on the shared coarse-graining, one series per run', () => {
    const s = buildSweepReport(db, 'rd', { createdAt: null });
    expect(s.coarse).toBe('first');
    expect(s.runs.map((r) => r.name)).toEqual(['r', 's']);
    expect(s.runs.map((r) => r.series.length)).toEqual([3, 3]);
    expect(s.runs[0].final).toEqual(data.coarse[0].generations[2].metrics);
    // Heat map: one row per λ (0.5, 0); then one curve per run in each of three charts.
    expect(charts(renderSweepReport(s))).toEqual([2, 2, 2, 2]);
    expect(() => buildSweepReport(db, 'nope', { createdAt: null })).toThrow(/no sweep 'nope'/);
  });

  // What a reader checks on the real run's report and the real sweep's report, at a desktop and
  // a phone width: charts are <svg> with the series the data call for, verdicts are there, the
  // page is quiet (no console errors, no failed or external requests) and fits the window.
  for (const width of [1280, 390]) {
    it(`lays out the real run and sweep reports ${width} px wide in headless Chromium`, async () => {
      await withBrowser(async (browser) => {
        const html = renderRunReport(data);
        const run = await viewReport(browser, dir, 'real-run-report', html, width);
        expect(run.view.heading).toBe('Run r');
        expect(run.view.charts.map((c) => c.tag)).toEqual(charts(html).map(() => 'svg'));
        expect(run.view.charts.map((c) => c.series)).toEqual(charts(html));
        for (const c of run.view.charts) expect(c.width).toBeGreaterThan(250);
        expect(run.view.verdictRows.map((r) => [r[0], r[1]])).toEqual(data.coarse.map((c) => [c.coarse, c.verdict.verdict]));

        const sweep = buildSweepReport(db, 'rd', { createdAt: null });
        const sweepHtml = renderSweepReport(sweep);
        const sw = await viewReport(browser, dir, 'real-sweep-report', sweepHtml, width);
        expect(sw.view.heading).toBe('Sweep rd');
        expect(sw.view.charts.map((c) => c.tag)).toEqual(['svg', 'svg', 'svg', 'svg']);
        expect(sw.view.charts.map((c) => c.series)).toEqual([2, 2, 2, 2]);
        // The runs table (ordered by λ, then T): one row per run with its verdict.
        const byName = (a: string[], b: string[]) => a[0].localeCompare(b[0]);
        expect(sw.view.runRows.map((r) => [r[0], r[8]]).sort(byName)).toEqual(sweep.runs.map((r) => [r.name, r.verdict.verdict]).sort(byName));

        expectQuietAndFitting(run);
        expectQuietAndFitting(sw);
      });
    });
  }
});
