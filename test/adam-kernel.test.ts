// The Adam step in WebAssembly (src/kernels/adam-kernel.ts) against adam.ts's JS loop, element
// for element and bit for bit: sizes that leave a partial group of four, the two threads'
// halves at an odd split, one and two gradient parts, gradients from 0 to large, 40 steps.

import { describe, expect, it } from 'vitest';
import { adamKernel } from '../src/kernels/adam-kernel.js';
import { ADAM_EPS, BETA1, BETA2, FlatAdam } from '../src/model/gpt/adam.js';
import { rngFor } from '../src/rng.js';

function pair(n: number): [FlatAdam, FlatAdam] {
  const a = FlatAdam.create(n);
  const b = FlatAdam.create(n);
  const r = rngFor(5, 'adam-init', n);
  for (let i = 0; i < n; i++) a.weights[i] = b.weights[i] = r.normal() * 0.05;
  return [a, b];
}

describe('Adam in wasm', () => {
  it('refuses a range outside the arrays (the five share one memory)', () => {
    const f = FlatAdam.create(10);
    for (const [from, to] of [[0, 11], [-1, 5], [6, 5], [0.5, 4]]) expect(() => f.step(1, 1e-3, 1, from, to)).toThrow(/Adam step over elements/);
    expect(() => f.step(1, 1e-3, 1, 0, 10)).not.toThrow();
  });

  it('builds on a shared memory', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    expect(adamKernel(memory, { beta1: BETA1, beta2: BETA2, eps: ADAM_EPS })).not.toBeNull();
  });

  it('gives the JS loop’s weights bit for bit, over halves and one or two parts', () => {
    for (const n of [1, 3, 7, 1003, 4096 + 5]) {
      const [kernel, js] = pair(n);
      expect(kernel.usesKernel).toBe(true); // else step would be stepJs and this compares nothing
      const rng = rngFor(6, 'adam-grads', n);
      const split = Math.floor(n / 2) | 1; // odd: the second half starts mid-group
      let differing = 0;
      let moved = 0;
      for (let t = 1; t <= 40; t++) {
        for (let i = 0; i < n; i++) {
          // zero, tiny, ordinary and large gradients
          const scale = [0, 1e-30, 1e-3, 10][(i + t) % 4];
          for (const p of [0, 1] as const) kernel.grads[p][i] = js.grads[p][i] = scale * rng.normal();
        }
        const parts = t % 5 === 0 ? 1 : 2;
        const before = kernel.weights.slice();
        kernel.step(t, 3e-3, parts, 0, Math.min(split, n));
        kernel.step(t, 3e-3, parts, Math.min(split, n), n);
        js.stepJs(t, 3e-3, parts);
        for (let i = 0; i < n; i++) {
          if (!Object.is(kernel.weights[i], js.weights[i])) differing++;
          if (kernel.weights[i] !== before[i]) moved++;
        }
      }
      expect({ n, differing }).toEqual({ n, differing: 0 });
      expect(moved).toBeGreaterThan(0.3 * 40 * n); // the steps did move the weights
    }
  });
});
