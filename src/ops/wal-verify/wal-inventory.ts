// What wal_005/ holds, by name only (as wal-g's wal-show/wal-verify read it, walg-compat.md 7).
import { pipeline } from "node:stream/promises";
import { buffer } from "node:stream/consumers";
import { decodingStages } from "../../crypto/crypter.js";
import type { Encryption } from "../../crypto/keys.js";
import { candidateKeys } from "../../wal/archive-keys.js";
import { WalSegment, historyName } from "../../wal/file-name.js";
import { WAL_FOLDER, type Storage } from "../../storage/storage.js";
import { parseLsn } from "../shared/go-format.js";

export interface SegmentId {
  readonly timeline: number;
  readonly segNo: number;
}

export interface WalInventory {
  /** "timeline:segNo" of every object whose name, minus one extension, is a segment name. */
  readonly segments: ReadonlySet<string>;
  /** File names in wal_005/ (one level, as listed). */
  readonly names: readonly string[];
}

export interface HistoryRecord {
  /** The timeline that ended at lsn (the parent). */
  readonly timeline: number;
  readonly lsn: bigint;
}

export function segmentKey(timeline: number, segNo: number): string {
  return `${timeline}:${segNo}`;
}

export function segmentName(timeline: number, segNo: number, segmentSize: number): string {
  return WalSegment.fromSegmentNumber(timeline, BigInt(segNo), segmentSize).toString();
}

/** Go's path.Ext + TrimSuffix: strips from the last dot of the name (a trailing dot counts). */
export function trimOneExtension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? name : name.slice(0, dot);
}

/**
 * A segment name as wal-g reads it from the archive, lenient on purpose (WalSegment.parseLikeWalg: either case,
 * timeline 0): what wal-g's wal-verify counts, this one counts.
 */
export function parseSegmentName(name: string, segmentSize: number): SegmentId | undefined {
  const segment = WalSegment.parseLikeWalg(name, segmentSize);
  return segment && { timeline: segment.timeline, segNo: Number(segment.segmentNumber(segmentSize)) };
}

export async function readWalInventory(storage: Storage, segmentSize: number): Promise<WalInventory> {
  const names: string[] = [];
  const segments = new Set<string>();
  for await (const object of storage.list(WAL_FOLDER)) {
    const name = object.key.slice(WAL_FOLDER.length);
    if (name.includes("/")) continue;
    names.push(name);
    const segment = parseSegmentName(trimOneExtension(name), segmentSize);
    if (segment) segments.add(segmentKey(segment.timeline, segment.segNo));
  }
  return { segments, names };
}

/** Highest timeline among segment names and NNNNNNNN.history names (wal-g's timeline check). */
export function highestTimeline(names: readonly string[], segmentSize: number): number {
  let highest = 0;
  for (const name of names) {
    const base = trimOneExtension(name);
    const segment = parseSegmentName(base, segmentSize);
    // wal-g's timelineHistoryFileRegexp (internal/databases/postgres/timeline.go), as lenient as its segment names.
    const history = /^([0-9a-fA-F]+)\.history(\.\w+)?$/.exec(base);
    const timeline = segment?.timeline ?? (history?.[1] ? Number.parseInt(history[1], 16) : 0);
    highest = Math.max(highest, timeline);
  }
  return highest;
}

/** Records of wal_005/<timeline>.history in any compression; [] when there is no such file. */
export async function readHistory(storage: Storage, timeline: number, encryption?: Encryption): Promise<HistoryRecord[]> {
  const candidates = candidateKeys(historyName(timeline));
  const [found] = await storage.statAll(candidates.map((candidate) => candidate.key));
  if (!found) return [];
  const codec = candidates.find((candidate) => candidate.key === found.key)?.codec ?? "none";
  const stages = await decodingStages(codec, encryption, found.key);
  const decoded = buffer(stages.at(-1)!);
  await pipeline([await storage.read(found.key), ...stages]);
  return parseHistory((await decoded).toString("utf8"));
}

/** Lines "parentTLI<TAB>X/X<TAB>reason"; anything else (comments, blank lines) is skipped. */
export function parseHistory(text: string): HistoryRecord[] {
  const records: HistoryRecord[] = [];
  for (const line of text.split("\n")) {
    const match = /^(\d+)\t(.+)\t(.+)$/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    records.push({ timeline: Number(match[1]), lsn: parseLsn(match[2]) });
  }
  return records;
}
