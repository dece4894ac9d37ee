// Fills the report shapes (types.ts) from the database: a run's histograms, metrics, verdicts,
// a few example documents and the mean-field prediction; a sweep's runs on one coarse-graining.
// Reads only. The time the data was read is passed in (the library reads no clock).
//
// The theory overlay. Histogram `samples` at generation g ≥ 1 counts the N documents drawn at T
// from the model of generation g−1, which was trained on a set whose composition the mean-field
// calls θ_{g−1} (θ_0 = p₀, the seed histogram; the ODE/recursion of theory/ode.ts moves it on
// with the run's T, λ, policy, ℓ = seed training documents and N). So the overlay for the samples
// histogram is predicted[0] = p₀ and predicted[g] = τ_T(θ_{g−1}): the same object the bands show.

import { dataPolicy, extendsPrevious } from '../loop/policy/index.js';
import { onePerDocument } from '../metrics/coarse.js';
import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import { describeTruncations, samplingRuleOf } from '../model/sampling.js';
import { METRICS } from '../metrics/registry.js';
import { firstDocuments, keptLogliks, readHistograms, readMetrics, seedTrainSize } from '../store/documents.js';
import { loglikHistograms, loglikSummary } from '../metrics/loglik.js';
import { getSweep, lastGeneration, listRuns, type RunRow } from '../store/runs.js';
import { runView, type RunView } from '../loop/view.js';
import { runVerdicts, type VerdictSummary } from '../loop/verdicts.js';
import { decodeTokens } from '../store/documents.js';
import { normalize, tau } from '../theory/core.js';
import { fixedPoint, meanFieldMap, predictTrajectory } from '../theory/ode.js';
import { parseScorer } from '../loop/scorers.js';
import { describeSelection } from '../loop/select.js';
import type { CategorySelection } from '../theory/select.js';
import { upperZ } from '../theory/calibration.js';
import { defaultVerdictOptions } from '../metrics/verdict.js';
import type {
  CoarseReport, DecompositionPoint, GenerationExamples, HistogramMetrics, LoglikReport, RunGenerationMetrics, RunReportData, RunSettings, SweepReportData, SweepRun, VerdictReport,
} from './types.js';

/** Example documents shown per generation. */
export const EXAMPLES_PER_GEN = 5;

export function runSettings(view: RunView): RunSettings {
  const c = view.config;
  return {
    model: c.model === 'transformer' ? `transformer/${c.size}` : `ngram/${c.order}`,
    corpus: c.corpus,
    temperature: c.temperature,
    truncation: describeTruncations(samplingRuleOf(c)),
    freshFraction: c.freshFraction,
    selection: describeSelection(c),
    policy: c.policy,
    retrain: c.retrain,
    seed: c.seed,
    samples: c.samples,
    generations: view.run.generations,
    backend: view.run.backend ?? 'unknown',
  };
}

export function verdictReport(v: VerdictSummary): VerdictReport {
  return { verdict: v.verdict, reasons: v.reasons ? [v.reasons] : [], evidence: v.numbers };
}

type MetricTable = Map<string, Map<number, Record<string, number | null>>>;

/** coarse ('' = run level) → gen → key → value, from one query. */
function metricTable(db: Database.Database, runId: number): MetricTable {
  const out: MetricTable = new Map();
  for (const m of readMetrics(db, runId)) {
    const byGen = out.get(m.coarse) ?? new Map<number, Record<string, number | null>>();
    const row = byGen.get(m.gen) ?? {};
    row[m.key] = m.value;
    byGen.set(m.gen, row);
    out.set(m.coarse, byGen);
  }
  return out;
}

const COARSE_METRICS = METRICS.filter((d) => d.level === 'coarse');
const RUN_METRICS = METRICS.filter((d) => d.level === 'run');

function histogramMetrics(row: Record<string, number | null> | undefined): HistogramMetrics {
  const n = (k: string) => (row?.[k] ?? NaN) as number;
  // Histogram metrics are always stored (NaN marks a gap); the others (δ̂) may not be measured: null.
  return Object.fromEntries(COARSE_METRICS.map((d) => [d.key, d.histogram ? n(d.key) : (row?.[d.key] ?? null)])) as HistogramMetrics;
}

/**
 * Cumulative temperature and model-error terms of one coarse-graining as stored (the sums of
 * metrics/decomposition.ts), up to the first generation without them; the noise band is
 * z·√(tau_var_cum) at the verdict's tail.
 */
export function decompositionSeries(table: MetricTable, coarse: string, last: number): DecompositionPoint[] {
  const byGen = table.get(coarse);
  const z = upperZ(defaultVerdictOptions.tail);
  const out: DecompositionPoint[] = [];
  for (let g = 1; g <= last; g++) {
    const r = byGen?.get(g);
    if (r?.tau_cum == null || r.err_cum == null || r.tau_var_cum == null) break;
    out.push({ gen: g, temperature: r.tau_cum, error: r.err_cum, noise: z * Math.sqrt(r.tau_var_cum) });
  }
  return out;
}

/** Histogram metrics of one coarse-graining for generations 0..last (index = gen). */
export function coarseSeries(db: Database.Database, runId: number, coarse: string, table = metricTable(db, runId)): HistogramMetrics[] {
  const last = lastGeneration(db, runId);
  const byGen = table.get(coarse);
  return Array.from({ length: last + 1 }, (_, g) => histogramMetrics(byGen?.get(g)));
}

/**
 * The predicted samples histogram per generation 0..G (see the header), or null when the theory
 * does not apply (`token` is a histogram of tokens, not one category per document).
 */
export function predictedSamples(view: RunView, p0: number[], seedSize: number, G: number, coarse: string): number[][] | null {
  if (!onePerDocument(coarse) || !p0.some((x) => x > 0) || seedSize <= 0) return null;
  const c = view.config;
  const select = theorySelection(view, coarse);
  if (select === undefined) return null;
  const rule = samplingRuleOf(c);
  const f = { ...rule, freshFraction: c.freshFraction, anchor: normalize(p0), select };
  const policy = dataPolicy(c.policy);
  let theta: number[][];
  if (G < 1) theta = [normalize(p0)];
  else if (Array.from({ length: G }, (_, g) => g + 1).every((g) => extendsPrevious(policy, g))) {
    // A window that grows by one generation each time is the accumulate process: the mean-field ODE.
    theta = predictTrajectory({ ...rule, theta0: p0, fresh: c.freshFraction, policy: 'accumulate', initialSize: seedSize, perStep: c.samples, generations: G, select });
  } else {
    // θ_g, the training set's composition, from the policy's window: the seed's p₀ (ℓ documents)
    // and each window generation k's new documents F(θ_{k−1}) (N each), weighted by count.
    // replace: θ_g = F(θ_{g−1}); augment: θ_g = (ℓ p₀ + N F(θ_{g−1})) / (ℓ + N).
    const added = [normalize(p0)];
    theta = [added[0]];
    const size = (k: number) => (k === 0 ? seedSize : c.samples);
    for (let g = 1; g <= G; g++) {
      added.push(meanFieldMap(theta[g - 1], f));
      const gens = policy.window(g).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
      if (gens.length === 1) theta.push(added[gens[0]]);
      else {
        const total = gens.reduce((s, k) => s + size(k), 0);
        theta.push(added[g].map((_, i) => gens.reduce((s, k) => s + size(k) * added[k][i], 0) / total));
      }
    }
  }
  return Array.from({ length: G + 1 }, (_, g) => (g === 0 ? normalize(p0) : tau(theta[g - 1], rule)));
}

/** Above this many live categories the fixed point's Newton step (a dense solve) is too slow to serve. */
export const FIXED_POINT_MAX_CATEGORIES = 300;

/**
 * The mean-field fixed point θ* the run's sampling rule (T and any truncation) and λ drive the
 * seed histogram p₀ to (theory/ode.ts; the data policy sets how fast, not where). null where the
 * theory does not apply (`token`) or there are too many live categories to solve for on request.
 */
export function predictedFixedPoint(view: RunView, p0: number[], coarse: string): number[] | null {
  const live = p0.filter((x) => x > 0).length;
  if (!onePerDocument(coarse) || live === 0 || live > FIXED_POINT_MAX_CATEGORIES) return null;
  const select = theorySelection(view, coarse);
  if (select === undefined) return null;
  const anchor = normalize(p0);
  return fixedPoint(anchor, { ...samplingRuleOf(view.config), freshFraction: view.config.freshFraction, anchor, select }).theta;
}

/**
 * A curated run's selection as the theory lane knows it on this coarse-graining: null without
 * --select; the category map for `label:<L>` (an exact verifier, no noise) on `label`; undefined
 * for any other scorer or coarse-graining — it reshapes the samples in ways the lane does not model.
 */
function theorySelection(view: RunView, coarse: string): CategorySelection | null | undefined {
  const c = view.config;
  if (!c.select) return null; // also runs stored before --select existed
  const s = parseScorer(c.select);
  const k = view.coarse.find((cg) => cg.name === coarse)?.categories.indexOf(s.arg ?? '') ?? -1;
  if (s.name !== 'label' || s.noise > 0 || coarse !== 'label' || k < 0) return undefined;
  return { category: k, candidates: c.candidates };
}

function examples(db: Database.Database, view: RunView, last: number, coarse: string | null): GenerationExamples[] {
  const cg = coarse ? view.coarse.find((c) => c.name === coarse) ?? null : null;
  // The first documents of each generation by id: seed documents at 0, then model samples and
  // (with λ > 0) the first fresh one, so the page shows what was added.
  const out: GenerationExamples[] = [];
  for (let g = 0; g <= last; g++) {
    const id = view.run.id;
    const rows = g === 0
      ? firstDocuments(db, id, 0, 'seed', EXAMPLES_PER_GEN)
      : [...firstDocuments(db, id, g, 'synthetic', EXAMPLES_PER_GEN - (view.config.freshFraction > 0 ? 1 : 0)), ...firstDocuments(db, id, g, 'fresh', 1)];
    out.push({
      gen: g,
      docs: rows.map((r) => {
        const k = cg ? cg.categoryOf({ text: r.text, tokens: decodeTokens(r.tokens) }) : null;
        return { text: r.text, category: cg && k !== null ? cg.categories[k] : null, origin: r.origin };
      }),
    });
  }
  return out;
}

/**
 * The theory lane applies the rule to the category distribution. On `first` that is exact (the
 * first token's distribution is a softmax, truncated like any row). Elsewhere a temperature map
 * is already an approximation (Remark 2), and a truncation more so: the model truncates tokens
 * at every step, which is not the truncation of the category distribution.
 */
export function predictionNote(view: RunView, coarse: string): string | null {
  const truncation = describeTruncations(samplingRuleOf(view.config));
  if (!truncation || coarse === 'first') return null;
  return `The prediction applies ${truncation} to the categories of "${coarse}"; the model applies it to every token it draws, so here the category-level map is not the token-level one (on "first" it is exact).`;
}

/** Per generation, the generation-0 log-likelihood of the seed (0) and the kept samples (≥ 1), on shared bins. */
function loglikReport(db: Database.Database, runId: number, last: number): LoglikReport | null {
  const perGen = Array.from({ length: last + 1 }, (_, g) => keptLogliks(db, runId, g));
  if (perGen.length === 0 || perGen[0].length === 0) return null;
  const { edges, counts } = loglikHistograms(perGen, 40);
  const generations = perGen.map((xs, gen) => {
    const s = loglikSummary(xs);
    const v = (k: string) => s[`gen0_loglik_${k}`] ?? NaN;
    return { gen, n: xs.length, mean: v('mean'), q01: v('q01'), q10: v('q10'), q50: v('q50'), q90: v('q90'), q99: v('q99'), counts: counts[gen] };
  });
  return { edges, generations };
}

/** Everything the run report shows, read from the database. */
export function buildRunReport(db: Database.Database, run: RunRow, createdAt: string | null): RunReportData {
  const view = runView(db, run);
  const last = lastGeneration(db, run.id);
  const table = metricTable(db, run.id);
  const verdicts = last >= 0 ? runVerdicts(db, run.id, view) : [];
  const seedSize = seedTrainSize(db, run.id);
  const coarse: CoarseReport[] = view.coarse.map((cg) => {
    const hist = readHistograms(db, run.id, cg.name, 'samples', cg.categories.length);
    const series = coarseSeries(db, run.id, cg.name, table);
    const generations = series.map((metrics, gen) => ({ gen, counts: hist[gen] ?? new Array<number>(cg.categories.length).fill(0), metrics }));
    const v = verdicts.find((x) => x.coarse === cg.name);
    return {
      coarse: cg.name,
      categories: [...cg.categories],
      generations,
      predicted: last >= 0 ? predictedSamples(view, generations[0].counts, seedSize, last, cg.name) : null,
      decomposition: decompositionSeries(table, cg.name, last),
      predictionNote: predictionNote(view, cg.name),
      verdict: v ? verdictReport(v) : { verdict: 'undetermined', reasons: ['no generation committed yet'], evidence: {} },
    };
  });
  const runLevel = table.get('');
  const runMetrics: RunGenerationMetrics[] = Array.from({ length: last + 1 }, (_, gen) => {
    const r = runLevel?.get(gen) ?? {};
    return { gen, ...Object.fromEntries(RUN_METRICS.map((d) => [d.key, r[d.key] ?? null])) } as RunGenerationMetrics;
  });
  const examplesCoarse = view.coarse.find((c) => c.name === 'first')?.name ?? view.coarse.find((c) => onePerDocument(c.name))?.name ?? null;
  return { name: run.name, settings: runSettings(view), createdAt, coarse, runMetrics, loglik: loglikReport(db, run.id, last), examplesCoarse, examples: examples(db, view, last, examplesCoarse) };
}

/** The coarse-graining a sweep (or a comparison) is read on: the one asked for, else `first` when every run tracks it. */
export function commonCoarse(views: readonly RunView[], wanted?: string): string {
  const tracked = (v: RunView): string[] => v.coarse.map((c) => c.name);
  if (wanted !== undefined) {
    const missing = views.find((v) => !tracked(v).includes(wanted));
    if (missing) throw new UserError(`run '${missing.run.name}' does not track coarse-graining '${wanted}' (it tracks ${tracked(missing).join(', ')})`);
    return wanted;
  }
  const shared = (views.length ? tracked(views[0]) : ['first']).filter((c) => views.every((v) => tracked(v).includes(c)));
  if (!shared.length) throw new UserError('these runs share no coarse-graining; pass --coarse');
  return shared.includes('first') ? 'first' : shared[0];
}

/** One run as a sweep sees it: series, final values and verdict on one coarse-graining. */
export function sweepRun(db: Database.Database, view: RunView, coarse: string): SweepRun {
  const table = metricTable(db, view.run.id);
  const series = coarseSeries(db, view.run.id, coarse, table);
  const last = series.length - 1;
  const all = last >= 0 ? runVerdicts(db, view.run.id, view) : [];
  const verdict = all.find((v) => v.coarse === coarse) ?? null;
  const ordered = [...(verdict ? [verdict] : []), ...all.filter((v) => v.coarse !== coarse)];
  return {
    verdicts: ordered.map((v) => ({ coarse: v.coarse, verdict: verdictReport(v) })),
    name: view.run.name,
    settings: runSettings(view),
    series,
    final: series[last] ?? histogramMetrics(undefined),
    finalPerplexity: (last >= 0 ? table.get('')?.get(last)?.perplexity : null) ?? null,
    verdict: verdict ? verdictReport(verdict) : { verdict: 'undetermined', reasons: ['no generation committed yet'], evidence: {} },
  };
}

/** Every run of a sweep on one coarse-graining (default: `first` when all runs track it). */
export function buildSweepReport(db: Database.Database, sweepId: string, opts: { coarse?: string; createdAt: string | null }): SweepReportData {
  getSweep(db, sweepId);
  const views = listRuns(db, sweepId).map((r) => runView(db, r));
  if (!views.length) throw new UserError(`sweep '${sweepId}' has no runs in this database`);
  return sweepReportOf(db, sweepId, views, commonCoarse(views, opts.coarse), opts.createdAt);
}

/** A sweep's report on one coarse-graining from its runs' views (serve passes its cached ones). */
export function sweepReportOf(db: Database.Database, sweepId: string, views: readonly RunView[], coarse: string, createdAt: string | null): SweepReportData {
  return { id: sweepId, coarse, createdAt, runs: views.map((v) => sweepRun(db, v, coarse)) };
}
