// The hold facility through the real CLI: a run held at named points writes what it reached,
// waits (its status says so, its heartbeat keeps beating) until released, stops cleanly on
// SIGINT while held, and a bad HEATDEATH_HOLD is refused with one line and exit 2.

import { afterAll, describe, expect, it } from 'vitest';
import { parseHoldPoints } from '../src/loop/hold.js';
import { heatdeath, json, query, startHeatdeath, workDir } from './helpers/cli.js';
import { holdEnv, release, waitReached } from './helpers/hold.js';

const ARGS = ['run', '--model', 'ngram', '--corpus', 'names', '--generations', '2', '--samples', '60', '--steps', '10', '--seed', '5', '--name', 'h'];
const w = workDir('hold');
const dir = w.dir;
afterAll(() => w.cleanup());

const row = () => query(w.db, (db) => db.prepare(`SELECT status, phase, heartbeat_at, (SELECT max(gen) FROM generations) AS last FROM runs WHERE name = 'h'`).get()) as {
  status: string; phase: string | null; heartbeat_at: string; last: number | null;
};

describe('hold points', () => {
  it('parses points and refuses bad ones', () => {
    expect(parseHoldPoints('train@3, committed@0')).toEqual([{ phase: 'train', gen: 3 }, { phase: 'committed', gen: 0 }]);
    expect(() => parseHoldPoints('train')).toThrow(/HEATDEATH_HOLD item 'train'/);
    expect(() => parseHoldPoints('fly@1')).toThrow(/phase one of setup, train/);
  });

  it('holds a run at each listed point in order, with the phase and generation it names', async () => {
    const points = ['setup@0', 'train@1', 'committed@1', 'sample@2'];
    const proc = startHeatdeath([...ARGS, ...w.store], { env: holdEnv(dir, points) });
    const alive = proc.alive;
    try {
      const setup = await waitReached(dir, 'h', 'setup@0', { alive });
      expect(setup).toMatchObject({ run: 'h', runId: 1, gen: 0, phase: 'setup', pid: proc.child.pid });
      expect(row()).toMatchObject({ status: 'running', phase: 'setup', last: null });
      release(dir, 'h', 'setup@0');

      expect(await waitReached(dir, 'h', 'train@1', { alive })).toMatchObject({ gen: 1, phase: 'train' });
      // Held: generation 0 committed, generation 1 training, and nothing moves until released.
      const held = row();
      expect(held).toMatchObject({ status: 'running', phase: 'train', last: 0 });
      // The heartbeat keeps beating while held (it is written at most once a second).
      await new Promise((r) => setTimeout(r, 2500));
      const later = row();
      expect(later).toMatchObject({ phase: 'train', last: 0 });
      expect(Date.parse(later.heartbeat_at)).toBeGreaterThan(Date.parse(held.heartbeat_at));
      release(dir, 'h', 'train@1');

      expect(await waitReached(dir, 'h', 'committed@1', { alive })).toMatchObject({ gen: 1, phase: 'committed' });
      expect(row()).toMatchObject({ status: 'running', last: 1 });
      release(dir, 'h', 'committed@1');

      expect(await waitReached(dir, 'h', 'sample@2', { alive })).toMatchObject({ gen: 2, phase: 'sample' });
      expect(row()).toMatchObject({ status: 'running', phase: 'sample', last: 1 });
      // SIGINT while held: the wait ends and the run stops as usual, generation 2 not committed.
      proc.child.kill('SIGINT');
      const r = await proc.result;
      expect(r.code).toBe(130);
      expect(row()).toMatchObject({ status: 'interrupted', last: 1 });
    } finally {
      proc.child.kill('SIGKILL');
    }
    // Without the variables nothing holds: the resume runs straight to the end.
    const resumed = await heatdeath(['resume', 'h', ...w.store, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(json(resumed)).toMatchObject({ status: 'complete', generations: 2 });
  });

  it('refuses a bad HEATDEATH_HOLD with one line and exit 2', async () => {
    const r = await heatdeath([...ARGS.slice(0, -1), 'bad', ...w.store], { env: holdEnv(dir, ['train@x']) });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/HEATDEATH_HOLD item 'train@x'/)]);
    expect(query(w.db, (db) => db.prepare(`SELECT count(*) FROM runs WHERE name = 'bad'`).pluck().get())).toBe(0);
  });
});
