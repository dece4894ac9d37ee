// Bit-for-bit comparison of float arrays, for the kernel tests that promise identical results.

import type * as tf from '@tensorflow/tfjs';

type Floats = ArrayLike<number> | tf.Tensor;

const values = (a: Floats): ArrayLike<number> => ('dataSync' in a ? (a.dataSync() as ArrayLike<number>) : a);

/** Elements that differ in any bit (-0 ≠ +0, NaN = NaN); a length difference counts in full. */
export function differingBits(a: Floats, b: Floats): number {
  const x = values(a);
  const y = values(b);
  let n = x.length === y.length ? 0 : Math.max(x.length, y.length);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (!Object.is(x[i], y[i])) n++;
  return n;
}
