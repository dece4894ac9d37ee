// Regime verdicts of a run, per coarse-graining, from the histograms of the model's samples and
// the temperature / model-error terms of the final window (metrics/verdict.ts has the rule).
// Only what the rule looks at is read — the seed and the final window's histograms, the terms'
// sums as of the last generation, δ̂ over the window — so the cost per generation stays flat
// however long the run gets.

import type Database from 'better-sqlite3';
import { regimeVerdict, verdictWindow, type Regime } from '../metrics/verdict.js';
import type { TermSums } from '../metrics/decomposition.js';
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

/** Generation g's sums of the terms per coarse-graining (metrics/decomposition.ts TermSums); one equality look-up. */
export function termSums(db: Database.Database, runId: number, gen: number): Map<string, TermSums> {
  const rows = db
    .prepare(`SELECT coarse, key, value FROM metrics WHERE run_id = ? AND gen = ? AND key IN ('tau_cum', 'tau_var_cum', 'err_cum')`)
    .all(runId, gen) as { coarse: string; key: keyof TermSums; value: number | null }[];
  const by = new Map<string, Partial<TermSums>>();
  for (const r of rows) if (r.value !== null) by.set(r.coarse, { ...by.get(r.coarse), [r.key]: r.value });
  return new Map([...by].filter(([, t]) => Object.keys(t).length === 3) as [string, TermSums][]);
}

/** err_tv (δ̂ of the model that drew the generation) of the given generations, where stored. */
function errorTVs(db: Database.Database, runId: number, coarse: string, gens: number[]): (number | null)[] {
  const stmt = db.prepare(`SELECT value FROM metrics WHERE run_id = ? AND gen = ? AND coarse = ? AND key = 'err_tv'`).pluck();
  return gens.map((g) => (stmt.get(runId, g, coarse) as number | null | undefined) ?? null);
}

/** The verdict of one coarse-graining after generation `upTo` (default: the last committed). */
export function coarseVerdict(db: Database.Database, runId: number, coarse: string, size: number, upTo?: number): VerdictSummary {
  const last = upTo ?? ((db.prepare(`SELECT max(gen) FROM generations WHERE run_id = ?`).pluck().get(runId) as number | null) ?? -1);
  const g = Math.max(0, last);
  const W = verdictWindow(g);
  const wanted = [0];
  for (let k = Math.max(1, g - W + 1); k <= g; k++) wanted.push(k);
  const read = readGens(db, runId, coarse, size, wanted);
  const sums = last >= 1 ? termSums(db, runId, g).get(coarse) ?? null : null;
  const errorTV = errorTVs(db, runId, coarse, wanted.slice(1));
  const config = JSON.parse((db.prepare(`SELECT config_json FROM runs WHERE id = ?`).pluck().get(runId) as string | undefined) ?? '{}') as Partial<RunConfig>;
  // Generations outside the window are not read: the rule looks only at the seed and the window.
  const hists = Array.from({ length: g + 1 }, (_, k) => read.get(k) ?? []);
  const v = regimeVerdict({
    histograms: last < 0 ? [] : hists,
    sums,
    errorTV,
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
