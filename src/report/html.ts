// Renders a run or a sweep into one self-contained HTML file (charts are inline SVG). Pure:
// data in, string out; the caller writes the file. Used by the `report` command.

import { metricsShown } from '../metrics/registry.js';
import { categoryColour, esc, fmt, short } from './format.js';
import { badge, page, settingsList, table, verdictDetail } from './page.js';
import { lineChart, type LineSeries, stackedArea } from './svg.js';
import type { CoarseReport, HistogramMetrics, RunReportData } from './types.js';

/** Histogram metrics drawn for every coarse-graining, all on the [0, 1] scale. */
const HIST_CURVES: { key: keyof HistogramMetrics; label: string; colour: string }[] = metricsShown('report', 'coarse')
  .filter((d) => d.unit)
  .map((d, i) => ({ key: d.key, label: d.label, colour: categoryColour(i) }));

/** Turns free text into a fragment for element ids. */
function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
}

const figure = (svg: string, caption: string) => `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;

function coarseSection(c: CoarseReport, i: number): string {
  const id = `c${i}-${slug(c.coarse)}`;
  const gens = c.generations.map((g) => g.gen);
  const predicted = c.predicted ? c.generations.map((g) => c.predicted![g.gen] ?? null) : null;
  const m = c.categories.length;
  const area = stackedArea({
    id: `${id}-hist`,
    title: `Category shares by generation, coarse-graining "${c.coarse}"`,
    desc:
      `Stacked shares of the ${m} categories from generation ${gens[0] ?? 0} (seed) to ${gens[gens.length - 1] ?? 0}; ` +
      `the largest categories are drawn separately, the rest pooled as "other".` +
      (predicted ? ' Dashed lines: where the theory puts the top edge of each band.' : '') +
      (predicted && c.predictionNote ? ` ${c.predictionNote}` : ''),
    gens,
    categories: c.categories,
    counts: c.generations.map((g) => g.counts),
    predicted,
  });
  const series: LineSeries[] = HIST_CURVES.filter((k) => c.generations.some((g) => g.metrics[k.key] !== null)).map((k) => ({
    name: k.label,
    colour: k.colour,
    values: c.generations.map((g) => g.metrics[k.key]),
  }));
  if (predicted)
    series.push({
      name: 'top share (theory)',
      colour: categoryColour(2),
      dash: '5 3',
      overlay: true,
      values: predicted.map((p) => (p && p.length ? Math.max(...p) : null)),
    });
  const curves = lineChart({
    id: `${id}-metrics`,
    title: `Histogram metrics by generation, coarse-graining "${c.coarse}"`,
    desc: `${series.map((s) => s.name).join(', ')} per generation, on a 0 to 1 scale.`,
    xs: gens,
    series,
    yMin: 0,
    yMax: 1,
    yLabel: 'value',
  });
  const terms = decompositionChart(c, id);
  const last = c.generations[c.generations.length - 1];
  const first = c.generations[0];
  const headline = last
    ? `Top share ${fmt(first?.metrics.top_share, 2)} → ${fmt(last.metrics.top_share, 2)}, ` +
      `normalised entropy ${fmt(first?.metrics.entropy_norm, 2)} → ${fmt(last.metrics.entropy_norm, 2)}, ` +
      `V ${fmt(first?.metrics.V, 2)} → ${fmt(last.metrics.V, 2)}; ` +
      `total variation from the seed histogram ${fmt(last.metrics.tv_seed, 2)} at generation ${last.gen}.`
    : 'No generations recorded.';
  return (
    `<section class="coarse" id="${id}"><h2>Coarse-graining “${esc(c.coarse)}” (${m} categories) ${badge(c.verdict.verdict)}</h2>` +
    `<p>${esc(headline)}</p>` +
    (predicted && c.predictionNote ? `<p class="note">${esc(c.predictionNote)}</p>` : '') +
    figure(area, 'Shares of each category per generation (generation 0 is the seed corpus).') +
    figure(
      curves,
      'Entropy is normalised by log m; V is the spread of shares over the surviving categories' +
        (series.some((x) => x.name.startsWith('δ̂')) ? '; δ̂ is the measured learner error.' : '.'),
    ) +
    terms +
    '</section>'
  );
}

/**
 * What moved the histogram: the cumulative temperature term against the cumulative model-error
 * term (entropy, nats), with the temperature term's noise band. Empty without a control set.
 */
function decompositionChart(c: CoarseReport, id: string): string {
  const d = c.decomposition;
  if (!d.length) return '';
  const xs = [0, ...d.map((p) => p.gen)];
  const chart = lineChart({
    id: `${id}-terms`,
    title: `Temperature term against model-error term, coarse-graining "${c.coarse}"`,
    desc:
      'Cumulative entropy change per generation split into the temperature term (samples at T minus a control set at T = 1 from the same model) ' +
      'and the model-error term (the control set minus the training set), with the noise band of the temperature term.',
    xs,
    series: [
      { name: 'temperature term Σ ΔH', colour: categoryColour(0), values: [0, ...d.map((p) => p.temperature)] },
      { name: 'model-error term Σ ΔH', colour: categoryColour(3), values: [0, ...d.map((p) => p.error)] },
      { name: 'noise band (+)', colour: categoryColour(0), dash: '3 3', overlay: true, values: [0, ...d.map((p) => p.noise)] },
      { name: 'noise band (−)', colour: categoryColour(0), dash: '3 3', overlay: true, values: [0, ...d.map((p) => -p.noise)] },
    ],
    yLabel: 'Σ ΔH (nats)',
  });
  const end = d[d.length - 1];
  return figure(
    chart,
    `Cumulative entropy change to generation ${end.gen}: temperature ${fmt(end.temperature, 3)} nats (noise band ±${fmt(end.noise, 3)}), ` +
      `model error ${fmt(end.error, 3)} nats. Below zero sharpens (towards a mode), above flattens. A regime is named only when the temperature term leaves its band.`,
  );
}

function runLevelSection(d: RunReportData): string {
  const xs = d.runMetrics.map((r) => r.gen);
  const has = (vs: (number | null)[]) => vs.some((v) => v !== null);
  const perplexity = d.runMetrics.map((r) => r.perplexity);
  const text: LineSeries[] = [
    { name: 'distinct-2', colour: categoryColour(0), values: d.runMetrics.map((r) => r.distinct_2) },
    { name: 'copy rate', colour: categoryColour(5), values: d.runMetrics.map((r) => r.copy_rate) },
  ].filter((s) => has(s.values));
  const charts: string[] = [];
  if (has(perplexity))
    charts.push(
      figure(
        lineChart({
          id: 'run-perplexity',
          title: 'Held-out perplexity by generation',
          desc: 'Perplexity on the seed validation split; a rise means the model forgets the real data.',
          xs,
          series: [{ name: 'perplexity', colour: categoryColour(0), values: perplexity }],
          yLabel: 'perplexity',
        }),
        'Held-out perplexity on the original seed validation split (forgetting).',
      ),
    );
  if (text.length)
    charts.push(
      figure(
        lineChart({
          id: 'run-text',
          title: 'Text diversity by generation',
          desc: 'Distinct bigram share and the share of samples copied verbatim from the training set.',
          xs,
          series: text,
          yMin: 0,
          yMax: 1,
          yLabel: 'share',
        }),
        'distinct-2: distinct bigrams / all bigrams; copy rate: samples that already were in the training set.',
      ),
    );
  const rows = d.runMetrics.map((r) => [
    String(r.gen),
    fmt(r.perplexity, 2),
    fmt(r.train_loss, 3),
    fmt(r.distinct_2, 3),
    fmt(r.copy_rate, 3),
    fmt(r.mean_length, 1),
  ]);
  return (
    '<section class="run-level"><h2>Run-level metrics</h2>' +
    charts.join('') +
    table(['gen', 'perplexity', 'train loss', 'distinct-2', 'copy rate', 'mean length'], rows, { num: [0, 1, 2, 3, 4, 5] }) +
    '</section>'
  );
}

/**
 * Shumailov et al.'s figure for this run: the distribution of the generation-0 log-likelihood
 * per token of each generation's kept documents (the seed at 0), as curves of the share per bin,
 * and its quantiles by generation. Collapse shows as the mass moving right and the 1 % and 10 %
 * quantiles (the tail the first model found unlikely) rising.
 */
function loglikSection(d: RunReportData): string {
  const L = d.loglik;
  if (!L || L.generations.length === 0) return '';
  const centres = L.edges.slice(0, -1).map((e, b) => (e + L.edges[b + 1]) / 2);
  // At most 6 generations as curves (always the seed and the last), spread evenly.
  const G = L.generations.length - 1;
  const shown = [...new Set(Array.from({ length: Math.min(6, G + 1) }, (_, i) => Math.round((i * G) / Math.max(1, Math.min(5, G)))))];
  const dist: LineSeries[] = shown.map((g, i) => {
    const r = L.generations[g];
    return { name: g === 0 ? 'seed (gen 0)' : `gen ${g}`, colour: categoryColour(i), values: r.counts.map((c) => (r.n > 0 ? c / r.n : null)) };
  });
  const xs = L.generations.map((r) => r.gen);
  const q: LineSeries[] = (['q01', 'q10', 'q50', 'q90', 'q99'] as const).map((k, i) => ({
    name: `${Number(k.slice(1))} % quantile`, colour: categoryColour(i), values: L.generations.map((r) => (Number.isFinite(r[k]) ? r[k] : null)),
  }));
  q.push({ name: 'mean', colour: categoryColour(6), dash: '5 3', values: L.generations.map((r) => (Number.isFinite(r.mean) ? r.mean : null)) });
  const rows = L.generations.map((r) => [String(r.gen), String(r.n), fmt(r.mean, 3), fmt(r.q01, 3), fmt(r.q10, 3), fmt(r.q50, 3), fmt(r.q90, 3), fmt(r.q99, 3)]);
  return (
    '<section class="loglik"><h2>Likelihood under the first model</h2>' +
    figure(
      lineChart({
        id: 'loglik-distribution', title: 'Generation-0 log-likelihood per token, by generation',
        desc: 'Share of each generation’s kept documents per bin of log-likelihood per token under the generation-0 model.',
        xs: centres, series: dist, xLabel: 'log-likelihood per token under generation 0 (nats)', yLabel: 'share',
      }),
      'Seed documents at generation 0, the kept samples after. Mass moving right and a thinning left tail is Shumailov et al.’s early model collapse: the tails go first.',
    ) +
    figure(
      lineChart({ id: 'loglik-quantiles', title: 'Quantiles of the generation-0 log-likelihood', desc: 'Quantiles and mean by generation.', xs, series: q, yLabel: 'nats per token' }),
      'A rising 1 % and 10 % quantile means the documents the first model found least likely are disappearing.',
    ) +
    table(['gen', 'documents', 'mean', '1 %', '10 %', '50 %', '90 %', '99 %'], rows, { num: [0, 1, 2, 3, 4, 5, 6, 7] }) +
    '</section>'
  );
}

function examplesSection(d: RunReportData): string {
  if (!d.examples.length) return '';
  const catHead = d.examplesCoarse ? `category (${d.examplesCoarse})` : 'category';
  const blocks = d.examples.map((e) => {
    const rows = e.docs.map((doc) => [esc(doc.text), esc(doc.category ?? '–'), esc(doc.origin)]);
    const what = e.gen === 0 ? 'seed corpus' : `${e.docs.length} documents`;
    return (
      `<details><summary>Generation ${esc(e.gen)} — ${esc(what)}</summary>` +
      table(['text', catHead, 'origin'], rows, { colClass: { 0: 'doc' } }) +
      '</details>'
    );
  });
  return `<section class="examples"><h2>Example documents</h2>${blocks.join('')}</section>`;
}

/** The report of one run: settings, verdicts, one section per coarse-graining, run metrics, examples. */
export function renderRunReport(d: RunReportData): string {
  return page(`heatdeath run ${d.name}`, runReportBody(d));
}

/** The report's body, without the page around it (the `serve` run page wraps it in its own). */
export function runReportBody(d: RunReportData, o: { examples?: boolean } = {}): string {
  const s = d.settings;
  const verdictRows = d.coarse.map((c) => [esc(c.coarse), badge(c.verdict.verdict), ...verdictDetail(c.verdict)]);
  const body =
    `<header><h1>Run ${esc(d.name)}</h1>` +
    `<p class="sub">T = ${esc(short(s.temperature))}${s.truncation ? `, ${esc(s.truncation)}` : ''}, λ = ${esc(short(s.freshFraction))}, ${esc(s.policy)}/${esc(s.retrain)}, ` +
    `${esc(s.generations)} generations of ${esc(s.samples)} documents` +
    (d.createdAt ? ` · data read ${esc(d.createdAt)}` : '') +
    '</p>' +
    settingsList(s) +
    '<h2>Verdicts</h2>' +
    table(['coarse-graining', 'verdict', 'reasons', 'numbers'], verdictRows, { cls: 'verdicts' }) +
    '</header>' +
    d.coarse.map(coarseSection).join('') +
    runLevelSection(d) +
    loglikSection(d) +
    (o.examples === false ? '' : examplesSection(d));
  return body;
}

export { renderSweepReport } from './sweep-html.js';
