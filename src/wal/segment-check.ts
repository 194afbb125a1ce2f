// Cheap sanity checks on segment bytes: the first page's long header must agree with the name.
// Layout: XLogLongPageHeaderData in PostgreSQL's access/xlog_internal.h.
import { CorruptDataError } from "../errors.js";
import type { WalSegment } from "./file-name.js";

export const LONG_HEADER_SIZE = 40;
const XLP_LONG_HEADER = 0x0002;

/** XLOG_PAGE_MAGIC per major version (xlog_internal.h); anything else is not a WAL page we know. */
export const PAGE_MAGIC_BY_VERSION: Readonly<Record<number, number>> = {
  12: 0xd101,
  13: 0xd106,
  14: 0xd10d,
  15: 0xd110,
  16: 0xd113,
  17: 0xd116,
  18: 0xd118,
};
const KNOWN_MAGIC = new Set(Object.values(PAGE_MAGIC_BY_VERSION));

export interface SegmentHeader {
  readonly magic: number;
  readonly timeline: number;
  readonly pageAddress: bigint;
  readonly systemIdentifier: bigint;
  readonly segmentSize: number;
  readonly blockSize: number;
}

export function readSegmentHeader(page: Buffer, label: string): SegmentHeader {
  if (page.length < LONG_HEADER_SIZE) {
    throw new CorruptDataError(`${label}: ${page.length} bytes is too short for a WAL segment header`);
  }
  const magic = page.readUInt16LE(0);
  const info = page.readUInt16LE(2);
  if (!KNOWN_MAGIC.has(magic)) {
    throw new CorruptDataError(`${label}: page magic 0x${magic.toString(16)} is not a PostgreSQL 12-18 WAL page`);
  }
  if ((info & XLP_LONG_HEADER) === 0) throw new CorruptDataError(`${label}: first page lacks the long header`);
  return {
    magic,
    timeline: page.readUInt32LE(4),
    pageAddress: page.readBigUInt64LE(8),
    systemIdentifier: page.readBigUInt64LE(24),
    segmentSize: page.readUInt32LE(32),
    blockSize: page.readUInt32LE(36),
  };
}

/**
 * The header must describe the segment the name says: page address = the segment's start LSN,
 * and a timeline no newer than the name's (the first segment of a new timeline starts with pages
 * copied from the old one, so an older timeline there is normal: xlog.c XLogInitNewTimeline).
 */
export function checkSegmentHeader(header: SegmentHeader, segment: WalSegment, fileSize: number | undefined, label: string): void {
  const { segmentSize } = header;
  if (segmentSize < 1048576 || segmentSize > 1073741824 || (segmentSize & (segmentSize - 1)) !== 0) {
    throw new CorruptDataError(`${label}: header segment size ${segmentSize} is not a power of two between 1 MiB and 1 GiB`);
  }
  if (fileSize !== undefined && fileSize !== segmentSize) {
    throw new CorruptDataError(`${label}: file is ${fileSize} bytes but its header says segments are ${segmentSize} bytes`);
  }
  if (segment.seg >= 0x1_0000_0000 / segmentSize) {
    throw new CorruptDataError(`${label}: name is out of range for ${segmentSize / 1048576} MiB segments`);
  }
  const expected = segment.startLsn(segmentSize);
  if (header.pageAddress !== expected) {
    throw new CorruptDataError(
      `${label}: header page address ${formatLsn(header.pageAddress)} does not match the name (expected ${formatLsn(expected)})`,
    );
  }
  if (header.timeline === 0 || header.timeline > segment.timeline) {
    throw new CorruptDataError(`${label}: header timeline ${header.timeline} does not match the name's timeline ${segment.timeline}`);
  }
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
