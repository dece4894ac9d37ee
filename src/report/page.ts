// The HTML page shell shared by the run and sweep reports: one self-contained document with
// inline CSS (screen and print), a Content-Security-Policy that forbids every network fetch,
// and the small building blocks both reports use (tables, verdict badges, settings).

import { esc, fmt, short } from './format.js';
import type { RunSettings, Verdict, VerdictReport } from './types.js';

/** Verdict colours (Okabe–Ito); the verdict is always written out too, never colour alone. */
const VERDICT_COLOURS: Record<Verdict, string> = {
  'mode-collapse': '#D55E00',
  'heat-death': '#56B4E9',
  stable: '#009E73',
  drift: '#E69F00',
  undetermined: '#BBBBBB',
};

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1d;
  background: #fff; margin: 0 auto; padding: 24px 28px 48px; max-width: 1080px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
.sub { color: #555; margin: 0 0 16px; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 10px 4px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; color: #333; }
td.num, th.num { text-align: right; }
dl.settings { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 4px 18px; margin: 8px 0 16px; }
dl.settings div { display: flex; gap: 6px; }
dl.settings dt { color: #555; }
dl.settings dd { margin: 0; font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; white-space: nowrap;
  border: 1px solid #0003; }
.reasons { margin: 0; padding-left: 18px; }
.evidence { color: #444; font-size: 0.92em; }
figure { margin: 10px 0 18px; }
figcaption { color: #555; font-size: 0.92em; margin-top: 2px; }
svg.chart { display: block; width: 100%; max-width: 760px; height: auto; }
.spark { font-family: ui-monospace, "DejaVu Sans Mono", monospace; letter-spacing: -1px; }
details { border: 1px solid #e4e4e4; border-radius: 6px; padding: 4px 10px; margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
td.doc { white-space: pre-wrap; word-break: break-word; max-width: 640px; }
footer { margin-top: 40px; color: #777; font-size: 0.85em; }
@media print {
  body { font-size: 10pt; padding: 0; max-width: none; }
  h2 { break-after: avoid; }
  figure, table, .verdicts { break-inside: avoid; }
  svg.chart { max-width: 100%; }
  details { border: none; padding: 0; }
  .scroll { overflow: visible; }
  summary { list-style: none; }
  .badge { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  svg.chart, svg.chart * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
@page { margin: 14mm; }
/* Where the browser knows ::details-content, closed details print open even without the script. */
@media print { details::details-content { content-visibility: visible; display: contents; } }
`;

// Opens every <details> before printing so a printed report shows the example documents.
const SCRIPT = `window.addEventListener('beforeprint', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
});`;

export interface PageOptions {
  /**
   * A same-origin script URL instead of the inline print script (the `serve` pages): the policy
   * then allows scripts and fetches from the page's own origin only, and no inline script.
   */
  scriptSrc?: string;
  /** Extra CSS appended to the report's. */
  css?: string;
  /** Footer text (default: the static report's). */
  footer?: string;
}

/** The whole document around a body. The CSP makes any accidental external reference inert. */
export function page(title: string, body: string, o: PageOptions = {}): string {
  const scripts = o.scriptSrc ? `script-src 'self'; connect-src 'self'` : `script-src 'unsafe-inline'`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; ${scripts}; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}${o.css ?? ''}</style>`,
    '</head>',
    '<body>',
    body,
    `<footer>${esc(o.footer ?? 'Written by heatdeath. Self-contained: no scripts, fonts or images are fetched.')}</footer>`,
    o.scriptSrc ? `<script src="${esc(o.scriptSrc)}"></script>` : `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

export function badge(v: Verdict): string {
  const bg = VERDICT_COLOURS[v] ?? '#BBBBBB';
  return `<span class="badge verdict-${esc(v)}" style="background:${bg}">${esc(v)}</span>`;
}

export interface TableOptions {
  /** Columns aligned right (numbers). */
  num?: readonly number[];
  /** Extra class per column, e.g. { 0: 'doc' }. */
  colClass?: Readonly<Record<number, string>>;
  cls?: string;
}

/**
 * A table from header cells and rows of already-escaped cell markup, in a box that scrolls
 * sideways on its own when the table is wider than a narrow window (the text column stays put).
 */
export function table(head: string[], rows: string[][], o: TableOptions = {}): string {
  const cls = (i: number) => {
    const c = [o.num?.includes(i) ? 'num' : '', o.colClass?.[i] ?? ''].filter(Boolean).join(' ');
    return c ? ` class="${c}"` : '';
  };
  const th = head.map((h, i) => `<th${cls(i)}>${esc(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`);
  return `<div class="scroll"><table${o.cls ? ` class="${o.cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>${trs.join('')}</tbody></table></div>`;
}

/** Settings as a definition list; `varies` names settings that differ between runs of a sweep. */
export function settingsList(s: Partial<RunSettings>, varies: ReadonlySet<string> = new Set()): string {
  const rows: [string, keyof RunSettings, (v: never) => string][] = [
    ['model', 'model', String],
    ['corpus', 'corpus', String],
    ['temperature T', 'temperature', short],
    ['truncation', 'truncation', (v: string) => v || 'none'],
    ['fresh fraction λ', 'freshFraction', short],
    ['selection', 'selection', (v: string) => v || 'none'],
    ['policy', 'policy', String],
    ['retrain', 'retrain', String],
    ['seed', 'seed', String],
    ['samples N', 'samples', String],
    ['generations G', 'generations', String],
    ['backend', 'backend', String],
  ];
  const items = rows.map(([label, key, show]) => {
    const v = varies.has(key) ? 'varies' : s[key] === undefined ? '–' : show(s[key] as never);
    return `<div><dt>${esc(label)}</dt><dd>${esc(v)}</dd></div>`;
  });
  return `<dl class="settings">${items.join('')}</dl>`;
}

/** Reasons as a list and the evidence as name = value, so the verdict shows what decided it. */
export function verdictDetail(v: VerdictReport): [string, string] {
  const reasons = v.reasons.length
    ? `<ul class="reasons">${v.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>`
    : '<span class="evidence">no reasons recorded</span>';
  const ev = Object.entries(v.evidence)
    .map(([k, x]) => `${esc(k)} = ${esc(fmt(x, 3))}`)
    .join(', ');
  return [reasons, `<span class="evidence">${ev || '–'}</span>`];
}
