// replace: only the N new documents — Shumailov et al.'s fully synthetic loop. The seed corpus
// trains generation 0 only.

import type { DataPolicy } from './types.js';

export const replace: DataPolicy = {
  name: 'replace',
  about: 'train on the new documents only',
  window: (gen) => [[gen, gen]],
};
