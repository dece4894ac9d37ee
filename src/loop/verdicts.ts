// Regime verdicts of a run, per coarse-graining, from the histograms of the model's samples.
// Only the histograms the rule looks at are read (the seed, the early and the final window), so
// the cost per generation stays flat however long the run gets.

import type Database from 'better-sqlite3';
import { regimeVerdict, defaultVerdictOptions, type Regime } from '../metrics/verdict.js';
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

/** The verdict of one coarse-graining after generation `upTo` (default: the last committed). */
export function coarseVerdict(db: Database.Database, runId: number, coarse: string, size: number, upTo?: number): VerdictSummary {
  const last = upTo ?? ((db.prepare(`SELECT max(gen) FROM generations WHERE run_id = ?`).pluck().get(runId) as number | null) ?? -1);
  const g = Math.max(0, last);
  const W = Math.min(defaultVerdictOptions.maxWindow, Math.ceil(g / 3));
  const wanted = new Set<number>([0]);
  for (let k = 1; k <= Math.min(W, g); k++) wanted.add(k);
  for (let k = Math.max(1, g - W + 1); k <= g; k++) wanted.add(k);
  const read = readGens(db, runId, coarse, size, [...wanted]);
  const hists: number[][] = [];
  const sizes: number[] = [];
  for (let k = 0; k <= g; k++) {
    const h = read.get(k) ?? [];
    hists.push(h);
    sizes.push(h.reduce((a, b) => a + b, 0));
  }
  const v = regimeVerdict(last < 0 ? [] : hists, sizes);
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
