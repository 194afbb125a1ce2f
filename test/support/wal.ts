// Builders for synthetic WAL files whose first page header agrees with their name.
import { randomBytes } from "node:crypto";
import { WalSegment } from "../../src/wal/file-name.js";

export const MiB = 1024 * 1024;
export const PG15_MAGIC = 0xd110;

export interface SegmentOptions {
  readonly segmentSize?: number;
  readonly systemId?: bigint;
  readonly headerTimeline?: number;
  readonly magic?: number;
  readonly pageAddress?: bigint;
  /** Bytes of random payload after the header; the rest stays zero like a real, partly used segment. */
  readonly payload?: number;
  readonly seed?: Buffer;
}

export function makeSegment(name: string, options: SegmentOptions = {}): Buffer {
  const segmentSize = options.segmentSize ?? 16 * MiB;
  const segment = WalSegment.parse(name, segmentSize);
  const bytes = Buffer.alloc(segmentSize);
  bytes.writeUInt16LE(options.magic ?? PG15_MAGIC, 0);
  bytes.writeUInt16LE(0x0002, 2);
  bytes.writeUInt32LE(options.headerTimeline ?? segment.timeline, 4);
  bytes.writeBigUInt64LE(options.pageAddress ?? segment.startLsn(segmentSize), 8);
  bytes.writeBigUInt64LE(options.systemId ?? 7_400_000_000_000_000_001n, 24);
  bytes.writeUInt32LE(segmentSize, 32);
  bytes.writeUInt32LE(8192, 36);
  const payload = options.seed ?? randomBytes(Math.min(options.payload ?? 64 * 1024, segmentSize - 40));
  payload.copy(bytes, 40);
  return bytes;
}
