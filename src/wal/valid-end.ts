// Where the valid WAL in a segment ends, read the way PostgreSQL's xlogreader.c does: page headers,
// record headers, xl_prev chain, CRC-32C, continuation records and XLOG_SWITCH. Used to accept the same
// segment archived twice (primary and promoted standby) when the copies differ only after that end.
// Layouts: access/xlog_internal.h (XLogPageHeaderData), access/xlogrecord.h (XLogRecord), PostgreSQL 12-18.
import { PAGE_MAGIC_BY_VERSION } from "./segment-check.js";

const SHORT_HEADER = 24; // MAXALIGN(sizeof(XLogPageHeaderData))
const LONG_HEADER = 40; // MAXALIGN(sizeof(XLogLongPageHeaderData))
const RECORD_HEADER = 24; // SizeOfXLogRecord
const CRC_OFFSET = 20; // offsetof(XLogRecord, xl_crc)
const XLP_FIRST_IS_CONTRECORD = 0x0001;
const XLP_LONG_HEADER = 0x0002;
const RM_XLOG_ID = 0;
const XLOG_SWITCH = 0x40;
const KNOWN_MAGIC = new Set(Object.values(PAGE_MAGIC_BY_VERSION));

export interface ValidWal {
  /** File offset just past the last valid record, or the file's length when WAL runs on into the next segment. */
  readonly end: number;
  /** Records that passed every check (0: nothing here is WAL we could read). */
  readonly records: number;
}

/** The usable bytes of the segment's pages, in order, with their file offsets. */
interface Pages {
  readonly data: Buffer;
  /** One entry per page: where its usable bytes start in data and in the file, their length, xlp_info, xlp_rem_len. */
  readonly map: { dataStart: number; fileStart: number; length: number; info: number; remLen: number }[];
}

/**
 * Scans a whole segment. `startLsn` is the LSN of its first byte and `blockSize` the WAL page size from the
 * first page's long header. Bytes from the returned end on are not WAL PostgreSQL would replay.
 */
export function findValidWalEnd(segment: Buffer, startLsn: bigint): ValidWal {
  const blockSize = segment.length >= LONG_HEADER ? segment.readUInt32LE(36) : 0;
  if (blockSize < 1024 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0 || segment.length % blockSize !== 0) {
    return { end: 0, records: 0 };
  }
  const pages = readPages(segment, startLsn, blockSize);
  const toFile = (offset: number): number => fileOffset(pages, offset, segment.length);
  const first = pages.map[0];
  if (!first) return { end: 0, records: 0 };
  // The first page may continue a record from the previous segment; records start after it.
  let pos = first.info & XLP_FIRST_IS_CONTRECORD ? align8(skipContinuation(pages, first.remLen)) : 0;
  let previous: bigint | undefined;
  let records = 0;
  // A record cut off by the end of the readable pages: with every page read it continues in the next segment,
  // which this file cannot confirm, so the rest of the file must match too; before a broken page it is invalid.
  const complete = pagesComplete(pages, segment);
  const cutOff = (at: number): ValidWal => ({ end: complete ? segment.length : toFile(at), records });
  for (;;) {
    if (pos >= pages.data.length) return { end: endOfPages(pages), records };
    if (pos + RECORD_HEADER > pages.data.length) return cutOff(pos);
    const total = pages.data.readUInt32LE(pos);
    const prev = pages.data.readBigUInt64LE(pos + 8);
    if (total < RECORD_HEADER || (previous !== undefined && prev !== previous)) return { end: toFile(pos), records };
    if (pos + total > pages.data.length) return cutOff(pos);
    if (!continuationsAgree(pages, pos, total) || !crcMatches(pages.data, pos, total)) return { end: toFile(pos), records };
    records += 1;
    previous = startLsn + BigInt(toFile(pos));
    const info = pages.data[pos + 16] ?? 0;
    if (pages.data[pos + 17] === RM_XLOG_ID && (info & 0xf0) === XLOG_SWITCH) return { end: toFile(pos + total - 1) + 1, records };
    pos = align8(pos + total);
  }
}

/** Two copies hold the same WAL: the same valid end, at least one record, and identical bytes up to it. */
export function sameValidWal(a: Buffer, b: Buffer, startLsn: bigint): boolean {
  if (a.length !== b.length) return false;
  const endA = findValidWalEnd(a, startLsn);
  const endB = findValidWalEnd(b, startLsn);
  return endA.records > 0 && endA.end === endB.end && endA.records === endB.records && a.subarray(0, endA.end).equals(b.subarray(0, endB.end));
}

/** Stops at the first page whose header is not the page the position says it is. */
function readPages(segment: Buffer, startLsn: bigint, blockSize: number): Pages {
  const parts: Buffer[] = [];
  const map: Pages["map"] = [];
  let dataStart = 0;
  for (let fileStart = 0; fileStart + blockSize <= segment.length; fileStart += blockSize) {
    const magic = segment.readUInt16LE(fileStart);
    const info = segment.readUInt16LE(fileStart + 2);
    const pageAddress = segment.readBigUInt64LE(fileStart + 8);
    const long = fileStart === 0;
    if (!KNOWN_MAGIC.has(magic) || pageAddress !== startLsn + BigInt(fileStart) || Boolean(info & XLP_LONG_HEADER) !== long) break;
    const header = long ? LONG_HEADER : SHORT_HEADER;
    parts.push(segment.subarray(fileStart + header, fileStart + blockSize));
    map.push({ dataStart, fileStart: fileStart + header, length: blockSize - header, info, remLen: segment.readUInt32LE(fileStart + 16) });
    dataStart += blockSize - header;
  }
  return { data: Buffer.concat(parts), map };
}

function fileOffset(pages: Pages, offset: number, fileLength: number): number {
  for (const page of pages.map) if (offset < page.dataStart + page.length) return page.fileStart + (offset - page.dataStart);
  const last = pages.map.at(-1);
  return last ? Math.min(fileLength, last.fileStart + last.length) : 0;
}

/** Every page header read, so the data ends exactly at the end of the segment. */
function pagesComplete(pages: Pages, segment: Buffer): boolean {
  return endOfPages(pages) === segment.length;
}

/** File offset where the readable pages end: the segment's end, or the start of the first broken page. */
function endOfPages(pages: Pages): number {
  const last = pages.map.at(-1);
  return last ? last.fileStart + last.length : 0;
}

/** Skips the tail of a record that began in an earlier segment, across as many pages as it covers. */
function skipContinuation(pages: Pages, remaining: number): number {
  return Math.min(remaining, pages.data.length);
}

/** Every page the record runs into must say so: XLP_FIRST_IS_CONTRECORD and the bytes still to come. */
function continuationsAgree(pages: Pages, pos: number, total: number): boolean {
  for (const page of pages.map) {
    if (page.dataStart <= pos || page.dataStart >= pos + total) continue;
    const remaining = pos + total - page.dataStart;
    if (!(page.info & XLP_FIRST_IS_CONTRECORD) || page.remLen !== remaining) return false;
  }
  return true;
}

/** xlogreader.c ValidXLogRecord: CRC-32C over the record body, then over the header up to xl_crc. */
function crcMatches(data: Buffer, pos: number, total: number): boolean {
  let crc = crc32c(0xffffffff, data, pos + RECORD_HEADER, pos + total);
  crc = crc32c(crc, data, pos, pos + CRC_OFFSET);
  return (crc ^ 0xffffffff) >>> 0 === data.readUInt32LE(pos + CRC_OFFSET);
}

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(crc: number, data: Buffer, from: number, to: number): number {
  let c = crc >>> 0;
  for (let i = from; i < to; i++) c = (TABLE[(c ^ (data[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return c >>> 0;
}

function align8(value: number): number {
  return (value + 7) & ~7;
}
