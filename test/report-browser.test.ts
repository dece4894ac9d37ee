// The HTML reports in a real browser: headless Chromium opens the written file and we check
// that every chart laid out with the expected number of series, that nothing was logged as an
// error (the fixture holds a <script> in a document's text: if escaping broke, it would log),
// and that the page fetched nothing but itself. Screenshots go to test-artifacts/ for a human.
// Chromium is required: CI installs it, and a missing browser fails the test, loudly.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderRunReport, renderSweepReport } from '../src/report/html.js';
import { findChromium, inspectPage, type PageReport } from './fixtures/chromium.js';
import { collapseRun, smallSweep } from './fixtures/report-data.js';

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'report-browser-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function chromium(): string {
  const bin = findChromium();
  if (!bin)
    throw new Error(
      'Chromium not found (looked for $CHROMIUM, then `chromium` and `chromium-browser` on PATH). ' +
        'Install the Debian package `chromium` (apt-get install -y chromium); .ci/run does this before the tests.',
    );
  return bin;
}

/** Writes the page, opens it in Chromium, and saves <name>.png and <name>-print.png. */
async function open(name: string, html: string): Promise<{ page: PageReport; url: string }> {
  const bin = chromium();
  const file = join(work, `${name}.html`);
  writeFileSync(file, html);
  mkdirSync(ARTIFACTS, { recursive: true });
  const url = pathToFileURL(file).href;
  return { page: await inspectPage(bin, url, join(ARTIFACTS, name)), url };
}

function expectPng(path: string): void {
  const png = readFileSync(path);
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  // A blank page compresses to a few KB; charts and text make it far larger.
  expect(png.length).toBeGreaterThan(30_000);
}

describe('HTML reports in headless Chromium', () => {
  it('finds a Chromium binary', () => {
    expect(chromium()).toBeTruthy();
  });

  it('notices console errors, exceptions and requests (so the checks below can fail)', { timeout: 60_000 }, async () => {
    const bad =
      '<!DOCTYPE html><html><body><h1>bad</h1><img src="http://127.0.0.1:9/x.png" alt="">' +
      '<script>console.error("boom"); throw new Error("thrown");</script></body></html>';
    const file = join(work, 'bad.html');
    writeFileSync(file, bad);
    const page = await inspectPage(chromium(), pathToFileURL(file).href, join(work, 'bad'));
    expect(page.consoleErrors.join('\n')).toContain('boom');
    expect(page.consoleErrors.join('\n')).toContain('thrown');
    expect(page.requests).toContain('http://127.0.0.1:9/x.png');
  });

  it('renders the run report: every chart, every series, no errors, no requests', { timeout: 60_000 }, async () => {
    const data = collapseRun();
    const { page, url } = await open('run-report', renderRunReport(data));
    expect(page.heading).toBe(`Run ${data.name}`);
    // first (8 categories): 6 top bands + "other" + 6 dashed theory edges; then its metric
    // curves: entropy, V, top share, δ̂ and the theory's top share.
    // label (2 categories): 2 bands + 2 theory edges; curves without δ̂ (not measured there).
    // first also has its decomposition: temperature term, model-error term, the noise band's two edges.
    // Run level: perplexity alone, then distinct-2 and copy rate.
    expect(page.charts.map((c) => c.series)).toEqual([13, 5, 4, 4, 4, 1, 2]);
    expect(page.charts.map((c) => c.title)).toEqual([
      'Category shares by generation, coarse-graining "first"',
      'Histogram metrics by generation, coarse-graining "first"',
      'Temperature term against model-error term, coarse-graining "first"',
      'Category shares by generation, coarse-graining "label"',
      'Histogram metrics by generation, coarse-graining "label"',
      'Held-out perplexity by generation',
      'Text diversity by generation',
    ]);
    for (const c of page.charts) {
      expect(c.width).toBeGreaterThan(300);
      expect(c.height).toBeGreaterThan(150);
    }
    expect(page.consoleErrors).toEqual([]);
    expect(page.requests).toEqual([url]);
    expectPng(join(ARTIFACTS, 'run-report.png'));
    expectPng(join(ARTIFACTS, 'run-report-print.png'));
  });

  it('renders the sweep report: heat map and one curve per run in each metric chart', { timeout: 60_000 }, async () => {
    const data = smallSweep();
    const { page, url } = await open('sweep-report', renderSweepReport(data));
    expect(page.heading).toBe(`Sweep ${data.id}`);
    // Heat map: one series per λ row (2); then top share, normalised entropy, V: one per run (4).
    expect(page.charts.map((c) => c.series)).toEqual([2, 4, 4, 4]);
    expect(page.charts[0].title).toContain('λ × T');
    for (const c of page.charts) expect(c.width).toBeGreaterThan(300);
    expect(page.consoleErrors).toEqual([]);
    expect(page.requests).toEqual([url]);
    expectPng(join(ARTIFACTS, 'sweep-report.png'));
  });
});
