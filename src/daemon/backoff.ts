// How long a helper leaves a failing item alone: doubling from the first delay up to a ceiling, so that a store
// that stays unreachable costs a few attempts a minute, not one every two seconds.

export interface Backoff {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** The wait after the `failures`-th failure in a row (1 for the first); 0 when nothing failed. */
export function retryDelay(failures: number, backoff: Backoff): number {
  if (failures < 1) return 0;
  return Math.min(backoff.maxMs, backoff.firstMs * 2 ** Math.min(failures - 1, 30));
}
