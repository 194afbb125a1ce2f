// The background uploader's decisions, apart from its I/O so that they can be tested alone: how many uploads run
// at once, which ready files it takes up, and how long it leaves a file whose upload failed.
import { type Backoff, retryDelay } from "../daemon/backoff.js";

/**
 * Uploads at once while files arrive about as fast as they go: three keep PostgreSQL's oldest file waiting least
 * (two hold a whole segment while they compress, the others only their compressed bytes on the way out).
 */
export const PARALLEL = 3;
/**
 * A backlog longer than BACKLOG (archiving resumed after an outage, a burst) is cleared by throughput rather than
 * by the oldest file's wait: up to PARALLEL_BACKLOG at once, until no more than PARALLEL files are left.
 */
export const BACKLOG = 8;
export const PARALLEL_BACKLOG = 6;
/** A failed upload leaves its file to PostgreSQL's own call (which reports the error), then to the uploader again. */
export const FAILED_BACKOFF: Backoff = { firstMs: 2_000, maxMs: 60_000 };

export interface Pace {
  /** Uploads that may run at once now. */
  readonly parallel: number;
  readonly clearingBacklog: boolean;
}

/**
 * WALG_UPLOAD_CONCURRENCY caps it as wal-g caps its background uploader (concurrency - 1 besides PostgreSQL's own
 * call), so a lowered setting lowers the load on the store.
 */
export function pace(backlog: number, wasClearing: boolean, uploadConcurrency: number): Pace {
  const clearingBacklog = backlog > BACKLOG || (wasClearing && backlog > PARALLEL);
  const cap = Math.max(1, uploadConcurrency - 1);
  return { clearingBacklog, parallel: Math.min(cap, clearingBacklog ? PARALLEL_BACKLOG : PARALLEL) };
}

/** Ready files this uploader has not started, finished, or left to rest after a failure, in PostgreSQL's order. */
export function takeUp(ready: readonly string[], running: ReadonlySet<string>, uploaded: ReadonlySet<string>, failures: Failures, now: number): string[] {
  return ready.filter((name) => !running.has(name) && !uploaded.has(name) && !failures.resting(name, now));
}

/** Failed uploads: each file rests for a doubling time after each failure in a row; any success ends every rest. */
export class Failures {
  private readonly counts = new Map<string, number>();
  private readonly until = new Map<string, number>();

  constructor(private readonly backoff: Backoff = FAILED_BACKOFF) {}

  failed(name: string, now: number): number {
    const count = (this.counts.get(name) ?? 0) + 1;
    this.counts.set(name, count);
    const delay = retryDelay(count, this.backoff);
    this.until.set(name, now + delay);
    return delay;
  }

  /** Another process is pushing it: looked at again after the first delay, without counting as a failure. */
  busy(name: string, now: number): void {
    this.until.set(name, now + this.backoff.firstMs);
  }

  /** Storage answers again (after an outage): the files that failed meanwhile need not wait their turn. */
  succeeded(): void {
    this.counts.clear();
    this.until.clear();
  }

  resting(name: string, now: number): boolean {
    return (this.until.get(name) ?? 0) > now;
  }
}

/** The most uploads that ran at once, for the uploader's log (tests judge its concurrency from it). */
export class HighWater {
  private now = 0;
  most = 0;
  started(): number {
    this.now += 1;
    if (this.now > this.most) this.most = this.now;
    return this.now;
  }
  ended(): void {
    this.now -= 1;
  }
}
