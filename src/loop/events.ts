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
  /**
   * Per coarse-graining: the headline numbers of the samples' histogram, and this generation's
   * temperature term (tau_dH, nats) and model error (err_tv = δ̂ of the model that drew it); null
   * when not measured.
   */
  coarse: Record<string, { top_share: number; entropy_norm: number; V: number; delta: number | null; tau_dH: number | null; err_tv: number | null }>;
  verdicts: VerdictSummary[];
  seconds: number;
}

export type LoopEvent =
  | { type: 'start'; runId: number; run: string; config: Readonly<RunConfig>; backend: string; fromGen: number }
  | { type: 'phase'; gen: number; phase: Phase }
  | { type: 'progress'; gen: number; phase: Phase; done: number; total: number }
  | { type: 'generation'; summary: GenerationSummary }
  | { type: 'end'; status: 'complete' | 'interrupted'; lastGen: number; note: string | null; verdicts: VerdictSummary[] };
