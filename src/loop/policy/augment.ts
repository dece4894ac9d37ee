// augment: the fixed seed set plus the N new documents — the synthetic augmentation loop
// (Alemohammad et al.; Bertrand et al.). The training set stays the seed's size plus N.

import type { DataPolicy } from './types.js';

export const augment: DataPolicy = {
  name: 'augment',
  about: 'train on the seed corpus plus the new documents',
  window: (gen) => (gen === 0 ? [[0, 0]] : [[0, 0], [gen, gen]]),
};
