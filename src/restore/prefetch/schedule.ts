// The prefetch worker's decisions, apart from its I/O so that they can be tested alone: which files to fetch next
// from where replay is, when to widen the window, which published files replay has left behind, and which segment
// is the archive's last (kept for PostgreSQL's re-reads).
import { MIN_SEGMENT_SIZE, WalSegment, historyName, isSegmentName } from "../../wal/file-name.js";
import { MARKS } from "../../fastpath/protocol.js";

/** Downloads at once, at most (fewer while the window is smaller or memory is short). */
export const MAX_PARALLEL = 4;
/** The window never grows past this many segments ahead. */
export const MAX_WINDOW = 32;

export interface Cursor {
  readonly segment: WalSegment;
  readonly name: string;
  readonly segmentSize: number;
}

export interface ScheduleState {
  /** Segments ahead of replay to keep fetched. */
  readonly window: number;
  readonly inFlight: ReadonlySet<string>;
  readonly published: ReadonlySet<string>;
  /** A name not to ask storage about again before this time (ms since the epoch). */
  readonly retryAfter: ReadonlyMap<string, number>;
  /** Names storage said, at the last try, it does not hold. */
  readonly missing: ReadonlySet<string>;
}

export interface Plan {
  /** To start now, in this order. */
  readonly fetch: string[];
  /** The archive's last segment, when the end is known: served by copy from now on. */
  readonly keep?: string;
}

/**
 * The next segments up to the window; where the archive ends, also the segment at the cursor again (PostgreSQL
 * re-reads the last segment at the end of recovery) and the history files it probes before choosing a timeline, so
 * that the end of a recovery costs no Node start either. Nothing beyond a missing segment exists either.
 * `overBudget(n)`: whether one more download beside n would hold too much memory (one always may start).
 */
export function plan(cursor: Cursor, state: ScheduleState, now: number, overBudget: (inFlight: number) => boolean): Plan {
  const names: string[] = [];
  let segment = cursor.segment;
  let lastInArchive: string | undefined;
  for (let i = 0; i < state.window; i += 1) {
    segment = segment.next(cursor.segmentSize);
    const text = segment.toString();
    if ((state.retryAfter.get(text) ?? 0) > now) {
      if (state.missing.has(text)) lastInArchive = names.at(-1) ?? cursor.name;
      break;
    }
    names.push(text);
  }
  if (lastInArchive === cursor.name) names.push(cursor.name);
  const timeline = cursor.segment.timeline;
  names.push(historyName(timeline + 1), historyName(timeline));
  const fetch: string[] = [];
  let running = state.inFlight.size;
  for (const name of names) {
    if (running >= Math.min(state.window, MAX_PARALLEL)) break;
    if (running > 0 && overBudget(running)) break;
    if (state.inFlight.has(name) || fetch.includes(name) || (state.retryAfter.get(name) ?? 0) > now) continue;
    // Taken by rename, so only the re-read and the history files (copied) need a look each time.
    if (state.published.has(name) && name !== cursor.name && !name.endsWith(".history")) continue;
    fetch.push(name);
    running += 1;
  }
  return lastInArchive ? { fetch, keep: lastInArchive } : { fetch };
}

/**
 * Replay asked for a segment that was not published yet: the window is too small for its speed, and doubles, up to
 * four times the configured concurrency (and MAX_WINDOW). undefined: no change.
 */
export function widenedWindow(window: number, downloadConcurrency: number, servedWasPublished: boolean): number | undefined {
  if (servedWasPublished) return undefined;
  const most = Math.min(downloadConcurrency * 4, MAX_WINDOW);
  return window < most ? Math.min(window * 2, most) : undefined;
}

/** A published segment (or its mark) behind replay, or of another timeline: it will not be asked for again. */
export function leftBehind(entry: string, cursor: Cursor): boolean {
  const name = withoutMark(entry);
  if (!isSegmentName(name)) return false;
  const segment = WalSegment.parse(name, MIN_SEGMENT_SIZE);
  return segment.timeline !== cursor.segment.timeline || segment.segmentNumber(cursor.segmentSize) < cursor.segment.segmentNumber(cursor.segmentSize);
}

/** The file a mark is about: NAME.missing (storage lacks it), NAME.keep (serve by copy). */
export function withoutMark(entry: string): string {
  for (const mark of [MARKS.missing, MARKS.keep]) if (entry.endsWith(mark)) return entry.slice(0, -mark.length);
  return entry;
}

