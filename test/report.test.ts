// Unit tests of the report renderers: sparklines, the geometry of the stacked-area chart,
// line gaps, the heat map grid, escaping of hostile text, and the no-network guarantee.

import { describe, expect, it } from 'vitest';
import { esc, niceTicks, sequentialColour } from '../src/report/format.js';
import { renderRunReport, renderSweepReport } from '../src/report/html.js';
import { heatMap, lineChart, sparkline, stackedArea } from '../src/report/svg.js';
import type { RunReportData } from '../src/report/types.js';
import { collapseRun, smallSweep } from './fixtures/report-data.js';

/** The areas of a stacked chart: name and the [x, y] points of its path (upper edge, then lower edge reversed). */
function areas(svg: string): { name: string; pts: number[][] }[] {
  return [...svg.matchAll(/<path class="series area" data-series="([^"]*)"[^>]* d="([^"]*)"/g)].map((m) => {
    const nums = m[2].replace(/[MLZ]/g, ' ').trim().split(/\s+/).map(Number);
    const pts: number[][] = [];
    for (let i = 0; i < nums.length; i += 2) pts.push([nums[i], nums[i + 1]]);
    return { name: m[1], pts };
  });
}

function plotArea(svg: string): { y: number; height: number } {
  const m = svg.match(/<rect class="plot-area" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"/);
  expect(m).not.toBeNull();
  return { y: Number(m![1]), height: Number(m![2]) };
}

describe('sparkline', () => {
  it('maps the range onto the eight bars', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([7, 0, 3.5])).toBe('█▁▅');
  });
  it('uses a fixed scale when given one, clamping outside values', () => {
    expect(sparkline([0, 0.5, 1, 2], { min: 0, max: 1 })).toBe('▁▅██');
  });
  it('prints gaps for missing values and the lowest bar for a flat series', () => {
    expect(sparkline([1, null, Number.NaN, 3])).toBe('▁  █');
    expect(sparkline([0.4, 0.4, 0.4])).toBe('▁▁▁');
    expect(sparkline([])).toBe('');
  });
});

describe('stackedArea', () => {
  const base = { title: 'shares', desc: 'd', gens: [0, 1, 2], categories: ['A', 'B'], counts: [[3, 1], [1, 1], [0, 4]] };

  it('draws one path per category, largest peak at the bottom, stacking to the full height', () => {
    const svg = stackedArea(base);
    const a = areas(svg);
    // B peaks at 1.0 (gen 2), A at 0.75 (gen 0): B is ranked first and drawn at the bottom.
    expect(a.map((x) => x.name)).toEqual(['B', 'A']);
    const { y, height } = plotArea(svg);
    const [bottom, top] = a;
    const upper = (l: (typeof a)[0]) => l.pts.slice(0, 3).map((p) => p[1]);
    const lower = (l: (typeof a)[0]) => l.pts.slice(3, 6).reverse().map((p) => p[1]);
    expect(lower(bottom)).toEqual([y + height, y + height, y + height]);
    expect(upper(top)).toEqual([y, y, y]); // the stack reaches the top in every generation
    expect(lower(top)).toEqual(upper(bottom)); // no gap or overlap between bands
    // B's band: 1/4, 1/2 and all of the height.
    expect(upper(bottom).map((v) => (y + height - v) / height)).toEqual([0.25, 0.5, 1]);
    expect(svg).toMatch(/^<svg role="img"[^>]*><title>shares<\/title><desc>d<\/desc>/);
  });

  it('adds one dashed theory edge per drawn category when a prediction is given', () => {
    const svg = stackedArea({ ...base, predicted: [[0.75, 0.25], [0.6, 0.4], [0.4, 0.6]] });
    expect(svg.match(/data-series=/g)).toHaveLength(4);
    expect(svg.match(/class="series overlay"/g)).toHaveLength(2);
    expect(svg).toContain('data-series="theory: B"');
  });

  it('pools categories beyond the top k into "other", but never just one', () => {
    const counts = [[8, 7, 6, 5, 4, 3, 2, 1]];
    const cats = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const pooled = areas(stackedArea({ title: 't', desc: 'd', gens: [0], categories: cats, counts, topK: 6 }));
    expect(pooled.map((x) => x.name)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'other']);
    const seven = areas(stackedArea({ title: 't', desc: 'd', gens: [0], categories: cats.slice(0, 7), counts: [counts[0].slice(0, 7)], topK: 6 }));
    expect(seven.map((x) => x.name)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });
});

describe('lineChart and heatMap', () => {
  it('breaks a line where a value is missing and marks an isolated point', () => {
    const svg = lineChart({ title: 't', desc: 'd', xs: [0, 1, 2, 3], series: [{ name: 's', colour: '#000000', values: [0.1, null, 0.3, 0.4] }] });
    const d = svg.match(/data-series="s"><path[^>]* d="([^"]*)"/)![1];
    expect(d.match(/M/g)).toHaveLength(2);
    expect(d.match(/L/g)).toHaveLength(1);
    expect(svg.match(/<circle/g)).toHaveLength(1);
  });

  it('draws one row series per λ and an empty cell where no run exists', () => {
    const svg = heatMap({
      title: 't', desc: 'd', rowName: 'λ (fresh)', colName: 'T', rows: ['0', '0.3'], cols: ['0.6', '1.5'], valueName: 'v',
      cells: [
        { row: 0, col: 0, value: 1, label: 'mode-collapse' },
        { row: 0, col: 1, value: 0.14, label: 'heat-death' },
        { row: 1, col: 0, value: 0.65, label: 'stable' },
      ],
    });
    expect(svg.match(/class="series heat-row"/g)).toHaveLength(2);
    expect(svg.match(/data-cell=/g)).toHaveLength(4);
    expect(svg).toContain('no run');
    expect(svg).toContain(`fill="${sequentialColour(1)}"`);
  });

  it('chooses round ticks and the viridis endpoints', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(7.48, 18.39, 5)).toEqual([10, 15]);
    expect(sequentialColour(0)).toBe('#440154');
    expect(sequentialColour(1)).toBe('#fde725');
  });
});

describe('HTML reports', () => {
  it('escapes document text, names and categories', () => {
    const data = collapseRun(4);
    data.name = 'run <b>&</b>';
    data.coarse[1].categories = ['<i>f</i>', 'm"x'];
    const html = renderRunReport(data);
    expect(html).toContain('&lt;script&gt;console.error(&quot;escaped text ran&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;');
    expect(html).not.toContain('<script>console.error');
    expect(html).not.toContain('<b>bold</b>');
    expect(html).toContain(`<h1>Run ${esc('run <b>&</b>')}</h1>`);
    expect(html).toContain('data-series="&lt;i&gt;f&lt;/i&gt;"');
    expect(html).toContain('data-series="m&quot;x"');
    // The only script is the report's own print helper.
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it('references nothing on the network and forbids fetching by policy', () => {
    for (const html of [renderRunReport(collapseRun()), renderSweepReport(smallSweep())]) {
      expect(html).not.toMatch(/https?:\/\//i);
      expect(html).not.toMatch(/\s(src|href)\s*=|url\(|@import|<link\b|<iframe\b/i);
      expect(html).toContain(`content="default-src 'none';`);
      expect(html).toMatch(/@media print/);
    }
  });

  it('renders the same page from its JSON round trip (the shapes are plain data)', () => {
    const run = collapseRun(5);
    expect(renderRunReport(JSON.parse(JSON.stringify(run)))).toBe(renderRunReport(run));
    const sweep = smallSweep(4);
    expect(renderSweepReport(JSON.parse(JSON.stringify(sweep)))).toBe(renderSweepReport(sweep));
  });

  it('shows the verdict with the numbers that decided it', () => {
    const html = renderRunReport(collapseRun());
    expect(html).toContain('class="badge verdict-mode-collapse"');
    expect(html).toContain('top share 1.00 ≥ 0.90 at the last generation');
    expect(html).toContain('top_share = 1.000');
    expect(html.match(/<details>/g)).toHaveLength(13); // one per generation 0..12
  });

  it('the sweep report shows every coarse-graining\'s verdict, not only the compared one\'s', () => {
    const html = renderSweepReport(smallSweep(4));
    expect(html).toContain('<th>other coarse-grainings</th>');
    expect(html.match(/length <span class="badge verdict-drift"/g)).toHaveLength(4); // one per run
  });

  it('renders a run with nothing recorded yet', () => {
    const empty: RunReportData = { ...collapseRun(1), coarse: [], runMetrics: [], examples: [] };
    const html = renderRunReport(empty);
    expect(html).toContain('<h1>Run names-T0.6-replace</h1>');
    expect(html).not.toContain('<svg');
  });
});
