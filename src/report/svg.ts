// Small SVG charts as strings, for the self-contained HTML report (no chart library), and the
// unicode sparkline for terminal tables. Every chart is an <svg role="img"> with <title> and
// <desc>; every series is one element carrying data-series="<name>" and class "series", so a
// test (or a screen reader user with devtools) can find and count them. All text is escaped.

import { axes, type ChartFrame, genTicks, legend, type LegendItem, M, scale, svgOpen } from './frame.js';
import { categoryColour, esc, extent, niceTicks, OTHER_COLOUR, px, sequentialColour, textColourOn } from './format.js';

export type { ChartFrame } from './frame.js';

const BARS = '▁▂▃▄▅▆▇█';

/**
 * One character per value on the scale [min, max] (default: the values' own range).
 * null/NaN print as a space so gaps stay visible; a flat series prints the lowest bar.
 */
export function sparkline(values: readonly (number | null)[], bounds: { min?: number; max?: number } = {}): string {
  const range = extent([values]);
  const lo = bounds.min ?? range?.[0] ?? 0;
  const hi = bounds.max ?? range?.[1] ?? 0;
  return values
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' ';
      if (!(hi > lo)) return BARS[0];
      const t = Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
      return BARS[Math.round(t * (BARS.length - 1))];
    })
    .join('');
}

export interface StackedAreaOptions extends ChartFrame {
  /** Generation numbers, one per row of `counts`. */
  gens: number[];
  categories: string[];
  /** counts[row][category]; each row is normalised to shares. */
  counts: number[][];
  /** Predicted θ per row (aligned with `gens`); drawn as dashed band edges. */
  predicted?: (number[] | null)[] | null;
  /** Categories drawn on their own; the rest are pooled into "other". Default 6. */
  topK?: number;
}

/** Ranks categories by their largest share in any generation (a taking-over mode ranks first). */
export function topCategories(shares: number[][], m: number, k: number): number[] {
  const peak = Array.from({ length: m }, (_, c) => Math.max(0, ...shares.map((row) => row[c] ?? 0)));
  const order = peak.map((_, c) => c).sort((a, b) => peak[b] - peak[a] || a - b);
  // Pooling a single category into "other" hides its name and saves nothing.
  return m <= k + 1 ? order : order.slice(0, k);
}

/**
 * Category shares over generations as stacked bands (largest first, at the bottom), so the
 * top of the stack is always the full height. The theory's prediction is drawn as dashed
 * lines where each band's top edge would be, so a good fit means a line on an edge.
 */
export function stackedArea(o: StackedAreaOptions): string {
  const W = o.width ?? 720;
  const n = o.gens.length;
  const m = o.categories.length;
  const shares = o.counts.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return Array.from({ length: m }, (_, c) => (s > 0 ? (row[c] ?? 0) / s : 0));
  });
  const top = topCategories(shares, m, o.topK ?? 6);
  const pooled = top.length < m;
  const layers: { name: string; colour: string; values: number[] }[] = top.map((c, r) => ({
    name: o.categories[c],
    colour: categoryColour(r),
    values: shares.map((row) => row[c]),
  }));
  if (pooled) {
    const rest = new Set(top);
    layers.push({
      name: 'other',
      colour: OTHER_COLOUR,
      values: shares.map((row) => row.reduce((a, v, c) => (rest.has(c) ? a : a + v), 0)),
    });
  }
  const hasTheory = !!o.predicted && o.predicted.some((p) => p && p.length === m);
  const items: LegendItem[] = layers.map((l) => ({ label: l.name, colour: l.colour }));
  if (hasTheory) items.push({ label: 'theory (predicted band edges)', colour: '#000000', dash: '5 3', line: true });
  const [legendSvg, legendH] = legend(items, M.left, 0, W - M.left - M.right);
  const plotH = (o.height ?? 300) - M.top - M.bottom;
  const H = M.top + plotH + M.bottom + legendH;
  const [x0, x1, y0, y1] = [M.left, W - M.right, M.top, M.top + plotH];
  const g0 = n ? o.gens[0] : 0;
  const g1 = n ? o.gens[n - 1] : 1;
  const xs = scale(g0, g1, x0, x1);
  const ys = scale(0, 1, y1, y0);
  // One generation has no width: stretch it across the plot so it still shows as bands.
  const xAt = n === 1 ? [x0, x1] : o.gens.map(xs);
  const rowOf = (i: number) => (n === 1 ? 0 : i);

  const body: string[] = [`<rect class="plot-area" x="${x0}" y="${y0}" width="${x1 - x0}" height="${plotH}" fill="#FFFFFF"/>`];
  const base = new Array<number>(xAt.length).fill(0);
  for (const l of layers) {
    const lower = base.slice();
    const upper = xAt.map((_, i) => lower[i] + l.values[rowOf(i)]);
    const pts = xAt.map((x, i) => `${px(x)} ${px(ys(upper[i]))}`);
    const back = xAt.map((x, i) => `${px(x)} ${px(ys(lower[i]))}`).reverse();
    if (xAt.length)
      body.push(
        `<path class="series area" data-series="${esc(l.name)}" fill="${l.colour}" d="M${pts.join(' L')} L${back.join(' L')} Z"/>`,
      );
    upper.forEach((u, i) => (base[i] = u));
  }
  if (hasTheory) {
    // Dashed band edges: cumulative predicted share of the ranked top categories.
    const cum = new Array<number>(n).fill(0);
    top.forEach((c) => {
      const seg: string[] = [];
      o.gens.forEach((_, i) => {
        const p = o.predicted![i];
        if (!p || p.length !== m) return;
        cum[i] += p[c];
        seg.push(`${seg.length ? 'L' : 'M'}${px(xs(o.gens[i]))} ${px(ys(cum[i]))}`);
      });
      body.push(
        `<path class="series overlay" data-series="${esc('theory: ' + o.categories[c])}" fill="none" stroke="#000000" stroke-width="1.6" stroke-dasharray="5 3" d="${seg.join(' ')}"/>`,
      );
    });
  }
  body.push(axes(x0, y0, x1, y1, genTicks(g0, g1), xs, niceTicks(0, 1, 5), ys, 'generation', 'share'));
  body.push(`<g transform="translate(0 ${y1 + M.bottom - 4})">${legendSvg}</g>`);
  return svgOpen(o, W, H, 'stacked-area') + body.join('') + '</svg>';
}

export interface LineSeries {
  name: string;
  values: (number | null)[];
  colour: string;
  /** stroke-dasharray, e.g. "5 3"; the theory overlay is dashed. */
  dash?: string;
  /** Marks a predicted (theory) series rather than a measured one. */
  overlay?: boolean;
}

export interface LineChartOptions extends ChartFrame {
  /** x value of each point (generation numbers). */
  xs: number[];
  series: LineSeries[];
  xLabel?: string;
  yLabel?: string;
  /** Fixed y range; otherwise the data's range, padded. */
  yMin?: number;
  yMax?: number;
}

/** Several series against generation, with axes, ticks, a legend and gaps where a value is null. */
export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 720;
  const items: LegendItem[] = o.series.map((s) => ({ label: s.name, colour: s.colour, dash: s.dash, line: true }));
  const [legendSvg, legendH] = legend(items, M.left, 0, W - M.left - M.right);
  const plotH = (o.height ?? 240) - M.top - M.bottom;
  const H = M.top + plotH + M.bottom + legendH;
  const [x0, x1, y0, y1] = [M.left, W - M.right, M.top, M.top + plotH];
  const dataRange = extent(o.series.map((s) => s.values)) ?? [0, 1];
  let lo = o.yMin ?? dataRange[0];
  let hi = o.yMax ?? dataRange[1];
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
  let yTicks = niceTicks(lo, hi, 5);
  if (o.yMin === undefined || o.yMax === undefined) {
    // Without a fixed range, round the free ends out to a tick so every curve sits under a label.
    const step = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
    if (o.yMin === undefined) lo = Math.floor(lo / step + 1e-9) * step;
    if (o.yMax === undefined) hi = Math.ceil(hi / step - 1e-9) * step;
    yTicks = niceTicks(lo, hi, 5);
  }
  const gx = o.xs.length ? [o.xs[0], o.xs[o.xs.length - 1]] : [0, 1];
  const xs = scale(gx[0], gx[1], x0, x1);
  const ys = scale(lo, hi, y1, y0);

  const body: string[] = [`<rect class="plot-area" x="${x0}" y="${y0}" width="${x1 - x0}" height="${plotH}" fill="#FFFFFF"/>`];
  body.push(axes(x0, y0, x1, y1, genTicks(gx[0], gx[1]), xs, yTicks.filter((t) => t >= lo && t <= hi), ys, o.xLabel ?? 'generation', o.yLabel ?? ''));
  for (const s of o.series) {
    // Split the path at missing values so a gap reads as "not measured", not as a straight line.
    const d: string[] = [];
    const dots: string[] = [];
    let open = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v) || i >= o.xs.length) return void (open = false);
      const [x, y] = [px(xs(o.xs[i])), px(ys(Math.min(hi, Math.max(lo, v))))];
      d.push(`${open ? 'L' : 'M'}${x} ${y}`);
      const alone = !open && (s.values[i + 1] === null || s.values[i + 1] === undefined);
      if (alone) dots.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${s.colour}"/>`);
      open = true;
    });
    const cls = s.overlay ? 'series line overlay' : 'series line';
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    body.push(
      `<g class="${cls}" data-series="${esc(s.name)}"><path fill="none" stroke="${s.colour}" stroke-width="2"${dash} d="${d.join(' ')}"/>${dots.join('')}</g>`,
    );
  }
  body.push(`<g transform="translate(0 ${y1 + M.bottom - 4})">${legendSvg}</g>`);
  return svgOpen(o, W, H, 'line-chart') + body.join('') + '</svg>';
}

export interface HeatCell {
  /** Index into `rows` and `cols`. */
  row: number;
  col: number;
  /** Colours the cell on the sequential scale [0, 1]; null draws an empty cell. */
  value: number | null;
  /** Second line of text, e.g. the verdict. */
  label: string;
  /** Tooltip text, e.g. the runs behind the cell. */
  note?: string;
}

export interface HeatMapOptions extends ChartFrame {
  /** Axis names, e.g. "λ (fresh fraction)" and "T (temperature)". */
  rowName: string;
  colName: string;
  rows: string[];
  cols: string[];
  cells: HeatCell[];
  /** What `value` is, for the colour bar, e.g. "final top share". */
  valueName: string;
}

/** A rows × cols grid (λ × T): each cell coloured by its value and printed with value and label. */
export function heatMap(o: HeatMapOptions): string {
  const W = o.width ?? 720;
  const [left, top, cellH] = [110, 34, 58];
  const cellW = Math.min(180, (W - left - 20) / Math.max(1, o.cols.length));
  const gridH = cellH * o.rows.length;
  const H = top + gridH + 70;
  const body: string[] = [];
  body.push(`<text class="axis-label" x="${px(left + (cellW * o.cols.length) / 2)}" y="12" text-anchor="middle">${esc(o.colName)}</text>`);
  o.cols.forEach((c, j) =>
    body.push(`<text class="tick" x="${px(left + cellW * (j + 0.5))}" y="${top - 8}" text-anchor="middle">${esc(c)}</text>`),
  );
  body.push(`<text class="axis-label" x="8" y="${top - 8}">${esc(o.rowName)}</text>`);
  o.rows.forEach((r, i) => {
    const y = top + cellH * i;
    const cells = o.cells.filter((c) => c.row === i);
    const parts = [`<text class="tick" x="${left - 8}" y="${px(y + cellH / 2)}" text-anchor="end" dominant-baseline="middle">${esc(r)}</text>`];
    o.cols.forEach((col, j) => {
      const cell = cells.find((c) => c.col === j);
      const x = left + cellW * j;
      const fill = cell && cell.value !== null ? sequentialColour(cell.value) : '#F2F2F2';
      const ink = textColourOn(fill);
      const tip = cell?.note ? `<title>${esc(cell.note)}</title>` : '';
      const text = cell
        ? `<text x="${px(x + cellW / 2)}" y="${px(y + cellH / 2 - 5)}" text-anchor="middle" fill="${ink}" font-size="14" font-weight="600" class="cell-value">${esc(cell.value === null ? '–' : cell.value.toFixed(2))}</text>` +
          `<text x="${px(x + cellW / 2)}" y="${px(y + cellH / 2 + 13)}" text-anchor="middle" fill="${ink}" class="cell-label">${esc(cell.label)}</text>`
        : `<text x="${px(x + cellW / 2)}" y="${px(y + cellH / 2 + 4)}" text-anchor="middle" class="cell-label">no run</text>`;
      parts.push(
        `<g class="cell" data-cell="${esc(`${r},${col}`)}">${tip}<rect x="${px(x)}" y="${px(y)}" width="${px(cellW)}" height="${cellH}" fill="${fill}" stroke="#FFFFFF" stroke-width="2"/>${text}</g>`,
      );
    });
    body.push(`<g class="series heat-row" data-series="${esc(`${o.rowName.split(' ')[0]} = ${r}`)}">${parts.join('')}</g>`);
  });
  // Colour bar: 20 steps from 0 to 1, so it prints without gradients.
  const barY = top + gridH + 22;
  const barW = Math.min(300, cellW * o.cols.length);
  for (let k = 0; k < 20; k++)
    body.push(`<rect x="${px(left + (barW * k) / 20)}" y="${barY}" width="${px(barW / 20 + 0.5)}" height="10" fill="${sequentialColour((k + 0.5) / 20)}"/>`);
  body.push(`<text class="tick" x="${left}" y="${barY + 24}" text-anchor="middle">0</text>`);
  body.push(`<text class="tick" x="${px(left + barW)}" y="${barY + 24}" text-anchor="middle">1</text>`);
  body.push(`<text class="tick" x="${px(left + barW + 12)}" y="${barY + 9}">${esc(o.valueName)}</text>`);
  return svgOpen(o, W, H, 'heat-map') + body.join('') + '</svg>';
}
