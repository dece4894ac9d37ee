// Regime verdicts of a run, per coarse-graining, from the histograms of the model's samples and
// the temperature / model-error terms of the final window (metrics/verdict.ts has the rule).
// The histograms read are the seed and the final window; the terms, four numbers a generation,
// are read for every generation (the temperature test sums them).

import type Database from 'better-sqlite3';
import { regimeVerdict, verdictWindow, type Regime, type Terms } from '../metrics/verdict.js';
import type { RunConfig } from './config.js';

export interface VerdictSummary {
  coarse: string;
  verdict: Regime;
  reasons: string;
  numbers: Record<string, number>;
}

function readGens(db: Database.Database, runId: number, coarse: string, size: number, gens: number[]): Map<number, number[]> {
  const stmt = db.prepare(`SELECT category, count FROM histograms WHERE run_id = ? AND gen = ? AND coarse = ? AND kind = 'samples'`);
  const out = new Map<number, number[]>();
  for (const g of gens) {
    const h = new Array<number>(size).fill(0);
    for (const r of stmt.all(runId, g, coarse) as { category: number; count: number }[]) h[r.category] = r.count;
    out.set(g, h);
  }
  return out;
}

/** The decomposition of generations 1..g (one query: the temperature test sums all of them). */
function readTerms(db: Database.Database, runId: number, coarse: string, g: number): Map<number, Terms> {
  const rows = db
    .prepare(`SELECT gen, key, value FROM metrics WHERE run_id = ? AND coarse = ? AND gen BETWEEN 1 AND ? AND key IN ('tau_dH', 'tau_sd', 'err_dH', 'err_tv')`)
    .all(runId, coarse, g) as { gen: number; key: keyof Terms; value: number | null }[];
  const byGen = new Map<number, Partial<Terms>>();
  for (const r of rows) if (r.value !== null) byGen.set(r.gen, { ...byGen.get(r.gen), [r.key]: r.value });
  return new Map([...byGen].filter(([, t]) => Object.keys(t).length === 4) as [number, Terms][]);
}

/** The verdict of one coarse-graining after generation `upTo` (default: the last committed). */
export function coarseVerdict(db: Database.Database, runId: number, coarse: string, size: number, upTo?: number): VerdictSummary {
  const last = upTo ?? ((db.prepare(`SELECT max(gen) FROM generations WHERE run_id = ?`).pluck().get(runId) as number | null) ?? -1);
  const g = Math.max(0, last);
  const W = verdictWindow(g);
  const wanted = [0];
  for (let k = Math.max(1, g - W + 1); k <= g; k++) wanted.push(k);
  const read = readGens(db, runId, coarse, size, wanted);
  const terms = readTerms(db, runId, coarse, g);
  const config = JSON.parse((db.prepare(`SELECT config_json FROM runs WHERE id = ?`).pluck().get(runId) as string | undefined) ?? '{}') as Partial<RunConfig>;
  // Generations outside the window are not read: the rule looks only at the seed and the window.
  const hists = Array.from({ length: g + 1 }, (_, k) => read.get(k) ?? []);
  const v = regimeVerdict({
    histograms: last < 0 ? [] : hists,
    terms: Array.from({ length: g + 1 }, (_, k) => terms.get(k) ?? null),
    policy: config.policy ?? 'accumulate',
    freshFraction: config.freshFraction ?? 0,
  });
  return { coarse, ...v };
}

/** Verdicts for every tracked coarse-graining of the run. */
export function runVerdicts(db: Database.Database, runId: number, state: { coarse: readonly { name: string; categories: readonly string[] }[] }): VerdictSummary[] {
  return state.coarse.map((cg) => coarseVerdict(db, runId, cg.name, cg.categories.length));
}

/** Whether `--stop-when` has held on `--stop-coarse` for the last `patience` generations. */
export function stopReached(db: Database.Database, runId: number, state: { coarse: readonly { name: string; categories: readonly string[] }[] }, config: Readonly<RunConfig>): boolean {
  const cg = state.coarse.find((c) => c.name === config.stopCoarse);
  if (!cg || !config.stopWhen) return false;
  const last = db.prepare(`SELECT max(gen) FROM generations WHERE run_id = ?`).pluck().get(runId) as number;
  if (last < config.patience) return false;
  for (let g = last - config.patience + 1; g <= last; g++) {
    if (coarseVerdict(db, runId, cg.name, cg.categories.length, g).verdict !== config.stopWhen) return false;
  }
  return true;
}
