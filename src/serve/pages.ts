// The `serve` pages as HTML strings, drawn from the objects of data.ts with the report's own
// building blocks (page shell, tables, badges, charts). Each page is a title and the inner HTML
// of its <main>; the server wraps it in the page shell, or sends the <main> alone when the
// page's script asks for a live refresh. Every text from the database goes through esc().

import { duration, esc, fmt, short } from '../report/format.js';
import { runReportBody } from '../report/html.js';
import { badge, table } from '../report/page.js';
import { sparkline } from '../report/svg.js';
import { sweepGrid, sweepHeader, sweepRunsTable, sweepTrajectories } from '../report/sweep-html.js';
import type { CompareData, DocumentsData, RunData, RunsData, RunSummary, SweepData } from './data.js';
import type { RunView } from '../loop/view.js';
import { documentSorts, type DocumentSort } from '../loop/documents.js';
import { onePerDocument } from '../metrics/coarse.js';
import { DEFAULT_LIMIT } from './params.js';

export interface Page {
  title: string;
  /** Inner HTML of <main>. */
  main: string;
  /** Whether the page's script refreshes <main> when the database changes. */
  live: boolean;
}

/** CSS the served pages add to the report's: navigation, forms, narrow screens. */
export const SERVE_CSS = `
nav.top { display: flex; gap: 16px; align-items: baseline; margin-bottom: 12px; color: #555; flex-wrap: wrap; }
nav.top a { font-weight: 600; }
a { color: #0057a0; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; margin: 8px 0 14px; }
form.filters label { display: flex; flex-direction: column; font-size: 0.9em; color: #444; }
input, select, button { font: inherit; padding: 3px 6px; }
input.num { width: 7em; }
.pager { display: flex; gap: 14px; margin: 8px 0; }
.gens { display: flex; flex-wrap: wrap; gap: 4px 10px; }
.live { color: #555; }
@media (max-width: 600px) {
  body { padding: 12px 10px 32px; }
  td.doc { max-width: 70vw; min-width: 55vw; }
  main pre, main code { white-space: pre-wrap; word-break: break-word; }
  h1 { font-size: 1.3em; }
}
`;

const a = (href: string, text: string) => `<a href="${esc(href)}">${esc(text)}</a>`;
const runHref = (s: { id: number }) => `/runs/${s.id}`;

const eta = (s: number | null) => duration(s) || '–';

function phaseText(s: RunSummary): string {
  return s.progress ? `${s.phase ?? s.progress.phase} ${s.progress.done}/${s.progress.total}` : (s.phase ?? '–');
}

const genText = (s: RunSummary) => `${Math.max(s.gen, 0)}/${s.generations}`;

function liveLine(s: RunSummary): string {
  return (
    `<p class="live" data-run="${esc(s.name)}">status <b class="status">${esc(s.status)}</b> · generation <b class="gen" data-gen="${esc(s.gen)}">${esc(genText(s))}</b>` +
    ` · phase ${esc(phaseText(s))} · ETA ${esc(eta(s.etaS))}` +
    (s.note ? ` · ${esc(s.note)}` : '') +
    '</p>'
  );
}

export function runsPage(d: RunsData, readAt: string): Page {
  const rows = d.runs.map((s) => [
    a(runHref(s), s.name),
    `<span class="status">${esc(s.status)}</span>`,
    `<span class="gen" data-gen="${esc(s.gen)}">${esc(genText(s))}</span>`,
    esc(phaseText(s)),
    esc(eta(s.etaS)),
    esc(s.backend ?? '–'),
    esc(`T=${short(s.settings.temperature)} λ=${short(s.settings.freshFraction)} ${s.settings.policy}${s.settings.selection ? `, ${s.settings.selection}` : ''}`),
    s.verdicts.map((v) => `${esc(v.coarse)} ${badge(v.verdict)}`).join(' ') || '–',
    `<span class="spark" title="top share per generation on ${esc(s.sparkCoarse ?? '–')}, scale 0 to 1">${esc(sparkline(s.topShare, { min: 0, max: 1 }))}</span>`,
  ]);
  const runs = d.runs.length
    ? table(['run', 'status', 'gen', 'phase', 'ETA', 'backend', 'settings', 'verdicts', 'top share'], rows, { cls: 'runs' })
    : '<p>No runs in this database yet. Start one with <code>heatdeath run</code>; it appears here while it runs.</p>';
  const sweeps = d.sweeps.length
    ? '<h2>Sweeps</h2>' + table(['sweep', 'runs', 'created'], d.sweeps.map((s) => [a(`/sweeps/${encodeURIComponent(s.id)}`, s.id), esc(s.runs), esc(s.createdAt)]), { cls: 'sweeps' })
    : '';
  return {
    title: 'heatdeath runs',
    live: true,
    main: `<h1>Runs</h1><p class="sub">${esc(d.database)} · read ${esc(readAt)} · updates live while a run writes</p>${runs}${sweeps}`,
  };
}

function genLinks(id: number, last: number, current: number | null): string {
  const links = Array.from({ length: last + 1 }, (_, g) => (g === current ? `<b>${g}</b>` : a(`/runs/${id}/gen/${g}`, String(g))));
  return `<div class="gens">${links.join(' ')}</div>`;
}

export function runPage(d: RunData): Page {
  const s = d.summary;
  const last = s.gen;
  // Beside the report's likelihood section: each generation's documents, least likely first (the tail that goes first).
  const byLoglik =
    d.report.loglik && last >= 0
      ? `<p class="loglik-links">Least likely documents under the first model, per generation: ` +
        Array.from({ length: last + 1 }, (_, g) => a(`/runs/${s.id}/gen/${g}?sort=gen0_loglik`, String(g))).join(' ') +
        '</p>'
      : '';
  const text =
    last >= 0
      ? `<h2>Text of each generation</h2>${genLinks(s.id, last, null)}` +
        byLoglik +
        (last > 0 ? `<p>${a(`/runs/${s.id}/compare?a=0&b=${last}`, `Compare generation 0 with ${last}`)}: categories and frequent documents that vanished or appeared.</p>` : '')
      : '<p>No generation committed yet.</p>';
  return {
    title: `heatdeath run ${s.name}`,
    live: true,
    main: liveLine(s) + runReportBody(d.report, { examples: false }) + text,
  };
}

/** How each sort reads on the page. */
const SORT_LABELS: Record<DocumentSort, string> = { id: 'by id', gen0_loglik: 'least likely first', '-gen0_loglik': 'most likely first' };

/** The query string of a documents page's filters (no offset), as the form sends it. */
function filterParams(d: DocumentsData): URLSearchParams {
  const p = new URLSearchParams();
  const yn = (b: boolean | null) => (b === null ? null : b ? 'yes' : 'no');
  const num = (x: number | null) => (x === null ? null : String(x));
  const pairs: [string, string | null][] = [
    ['q', d.q], ['origin', d.origin], ['coarse', d.coarse], ['category', d.category], ['selected', yn(d.selected)],
    ['loglik-min', num(d.loglikMin)], ['loglik-max', num(d.loglikMax)], ['sort', d.sort === 'id' ? null : d.sort],
  ];
  for (const [k, v] of pairs) if (v !== null) p.set(k, v);
  if (d.limit !== DEFAULT_LIMIT) p.set('limit', String(d.limit));
  return p;
}

const withQuery = (base: string, p: URLSearchParams) => (p.size ? `${base}?${p}` : base);

function filterForm(view: RunView, d: DocumentsData, pathGen: number | null): string {
  const opt = (v: string, label: string, sel: boolean) => `<option value="${esc(v)}"${sel ? ' selected' : ''}>${esc(label)}</option>`;
  const coarse = view.coarse.filter((c) => onePerDocument(c.name));
  const cats = coarse.flatMap((c) => c.categories.map((k) => `<option value="${esc(k)}">${esc(c.name)}</option>`));
  const action = pathGen === null ? `/runs/${view.run.id}/search` : `/runs/${view.run.id}/gen/${pathGen}`;
  const bound = (name: string, label: string, v: number | null) =>
    `<label>${esc(label)}<input class="num" type="number" step="any" name="${name}" value="${v === null ? '' : esc(v)}"></label>`;
  // Selection only means something where the run discards candidates; a filter given in the URL stays visible.
  const selected = d.curated || d.selected !== null
    ? `<label>selected<select name="selected">${opt('', 'any', d.selected === null)}${opt('yes', 'kept', d.selected === true)}${opt('no', 'discarded', d.selected === false)}</select></label>`
    : '';
  return (
    `<form class="filters" method="get" action="${esc(action)}">` +
    `<label>search text<input type="search" name="q" value="${esc(d.q ?? '')}" maxlength="200"></label>` +
    `<label>origin<select name="origin">${opt('', 'any', d.origin === null)}${['seed', 'fresh', 'synthetic'].map((o) => opt(o, o, d.origin === o)).join('')}</select></label>` +
    `<label>coarse-graining<select name="coarse">${opt('', '–', d.coarse === null)}${coarse.map((c) => opt(c.name, c.name, d.coarse === c.name)).join('')}</select></label>` +
    `<label>category<input name="category" list="categories" value="${esc(d.category ?? '')}"></label><datalist id="categories">${cats.join('')}</datalist>` +
    selected +
    bound('loglik-min', 'log-lik. ≥', d.loglikMin) +
    bound('loglik-max', 'log-lik. ≤', d.loglikMax) +
    `<label>order<select name="sort">${documentSorts.map((k) => opt(k === 'id' ? '' : k, SORT_LABELS[k], d.sort === k)).join('')}</select></label>` +
    (d.limit !== DEFAULT_LIMIT ? `<input type="hidden" name="limit" value="${esc(d.limit)}">` : '') +
    `<button type="submit">show</button></form>`
  );
}

function pager(base: string, d: DocumentsData): string {
  const href = (offset: number) => {
    const p = filterParams(d);
    if (offset) p.set('offset', String(offset));
    return withQuery(base, p);
  };
  const prev = d.offset > 0 ? a(href(Math.max(0, d.offset - d.limit)), '← previous') : '';
  const next = d.offset + d.limit < d.total ? a(href(d.offset + d.limit), 'next →') : '';
  return `<div class="pager">${prev}${next}</div>`;
}

/** The same filters in each order, the current one in bold. */
function sortLinks(base: string, d: DocumentsData): string {
  const links = documentSorts.map((k) => {
    if (k === d.sort) return `<b>${esc(SORT_LABELS[k])}</b>`;
    const p = filterParams(d);
    if (k === 'id') p.delete('sort');
    else p.set('sort', k);
    return a(withQuery(base, p), SORT_LABELS[k]);
  });
  return `<span class="sorts">order: ${links.join(' · ')}</span>`;
}

/** A document's generation-0 log-likelihood per token, 3 decimals; blank where the file has none. */
const loglikCell = (x: number | null) => (x === null ? '' : esc(fmt(x, 3)));

/** A generation's documents (pathGen set) or a search over all generations (pathGen null). */
export function documentsPage(view: RunView, d: DocumentsData, last: number, pathGen: number | null): Page {
  const id = view.run.id;
  const coarse = view.coarse.filter((c) => onePerDocument(c.name));
  const base = pathGen === null ? `/runs/${id}/search` : `/runs/${id}/gen/${pathGen}`;
  const catLink = (c: string, k: string | undefined) =>
    k === undefined ? '–' : a(`${base}?coarse=${encodeURIComponent(c)}&category=${encodeURIComponent(k)}`, k);
  const rows = d.documents.map((doc) => [
    esc(doc.id),
    a(`/runs/${id}/gen/${doc.gen}`, String(doc.gen)),
    esc(doc.origin),
    esc(doc.text),
    ...coarse.map((c) => catLink(c.name, doc.categories[c.name])),
    esc(doc.trueLabel ?? '–'),
    doc.inTrain ? 'yes' : 'no',
    ...(d.curated ? [doc.selected ? 'kept' : 'discarded'] : []),
    loglikCell(doc.gen0_loglik),
  ]);
  const head = ['id', 'gen', 'origin', 'text', ...coarse.map((c) => `category (${c.name})`), 'corpus label', 'in train', ...(d.curated ? ['selected'] : []), 'log-lik. gen 0'];
  const ll = head.length - 1;
  const colClass: Record<number, string> = { 3: 'doc', [ll]: 'll0' };
  if (d.curated) colClass[ll - 1] = 'sel';
  const shown = d.documents.length ? `${d.offset + 1}–${d.offset + d.documents.length}` : '0';
  const where = pathGen === null ? 'all generations' : `generation ${pathGen}`;
  const compare =
    pathGen === null
      ? ''
      : `<form class="filters" method="get" action="/runs/${id}/compare"><input type="hidden" name="a" value="${pathGen}">` +
        `<label>compare generation ${pathGen} with generation<input name="b" type="number" min="0" max="${last}" value="${pathGen === last ? 0 : last}"></label>` +
        `<button type="submit">compare</button></form>`;
  const searchAll = pathGen === null ? a(`/runs/${id}/gen/${last}`, `browse generation ${last}`) : a(`/runs/${id}/search${d.q ? `?q=${encodeURIComponent(d.q)}` : ''}`, 'search all generations');
  return {
    title: `heatdeath ${view.run.name} ${where}`,
    live: false,
    main:
      `<h1>Run ${a(`/runs/${id}`, view.run.name)} · ${esc(where)}</h1>` +
      (pathGen === null ? '' : genLinks(id, last, pathGen)) +
      filterForm(view, d, pathGen) +
      `<p class="sub"><span class="total" data-total="${esc(d.total)}">${esc(d.total)}</span> documents match; showing ${esc(shown)} · ${sortLinks(base, d)}` +
      ` · search: ${d.search === 'fts5' ? 'full-text index (all words, each as a prefix)' : 'substring (this database predates the full-text index)'} · ${searchAll}</p>` +
      table(head, rows, { colClass, num: [ll], cls: 'documents' }) +
      `<p class="sub">log-lik. gen 0: log-likelihood per token (nats) of the document under the generation-0 model; blank for a seed document outside the scored reference subset, and where the database predates it.` +
      (d.curated ? ' selected: whether the selection step kept the candidate (discarded ones are stored, never trained on).' : '') +
      '</p>' +
      pager(base, d) +
      compare,
  };
}

function changeTable(cls: string, rows: { category: string; a: number; b: number }[], which: 'a' | 'b', limit = 40): string {
  if (!rows.length) return '<p>none</p>';
  const body = rows.slice(0, limit).map((r) => [`<span data-category="${esc(r.category)}">${esc(r.category)}</span>`, fmt(r[which], 0)]);
  return table(['category', which === 'a' ? 'count before' : 'count after'], body, { num: [1], cls }) + (rows.length > limit ? `<p>and ${rows.length - limit} more</p>` : '');
}

export function comparePage(view: RunView, d: CompareData): Page {
  const id = view.run.id;
  const sections = d.coarse.map((c) => {
    const top = c.changes.slice(0, 12).map((r) => [esc(r.category), fmt(r.shareA, 3), fmt(r.shareB, 3), fmt(r.shareB - r.shareA, 3)]);
    return (
      `<section class="coarse-compare" data-coarse="${esc(c.coarse)}"><h2>Coarse-graining “${esc(c.coarse)}”</h2>` +
      `<p>${esc(c.present)} categories alive in either generation; <b>${esc(c.vanished.length)}</b> vanished, <b>${esc(c.appeared.length)}</b> appeared.</p>` +
      `<h3>Vanished (in ${d.a}, not in ${d.b})</h3>${changeTable('vanished', c.vanished, 'a')}` +
      `<h3>Appeared (in ${d.b}, not in ${d.a})</h3>${changeTable('appeared', c.appeared, 'b')}` +
      `<h3>Largest changes of share</h3>${table(['category', `share at ${d.a}`, `share at ${d.b}`, 'change'], top, { num: [1, 2, 3] })}` +
      '</section>'
    );
  });
  const texts = (cls: string, rows: { text: string; count: number }[], gen: number) =>
    rows.length ? table(['text', `count at ${gen}`], rows.map((t) => [esc(t.text), esc(t.count)]), { colClass: { 0: 'doc' }, num: [1], cls }) : '<p>none</p>';
  return {
    title: `heatdeath ${view.run.name} generation ${d.a} vs ${d.b}`,
    live: false,
    main:
      `<h1>Run ${a(`/runs/${id}`, view.run.name)}: generation ${a(`/runs/${id}/gen/${d.a}`, String(d.a))} vs ${a(`/runs/${id}/gen/${d.b}`, String(d.b))}</h1>` +
      `<p class="sub">Category counts are the samples histograms the charts draw; texts compared are the ${esc(d.origins.a)} documents of ${d.a} (${esc(d.documents.distinctA)} distinct) ` +
      `and the ${esc(d.origins.b)} documents of ${d.b} (${esc(d.documents.distinctB)} distinct).</p>` +
      sections.join('') +
      `<section class="texts"><h2>Most frequent documents that vanished (in ${d.a}, not in ${d.b})</h2>${texts('vanished-texts', d.documents.vanished, d.a)}` +
      `<h2>Most frequent documents that appeared (in ${d.b}, not in ${d.a})</h2>${texts('appeared-texts', d.documents.appeared, d.b)}</section>`,
  };
}

export function sweepPage(d: SweepData): Page {
  const ids = new Map(d.runs.map((r) => [r.name, r.id]));
  const mean = (xs: (number | null)[]) => {
    const ok = xs.filter((x): x is number => x !== null && Number.isFinite(x));
    return ok.length ? ok.reduce((p, q) => p + q, 0) / ok.length : null;
  };
  const grids = d.coarse.map(({ report, fixedPointTopShare: fp }) => {
    const grid = sweepGrid(report, (here) => ` · mf ${fmt(mean(here.map((r) => fp[r.name])), 2)}`);
    const rows = report.runs.map((r) => [
      a(`/runs/${ids.get(r.name)}`, r.name),
      esc(short(r.settings.temperature)),
      esc(short(r.settings.freshFraction)),
      fmt(r.final.top_share, 3),
      fmt(fp[r.name], 3),
      badge(r.verdict.verdict),
    ]);
    return (
      `<section class="grid" data-coarse="${esc(report.coarse)}"><h2>Grid on coarse-graining “${esc(report.coarse)}”</h2>` +
      `<figure>${grid}<figcaption>Colour and number: mean final top share per (λ, T); label: verdict, then “mf”: the top share of the mean-field fixed point the theory predicts for that T and λ from the seed histogram.</figcaption></figure>` +
      table(['run', 'T', 'λ', 'final top share', 'mean-field fixed point', 'verdict'], rows, { num: [1, 2, 3, 4], cls: 'cells' }) +
      '</section>'
    );
  });
  const main = d.coarse[0].report;
  return {
    title: `heatdeath sweep ${d.id}`,
    live: true,
    main:
      sweepHeader(main) +
      grids.join('') +
      `<section><h2>Trajectories on “${esc(main.coarse)}”</h2>${sweepTrajectories(main)}</section>` +
      `<section><h2>Runs</h2>${sweepRunsTable(main, (r) => `/runs/${ids.get(r.name)}`)}</section>`,
  };
}

/** The page around an error (pages; the API answers JSON). */
export function errorPage(status: number, message: string): Page {
  return { title: `heatdeath: ${status}`, live: false, main: `<h1>${esc(status)}</h1><p class="error">${esc(message)}</p><p>${a('/', 'all runs')}</p>` };
}
