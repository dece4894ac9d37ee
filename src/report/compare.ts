// The rows of `heatdeath compare`: one per run (settings, final metrics on one coarse-graining,
// held-out perplexity, verdicts on every coarse-graining, the top-share trajectory as a
// sparkline), and, where several seeds share a setting, one group row with mean ± sd. Rows are
// sorted by T, policy, λ, seed, so that the effect of fresh data reads top to bottom.

import type Database from 'better-sqlite3';
import type { RunRow } from '../store/runs.js';
import { runView, type RunView } from '../loop/view.js';
import { runVerdicts } from '../loop/verdicts.js';
import { commonCoarse, sweepRun } from './data.js';
import { sparkline } from './svg.js';
import { metricsShown } from '../metrics/registry.js';
import type { Verdict } from './types.js';

/** The final values compared, in column order: the registry's 'compare' metrics. */
export const COMPARE_METRICS = metricsShown('compare');
export const COMPARE_KEYS: readonly string[] = COMPARE_METRICS.map((d) => d.key);
export type CompareKey = string;

/** The settings that tell runs apart in a comparison (the seed aside). */
export interface CompareSettings {
  model: string;
  corpus: string;
  temperature: number;
  /** The rule's truncations that are on ('' for none), e.g. `top-p 0.9`. */
  truncation: string;
  fresh: number;
  policy: string;
  retrain: string;
  samples: number;
}

export interface CompareRun extends CompareSettings {
  name: string;
  sweep: string | null;
  status: string;
  seed: number;
  /** Last committed generation (−1: none) and the target G. */
  generation: number;
  generations: number;
  /** Final values on the compared coarse-graining (perplexity is run level); null before generation 0. */
  final: Record<CompareKey, number | null>;
  /** Verdict on the compared coarse-graining. */
  verdict: Verdict;
  /** Verdict on every coarse-graining the run tracks. */
  verdicts: Record<string, Verdict>;
  /**
   * The verdict's terms on every coarse-graining (null where not measured): the temperature term
   * summed over the run (tau_dH, nats) and its z, the model error δ̂ over the final window (err_tv)
   * and summed in entropy (err_dH).
   */
  terms: Record<string, { tau_dH: number; tau_z: number; err_tv: number; err_dH: number } | null>;
  /** Top share per generation (0 = seed). */
  trajectory: number[];
  /** The trajectory as unicode bars on the fixed scale [0, 1]. */
  sparkline: string;
}

export interface Stat {
  mean: number | null;
  /** Sample standard deviation (n − 1); null for fewer than two values. */
  sd: number | null;
}

/** A setting shared by several runs (all but the seed). */
export interface CompareGroup extends CompareSettings {
  n: number;
  seeds: number[];
  runs: string[];
  stats: Record<CompareKey, Stat>;
  /** How many runs got each verdict on the compared coarse-graining. */
  verdicts: Partial<Record<Verdict, number>>;
  /** The same count on every coarse-graining the runs track. */
  verdictsByCoarse: Record<string, Partial<Record<Verdict, number>>>;
}

export interface Comparison {
  coarse: string;
  runs: CompareRun[];
  groups: CompareGroup[];
}

export function stat(values: readonly (number | null)[]): Stat {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!xs.length) return { mean: null, sd: null };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : null;
  return { mean, sd };
}

const finite = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : x);

/** T, then policy, then λ, then seed (then name): the λ effect reads top to bottom. */
export function compareOrder<T extends { temperature: number; truncation: string; policy: string; fresh: number; seed?: number; name?: string; model: string; retrain: string; samples: number }>(a: T, b: T): number {
  return (
    a.temperature - b.temperature || a.truncation.localeCompare(b.truncation) || a.policy.localeCompare(b.policy) || a.fresh - b.fresh || a.model.localeCompare(b.model) ||
    a.retrain.localeCompare(b.retrain) || a.samples - b.samples || (a.seed ?? 0) - (b.seed ?? 0) || (a.name ?? '').localeCompare(b.name ?? '')
  );
}

function compareRun(db: Database.Database, view: RunView, coarse: string): CompareRun {
  const s = sweepRun(db, view, coarse);
  const last = s.series.length - 1;
  const f = s.series[last];
  const all = last >= 0 ? runVerdicts(db, view.run.id, view) : [];
  const runFinal: Record<string, number | null> = { perplexity: s.finalPerplexity };
  return {
    name: view.run.name,
    sweep: view.run.sweep_id,
    status: view.run.status,
    model: s.settings.model,
    corpus: s.settings.corpus,
    temperature: s.settings.temperature,
    truncation: s.settings.truncation,
    fresh: s.settings.freshFraction,
    policy: s.settings.policy,
    retrain: s.settings.retrain,
    samples: s.settings.samples,
    seed: s.settings.seed,
    generation: last,
    generations: view.run.generations,
    // Coarse-level metrics at the last generation on the compared coarse-graining; perplexity is run level.
    final: Object.fromEntries(COMPARE_METRICS.map((d) => [d.key, finite(d.level === 'run' ? runFinal[d.key] : f?.[d.key])])),
    verdict: s.verdict.verdict,
    verdicts: Object.fromEntries(view.coarse.map((c) => [c.name, all.find((v) => v.coarse === c.name)?.verdict ?? 'undetermined'])),
    terms: Object.fromEntries(view.coarse.map((c) => {
      const n = all.find((v) => v.coarse === c.name)?.numbers;
      return [c.name, n && n.tau_z !== undefined ? { tau_dH: n.tau_dH, tau_z: n.tau_z, err_tv: n.err_tv, err_dH: n.err_dH } : null];
    })),
    trajectory: s.series.map((m) => m.top_share),
    sparkline: sparkline(s.series.map((m) => m.top_share), { min: 0, max: 1 }),
  };
}

/** Compares runs on one coarse-graining (default: `first` when every run tracks it). */
export function compareRuns(db: Database.Database, runs: readonly RunRow[], coarse?: string): Comparison {
  const views = runs.map((r) => runView(db, r));
  const c = commonCoarse(views, coarse);
  const rows = views.map((v) => compareRun(db, v, c)).sort(compareOrder);
  // A group is every setting but the seed: the stored config without it.
  const keyOf = (v: RunView) => JSON.stringify({ ...v.config, seed: null });
  const keys = new Map(views.map((v) => [v.run.name, keyOf(v)]));
  const byKey = new Map<string, CompareRun[]>();
  for (const row of rows) byKey.set(keys.get(row.name)!, [...(byKey.get(keys.get(row.name)!) ?? []), row]);
  const groups: CompareGroup[] = [...byKey.values()].map((members) => {
    const r0 = members[0];
    const verdicts: Partial<Record<Verdict, number>> = {};
    for (const m of members) verdicts[m.verdict] = (verdicts[m.verdict] ?? 0) + 1;
    const verdictsByCoarse: Record<string, Partial<Record<Verdict, number>>> = {};
    for (const m of members) {
      for (const [coarse, v] of Object.entries(m.verdicts)) {
        const count = (verdictsByCoarse[coarse] ??= {});
        count[v] = (count[v] ?? 0) + 1;
      }
    }
    return {
      model: r0.model, corpus: r0.corpus, temperature: r0.temperature, truncation: r0.truncation, fresh: r0.fresh, policy: r0.policy, retrain: r0.retrain, samples: r0.samples,
      n: members.length,
      seeds: members.map((m) => m.seed),
      runs: members.map((m) => m.name),
      stats: Object.fromEntries(COMPARE_KEYS.map((k) => [k, stat(members.map((m) => m.final[k]))])) as Record<CompareKey, Stat>,
      verdicts,
      verdictsByCoarse,
    };
  });
  groups.sort((a, b) => compareOrder(a, b) || a.runs[0].localeCompare(b.runs[0]));
  return { coarse: c, runs: rows, groups };
}
