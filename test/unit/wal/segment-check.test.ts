import { describe, expect, it } from "vitest";
import { WalSegment } from "../../../src/wal/file-name.js";
import { checkSegmentHeader, readSegmentHeader } from "../../../src/wal/segment-check.js";
import { CorruptDataError } from "../../../src/errors.js";
import { MiB, makeSegment } from "../../support/wal.js";

const NAME = "000000020000000300000004";

function check(bytes: Buffer, name = NAME, size: number | undefined = bytes.length): void {
  const header = readSegmentHeader(bytes.subarray(0, 40), name);
  checkSegmentHeader(header, WalSegment.parse(name, header.segmentSize), size, name);
}

describe("segment header check", () => {
  it("accepts a segment whose header agrees with its name", () => {
    const bytes = makeSegment(NAME, { systemId: 7_000_000_000_000_000_123n });
    expect(() => check(bytes)).not.toThrow();
    expect(readSegmentHeader(bytes, NAME).systemIdentifier).toBe(7_000_000_000_000_000_123n);
  });

  it("accepts an older timeline in the header (first segment after a switch)", () => {
    expect(() => check(makeSegment(NAME, { headerTimeline: 1 }))).not.toThrow();
  });

  it.each([
    ["a newer timeline", { headerTimeline: 3 }, "timeline"],
    ["a wrong page address", { pageAddress: 0n }, "page address"],
    ["an unknown magic", { magic: 0x1234 }, "magic"],
  ])("refuses %s", (_label, options, message) => {
    expect(() => check(makeSegment(NAME, options))).toThrow(CorruptDataError);
    expect(() => check(makeSegment(NAME, options))).toThrow(message);
  });

  it("refuses a file whose size differs from the header's segment size", () => {
    expect(() => check(makeSegment(NAME), NAME, 8 * MiB)).toThrow("bytes but its header says");
  });

  it("refuses all zeros and short input", () => {
    expect(() => check(Buffer.alloc(16 * MiB))).toThrow(CorruptDataError);
    expect(() => readSegmentHeader(Buffer.alloc(10), NAME)).toThrow("too short");
  });

  it("checks 64 MiB segments against their own size", () => {
    const name = "00000001000000010000003F";
    const bytes = makeSegment(name, { segmentSize: 64 * MiB });
    expect(() => check(bytes, name)).not.toThrow();
    expect(() => check(bytes, "000000010000000100000003")).toThrow("page address");
  });
});
