// Test facility: a disk that fills up at a chosen moment, so tests of "disk full" need no small
// file system to mount. Inert unless HEATDEATH_DISK_FULL=<what>@<gen> is set:
//   checkpoint@g  the checkpoint of generation g fails half-way through its first file with
//                 ENOSPC (node's own error shape), as a full disk fails a write;
//   database@g    from the start of generation g's commit the database may not grow
//                 (PRAGMA max_page_count = its page count): SQLite fails with its own SQLITE_FULL.
// It is a hold hook (see src/loop/hold.ts) acting at commit@g; a new process has all its space back.

import type Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import type { HoldHook } from '../loop/hold.js';
import { setCheckpointWriter } from '../model/checkpoint.js';
import { capDatabaseGrowth } from '../store/open.js';

function enospc(file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), { code: 'ENOSPC', errno: -28, syscall: 'write', path: file });
}

/** The hook HEATDEATH_DISK_FULL asks for, or undefined. */
export function diskFullFromEnv(env: NodeJS.ProcessEnv, db: Database.Database): HoldHook | undefined {
  const spec = env.HEATDEATH_DISK_FULL;
  if (!spec) return undefined;
  const m = /^(checkpoint|database)@(\d+)$/.exec(spec.trim());
  if (!m) throw new UserError(`HEATDEATH_DISK_FULL '${spec}' is not checkpoint@<generation> or database@<generation>`);
  const what = m[1];
  const gen = Number(m[2]);
  return async (at) => {
    if (at.phase !== 'commit' || at.gen !== gen) return;
    if (what === 'database') {
      capDatabaseGrowth(db);
      return;
    }
    setCheckpointWriter((file, data) => {
      writeFileSync(file, typeof data === 'string' ? data.slice(0, data.length >> 1) : data.subarray(0, data.length >> 1));
      throw enospc(file);
    });
  };
}

/** Both hooks in turn (either may be absent). */
export function chainHolds(...hooks: (HoldHook | undefined)[]): HoldHook | undefined {
  const present = hooks.filter((h): h is HoldHook => h !== undefined);
  if (present.length === 0) return undefined;
  return async (at, wait) => {
    for (const h of present) await h(at, wait);
  };
}
