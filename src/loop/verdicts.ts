// Regime verdicts of a run, per coarse-graining, from the histograms of the model's samples.
// The rule says which generations it reads (VerdictRule.reads); only those histograms are loaded,
// so the cost per generation stays flat however long the run gets.

import type Database from 'better-sqlite3';
import { regimeRule, type Regime, type VerdictRule } from '../metrics/verdict.js';
import { readHistogramsAt } from '../store/documents.js';
import { lastGeneration } from '../store/runs.js';
import type { RunConfig } from './config.js';
import { activeTruncations, describeTruncations, samplingRuleOf } from '../model/sampling.js';
import { supportReason, supportShrink } from '../metrics/support.js';
import { selectionCause } from './select.js';

export interface VerdictSummary {
  coarse: string;
  verdict: Regime;
  reasons: string;
  numbers: Record<string, number>;
}

type Tracked = { coarse: readonly { name: string; categories: readonly string[] }[]; config?: Readonly<RunConfig> };

/** The verdict of one coarse-graining after generation `upTo` (default: the last committed). */
export function coarseVerdict(db: Database.Database, runId: number, coarse: string, size: number, upTo?: number, rule: VerdictRule = regimeRule): VerdictSummary {
  const last = upTo ?? lastGeneration(db, runId);
  const read = readHistogramsAt(db, runId, coarse, 'samples', size, rule.reads(last));
  // Generations 0..last, the ones the rule does not read left empty (by its own contract).
  const hists = Array.from({ length: Math.max(0, last) + 1 }, (_, k) => read.get(k) ?? []);
  const sizes = hists.map((h) => h.reduce((a, b) => a + b, 0));
  return { coarse, ...rule.judge(last < 0 ? [] : hists, sizes) };
}

/** Verdicts for every tracked coarse-graining of the run. */
export function runVerdicts(db: Database.Database, runId: number, state: Tracked): VerdictSummary[] {
  const rule = state.config ? samplingRuleOf(state.config) : null;
  const truncation = rule && activeTruncations(rule).length ? describeTruncations(rule) : null;
  // A curated run's collapse or drift gets a clause naming the selection (select.ts): it says what
  // the selection does, the rule's regime is unchanged.
  const cause = state.config?.select ? selectionCause(state.config) : null;
  return state.coarse.map((cg) => {
    const v = withSupport(db, runId, coarseVerdict(db, runId, cg.name, cg.categories.length), cg.categories.length, truncation);
    return cause && (v.verdict === 'mode-collapse' || v.verdict === 'drift') ? { ...v, reasons: `${v.reasons}; ${cause}` } : v;
  });
}

/**
 * The verdict with its support finding: when the last generation lost more of the seed's live
 * categories than sampling alone explains (metrics/support.ts), the reasons say so, and name the
 * truncation when the run's rule has one. The regime itself is the rule's.
 */
function withSupport(db: Database.Database, runId: number, v: VerdictSummary, size: number, truncation: string | null): VerdictSummary {
  const last = lastGeneration(db, runId);
  if (last < 1) return v;
  const h = readHistogramsAt(db, runId, v.coarse, 'samples', size, [0, last]);
  const s = supportShrink(h.get(last)!, h.get(0)!);
  const reason = supportReason(s, truncation);
  const numbers = { ...v.numbers, live0: s.seedLive, live: s.live, lost_expected: s.expectedLost };
  return { ...v, reasons: reason ? `${v.reasons}; ${reason}` : v.reasons, numbers };
}

/** Whether `--stop-when` has held on `--stop-coarse` for the last `patience` generations. */
export function stopReached(db: Database.Database, runId: number, state: Tracked, config: Readonly<RunConfig>): boolean {
  const cg = state.coarse.find((c) => c.name === config.stopCoarse);
  if (!cg || !config.stopWhen) return false;
  const last = lastGeneration(db, runId);
  if (last < config.patience) return false;
  for (let g = last - config.patience + 1; g <= last; g++) {
    if (coarseVerdict(db, runId, cg.name, cg.categories.length, g).verdict !== config.stopWhen) return false;
  }
  return true;
}
