// The C library's block encoder and decoder (lz4-native.ts) against each other, the TypeScript decoder and
// lz4_flex's encoder, which are independent implementations of the same block format.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { compressSync } from "lz4-napi";
import { describe, expect, it } from "vitest";
import { decodeBlock } from "../../../src/compress/lz4-frame.js";
import { compressBlock, decompressBlock } from "../../../src/compress/lz4-native.js";
import { CorruptDataError } from "../../../src/errors.js";
import { MiB, walLikeBytes } from "./helpers.js";

const piece = fc.uint8Array({ minLength: 1, maxLength: 40, max: 3 });
const compressible = fc
  .array(fc.tuple(piece, fc.integer({ min: 1, max: 300 })), { minLength: 1, maxLength: 30 })
  .map((parts) => Buffer.concat(parts.flatMap(([piece, times]) => Array.from({ length: times }, () => piece))))
  .filter((data) => data.length >= 64);

/** The block without its 4-byte size field, which holds the compressed length. */
function blockOf(data: Buffer): Buffer {
  const framed = compressBlock(data);
  if (!framed) throw new Error("expected a compressed block");
  expect(framed.readUInt32LE(0)).toBe(framed.length - 4);
  return framed.subarray(4);
}

describe("lz4 C blocks", () => {
  it("encodes what the TypeScript decoder and the C decoder both decode to the input", () => {
    fc.assert(
      fc.property(compressible, (data) => {
        const block = blockOf(data);
        const viaTypeScript = Buffer.alloc(data.length);
        expect(decodeBlock(block, viaTypeScript, 0, 0)).toBe(data.length);
        expect(viaTypeScript.equals(data)).toBe(true);
        const viaC = Buffer.alloc(data.length);
        expect(decompressBlock(block, viaC)).toBe(data.length);
        expect(viaC.equals(data)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("decodes lz4_flex's blocks", () => {
    const data = walLikeBytes(4 * MiB);
    const target = Buffer.alloc(data.length);
    expect(decompressBlock(compressSync(data).subarray(4), target)).toBe(data.length);
    expect(target.equals(data)).toBe(true);
  });

  it("leaves data that would not shrink to be stored", () => {
    expect(compressBlock(randomBytes(4 * MiB))).toBeUndefined();
    expect(compressBlock(Buffer.from([7]))).toBeUndefined();
    expect(compressBlock(Buffer.alloc(0))).toBeUndefined();
  });

  it("copies each block out of the shared output area", () => {
    const first = compressBlock(Buffer.alloc(1 * MiB, 1))!;
    const copy = Buffer.from(first);
    compressBlock(walLikeBytes(1 * MiB));
    expect(first.equals(copy)).toBe(true);
  });

  it("refuses a malformed block and one that decodes past its target", () => {
    const data = walLikeBytes(1 * MiB);
    const block = blockOf(data);
    expect(() => decompressBlock(block, Buffer.alloc(data.length - 1))).toThrow(CorruptDataError);
    expect(() => decompressBlock(block.subarray(0, block.length - 3), Buffer.alloc(data.length))).toThrow(CorruptDataError);
    // One literal, then a match 5 bytes back: before the start of the output.
    expect(() => decompressBlock(Buffer.from([0x10, 0x41, 0x05, 0x00, 0x50, 1, 2, 3, 4, 5]), Buffer.alloc(64))).toThrow(CorruptDataError);
  });
});
