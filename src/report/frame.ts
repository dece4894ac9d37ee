// The frame every report chart shares: the accessible <svg> opening, margins, linear scales,
// axes with ticks, and the wrapping legend. svg.ts builds the charts on top of it.

import { esc, niceTicks, px, short } from './format.js';

export interface ChartFrame {
  title: string;
  desc: string;
  /** Unique id on the page; ties <title>/<desc> to the svg for assistive technology. */
  id?: string;
  width?: number;
  height?: number;
}

export interface LegendItem {
  label: string;
  colour: string;
  /** stroke-dasharray for line items; absent for a filled swatch. */
  dash?: string;
  line?: boolean;
}

/** Margins around the plot area: room for y tick labels on the left and x labels below. */
export const M = { left: 56, right: 18, top: 14, bottom: 40 };

/** Opens the <svg> with its accessible name; the caller appends the body and '</svg>'. */
export function svgOpen(f: ChartFrame, width: number, height: number, cls: string): string {
  const ids = f.id ? ` aria-labelledby="${esc(f.id)}-title ${esc(f.id)}-desc" id="${esc(f.id)}"` : '';
  const tid = f.id ? ` id="${esc(f.id)}-title"` : '';
  const did = f.id ? ` id="${esc(f.id)}-desc"` : '';
  return (
    `<svg role="img" class="chart ${cls}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"` +
    ` preserveAspectRatio="xMinYMin meet" font-family="system-ui, sans-serif" font-size="11" fill="#222222"${ids}>` +
    `<title${tid}>${esc(f.title)}</title><desc${did}>${esc(f.desc)}</desc>`
  );
}

/** Legend rows under the plot; returns the markup and the height it takes. */
export function legend(items: readonly LegendItem[], x0: number, y0: number, width: number): [string, number] {
  let x = x0,
    y = y0 + 12;
  const parts: string[] = [];
  for (const it of items) {
    // Width estimate: ~6.6 px per character at 11 px; good enough to avoid overlaps.
    const w = 26 + it.label.length * 6.6 + 14;
    if (x + w > x0 + width && x > x0) {
      x = x0;
      y += 16;
    }
    const swatch = it.line
      ? `<line x1="${px(x)}" y1="${px(y - 4)}" x2="${px(x + 20)}" y2="${px(y - 4)}" stroke="${it.colour}" stroke-width="2.5"${it.dash ? ` stroke-dasharray="${it.dash}"` : ''}/>`
      : `<rect x="${px(x)}" y="${px(y - 10)}" width="20" height="10" fill="${it.colour}"/>`;
    parts.push(`${swatch}<text x="${px(x + 26)}" y="${px(y)}">${esc(it.label)}</text>`);
    x += w;
  }
  return [`<g class="legend">${parts.join('')}</g>`, items.length ? y - y0 + 8 : 0];
}

/** Linear scale from [d0, d1] to [r0, r1]; a zero-width domain maps to the middle. */
export function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  return d1 > d0 ? (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0) : () => (r0 + r1) / 2;
}

/** Axes, grid lines and tick labels for a plot area. */
export function axes(
  x0: number, y0: number, x1: number, y1: number,
  xTicks: number[], xs: (v: number) => number, yTicks: number[], ys: (v: number) => number,
  xLabel: string, yLabel: string,
): string {
  const out: string[] = [`<g class="axes">`];
  for (const t of yTicks) {
    const y = px(ys(t));
    out.push(`<line class="grid" x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="#E3E3E3"/>`);
    out.push(`<text class="tick" x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(short(t))}</text>`);
  }
  for (const t of xTicks) {
    const x = px(xs(t));
    out.push(`<line class="tickmark" x1="${x}" x2="${x}" y1="${y1}" y2="${y1 + 4}" stroke="#444444"/>`);
    out.push(`<text class="tick" x="${x}" y="${y1 + 16}" text-anchor="middle">${esc(short(t))}</text>`);
  }
  out.push(`<line class="axis" x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#444444"/>`);
  out.push(`<line class="axis" x1="${x0}" x2="${x1}" y1="${y1}" y2="${y1}" stroke="#444444"/>`);
  out.push(`<text class="axis-label" x="${px((x0 + x1) / 2)}" y="${y1 + 32}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(
    `<text class="axis-label" transform="translate(12 ${px((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  out.push('</g>');
  return out.join('');
}

/** x ticks for generation numbers: integers only, at most about eight of them. */
export function genTicks(lo: number, hi: number): number[] {
  return niceTicks(lo, hi, Math.min(8, Math.max(1, hi - lo))).filter((t) => Number.isInteger(t));
}

