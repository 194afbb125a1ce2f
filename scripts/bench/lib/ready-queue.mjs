// The archiver's queue as PostgreSQL's archive_status shows it: when each segment's .ready file appeared and when
// the archiver renamed it to .done, and what follows from those times (scripts/bench/pgbench-lag.mjs).
import { watch } from "node:fs";

/**
 * When each segment's .ready file appeared and when the archiver renamed it to .done (inotify, so to the
 * millisecond rather than the 100 ms of the count). Their difference is how long a segment waited to be archived.
 */
export function watchQueue(status, since) {
  const times = new Map();
  const note = (file) => {
    const match = /^([0-9A-F]{24})\.(ready|done)$/.exec(file ?? "");
    // The first event of a name is its creation (a later one its rename or removal): no existence check, which
    // a late callback could fail.
    if (!match) return;
    const entry = times.get(match[1]) ?? {};
    entry[match[2]] ??= performance.now() - since;
    times.set(match[1], entry);
  };
  const watcher = watch(status, (_event, file) => note(file));
  return { times, close: () => watcher.close() };
}

/**
 * From those times: the most segments waiting at once (maxReadyExact), the longest wait between .ready and .done,
 * and how many ms PostgreSQL took per segment at its fastest (8 in a row). A segment never done counts for none.
 */
export function queueFacts(times) {
  const complete = [...times.values()].filter((t) => t.ready !== undefined && t.done !== undefined);
  const waits = complete.map((t) => t.done - t.ready);
  const arrivals = [...times.values()].map((t) => t.ready).filter((v) => v !== undefined).sort((a, b) => a - b);
  const RUN = 8;
  let fastestMs;
  for (let i = 0; i + RUN < arrivals.length; i++) {
    const each = (arrivals[i + RUN] - arrivals[i]) / RUN;
    fastestMs = fastestMs === undefined ? each : Math.min(fastestMs, each);
  }
  // The most segments between .ready and .done at any instant: the count of .ready files, without the gaps
  // between samples.
  const events = complete.flatMap((t) => [[t.ready, 1], [t.done, -1]]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let mostOpen = 0;
  for (const [, step] of events) mostOpen = Math.max(mostOpen, (open += step));
  return {
    maxReadyExact: mostOpen,
    longestWaitMs: waits.length ? Math.max(...waits) : undefined,
    segmentEveryMs: fastestMs,
  };
}

/** The most .ready files at once of a pgbench row: the inotify count when there is one (samples can miss a peak). */
export function mostReady(row) {
  return Math.max(row.maxReady, row.maxReadyExact ?? 0);
}
