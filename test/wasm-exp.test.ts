// wasm-exp.ts's exp against Math.exp, bit for bit: the attention kernels call it in place of
// Math.exp, and a model's results must not change. Every 61st float32 of the range attention
// meets (scores minus their maximum: −110 … 0, where e^x underflows float32) and of 0 … 90, a
// seeded sample of float64 bit patterns of every magnitude, and the special cases of each branch.
// (Every float32 of both ranges, 2.24 × 10⁹ arguments, was checked once the same way: none differ.)

import { describe, expect, it } from 'vitest';
import { encodeModule } from '../src/kernels/wasm-encoder.js';
import { expFunc } from '../src/kernels/wasm-exp.js';
import { rngFor } from '../src/rng.js';

const memory = new WebAssembly.Memory({ initial: 1 });
const exp = (new WebAssembly.Instance(new WebAssembly.Module(encodeModule([expFunc()])), { env: { memory } }).exports as { exp: (x: number) => number }).exp;

/** Arguments where exp(x) and Math.exp(x) differ (NaN equals NaN), the first few. */
function differing(xs: Iterable<number>): { count: number; n: number; first: number[] } {
  let count = 0;
  let n = 0;
  const first: number[] = [];
  for (const x of xs) {
    n++;
    if (Object.is(exp(x), Math.exp(x))) continue;
    count++;
    if (first.length < 5) first.push(x);
  }
  return { count, n, first };
}

function* float32s(fromBits: number, toBits: number, stride: number): Generator<number> {
  const u = new Uint32Array(1);
  const f = new Float32Array(u.buffer);
  for (let bits = fromBits; bits <= toBits; bits += stride) {
    u[0] = bits;
    yield f[0];
  }
}

describe('exp in wasm is Math.exp', () => {
  it('on float32 arguments from −110 to 0 and 0 to 90', () => {
    const neg = differing(float32s(0x80000000, 0xc2dc0000, 61)); // −0 … −110
    const pos = differing(float32s(0x00000000, 0x42b40000, 61)); // 0 … 90
    expect(neg.n + pos.n).toBeGreaterThan(3e7);
    expect(neg.first).toEqual([]);
    expect(pos.first).toEqual([]);
  });

  it('on float64 bit patterns of every magnitude', () => {
    const rng = rngFor(3, 'exp-bits');
    const d = new Float64Array(1);
    const words = new Uint32Array(d.buffer);
    const xs = function* () {
      for (let i = 0; i < 2_000_000; i++) {
        words[0] = rng.uint32();
        words[1] = rng.uint32();
        yield d[0];
      }
    };
    expect(differing(xs()).first).toEqual([]);
  });

  it('on each branch: specials, thresholds, the reduction boundaries, tiny and subnormal results', () => {
    const ln2 = Math.LN2;
    const xs = [0, -0, 1, -1, 2, Math.E, Infinity, -Infinity, NaN, 709.78, 709.79, 710, -745.13, -745.14, -746, -708.4, -708.5, -720];
    for (const b of [0.5 * ln2, 1.5 * ln2, 2 ** -28]) xs.push(b, -b, b * (1 + 2 ** -52), -b * (1 - 2 ** -53));
    const r = differing(xs);
    expect(r.n).toBe(30);
    expect(r.first).toEqual([]);
    // the values themselves, so a broken branch cannot hide behind a broken comparison
    expect(exp(0)).toBe(1);
    expect(exp(1)).toBe(Math.E);
    expect(exp(-Infinity)).toBe(0);
    expect(exp(Infinity)).toBe(Infinity);
    expect(exp(800)).toBe(Infinity);
    expect(exp(-800)).toBe(0);
    expect(exp(-740)).toBeGreaterThan(0); // subnormal
    expect(Number.isNaN(exp(NaN))).toBe(true);
  });
});
