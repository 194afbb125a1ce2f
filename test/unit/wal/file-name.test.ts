import { describe, expect, it } from "vitest";
import { MIN_SEGMENT_SIZE, WalSegment, historyName, isWalFileName, parseWalFileName } from "../../../src/wal/file-name.js";
import { InvalidWalNameError } from "../../../src/errors.js";

const MiB = 1024 * 1024;

describe("WAL file names", () => {
  it.each([
    ["000000010000000A000000FF", "segment"],
    ["00000002.history", "history"],
    ["000000010000000000000005.partial", "partial"],
    ["00000001000000000000001B.00000028.backup", "backup"],
  ])("recognises %s as a %s", (name, kind) => {
    expect(parseWalFileName(name).kind).toBe(kind);
  });

  it.each([
    ["../../etc/passwd", "separators"],
    ["/etc/passwd", "separators"],
    ["pg_wal/000000010000000000000001", "separators"],
    ["000000010000000000000001/..", "separators"],
    ["", "empty"],
    ["00000001000000000000000g", "unrecognised"],
    ["000000010000000a000000ff", "unrecognised"],
    ["0000000100000000000000011", "unrecognised"],
    ["00000000.history", "timeline 0"],
    ["000000000000000000000001", "timeline 0"],
    ["000000010000000000000001.partial.x", "unrecognised"],
    ["000000010000000000000100", "too large"],
    ["RECOVERYXLOG", "unrecognised"],
  ])("refuses %j", (name, reason) => {
    expect(() => parseWalFileName(name)).toThrow(InvalidWalNameError);
    expect(() => parseWalFileName(name)).toThrow(reason);
  });

  it("splits a segment name into timeline, log and segment", () => {
    const segment = WalSegment.parse("000000030000000A000000FE");
    expect([segment.timeline, segment.log, segment.seg]).toEqual([3, 10, 254]);
    expect(segment.startLsn(16 * MiB)).toBe(0x0a_fe00_0000n);
  });

  it.each([
    ["0000000100000000000000FF", 16, "000000010000000100000000"],
    ["000000010000000A00000010", 16, "000000010000000A00000011"],
    ["00000001000000000000003F", 64, "000000010000000100000000"],
    ["000000010000000000000FFF", 1, "000000010000000100000000"],
    ["000000020000000000000FFE", 1, "000000020000000000000FFF"],
  ])("next of %s with %i MiB segments is %s", (name, sizeMb, next) => {
    expect(WalSegment.parse(name, sizeMb * MiB).next(sizeMb * MiB).toString()).toBe(next);
  });

  it("rejects a segment number beyond the log for the segment size", () => {
    expect(() => WalSegment.parse("000000010000000000000040", 64 * MiB)).toThrow(InvalidWalNameError);
    expect(WalSegment.parse("000000010000000000000FFF", 1 * MiB).seg).toBe(0xfff);
  });

  it.each([
    ["000000010000000A000000FF", true],
    ["00000002.history", true],
    ["000000010000000000000005.partial", true],
    ["00000001000000000000001B.00000028.backup", true],
    // Valid for 1 MiB segments (the smallest): whether it is for this cluster's size, the segment header says.
    ["000000010000000000000FFF", true],
    ["000000010000000000001000", false],
    ["000000010000000a000000ff", false],
    ["00000000.history", false],
    [".000000010000000000000001.ab12.tmp", false],
    ["archive_status", false],
  ])("isWalFileName(%j) is %s", (name, expected) => {
    expect(isWalFileName(name)).toBe(expected);
  });

  it("names history files as PostgreSQL does, and parses them back", () => {
    expect(historyName(2)).toBe("00000002.history");
    expect(historyName(0x1a)).toBe("0000001A.history");
    expect(parseWalFileName(historyName(0xabc)).timeline).toBe(0xabc);
  });

  it("reads segment names like wal-g (either case, timeline 0) only where asked, never as PostgreSQL's names", () => {
    for (const odd of ["000000010000000a000000fe", "00000000000000000000000F"]) {
      expect(WalSegment.parseLikeWalg(odd, 16 * MiB)).toBeDefined();
      expect(isWalFileName(odd)).toBe(false);
    }
    expect(WalSegment.parseLikeWalg("000000010000000a000000fe", 16 * MiB)?.segmentNumber(16 * MiB)).toBe(0x0a_fen);
    expect(WalSegment.parseLikeWalg("000000010000000000000100", 16 * MiB)).toBeUndefined();
    expect(WalSegment.parseLikeWalg("00000001000000000000000G", MIN_SEGMENT_SIZE)).toBeUndefined();
    expect(WalSegment.parseLikeWalg("00000001000000000000001", MIN_SEGMENT_SIZE)).toBeUndefined();
  });
});
