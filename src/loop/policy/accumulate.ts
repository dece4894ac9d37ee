// accumulate: everything so far plus the N new documents — the paper's process (2), Gerstgrasser
// et al.'s "accumulate" regime. The training set grows by N a generation.

import type { DataPolicy } from './types.js';

export const accumulate: DataPolicy = {
  name: 'accumulate',
  about: 'train on everything so far plus the new documents',
  window: (gen) => [[0, gen]],
};
