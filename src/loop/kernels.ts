// The kernel on record: which matrix-product kernel (ModelFactory.kernel) computed which
// generations of a run. FMA rounds differently from a multiply then an add, so the exact numbers
// of a run depend on it; a run continued under another kernel is no longer bit-identical to an
// uninterrupted one. executeRun keeps the history in run_state 'kernels' and runs.kernel (the
// kernel of the committed generations); `status` shows both, `resume` names a change.

/** A stretch of a run's generations computed with one matrix-product kernel (run_state 'kernels'). */
export interface KernelSpan {
  fromGen: number;
  kernel: string;
}

/**
 * The kernel history of a run that continues after generation `last` with `kernel`: the spans of
 * the committed generations, plus a new one when the kernel changes. `change` is set when the
 * kernel of the committed generations (`stored`) differs: the continuation's numbers will not be
 * bit-identical to those of an uninterrupted run.
 */
export function continueKernels(spans: readonly KernelSpan[], last: number, stored: string | null, kernel: string) {
  const kept = last < 0 ? [] : spans.filter((s) => s.fromGen <= last);
  const next = kept.at(-1)?.kernel === kernel ? kept : [...kept, { fromGen: last + 1, kernel }];
  const change = last >= 0 && stored !== null && stored !== kernel ? { from: stored, to: kernel, fromGen: last + 1 } : null;
  return { spans: next, change };
}
