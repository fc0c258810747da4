// The timing loop of the packages' *_bench.ts scripts (not of the tests).

/**
 * Nanoseconds per call of `fn`: the best of 40 short timed rounds of n/8
 * calls each, after a warm-up of up to 20000 calls for the JIT. The host is
 * shared: a round short enough to fit in one time slice often escapes
 * preemption, and a preempted round says nothing about the code.
 */
export function nsPerOp(n: number, fn: () => void): number {
  if (!Number.isInteger(n) || n < 8)
    throw new RangeError(`nsPerOp: n must be an integer of at least 8, got ${n}`);
  for (let i = 0; i < Math.min(n, 20000); i++) fn();
  const per = Math.ceil(n / 8);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 40; round++) {
    const t0 = performance.now();
    for (let i = 0; i < per; i++) fn();
    best = Math.min(best, ((performance.now() - t0) * 1e6) / per);
  }
  return best;
}
