// The sweep report: every run of a λ × T grid on one coarse-graining. Curves are coloured by λ
// on a sequential scale (and dashed by T), the heat map shows final top share and verdict per
// grid cell, and a table lists the runs. Pure: data in, HTML string out.

import { metricDef } from '../metrics/registry.js';
import { esc, fmt, sequentialColour, short } from './format.js';
import { badge, page, settingsList, table } from './page.js';
import { heatMap, type HeatCell, lineChart, type LineSeries, sparkline } from './svg.js';
import type { HistogramMetrics, RunSettings, SweepReportData, SweepRun, Verdict } from './types.js';

/** The metrics drawn as one chart each, all on [0, 1]. */
const SWEEP_CURVES: { key: keyof HistogramMetrics; label: string }[] = ['top_share', 'entropy_norm', 'V'].map((key) => ({ key, label: metricDef(key).label }));

/** Dash patterns that tell temperatures apart within one λ colour. */
const DASHES = ['', '7 3', '2 3', '10 3 2 3', '1 2'];

const uniqueSorted = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

/** λ → colour: viridis stopped short of its pale yellow end, which vanishes on white paper. */
function lambdaColour(lambdas: number[]): (l: number) => string {
  const [lo, hi] = [lambdas[0] ?? 0, lambdas[lambdas.length - 1] ?? 0];
  return (l) => sequentialColour(hi > lo ? ((l - lo) / (hi - lo)) * 0.8 : 0.35);
}

/** Settings that are not the same in every run; shown as "varies" in the header. */
function varyingSettings(runs: SweepRun[]): Set<string> {
  const keys = Object.keys(runs[0]?.settings ?? {}) as (keyof RunSettings)[];
  return new Set(keys.filter((k) => runs.some((r) => r.settings[k] !== runs[0].settings[k])));
}

/** "mode-collapse" when all runs of a cell agree, else e.g. "2/3 mode-collapse". */
function cellVerdict(verdicts: Verdict[]): string {
  const counts = new Map<Verdict, number>();
  for (const v of verdicts) counts.set(v, (counts.get(v) ?? 0) + 1);
  const [top, n] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  return n === verdicts.length ? top : `${n}/${verdicts.length} ${top}`;
}

/** The grid's axes and the runs ordered by λ, then T (so a legend reads like the grid). */
function layout(d: SweepReportData) {
  const runs = d.runs;
  const lambdas = uniqueSorted(runs.map((r) => r.settings.freshFraction));
  const temps = uniqueSorted(runs.map((r) => r.settings.temperature));
  const ordered = runs
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.settings.freshFraction - b.r.settings.freshFraction || a.r.settings.temperature - b.r.settings.temperature || a.i - b.i)
    .map((x) => x.r);
  return { runs, lambdas, temps, ordered };
}

/** One chart per metric with every run's trajectory; colour is λ, dash is T. */
export function sweepTrajectories(d: SweepReportData): string {
  const { runs, lambdas, temps, ordered } = layout(d);
  const seeds = new Set(runs.map((r) => r.settings.seed));
  const colour = lambdaColour(lambdas);
  const label = (r: SweepRun) =>
    `λ=${short(r.settings.freshFraction)} T=${short(r.settings.temperature)}` + (r.settings.truncation ? ` ${r.settings.truncation}` : '') + (seeds.size > 1 ? ` seed ${r.settings.seed}` : '');
  const maxGen = Math.max(0, ...runs.map((r) => r.series.length - 1));
  const xs = Array.from({ length: maxGen + 1 }, (_, g) => g);
  return SWEEP_CURVES.map(({ key, label: name }) => {
    const series: LineSeries[] = ordered.map((r) => ({
      name: label(r),
      colour: colour(r.settings.freshFraction),
      dash: DASHES[temps.indexOf(r.settings.temperature) % DASHES.length] || undefined,
      values: xs.map((g) => r.series[g]?.[key] ?? null),
    }));
    const svg = lineChart({
      id: `sweep-${slugOf(d.coarse)}-${key}`,
      title: `${name} by generation, all runs`,
      desc: `${name} on coarse-graining "${d.coarse}" for ${runs.length} runs; colour is λ (darker = less fresh data), dash pattern is T.`,
      xs,
      series,
      yMin: 0,
      yMax: 1,
      yLabel: name,
    });
    return `<figure>${svg}<figcaption>${esc(name)} per generation; colour encodes λ, dash pattern encodes T.</figcaption></figure>`;
  }).join('');
}

const slugOf = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-') || 'x';

/**
 * The λ × T grid: each cell coloured and numbered by the mean final top share, labelled with
 * the verdict; `extra` may append to a cell's label (e.g. the theory's prediction).
 */
export function sweepGrid(d: SweepReportData, extra?: (here: SweepRun[]) => string): string {
  const { runs, lambdas, temps } = layout(d);
  const cells: HeatCell[] = [];
  lambdas.forEach((l, row) =>
    temps.forEach((t, col) => {
      const here = runs.filter((r) => r.settings.freshFraction === l && r.settings.temperature === t);
      if (!here.length) return;
      const shares = here.map((r) => r.final.top_share).filter((v) => Number.isFinite(v));
      cells.push({
        row,
        col,
        value: shares.length ? shares.reduce((a, b) => a + b, 0) / shares.length : null,
        label: cellVerdict(here.map((r) => r.verdict.verdict)) + (extra ? extra(here) : ''),
        note: here.map((r) => `${r.name}: ${r.verdict.verdict}, top share ${fmt(r.final.top_share, 3)}`).join('\n'),
      });
    }),
  );
  return heatMap({
    id: `sweep-grid-${slugOf(d.coarse)}`,
    title: `Final top share and verdict over the λ × T grid, coarse-graining "${d.coarse}"`,
    desc: `Each cell is one (λ, T) pair: its colour and number are the mean final top share, its label the verdict (with a count when seeds disagree).`,
    rowName: 'λ (fresh fraction)',
    colName: 'T (temperature)',
    rows: lambdas.map(short),
    cols: temps.map(short),
    cells,
    valueName: 'final top share',
  });
}

/** One row per run: settings that vary, final values, verdict, a sparkline. */
export function sweepRunsTable(d: SweepReportData, link?: (r: SweepRun) => string): string {
  const rows = layout(d).ordered.map((r) => [
    link ? `<a href="${esc(link(r))}">${esc(r.name)}</a>` : esc(r.name),
    esc(short(r.settings.temperature)) + (r.settings.truncation ? `, ${esc(r.settings.truncation)}` : ''),
    esc(short(r.settings.freshFraction)),
    esc(r.settings.seed),
    fmt(r.final.top_share, 3),
    fmt(r.final.entropy_norm, 3),
    fmt(r.final.V, 3),
    fmt(r.finalPerplexity, 2),
    badge(r.verdict.verdict),
    r.verdicts.filter((v) => v.coarse !== d.coarse).map((v) => `${esc(v.coarse)} ${badge(v.verdict.verdict)}`).join(' '),
    `<span class="spark" title="top share per generation, scale 0 to 1">${esc(sparkline(r.series.map((m) => m.top_share), { min: 0, max: 1 }))}</span>`,
  ]);
  return table(['run', 'T', 'λ', 'seed', 'top share', 'norm. entropy', 'V', 'perplexity', 'verdict', 'other coarse-grainings', 'top share by gen'], rows, {
    num: [1, 2, 3, 4, 5, 6, 7],
  });
}

/** The sweep's title line and its settings (those that differ between runs say "varies"). */
export function sweepHeader(d: SweepReportData): string {
  const { runs, lambdas, temps } = layout(d);
  return (
    `<header><h1>Sweep ${esc(d.id)}</h1>` +
    `<p class="sub">${runs.length} runs on coarse-graining “${esc(d.coarse)}”: λ ∈ {${esc(lambdas.map(short).join(', '))}}, ` +
    `T ∈ {${esc(temps.map(short).join(', '))}}` +
    (d.createdAt ? ` · data read ${esc(d.createdAt)}` : '') +
    '</p>' +
    settingsList(runs[0]?.settings ?? {}, varyingSettings(runs)) +
    '</header>'
  );
}

export function renderSweepReport(d: SweepReportData): string {
  const body =
    sweepHeader(d) +
    `<section><h2>Final verdicts over the grid</h2><figure>${sweepGrid(d)}<figcaption>Mean final top share per (λ, T); hover a cell for its runs.</figcaption></figure></section>` +
    `<section><h2>Trajectories</h2>${sweepTrajectories(d)}</section>` +
    '<section><h2>Runs</h2>' +
    sweepRunsTable(d) +
    '</section>';
  return page(`heatdeath sweep ${d.id}`, body);
}
