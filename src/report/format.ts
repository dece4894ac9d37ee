// Shared pieces of the report renderers: escaping (every string that reaches HTML or SVG goes
// through `esc`), number formatting that never prints NaN, the colour-blind-safe palettes and
// the axis-tick rule. Used by svg.ts and html.ts; pure functions only.

/** Escapes text for HTML/SVG element content and for quoted attribute values. */
export function esc(text: unknown): string {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A number for people: fixed decimals, `–` for null/NaN/∞ so a missing metric reads as missing. */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return x.toFixed(digits);
}

/** A number for a tick label or a setting: as short as it can be without losing the value. */
export function short(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(1);
  return String(Number(x.toPrecision(4)));
}

/** Seconds for people: 42s, 7m, 1.5h; empty for null (unknown). */
export function duration(s: number | null): string {
  return s === null ? '' : s < 90 ? `${Math.round(s)}s` : s < 5400 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`;
}

/** A coordinate in SVG: two decimals are sub-pixel at any size we draw. */
export function px(x: number): string {
  return String(Math.round(x * 100) / 100);
}

/**
 * Okabe–Ito: eight colours distinguishable under the common colour-vision deficiencies.
 * Black is left out (it is the axis colour); yellow comes last because it is weak on white.
 */
export const CATEGORY_COLOURS: readonly string[] = [
  '#0072B2', // blue
  '#E69F00', // orange
  '#009E73', // bluish green
  '#CC79A7', // reddish purple
  '#56B4E9', // sky blue
  '#D55E00', // vermillion
  '#F0E442', // yellow
];

/** The colour of the pooled "other" band: neutral so it never competes with a real category. */
export const OTHER_COLOUR = '#BBBBBB';

export function categoryColour(i: number): string {
  return CATEGORY_COLOURS[i % CATEGORY_COLOURS.length];
}

/** Viridis at nine stops: a perceptually uniform sequential scale that survives grey printing. */
const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** Sequential colour for t in [0, 1] (clamped), e.g. λ in a sweep or a share in a heat map. */
export function sequentialColour(t: number): string {
  const u = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const pos = u * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(pos));
  const f = pos - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  const hex = (k: number) =>
    Math.round(a[k] + (b[k] - a[k]) * f)
      .toString(16)
      .padStart(2, '0');
  return `#${hex(0)}${hex(1)}${hex(2)}`;
}

/** Black or white, whichever reads better on the given #rrggbb background (WCAG luminance). */
export function textColourOn(bg: string): string {
  const lin = (h: string) => {
    const c = parseInt(h, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const L = 0.2126 * lin(bg.slice(1, 3)) + 0.7152 * lin(bg.slice(3, 5)) + 0.0722 * lin(bg.slice(5, 7));
  return L > 0.179 ? '#000000' : '#FFFFFF';
}

/** About `count` round tick values (steps of 1, 2 or 5 × 10^k) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  // Integer multiples of the step, so 0.1 + 0.2 rounding never shows up in a label.
  for (let k = Math.ceil(min / step - 1e-9); k * step <= max + step * 1e-9; k++) ticks.push(k * step);
  return ticks.map((t) => Number(t.toPrecision(12)));
}

/** Finite min and max of several series (nulls and NaN ignored); null if there is no value. */
export function extent(series: readonly (readonly (number | null)[])[]): [number, number] | null {
  let lo = Infinity,
    hi = -Infinity;
  for (const s of series)
    for (const v of s)
      if (v !== null && Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
  return lo <= hi ? [lo, hi] : null;
}
