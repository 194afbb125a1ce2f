// wal-native wal-verify: wal-g's "wal-verify integrity timeline" (walg-compat.md 7): walks back from the
// cluster's current segment to the earliest backup's start segment and reports missing segments.
import type { Encryption } from "../../crypto/keys.js";
import type { Storage } from "../../storage/storage.js";
import { listBackups, readBackupMetadata } from "../shared/backups.js";
import { stringifyJson } from "../shared/json.js";
import {
  type HistoryRecord, type WalInventory, highestTimeline, parseSegmentName, readHistory, readWalInventory, segmentKey, segmentName,
} from "./wal-inventory.js";
import { prettyTable } from "./pretty-table.js";

export type CheckStatus = "OK" | "WARNING" | "FAILURE";
type SegmentStatus = "FOUND" | "MISSING_DELAYED" | "MISSING_UPLOADING" | "MISSING_LOST";

export interface WalVerifyOptions {
  /** The cluster's current timeline and LSN (wal-g scans from the segment of lsn - 1). */
  readonly timeline: number;
  readonly lsn: bigint;
  readonly segmentSize: number;
  /** WALG_UPLOAD_CONCURRENCY: missing segments right after the newest found one count as still uploading. */
  readonly uploadingWindow: number;
  /** WALG_INTEGRITY_MAX_DELAYED_WALS */
  readonly delayedWindow: number;
  /** The configured client-side encryption: history files are decrypted before they are read. */
  readonly encryption?: Encryption;
}

export interface IntegritySequence {
  readonly timeline_id: number;
  readonly start_segment: string;
  readonly end_segment: string;
  readonly segments_count: number;
  readonly status: SegmentStatus;
}

export interface WalVerifyResult {
  readonly integrity: { status: CheckStatus; details: IntegritySequence[] | null };
  readonly timeline: { status: CheckStatus; details: { current_timeline_id: number; highest_storage_timeline_id: number } };
  /** The backup the scan stopped at, or undefined when none qualified (then the scan runs to segment 1). */
  readonly earliestBackup?: string;
}

interface Scanned {
  readonly timeline: number;
  readonly segNo: number;
  readonly status: SegmentStatus;
}

export async function walVerify(storage: Storage, options: WalVerifyOptions): Promise<WalVerifyResult> {
  const inventory = await readWalInventory(storage, options.segmentSize);
  const history = await readHistory(storage, options.timeline, options.encryption);
  const switches = new Map(history.map((record) => [Number(record.lsn / BigInt(options.segmentSize)), record]));
  const earliest = await earliestBackupStart(storage, options, history);
  const start = Number((options.lsn - 1n) / BigInt(options.segmentSize));
  const scanned = scan(inventory, switches, { timeline: options.timeline, segNo: start }, earliest?.segNo ?? 1, options);
  const details = collapse(scanned, options.segmentSize);
  const highest = highestTimeline(inventory.names, options.segmentSize);
  return {
    integrity: { status: integrityStatus(details, earliest === undefined), details: details.length ? details : null },
    timeline: {
      status: highest === 0 ? "WARNING" : highest === options.timeline ? "OK" : "FAILURE",
      details: { current_timeline_id: options.timeline, highest_storage_timeline_id: highest },
    },
    earliestBackup: earliest?.name,
  };
}

/** wal-g's JSON output, byte for byte (Go sorts the map keys: integrity, timeline). */
export function walVerifyJson(result: WalVerifyResult, checks: readonly string[] = ["integrity", "timeline"]): string {
  return stringifyJson({
    integrity: checks.includes("integrity") ? result.integrity : undefined,
    timeline: checks.includes("timeline") ? result.timeline : undefined,
  });
}

export function walVerifyText(result: WalVerifyResult, checks: readonly string[] = ["integrity", "timeline"]): string {
  const rows = (result.integrity.details ?? []).map((row) => [
    String(row.timeline_id), row.start_segment, row.end_segment, String(row.segments_count), row.status,
  ]);
  const { details } = result.timeline;
  const integrity = [
    `[wal-verify] integrity check status: ${result.integrity.status}\n`,
    "[wal-verify] integrity check details:\n",
    // go-pretty right-aligns numeric values, and the status is an int enum in wal-g (ScannedSegmentStatus).
    prettyTable(["TLI", "Start", "End", "Segments count", "Status"], rows, [true, false, false, true, true]),
  ];
  const timeline = [
    `[wal-verify] timeline check status: ${result.timeline.status}\n`,
    "[wal-verify] timeline check details:\n",
    `Highest timeline found in storage: ${details.highest_storage_timeline_id}\n`,
    `Current cluster timeline: ${details.current_timeline_id}\n`,
  ];
  return [...(checks.includes("integrity") ? integrity : []), ...(checks.includes("timeline") ? timeline : [])].join("");
}

/**
 * The start segment of the earliest non-permanent backup consistent with the current timeline's
 * history (wal-g integrity_check_runner.go findEarliestBackup / checkBackupIsCorrect).
 */
async function earliestBackupStart(
  storage: Storage,
  options: WalVerifyOptions,
  history: readonly HistoryRecord[],
): Promise<{ name: string; segNo: number } | undefined> {
  const switchSegNo = new Map(history.map((record) => [record.timeline, Number(record.lsn / BigInt(options.segmentSize))]));
  let best: { name: string; segNo: number } | undefined;
  for (const backup of await listBackups(storage)) {
    const segment = parseSegmentName(backup.walFileName, options.segmentSize);
    if (!segment) continue;
    const meta = await readBackupMetadata(storage, backup);
    if (meta?.isPermanent) continue;
    if (switchSegNo.size > 0) {
      const timelineStart = switchSegNo.get(segment.timeline - 1);
      if (segment.timeline > 1 && timelineStart !== undefined && segment.segNo < timelineStart) continue;
      if (segment.timeline !== options.timeline) {
        const timelineEnd = switchSegNo.get(segment.timeline);
        if (timelineEnd === undefined || segment.segNo >= timelineEnd) continue;
      }
    }
    if (!best || segment.segNo < best.segNo) best = { name: backup.name, segNo: segment.segNo };
  }
  return best;
}

/** wal-g's WalSegmentRunner + WalSegmentScanner + runWalIntegrityScan, newest to oldest. */
function scan(
  inventory: WalInventory,
  switches: ReadonlyMap<number, HistoryRecord>,
  start: { timeline: number; segNo: number },
  stopSegNo: number,
  options: WalVerifyOptions,
): Scanned[] {
  const scanned: Scanned[] = [];
  let current = start;
  const has = (timeline: number, segNo: number): boolean => inventory.segments.has(segmentKey(timeline, segNo));
  const previous = (): { timeline: number; segNo: number } => {
    const candidate = { timeline: current.timeline, segNo: current.segNo - 1 };
    const record = switches.get(current.segNo);
    // A switch whose parent segment exists on this timeline is not from our history (wal-g skips it).
    if (record && !has(candidate.timeline, candidate.segNo)) return { timeline: record.timeline, segNo: candidate.segNo };
    return candidate;
  };
  const pass = (limit: number, stopOnFound: boolean, missing: SegmentStatus): void => {
    for (let i = 0; i < limit; i += 1) {
      if (current.segNo <= stopSegNo) return;
      current = previous();
      const found = has(current.timeline, current.segNo);
      scanned.push({ ...current, status: found ? "FOUND" : missing });
      if (found && stopOnFound) return;
    }
  };
  pass(options.delayedWindow, true, "MISSING_DELAYED");
  pass(options.uploadingWindow, false, "MISSING_UPLOADING");
  pass(Number.POSITIVE_INFINITY, false, "MISSING_LOST");
  return scanned;
}

function collapse(scanned: Scanned[], segmentSize: number): IntegritySequence[] {
  const sorted = [...scanned].sort((a, b) => a.segNo - b.segNo);
  const sequences: IntegritySequence[] = [];
  let run: Scanned[] = [];
  const flush = (): void => {
    const first = run[0];
    const last = run[run.length - 1];
    if (!first || !last) return;
    sequences.push({
      timeline_id: first.timeline,
      start_segment: segmentName(first.timeline, first.segNo, segmentSize),
      end_segment: segmentName(first.timeline, last.segNo, segmentSize),
      segments_count: run.length,
      status: first.status,
    });
  };
  for (const item of sorted) {
    const head = run[0];
    if (head && (head.status !== item.status || head.timeline !== item.timeline)) {
      flush();
      run = [];
    }
    run.push(item);
  }
  flush();
  return sequences;
}

function integrityStatus(sequences: readonly IntegritySequence[], noBackup: boolean): CheckStatus {
  let status: CheckStatus = "OK";
  let seenFound = false;
  for (const row of sequences) {
    if (row.status === "FOUND") seenFound = true;
    else if (row.status === "MISSING_LOST") {
      // Without a backup wal-g cannot know where the archive should start: leading gaps only warn.
      if (noBackup && !seenFound) status = "WARNING";
      else return "FAILURE";
    } else status = "WARNING";
  }
  return status;
}
