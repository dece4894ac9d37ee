// End-to-end runs of the real CLI for `sim` and `theory`: the two acceptance commands, the
// readable tables, and bad input (one line on stderr naming the problem, exit code 2).

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tau } from '../src/theory/core.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'heatdeath.mjs');

function heatdeath(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('heatdeath sim / theory', () => {
  it('sim: the Pólya urn from (3, 1) after 2000 steps has mean 0.75 and variance 0.0374', async () => {
    const { code, stdout } = await heatdeath('sim', '--initial', '3,1', '--temperature', '1', '--per-step', '1', '--steps', '2000', '--replicates', '2000', '--json');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.config).toMatchObject({ initial: [3, 1], temperature: 1, freshFraction: 0, policy: 'accumulate', perStep: 1, steps: 2000, replicates: 2000 });
    expect(out.final).toHaveLength(2000);
    const x: number[] = out.final.map((f: number[]) => f[0]);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / (x.length - 1);
    const target = (3 * 2000) / (80 * 2004);
    expect(Math.abs(mean - 0.75)).toBeLessThan(3 * Math.sqrt(variance / x.length));
    expect(Math.abs(variance - target)).toBeLessThan(0.1 * target);
    const last = out.trajectory[out.trajectory.length - 1];
    expect(last.step).toBe(2000);
    expect(last.mean[0]).toBeCloseTo(mean, 12);
    expect(Object.keys(last)).toEqual(expect.arrayContaining(['step', 'mean', 'V', 'entropy']));
  });

  it('theory: the fixed point satisfies θ = 0.7·τ_0.5(θ) + 0.3·θ₀ to 1e-9', async () => {
    const { code, stdout } = await heatdeath('theory', '--initial', '0.4,0.3,0.2,0.1', '--temperature', '0.5', '--fresh', '0.3', '--json');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    const theta0 = [0.4, 0.3, 0.2, 0.1];
    const fp: number[] = out.fixedPoint;
    const t = tau(fp, 0.5);
    fp.forEach((x, i) => expect(Math.abs(x - (0.7 * t[i] + 0.3 * theta0[i]))).toBeLessThan(1e-9));
    expect(out.trajectory[0]).toMatchObject({ t: 0, theta: theta0.map((x) => expect.closeTo(x, 12)) });
    expect(out.trajectory.length).toBe(out.config.steps + 1);
  });

  it('readable tables without --json', async () => {
    const [sim, theory] = await Promise.all([
      heatdeath('sim', '--initial', '5,3,2', '--temperature', '2', '--steps', '50', '--replicates', '20'),
      heatdeath('theory', '--initial', '5,3,2', '--temperature', '2', '--fresh', '0.1', '--policy', 'replace'),
    ]);
    expect(sim.code).toBe(0);
    expect(sim.stdout).toMatch(/final mean θ/);
    expect(sim.stdout).toMatch(/fixed point/);
    expect(theory.code).toBe(0);
    expect(theory.stdout).toMatch(/fixed point\s+\(0\.\d+/);
  });

  it('bad input: one line on stderr naming the problem, exit 2', async () => {
    // One case per path to exit 2 (a library UserError, a commander parser error, theory's
    // checks); every rule is covered in-process by the sim and theory unit tests.
    const cases: [string[], RegExp][] = [
      [['sim', '--temperature', '0'], /--temperature must be a number > 0/],
      [['sim', '--initial', '3,x'], /'x' is not a number/],
      [['theory', '--steps', '0'], /--steps must be a whole number/],
    ];
    const results = await Promise.all(cases.map(([args]) => heatdeath(...args)));
    results.forEach(({ code, stdout, stderr }, k) => {
      expect(code, cases[k][0].join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(cases[k][1]);
    });
  });
});
