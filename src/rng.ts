// Seeded random numbers. No Math.random anywhere in src/: every random choice takes an Rng.
// sfc32 (a small, fast, well-tested 128-bit generator); seeds are derived by hashing
// (seed, key...) so that generation g of a run has its own stream, independent of how many
// numbers earlier generations drew. That is what makes `resume` reproduce an uninterrupted run.

export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** A 32-bit unsigned integer, e.g. to seed another generator. */
  uint32(): number;
}

/** cyrb128: hashes a string into four 32-bit words. */
function hash128(str: string): [number, number, number, number] {
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** A generator whose stream is decided by the seed and the keys, e.g. rngFor(seed, 'gen', 7, 'sample'). */
export function rngFor(seed: number | string, ...keys: (string | number)[]): Rng {
  // State in an Int32Array: plain `let` numbers captured by the closure would be boxed on
  // every update (values ≥ 2^30 are not small integers), which made each draw ~10× slower.
  const s = Int32Array.from(hash128([seed, ...keys].join('\u0000')));
  const uint32 = (): number => {
    const a = s[0],
      b = s[1],
      c = s[2],
      d = (s[3] + 1) | 0;
    const t = (((a + b) | 0) + d) | 0;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) | 0;
    s[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    s[3] = d;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) uint32(); // warm up: decorrelate nearby seeds
  let spare: number | null = null;
  const next = () => uint32() / 4294967296;
  return {
    next,
    uint32,
    int: (n: number) => Math.floor(next() * n),
    normal: () => {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
  };
}

/** Draws an index from unnormalised non-negative weights w[0..n). */
export function drawIndex(rng: Rng, w: ArrayLike<number>, n = w.length): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += w[i];
  let u = rng.next() * total;
  for (let i = 0; i < n; i++) {
    u -= w[i];
    if (u < 0) return i;
  }
  // Rounding left u ≥ 0: return the last index with positive weight.
  for (let i = n - 1; i >= 0; i--) if (w[i] > 0) return i;
  return n - 1;
}

/** Fisher–Yates shuffle in place. */
export function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/**
 * A uniformly random permutation of 0 … n−1, drawn one element at a time (Fisher–Yates run
 * forwards, with the swapped-out positions kept in a sparse map). Drawing k elements costs
 * O(k) time and memory, whatever n: a training pass that uses a few thousand documents of a
 * million-document set does not pay for shuffling all of them.
 */
export function permutation(rng: Rng, n: number): () => number {
  const moved = new Map<number, number>();
  let i = 0;
  return () => {
    if (i >= n) throw new RangeError(`permutation of ${n} exhausted`);
    const j = i + rng.int(n - i);
    const at = (k: number) => moved.get(k) ?? k;
    const out = at(j);
    if (j !== i) moved.set(j, at(i));
    moved.delete(i);
    i++;
    return out;
  };
}

/** A stable 32-bit FNV-1a hash of a string (splits, hashed columns). */
export function fnv1a(str: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
