// Where the valid WAL of a segment ends (src/wal/valid-end.ts), on small segments built by hand record by record:
// 1 KiB pages, 4 pages a segment, records with real CRC-32C, continuations across pages, and each way to break one.
import { describe, expect, it } from "vitest";
import { findValidWalEnd, sameValidWal } from "../../../src/wal/valid-end.js";

const PAGE = 1024;
const PAGES = 4;
const LONG = 40;
const SHORT = 24;
const START_LSN = 0x3000000n;
const MAGIC = 0xd110; // PostgreSQL 15

function crc32c(data: Buffer, crc = 0xffffffff): number {
  let c = crc >>> 0;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return c >>> 0;
}

interface RecordSpec {
  readonly body: number;
  readonly switch?: boolean;
  /** Replaces the computed xl_prev. */
  readonly prev?: bigint;
  readonly badCrc?: boolean;
}

/** A record (header + body) whose CRC is right unless asked otherwise. */
function record(spec: RecordSpec, prev: bigint): Buffer {
  const bytes = Buffer.alloc(24 + spec.body, 0x5a);
  bytes.writeUInt32LE(bytes.length, 0);
  bytes.writeUInt32LE(1234, 4);
  bytes.writeBigUInt64LE(spec.prev ?? prev, 8);
  bytes[16] = spec.switch ? 0x40 : 0x00;
  bytes[17] = spec.switch ? 0 : 10; // RM_XLOG_ID for the switch, the heap otherwise
  bytes.writeUInt16LE(0, 18);
  // xlogreader.c ValidXLogRecord: the body first, then the header up to xl_crc.
  const crc = crc32c(bytes.subarray(0, 20), crc32c(bytes.subarray(24)));
  bytes.writeUInt32LE((crc ^ 0xffffffff ^ (spec.badCrc ? 1 : 0)) >>> 0, 20);
  return bytes;
}

interface Built {
  readonly segment: Buffer;
  /** File offset of each record's start, and just past the last one. */
  readonly starts: number[];
  readonly end: number;
}

/**
 * Lays the records out as PostgreSQL does: 8-byte aligned in the pages' usable bytes, a record that runs past a page
 * going on after the next page's short header (XLP_FIRST_IS_CONTRECORD, xlp_rem_len = what is left of it).
 */
function build(specs: readonly RecordSpec[], options: { firstContinuation?: number; fill?: number } = {}): Built {
  const segment = Buffer.alloc(PAGE * PAGES, options.fill ?? 0);
  const usable: number[] = []; // file offset of each usable byte, in order
  for (let page = 0; page < PAGES; page++) {
    const header = page === 0 ? LONG : SHORT;
    segment.fill(0, page * PAGE, page * PAGE + header);
    segment.writeUInt16LE(MAGIC, page * PAGE);
    segment.writeUInt16LE(page === 0 ? 0x0002 : 0, page * PAGE + 2);
    segment.writeUInt32LE(1, page * PAGE + 4);
    segment.writeBigUInt64LE(START_LSN + BigInt(page * PAGE), page * PAGE + 8);
    if (page === 0) {
      segment.writeBigUInt64LE(7_400_000_000_000_000_001n, 24);
      segment.writeUInt32LE(PAGE * PAGES, 32);
      segment.writeUInt32LE(PAGE, 36);
    }
    for (let at = page * PAGE + header; at < (page + 1) * PAGE; at++) usable.push(at);
  }
  const pageOf = (file: number) => Math.floor(file / PAGE);
  const setContinuation = (page: number, remaining: number) => {
    segment.writeUInt16LE(segment.readUInt16LE(page * PAGE + 2) | 0x0001, page * PAGE + 2);
    segment.writeUInt32LE(remaining, page * PAGE + 16);
  };
  let pos = 0;
  if (options.firstContinuation) {
    setContinuation(0, options.firstContinuation);
    for (let i = 0; i < options.firstContinuation; i++) segment[usable[pos + i]!] = 0x77;
    pos = (options.firstContinuation + 7) & ~7;
  }
  const starts: number[] = [];
  let prev = 0n;
  for (const spec of specs) {
    const bytes = record(spec, prev);
    starts.push(usable[pos]!);
    prev = START_LSN + BigInt(usable[pos]!);
    for (let i = 0; i < bytes.length; i++) {
      const file = usable[pos + i]!;
      if (i > 0 && file % PAGE === SHORT && pageOf(file) !== pageOf(usable[pos + i - 1]!)) setContinuation(pageOf(file), bytes.length - i);
      segment[file] = bytes[i]!;
    }
    pos = (pos + bytes.length + 7) & ~7;
  }
  return { segment, starts, end: usable[pos] ?? segment.length };
}

describe("findValidWalEnd on hand-built segments", () => {
  it("ends after the last record when zeros follow", () => {
    const { segment, end } = build([{ body: 40 }, { body: 100 }, { body: 8 }]);
    expect(findValidWalEnd(segment, START_LSN)).toEqual({ end, records: 3 });
  });

  it("follows a record across a page boundary (continuation header and remaining length)", () => {
    const { segment, starts, end } = build([{ body: 900 }, { body: 300 }, { body: 16 }]);
    expect(Math.floor(starts[1]! / PAGE)).toBe(0); // the second record starts on page 0 and runs into page 1
    expect(findValidWalEnd(segment, START_LSN)).toEqual({ end, records: 3 });
  });

  it("stops before a record whose continuation page states another remaining length", () => {
    const { segment, starts } = build([{ body: 900 }, { body: 300 }, { body: 16 }]);
    segment.writeUInt32LE(segment.readUInt32LE(PAGE + 16) + 8, PAGE + 16);
    expect(findValidWalEnd(segment, START_LSN)).toEqual({ end: starts[1], records: 1 });
  });

  it("stops at a record with a wrong CRC, and at one whose xl_prev does not name the record before", () => {
    const crc = build([{ body: 40 }, { body: 40, badCrc: true }, { body: 40 }]);
    expect(findValidWalEnd(crc.segment, START_LSN)).toEqual({ end: crc.starts[1], records: 1 });
    const prev = build([{ body: 40 }, { body: 40 }, { body: 40, prev: 0x1234n }]);
    expect(findValidWalEnd(prev.segment, START_LSN)).toEqual({ end: prev.starts[2], records: 2 });
  });

  it("ends right after an XLOG_SWITCH record, whatever follows it", () => {
    const { segment, starts } = build([{ body: 40 }, { body: 8, switch: true }, { body: 40 }]);
    expect(findValidWalEnd(segment, START_LSN)).toEqual({ end: starts[1]! + 24 + 8, records: 2 });
  });

  it("skips the tail of a record begun in the previous segment", () => {
    const { segment, end } = build([{ body: 40 }], { firstContinuation: 100 });
    expect(findValidWalEnd(segment, START_LSN)).toEqual({ end, records: 1 });
  });

  it("treats a broken page header as the end of the readable WAL", () => {
    const { segment, starts } = build([{ body: 40 }, { body: 2100 }]); // the second record runs into page 2
    segment.writeBigUInt64LE(0n, 2 * PAGE + 8); // page 2 names another position
    expect(findValidWalEnd(segment, START_LSN)).toEqual({ end: starts[1], records: 1 });
    expect(findValidWalEnd(segment, START_LSN + 8192n)).toEqual({ end: 0, records: 0 }); // first page wrong: nothing
  });

  it("refuses sizes that are not a whole number of pages", () => {
    expect(findValidWalEnd(Buffer.alloc(100), START_LSN)).toEqual({ end: 0, records: 0 });
  });
});

describe("sameValidWal", () => {
  it("holds for copies that differ only after the valid end, and not inside it or without records", () => {
    const a = build([{ body: 40 }, { body: 100 }]).segment;
    const b = Buffer.from(a);
    const { end } = findValidWalEnd(a, START_LSN);
    b.fill(0xee, end + 16, end + 64); // garbage after the end (a promoted standby's recycled bytes)
    expect(sameValidWal(a, b, START_LSN)).toBe(true);
    const inside = Buffer.from(a);
    inside[end - 3] = (inside[end - 3]! + 1) & 0xff;
    expect(sameValidWal(a, inside, START_LSN)).toBe(false);
    const empty = build([]).segment;
    expect(sameValidWal(empty, Buffer.from(empty), START_LSN)).toBe(false);
  });
});
