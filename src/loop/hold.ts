// Hold points: a test facility that stops the loop at a named moment until a file appears, so a
// test can read or kill a running process at exactly the moment it means (no test depends on how
// fast the machine is). Inert unless the caller passes a hook: the CLI builds one from
// HEATDEATH_HOLD=<phase>@<gen>[,...] and HEATDEATH_HOLD_DIR=<dir>; the library reads no
// environment. At a listed point of run <run> the loop writes <dir>/<run>.<phase>@<gen>.reached
// (atomically, JSON {run, runId, gen, phase, pid}) and waits, polling asynchronously (signals
// stay deliverable, the heartbeat keeps beating), until <dir>/<run>.<phase>@<gen>.go exists.

import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { Phase } from './events.js';

/** A loop phase, held as it starts, or `committed`: held right after the generation committed. */
export type HoldPhase = Phase | 'committed';
export const HOLD_PHASES: readonly HoldPhase[] = ['setup', 'train', 'sample', 'metrics', 'commit', 'committed'];

export interface HoldPoint {
  phase: HoldPhase;
  gen: number;
}

/** What the loop tells the hook at a point (also the content of the `.reached` file). */
export interface HoldAt extends HoldPoint {
  run: string;
  runId: number;
  pid: number | null;
}

export interface HoldWait {
  /** Aborting ends the wait (the loop then stops as usual). */
  signal?: AbortSignal;
  /** Called on every poll while held (the loop keeps its heartbeat). */
  beat?: () => void;
}

/** Resolves when the loop may go on past `at` (at once for points not held). */
export type HoldHook = (at: HoldAt, wait: HoldWait) => Promise<void>;

/** `<phase>@<gen>`, the name of a point in the variable and in file names. */
export const holdPointName = (p: HoldPoint) => `${p.phase}@${p.gen}`;

/** Parses `<phase>@<gen>[,<phase>@<gen>...]`; a bad item is a UserError naming it. */
export function parseHoldPoints(spec: string): HoldPoint[] {
  return spec.split(',').map((item) => {
    const m = /^\s*([a-z]+)@(\d+)\s*$/.exec(item);
    if (!m || !(HOLD_PHASES as readonly string[]).includes(m[1])) {
      throw new UserError(`HEATDEATH_HOLD item '${item}' is not <phase>@<generation> with phase one of ${HOLD_PHASES.join(', ')}`);
    }
    return { phase: m[1] as HoldPhase, gen: Number(m[2]) };
  });
}

/**
 * The file-based hook. Each listed point holds once per process (the `metrics` phase starts
 * twice in a generation: the first start holds).
 */
export function fileHold(points: readonly HoldPoint[], dir: string, pollMs = 20): HoldHook {
  const wanted = new Set(points.map(holdPointName));
  const done = new Set<string>();
  return async (at, wait) => {
    const name = holdPointName(at);
    const key = `${at.run}\n${name}`;
    if (!wanted.has(name) || done.has(key)) return;
    done.add(key);
    const base = join(dir, `${at.run}.${name}`);
    const tmp = `${base}.reached.${at.pid ?? 0}.tmp`;
    writeFileSync(tmp, JSON.stringify({ run: at.run, runId: at.runId, gen: at.gen, phase: at.phase, pid: at.pid }));
    renameSync(tmp, `${base}.reached`);
    while (!existsSync(`${base}.go`) && !wait.signal?.aborted) {
      wait.beat?.();
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  };
}
