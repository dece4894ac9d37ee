// The data policies, chosen from a record like the models: `dataPolicy(config.policy)`. Adding a
// policy is one file beside these (a DataPolicy) and its line here.

import { accumulate } from './accumulate.js';
import { augment } from './augment.js';
import { accumulateSubsample } from './accumulate-subsample.js';
import { replace } from './replace.js';
import type { DataPolicy, GenRange } from './types.js';

export type { DataPolicy, GenRange, PolicyParams } from './types.js';

export const dataPolicies = { accumulate, replace, augment, 'accumulate-subsample': accumulateSubsample } satisfies Record<string, DataPolicy>;

export type Policy = keyof typeof dataPolicies;
export const policies = Object.keys(dataPolicies) as Policy[];

export function dataPolicy(name: Policy): DataPolicy {
  return dataPolicies[name];
}

/** The part of gen's window committed before gen trains: the window without generation gen. */
export function committedWindow(policy: DataPolicy, gen: number): GenRange[] {
  return policy.window(gen).flatMap(([a, b]): GenRange[] => (b < gen ? [[a, b]] : a < gen ? [[a, gen - 1]] : []));
}

export function sameWindow(a: readonly GenRange[], b: readonly GenRange[]): boolean {
  return a.length === b.length && a.every(([x, y], i) => x === b[i][0] && y === b[i][1]);
}

/**
 * Whether gen's committed part is exactly gen−1's training set (accumulate): the loop then keeps
 * the id list and the histogram it has instead of reading them again.
 */
export function extendsPrevious(policy: DataPolicy, gen: number): boolean {
  return !policy.select && windowExtends(policy, gen);
}

/** Whether gen's committed window is exactly gen−1's window (before any choice among it). */
export function windowExtends(policy: DataPolicy, gen: number): boolean {
  return gen >= 1 && sameWindow(committedWindow(policy, gen), policy.window(gen - 1));
}
