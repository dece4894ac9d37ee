// Holding a CLI run at a named moment (the loop's hold points, src/loop/hold.ts): start the CLI
// with holdEnv(dir, points), wait for a point with waitReached, look at or kill the process,
// or let it go on with release. Points are `<phase>@<gen>` (setup, train, sample, metrics,
// commit: as the phase starts; committed: right after the generation committed).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the loop wrote when it reached a point. */
export interface Reached {
  run: string;
  runId: number;
  gen: number;
  phase: string;
  pid: number | null;
}

/** Environment that holds every run of the child at `points` (e.g. ['train@3']); files go to `dir`. */
export function holdEnv(dir: string, points: readonly string[]): Record<string, string> {
  return { HEATDEATH_HOLD: points.join(','), HEATDEATH_HOLD_DIR: dir };
}

/**
 * Waits until run `run` reached `point` and returns what it wrote. `alive` is called on every
 * poll and should throw when the process has exited (so the wait fails fast, with its output).
 */
export async function waitReached(dir: string, run: string, point: string, opts: { timeoutMs?: number; alive?: () => void } = {}): Promise<Reached> {
  const file = join(dir, `${run}.${point}.reached`);
  const end = Date.now() + (opts.timeoutMs ?? 600_000);
  for (;;) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Reached;
    opts.alive?.();
    if (Date.now() > end) throw new Error(`timed out waiting for run '${run}' to reach ${point}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Lets run `run` go on past `point` (also before it got there: it then does not stop). */
export function release(dir: string, run: string, point: string): void {
  writeFileSync(join(dir, `${run}.${point}.go`), '');
}
