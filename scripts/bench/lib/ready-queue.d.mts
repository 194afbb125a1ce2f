// Types of ready-queue.mjs, for the unit test.
export interface QueueTimes {
  /** ms since the watch began, when <name>.ready appeared and when <name>.done did. */
  ready?: number;
  done?: number;
}
export declare function watchQueue(status: string, since: number): { times: Map<string, QueueTimes>; close(): void };
export declare function queueFacts(times: Map<string, QueueTimes>): {
  maxReadyExact: number;
  longestWaitMs: number | undefined;
  segmentEveryMs: number | undefined;
};
export declare function mostReady(row: { maxReady: number; maxReadyExact?: number }): number;
