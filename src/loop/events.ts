// What the loop tells its caller while it runs. The CLI turns these into progress bars and
// summary lines; a sweep worker forwards them. The library itself prints nothing.

import type { RunConfig } from './config.js';
import type { VerdictSummary } from './verdicts.js';

export type Phase = 'setup' | 'train' | 'sample' | 'metrics' | 'commit';

export interface GenerationSummary {
  gen: number;
  generations: number;
  trainLoss: number | null;
  valLoss: number | null;
  /** Standard error of valLoss over the scored documents (validation.ts). */
  valLossSe: number | null;
  /** Per coarse-graining: the samples' metrics shown on the progress line (metrics/registry.ts), by key. */
  coarse: Record<string, Record<string, number | null>>;
  verdicts: VerdictSummary[];
  seconds: number;
}

export type LoopEvent =
  | { type: 'notice'; message: string }
  | {
      type: 'start'; runId: number; run: string; config: Readonly<RunConfig>; backend: string; fromGen: number;
      /** Kernel of the matrix products here; `kernelChange` when the committed generations used another. */
      kernel: string;
      kernelChange: { from: string; to: string; fromGen: number } | null;
    }
  | { type: 'phase'; gen: number; phase: Phase }
  | { type: 'progress'; gen: number; phase: Phase; done: number; total: number }
  | { type: 'generation'; summary: GenerationSummary }
  | { type: 'end'; status: 'complete' | 'interrupted'; lastGen: number; note: string | null; verdicts: VerdictSummary[] };
