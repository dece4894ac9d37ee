// Shared by `run` and `resume`: backend, signals, progress on stderr, verdicts at the end, and
// the test facility of hold points (HEATDEATH_HOLD + HEATDEATH_HOLD_DIR, inert unless both set).

import type Database from 'better-sqlite3';
import { initBackend, type BackendChoice } from '../backend.js';
import { executeRun, type LoopDeps } from '../loop/run.js';
import { fileHold, parseHoldPoints, type HoldHook } from '../loop/hold.js';
import type { VerdictSummary } from '../loop/verdicts.js';
import { progressReporter, verdictLines } from './progress.js';
import { log, printJson } from './common.js';

/** The hold hook the environment asks for (tests only), or undefined. */
export function holdFromEnv(env: NodeJS.ProcessEnv): HoldHook | undefined {
  const spec = env.HEATDEATH_HOLD;
  const dir = env.HEATDEATH_HOLD_DIR;
  return spec && dir ? fileHold(parseHoldPoints(spec), dir) : undefined;
}

export async function execute(
  db: Database.Database,
  opts: Record<string, unknown>,
  prepare: (deps: LoopDeps) => string,
  generations?: number,
): Promise<void> {
  const hold = holdFromEnv(process.env);
  const backend = await initBackend(String(opts.backend ?? 'auto') as BackendChoice);
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log(`heatdeath: second ${sig}, exiting now; committed generations are safe`);
      process.exit(130);
    }
    log(`\nheatdeath: ${sig} received, stopping after the current step (again to exit at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const report = progressReporter(process.stderr, Date.now);
  let verdicts: VerdictSummary[] = [];
  let lastGen = -1;
  let note: string | null = null;
  let kernel: string | null = null;
  const deps: LoopDeps = {
    db,
    modelsDir: String(opts.modelsDir),
    corporaDir: String(opts.corporaDir),
    backend,
    now: Date.now,
    signal: controller.signal,
    pid: process.pid,
    hold,
    onEvent: (e) => {
      report(e);
      if (e.type === 'start') kernel = e.kernel;
      if (e.type === 'end') ({ verdicts, lastGen, note } = e);
    },
  };
  try {
    const name = prepare(deps);
    const status = await executeRun(deps, name, { generations });
    if (opts.json) {
      printJson({ run: name, status, backend, kernel, generations: lastGen, note, verdicts });
    }
    if (status === 'interrupted') {
      log(`interrupted after generation ${lastGen}. Resume with: heatdeath resume ${name} --db ${String(opts.db)}`);
      process.exitCode = 130;
      return;
    }
    if (note) log(note);
    log(`verdicts after generation ${lastGen}:`);
    for (const l of verdictLines(verdicts)) log(l);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
