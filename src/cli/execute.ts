// Shared by `run` and `resume`: backend, signals, progress on stderr, verdicts at the end, and
// the test facility of hold points (HEATDEATH_HOLD + HEATDEATH_HOLD_DIR, inert unless both set).
// Paths reach the library absolute, so the stored models folder and the printed resume command
// work from any folder.

import type Database from 'better-sqlite3';
import { initBackend, type BackendChoice } from '../backend.js';
import { executeRun, type LoopDeps } from '../loop/run.js';
import { fileHold, parseHoldPoints, type HoldHook } from '../loop/hold.js';
import type { VerdictSummary } from '../loop/verdicts.js';
import { progressReporter, verdictLines } from './progress.js';
import { log, memoryBytes, pidAlive, printJson, resumeCommand } from './common.js';
import { resolve } from 'node:path';
import { diskFullError, isUserError, UserError } from '../errors.js';
import { chainHolds, diskFullFromEnv } from './disk-full.js';

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
  modelsDir: string = String(opts.modelsDir),
): Promise<void> {
  const hold = chainHolds(holdFromEnv(process.env), diskFullFromEnv(process.env, db));
  const backend = await initBackend(String(opts.backend ?? 'auto') as BackendChoice);
  const controller = new AbortController();
  let signals = 0;
  let name: string | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log(`heatdeath: second ${sig}, exiting now; committed generations are safe${name ? `. Resume with: ${resumeCommand(name, String(opts.db))}` : ''}`);
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
    modelsDir: resolve(modelsDir),
    corporaDir: String(opts.corporaDir),
    backend,
    now: Date.now,
    signal: controller.signal,
    pid: process.pid,
    pidAlive,
    memoryBytes: memoryBytes(),
    hold,
    onEvent: (e) => {
      report(e);
      if (e.type === 'start') kernel = e.kernel;
      if (e.type === 'end') ({ verdicts, lastGen, note } = e);
    },
  };
  try {
    name = prepare(deps);
    let status: Awaited<ReturnType<typeof executeRun>>;
    try {
      status = await executeRun(deps, name, { generations });
    } catch (caught) {
      // The run stays resumable: say how, on the same line.
      const e = diskFullError(caught, String(opts.db)) ?? caught;
      if (isUserError(e) && e.code === 'E_DISK_FULL') throw new UserError(`${e.message}; free some space, then: ${resumeCommand(name, String(opts.db))}`, e.code);
      throw e;
    }
    if (opts.json) {
      printJson({ run: name, status, backend, kernel, generations: lastGen, note, verdicts });
    }
    if (status === 'interrupted') {
      log(`interrupted after generation ${lastGen}. Resume with: ${resumeCommand(name, String(opts.db))}`);
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
