// The data behind every `serve` page, as plain JSON-serialisable objects: the API returns them
// as they are, the pages (pages.ts) draw them. Reads only, through the store's queries and the
// report's builders (one definition of every number: the pages show what `report` shows).
// The clock and the liveness check come in through ServeDeps (the library reads neither).

import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import { readHistograms, readMetrics, type MetricRow, type Origin } from '../store/documents.js';
import { searchFilter, searchMode, textCounts, type SearchMode, type TextCount } from '../store/browse.js';
import { documentSorts, selectDocuments, type DocumentSort, type DocumentView } from '../loop/documents.js';
import { onePerDocument } from '../metrics/coarse.js';
import { findRun, findSweep, lastGeneration, listRuns, listSweeps, type RunRow } from '../store/runs.js';
import { liveStatus, runView, type LiveStatus, type RunView } from '../loop/view.js';
import { runVerdicts } from '../loop/verdicts.js';
import { buildRunReport, coarseSeries, commonCoarse, predictedFixedPoint, runSettings, sweepReportOf } from '../report/data.js';
import type { RunReportData, RunSettings, SweepReportData, Verdict } from '../report/types.js';
import { badRequest, notFound, type Query } from './params.js';

export interface ServeDeps {
  db: Database.Database;
  /** Shown in the pages' header. */
  dbLabel: string;
  now: () => number;
  /** Whether a writer's pid is alive on this machine (null: cannot tell). */
  pidAlive: (pid: number | null) => boolean | null;
}

/** Run views are rebuilt from immutable state (config, tokenizer, coarse-grainings): cache them. */
const views = new WeakMap<Database.Database, Map<string, RunView>>();
function viewOf(db: Database.Database, run: RunRow): RunView {
  let byRun = views.get(db);
  if (!byRun) views.set(db, (byRun = new Map()));
  const key = `${run.id}:${run.created_at}`;
  const cached = byRun.get(key);
  if (cached) return { ...cached, run };
  const v = runView(db, run);
  byRun.set(key, v);
  return v;
}

export function runOf(d: ServeDeps, id: string): RunView {
  const run = findRun(d.db, id);
  if (!run) throw notFound(`no run '${id.slice(0, 80)}'`);
  return viewOf(d.db, run);
}

export interface RunSummary extends LiveStatus {
  id: number;
  name: string;
  backend: string | null;
  sweep: string | null;
  note: string | null;
  settings: RunSettings;
  verdicts: { coarse: string; verdict: Verdict }[];
  /** The coarse-graining of `topShare` (first, else the first tracked). */
  sparkCoarse: string | null;
  /** Top share per generation on `sparkCoarse`. */
  topShare: (number | null)[];
}

export function runSummary(d: ServeDeps, view: RunView): RunSummary {
  const run = view.run;
  const live = liveStatus(d.db, run, d.now(), d.pidAlive);
  const spark = view.coarse.find((c) => c.name === 'first') ?? view.coarse.find((c) => c.name !== 'token') ?? null;
  return {
    id: run.id,
    name: run.name,
    ...live,
    backend: run.backend,
    sweep: run.sweep_id,
    note: run.note,
    settings: runSettings(view),
    verdicts: live.gen >= 0 ? runVerdicts(d.db, run.id, view).map((v) => ({ coarse: v.coarse, verdict: v.verdict as Verdict })) : [],
    sparkCoarse: spark?.name ?? null,
    topShare: spark ? coarseSeries(d.db, run.id, spark.name).map((m) => (Number.isFinite(m.top_share) ? m.top_share : null)) : [],
  };
}

export interface RunsData {
  database: string;
  runs: RunSummary[];
  sweeps: { id: string; createdAt: string; runs: number }[];
}

export function runsData(d: ServeDeps): RunsData {
  return {
    database: d.dbLabel,
    runs: listRuns(d.db).map((r) => runSummary(d, viewOf(d.db, r))),
    sweeps: listSweeps(d.db).map((s) => ({ id: s.id, createdAt: s.created_at, runs: s.runs })),
  };
}

export interface RunData {
  summary: RunSummary;
  /** The report's data: charts, verdicts, theory overlay, settings. */
  report: RunReportData;
}

export function runData(d: ServeDeps, view: RunView): RunData {
  return { summary: runSummary(d, view), report: buildRunReport(d.db, view.run, new Date(d.now()).toISOString()) };
}

export function metricsData(d: ServeDeps, view: RunView): { run: string; metrics: MetricRow[] } {
  return { run: view.run.name, metrics: readMetrics(d.db, view.run.id) };
}

/** Checks that a generation exists (0..last committed); 404 otherwise. */
export function checkGen(d: ServeDeps, view: RunView, gen: number): number {
  const last = lastGeneration(d.db, view.run.id);
  if (gen > last) throw notFound(`run '${view.run.name}' has no generation ${gen} (${last < 0 ? 'none committed yet' : `last is ${last}`})`);
  return gen;
}

export interface DocumentsData {
  run: string;
  gen: number | null;
  q: string | null;
  origin: Origin | null;
  coarse: string | null;
  category: string | null;
  /** Only kept (true) or only discarded (false) candidates; null: both. */
  selected: boolean | null;
  /** gen0_loglik bounds (inclusive, nats per token); null: open. */
  loglikMin: number | null;
  loglikMax: number | null;
  sort: DocumentSort;
  /** Whether the run chooses among its samples (--select, --dedupe), so `selected` says something. */
  curated: boolean;
  offset: number;
  limit: number;
  /** Documents matching every filter (all pages). */
  total: number;
  search: SearchMode;
  /** As `samples --json` prints them (id, origin, text, gen0_loglik, selected, categories …). */
  documents: DocumentView[];
}

/** The query keys of the documents routes; they mean what the `samples` options of the same names mean. */
export const DOCUMENT_PARAMS = ['gen', 'q', 'origin', 'coarse', 'category', 'selected', 'loglik-min', 'loglik-max', 'sort', 'limit', 'offset'] as const;

/** Whether a run's documents carry a meaningful selected flag (some may be discarded). */
export function isCurated(view: RunView): boolean {
  return view.config.select !== null || view.config.dedupe;
}

/**
 * A page of documents; `gen` from the path (the text page) wins over `gen=` (the API). The
 * parameters are checked here (a 400 naming the parameter); the documents are read by the
 * `samples` command's own selectDocuments, so a filter here and there counts the same rows.
 */
export function documentsData(d: ServeDeps, view: RunView, q: Query, pathGen: number | null, defaultLimit: number, maxLimit: number): DocumentsData {
  const gen = pathGen ?? q.int('gen', null);
  if (gen !== null) checkGen(d, view, gen);
  const coarse = q.string('coarse');
  const category = q.string('category');
  const cg = coarse === null ? null : view.coarse.find((c) => c.name === coarse);
  if (coarse !== null && !cg) throw badRequest(`run '${view.run.name}' does not track coarse-graining '${coarse.slice(0, 40)}' (it tracks ${view.coarse.map((c) => c.name).join(', ')})`);
  if (category !== null && !cg) throw badRequest(`parameter 'category' needs 'coarse' (which coarse-graining the category belongs to)`);
  if (cg && category !== null && !onePerDocument(cg.name)) throw badRequest(`coarse-graining '${cg.name}' counts every token of a document, so it gives no one category to filter by`);
  if (cg && category !== null && !cg.categories.includes(category)) throw badRequest(`coarse-graining '${coarse}' has no category '${category.slice(0, 40)}'`);
  const selected = q.choice('selected', ['yes', 'no']);
  const loglikMin = q.number('loglik-min');
  const loglikMax = q.number('loglik-max');
  if (loglikMin !== null && loglikMax !== null && loglikMin > loglikMax) throw badRequest(`parameter 'loglik-min' (${loglikMin}) is above 'loglik-max' (${loglikMax}): no document can match`);
  const sort = q.choice('sort', documentSorts) ?? 'id';
  const text = q.search();
  const offset = q.int('offset', 0)!;
  const limit = q.int('limit', defaultLimit, 1, maxLimit)!;
  const origin = q.origin();
  const { total, docs } = selectDocuments(d.db, view, {
    ...searchFilter(d.db, text),
    gen: gen ?? undefined,
    origin: origin ?? undefined,
    ...(cg && category !== null ? { coarse: cg.name, category } : {}),
    selected: selected === null ? undefined : selected === 'yes',
    loglikMin: loglikMin ?? undefined,
    loglikMax: loglikMax ?? undefined,
    sort,
    offset,
    limit,
  });
  return {
    run: view.run.name, gen, q: text, origin, coarse, category, selected: selected === null ? null : selected === 'yes', loglikMin, loglikMax, sort,
    curated: isCurated(view), offset, limit, total, search: searchMode(d.db), documents: docs,
  };
}

export interface CategoryChange {
  category: string;
  a: number;
  b: number;
}

export interface CoarseComparison {
  coarse: string;
  /** Categories of the coarse-graining with any count in a or b. */
  present: number;
  /** Counted in a, absent in b: the tails disappearing. Largest in a first. */
  vanished: CategoryChange[];
  /** Absent in a, counted in b. Largest in b first. */
  appeared: CategoryChange[];
  /** Every category alive in either, by |share change|. */
  changes: (CategoryChange & { shareA: number; shareB: number })[];
}

export interface CompareData {
  run: string;
  a: number;
  b: number;
  /** Which documents each side's texts are: the seed corpus at 0, the model's samples after. */
  origins: { a: Origin; b: Origin };
  coarse: CoarseComparison[];
  /** The most frequent texts of a that b does not contain, and the other way round. */
  documents: { vanished: TextCount[]; appeared: TextCount[]; distinctA: number; distinctB: number };
}

/** Texts listed per side. */
export const COMPARE_TEXTS = 25;

/**
 * Generation a against generation b on every coarse-graining (the `samples` histograms, the
 * same rows the charts draw), and their most frequent texts. The texts compared are those the
 * histogram counts: the seed corpus at generation 0, the model's own samples after it.
 */
export function compareData(d: ServeDeps, view: RunView, a: number, b: number): CompareData {
  checkGen(d, view, a);
  checkGen(d, view, b);
  const coarse = view.coarse.map((cg): CoarseComparison => {
    const h = readHistograms(d.db, view.run.id, cg.name, 'samples', cg.categories.length);
    const ha = h[a] ?? [];
    const hb = h[b] ?? [];
    const [sa, sb] = [ha.reduce((x, y) => x + y, 0), hb.reduce((x, y) => x + y, 0)];
    const rows = cg.categories.map((category, i) => ({ category, a: ha[i] ?? 0, b: hb[i] ?? 0 })).filter((r) => r.a > 0 || r.b > 0);
    return {
      coarse: cg.name,
      present: rows.length,
      vanished: rows.filter((r) => r.a > 0 && r.b === 0).sort((x, y) => y.a - x.a),
      appeared: rows.filter((r) => r.a === 0 && r.b > 0).sort((x, y) => y.b - x.b),
      changes: rows
        .map((r) => ({ ...r, shareA: sa > 0 ? r.a / sa : 0, shareB: sb > 0 ? r.b / sb : 0 }))
        .sort((x, y) => Math.abs(y.shareB - y.shareA) - Math.abs(x.shareB - x.shareA)),
    };
  });
  const origin = (g: number): Origin => (g === 0 ? 'seed' : 'synthetic');
  const ta = textCounts(d.db, view.run.id, a, origin(a));
  const tb = textCounts(d.db, view.run.id, b, origin(b));
  const inA = new Set(ta.map((t) => t.text));
  const inB = new Set(tb.map((t) => t.text));
  return {
    run: view.run.name,
    a,
    b,
    origins: { a: origin(a), b: origin(b) },
    coarse,
    documents: {
      vanished: ta.filter((t) => !inB.has(t.text)).slice(0, COMPARE_TEXTS),
      appeared: tb.filter((t) => !inA.has(t.text)).slice(0, COMPARE_TEXTS),
      distinctA: ta.length,
      distinctB: tb.length,
    },
  };
}

export interface SweepCoarse {
  report: SweepReportData;
  /** Top share of the mean-field fixed point per run name (null where the theory does not apply). */
  fixedPointTopShare: Record<string, number | null>;
}

export interface SweepData {
  id: string;
  /** Every coarse-graining all runs track; the first is the one `report` defaults to. */
  coarse: SweepCoarse[];
  runs: { name: string; id: number }[];
}

export function sweepData(d: ServeDeps, id: string): SweepData {
  if (!findSweep(d.db, id)) throw notFound(`no sweep '${id.slice(0, 80)}'`);
  const runs = listRuns(d.db, id);
  if (!runs.length) throw notFound(`sweep '${id.slice(0, 80)}' has no runs in this database`);
  const vs = runs.map((r) => viewOf(d.db, r));
  const names = vs[0].coarse.map((c) => c.name).filter((n) => vs.every((v) => v.coarse.some((c) => c.name === n)));
  const createdAt = new Date(d.now()).toISOString();
  // The `report` command's sweep reports, from the cached views: each run's series and verdicts
  // once per coarse-graining, not once more to learn the default one.
  const first = commonCoarse(vs);
  const ordered = [first, ...names.filter((n) => n !== first)];
  const coarse = ordered.map((name): SweepCoarse => {
    const fixed: Record<string, number | null> = {};
    for (const v of vs) {
      const cg = v.coarse.find((c) => c.name === name)!;
      const p0 = readHistograms(d.db, v.run.id, name, 'samples', cg.categories.length)[0];
      const theta = p0 ? predictedFixedPoint(v, p0, name) : null;
      fixed[v.run.name] = theta ? Math.max(...theta) : null;
    }
    return { report: sweepReportOf(d.db, id, vs, name, createdAt), fixedPointTopShare: fixed };
  });
  return { id, coarse, runs: runs.map((r) => ({ name: r.name, id: r.id })) };
}

/** A UserError of the library (e.g. a sweep whose runs share no coarse-graining) as a 400. */
export function asHttp(e: unknown): unknown {
  return e instanceof UserError ? badRequest(e.message) : e;
}
