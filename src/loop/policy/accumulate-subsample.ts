// accumulate-subsample: the pool is accumulate's (everything so far), but each generation trains
// on S documents of it (`--train-size S`): its own new documents plus a seeded subsample of
// max(0, S − N) earlier ones, so the training set — and a generation's cost — stays flat while
// the pool grows by N a generation (the "accumulate with a fixed compute budget" regime).
// Generation 0 trains on the whole seed corpus, like every policy. The subsample is drawn with a
// partial Fisher–Yates (rng.ts `permutation`): O(S) whatever the pool's size.

import { permutation, rngFor } from '../../rng.js';
import type { DataPolicy, PolicyParams } from './types.js';

export const accumulateSubsample: DataPolicy = {
  name: 'accumulate-subsample',
  about: 'train on the new documents plus a seeded subsample of earlier ones, S in all (--train-size)',
  window: (gen) => [[0, gen]],
  select(ids: Int32Array, gen: number, p: PolicyParams): Int32Array {
    const k = Math.min(ids.length, Math.max(0, (p.trainSize ?? ids.length) - p.samples));
    const next = permutation(rngFor(p.seed, 'gen', gen, 'subsample'), ids.length);
    const picked = Int32Array.from({ length: k }, () => ids[next()]);
    // In id order, like every committed id list (reads by id stay local).
    return picked.sort();
  },
};
