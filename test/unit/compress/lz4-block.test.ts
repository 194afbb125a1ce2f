// The TypeScript LZ4 block decoder against lz4-napi's encoder and hand-made blocks.
import fc from "fast-check";
import { compressSync } from "lz4-napi";
import { describe, expect, it } from "vitest";
import { decodeBlock } from "../../../src/compress/lz4-frame.js";
import { CorruptDataError } from "../../../src/errors.js";
import { MiB, walLikeBytes } from "./helpers.js";

/** lz4-napi prepends the decoded size; the block itself follows. */
const encode = (data: Buffer, dictionary?: Buffer): Buffer => compressSync(data, dictionary).subarray(4);

function decode(block: Uint8Array, capacity: number, prefix: Uint8Array = new Uint8Array(0)): Buffer {
  const target = Buffer.alloc(prefix.length + capacity);
  target.set(prefix);
  const end = decodeBlock(block, target, prefix.length, 0);
  return target.subarray(prefix.length, end);
}

/** Inputs with runs and repeats, so the encoder emits overlapping and long matches. */
const piece = fc.uint8Array({ minLength: 1, maxLength: 40, max: 3 });
const compressible = fc
  .array(fc.tuple(piece, fc.integer({ min: 1, max: 300 })), { maxLength: 30 })
  .map((parts) => Buffer.concat(parts.flatMap(([piece, times]) => Array.from({ length: times }, () => piece))));

describe("lz4 block decoder", () => {
  it("decodes whatever lz4-napi encodes", () => {
    fc.assert(
      fc.property(compressible, (data) => {
        expect(decode(encode(data), data.length).equals(data)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("resolves matches that reach into the prefix window (linked blocks)", () => {
    fc.assert(
      fc.property(compressible, compressible, (dictionary, data) => {
        const block = encode(data, dictionary);
        expect(decode(block, data.length, dictionary).equals(data)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("decodes a 4 MiB WAL-like block", () => {
    const data = walLikeBytes(4 * MiB);
    expect(decode(encode(data), 4 * MiB).equals(data)).toBe(true);
  });

  it("expands a run with offset 1 and a 3-byte period", () => {
    // token 0x1F: 1 literal, then a match of 15 + 4 + 255 + 16 bytes at offset 1, then an empty last sequence
    const run = Buffer.from([0x1f, 0x61, 0x01, 0x00, 0xff, 0x10, 0x00]);
    expect(decode(run, 1000).equals(Buffer.alloc(1 + 19 + 255 + 16, 0x61))).toBe(true);
    const pattern = Buffer.from([0x3f, 0x61, 0x62, 0x63, 0x03, 0x00, 0x20, 0x00]);
    expect(decode(pattern, 1000).toString()).toBe("abc".repeat(18));
  });

  it("accepts an empty block", () => {
    expect(decode(Buffer.from([0x00]), 10).length).toBe(0);
  });

  it.each([
    ["a match offset of zero", [0x10, 0x61, 0x00, 0x00, 0x00]],
    ["a match reaching before the window", [0x10, 0x61, 0x02, 0x00, 0x00]],
    ["literals running past the block", [0x50, 0x61, 0x62]],
    ["a cut-off offset", [0x10, 0x61, 0x01]],
    ["a block ending after a match", [0x10, 0x61, 0x01, 0x00]],
    ["a cut-off length extension", [0xf0, 0xff]],
    ["no token at all", []],
  ])("rejects %s", (_label, bytes) => {
    expect(() => decode(Buffer.from(bytes), 100)).toThrow(CorruptDataError);
  });

  it("rejects output beyond the block's capacity", () => {
    expect(() => decode(encode(Buffer.alloc(1000)), 999)).toThrow(CorruptDataError);
  });
});
