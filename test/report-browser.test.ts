// The HTML reports in a real browser (Chromium from npm, driven by puppeteer-core): the written
// file opens, every chart is an <svg> laid out with the expected series, the verdict table is
// there, nothing was logged as an error (the fixture holds a <script> in a document's text: if
// escaping broke, it would run and log), the page fetched nothing but itself, and the text column
// fits a 1280 px and a 390 px window. Screenshots go to test-artifacts/ for a human.
// The browser comes with `npm ci`; a missing browser fails these tests, loudly.

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsShown } from '../src/metrics/registry.js';
import { renderRunReport, renderSweepReport } from '../src/report/html.js';
import { chromiumPath, launchBrowser, openPage, unpackChromium, type Browser } from './helpers/browser.js';
import { collapseRun, smallSweep } from './fixtures/report-data.js';
import { expectQuietAndFitting, viewReport } from './fixtures/report-page.js';

const work = mkdtempSync(join(tmpdir(), 'report-browser-'));
let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the browser', () => {
  it('is the packaged Chromium (unless $CHROMIUM names one), unpacked once and reused', async () => {
    const bin = await chromiumPath();
    if (!process.env.CHROMIUM) expect(bin).toMatch(/heatdeath-chromium-[\d.]+[\\/]chromium$/);
    expect(await browser.version()).toMatch(/Chrome\/\d+/);
    const before = statSync(bin);
    expect(await chromiumPath()).toBe(bin);
    const after = statSync(bin);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('unpacks safely when several callers race (each sees the whole binary, no leftovers)', async () => {
    const dir = join(work, 'race');
    const size = process.env.CHROMIUM ? null : statSync(await chromiumPath()).size;
    const paths = await Promise.all([unpackChromium(dir), unpackChromium(dir)]);
    expect(paths[0]).toBe(paths[1]);
    if (size !== null) expect(statSync(paths[0]).size).toBe(size);
    expect(readdirSync(join(paths[0], '..'))).toEqual(['chromium']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('notices console errors, exceptions, failed and external requests (so the checks below can fail)', async () => {
    const bad =
      '<!DOCTYPE html><html><body><h1>bad</h1><img src="http://127.0.0.1:9/x.png" alt="">' +
      '<script>console.error("boom"); throw new Error("thrown");</script></body></html>';
    const p = await openPage(browser, bad);
    await p.page.close();
    expect(p.consoleErrors.join('\n')).toContain('boom');
    expect(p.consoleErrors.join('\n')).toContain('thrown');
    expect(p.externalRequests).toEqual(['http://127.0.0.1:9/x.png']);
    expect(p.failedRequests).toEqual([expect.stringMatching(/^http:\/\/127\.0\.0\.1:9\/x\.png net::ERR_/)]);
  });

  it('notices a page wider than the window and a chart that is not an <svg>', async () => {
    const wide = '<!DOCTYPE html><body style="margin:0 auto;padding:0 8px;max-width:600px"><h1>wide</h1><p style="width:900px">a long line</p><figure><canvas width="100" height="50"></canvas></figure></body>';
    const { view } = await viewReport(browser, work, 'wide', wide, 390);
    expect(view.scrollWidth).toBeGreaterThan(view.clientWidth);
    expect(view.overflowing).toEqual([expect.stringMatching(/^p: a long line/)]);
    expect(view.charts.map((c) => c.tag)).toEqual(['canvas']);
  });
});

describe('HTML reports in headless Chromium', () => {
  for (const width of [1280, 390]) {
    it(`renders the run report ${width} px wide: every chart, every series, verdicts, no errors, no requests`, async () => {
      const data = collapseRun();
      const shown = await viewReport(browser, work, 'run-report', renderRunReport(data), width);
      const { view } = shown;
      expect(view.heading).toBe(`Run ${data.name}`);
      // first (8 categories): 6 top bands + "other" + 6 dashed theory edges; label (2 categories):
      // 2 bands + 2 theory edges. Each metric chart: one curve per metric the report draws on the
      // unit scale that the fixture measured on that coarse-graining (δ̂ only on "first"), plus
      // the theory's top share where there is a prediction.
      // first also has its decomposition: temperature term, model-error term, the noise band's two edges.
      // Run level: perplexity alone, then distinct-2 and copy rate.
      const curves = (c: (typeof data.coarse)[number]) =>
        metricsShown('report', 'coarse').filter((d) => d.unit && c.generations.some((g) => g.metrics[d.key as keyof typeof g.metrics] !== null)).length +
        (c.predicted ? 1 : 0);
      const [first, label] = data.coarse;
      expect(curves(first)).toBe(curves(label) + 1); // δ̂ is measured on "first" alone
      expect(view.charts.map((c) => c.tag)).toEqual(Array(7).fill('svg'));
      expect(view.charts.map((c) => c.series)).toEqual([13, curves(first), 4, 4, curves(label), 1, 2]);
      expect(view.charts.map((c) => c.title)).toEqual([
        'Category shares by generation, coarse-graining "first"',
        'Histogram metrics by generation, coarse-graining "first"',
        'Temperature term against model-error term, coarse-graining "first"',
        'Category shares by generation, coarse-graining "label"',
        'Histogram metrics by generation, coarse-graining "label"',
        'Held-out perplexity by generation',
        'Text diversity by generation',
      ]);
      for (const c of view.charts) {
        expect(c.width).toBeGreaterThan(width > 500 ? 300 : 250);
        expect(c.height).toBeGreaterThan(width > 500 ? 150 : 100);
      }
      expect(view.verdictRows.map((r) => [r[0], r[1]])).toEqual(data.coarse.map((c) => [c.coarse, c.verdict.verdict]));
      expectQuietAndFitting(shown);
    });

    it(`renders the sweep report ${width} px wide: heat map and one curve per run in each metric chart`, async () => {
      const data = smallSweep();
      const shown = await viewReport(browser, work, 'sweep-report', renderSweepReport(data), width);
      const { view } = shown;
      expect(view.heading).toBe(`Sweep ${data.id}`);
      // Heat map: one series per λ row (2); then top share, normalised entropy, V: one per run (4).
      expect(view.charts.map((c) => c.tag)).toEqual(Array(4).fill('svg'));
      expect(view.charts.map((c) => c.series)).toEqual([2, 4, 4, 4]);
      expect(view.charts[0].title).toContain('λ × T');
      for (const c of view.charts) expect(c.width).toBeGreaterThan(width > 500 ? 300 : 250);
      expectQuietAndFitting(shown);
    });
  }
});
