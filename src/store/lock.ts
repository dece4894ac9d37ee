// One process writes a run at a time. The claim is the run row's own `pid` and `heartbeat_at`
// (the columns `status` reads): a run is owned while its status is `running`, its pid is alive
// and its heartbeat is fresh. Claiming is one compare-and-swap UPDATE inside an IMMEDIATE
// transaction, so of two processes starting together exactly one wins; a dead or silent owner's
// claim is taken over. Every later write of the loop (heartbeats, the generation's transaction,
// the final status) checks the claim is still its own, so a process that was taken over while
// suspended stops instead of interleaving generations with the new owner.
//
//   checkOwner(db, run, me)          // read-only: refuse early, before any slow preparation
//   claimRun(db, run.id, me)         // atomic: status running, pid = me.pid
//   assertOwned(db, run.id, me.pid)  // inside each write transaction

import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import { updateRun, type RunRow } from './runs.js';

/** Seconds a heartbeat may be old before its owner counts as gone (readers use the same bound). */
export const STALE_HEARTBEAT_S = 120;

export interface Claimant {
  pid: number;
  /** Milliseconds since the epoch. */
  nowMs: number;
  /** Whether a pid is alive on this machine (null: cannot tell — the heartbeat decides). */
  pidAlive: (pid: number) => boolean | null;
}

type Claim = Pick<RunRow, 'name' | 'status' | 'pid' | 'heartbeat_at'>;

/** Seconds since a heartbeat (null: none recorded). */
export function heartbeatAgeS(heartbeatAt: string | null, nowMs: number): number | null {
  return heartbeatAt ? (nowMs - Date.parse(heartbeatAt)) / 1000 : null;
}

/**
 * Whether the writer of a `running` row is gone: its pid is dead on this machine (`alive` false;
 * null = cannot tell) or its heartbeat is older than STALE_HEARTBEAT_S. The one rule for both
 * claiming a run (here) and reading its status (loop/view.ts liveStatus).
 */
export function writerGone(alive: boolean | null, ageS: number | null): boolean {
  return alive === false || (ageS !== null && ageS > STALE_HEARTBEAT_S);
}

/** The live owner of a run other than `me`, or null when the run is free to claim. */
export function liveOwner(run: Claim, me: Claimant): { pid: number; ageS: number | null } | null {
  if (run.status !== 'running' || run.pid === null || run.pid === me.pid) return null;
  const ageS = heartbeatAgeS(run.heartbeat_at, me.nowMs);
  if (writerGone(me.pidAlive(run.pid), ageS)) return null;
  return { pid: run.pid, ageS };
}

function ownedError(run: Claim, owner: { pid: number; ageS: number | null }): UserError {
  const beat = owner.ageS === null ? '' : `, last heartbeat ${Math.max(0, Math.round(owner.ageS))} s ago`;
  return new UserError(`run '${run.name}' is being written by process ${owner.pid}${beat}; stop it first (or wait)`, 'E_RUN_OWNED');
}

/** Read-only: throws a UserError naming the owning process when another live process owns the run. */
export function checkOwner(run: Claim, me: Claimant): void {
  const owner = liveOwner(run, me);
  if (owner) throw ownedError(run, owner);
}

/**
 * Makes `me` the owner of run `runId` (status running, pid, heartbeat), or throws a UserError
 * naming the live owner. The UPDATE only succeeds if the row still holds the claim that was
 * judged dead or absent, so two claimants cannot both win even across processes.
 */
export function claimRun(db: Database.Database, runId: number, me: Claimant): void {
  const heartbeat = new Date(me.nowMs).toISOString();
  db.transaction(() => {
    const run = db.prepare(`SELECT name, status, pid, heartbeat_at FROM runs WHERE id = ?`).get(runId) as Claim;
    checkOwner(run, me);
    const info = db
      .prepare(`UPDATE runs SET status = 'running', pid = ?, heartbeat_at = ? WHERE id = ? AND status = ? AND pid IS ? AND heartbeat_at IS ?`)
      .run(me.pid, heartbeat, runId, run.status, run.pid, run.heartbeat_at);
    if (info.changes !== 1) throw new Error(`claim of run ${runId} lost inside an IMMEDIATE transaction`);
  }).immediate();
}

/** Throws a UserError when process `pid` no longer owns run `runId` (it was taken over). */
export function assertOwned(db: Database.Database, runId: number, pid: number): void {
  const row = db.prepare(`SELECT name, pid FROM runs WHERE id = ?`).get(runId) as { name: string; pid: number | null };
  if (row.pid !== pid) {
    throw new UserError(`run '${row.name}' was taken over by process ${row.pid ?? '?'} (this process, ${pid}, was silent too long); it stops without writing`, 'E_RUN_TAKEN');
  }
}

/** updateRun while `pid` owns the run; throws the taken-over UserError otherwise. */
export function updateOwned(db: Database.Database, runId: number, pid: number, fields: Parameters<typeof updateRun>[2]): void {
  if (updateRun(db, runId, fields, pid) === 0) assertOwned(db, runId, pid);
}
