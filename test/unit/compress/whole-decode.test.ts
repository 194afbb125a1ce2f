// Whole-object decoding (restores): the same output and the same refusals as the stream decoders.
import { describe, expect, it } from "vitest";
import type { Codec } from "../../../src/compress/codec.js";
import { brotliCodec } from "../../../src/compress/brotli.js";
import { gzipCodec } from "../../../src/compress/gzip.js";
import { lz4Codec } from "../../../src/compress/lz4.js";
import { lzmaCodec } from "../../../src/compress/lzma.js";
import { noneCodec } from "../../../src/compress/none.js";
import { zstdCodec } from "../../../src/compress/zstd.js";
import { decompressBlock } from "../../../src/compress/lz4-native.js";
import { Output, decodeLz4Whole, decodeWhole } from "../../../src/compress/whole-decode.js";
import { CorruptDataError } from "../../../src/errors.js";
import { FIXTURE_CONTENT_SIZE, MiB, cli, cliOnFile, fixture, randomBytes, rejectionOf, transformBuffer, walLikeBytes } from "./helpers.js";

const compress = (codec: Codec, data: Buffer) => (codec.canCompress ? transformBuffer(codec.compress(), data) : cli("gzip", ["-c"], data));
const whole = (input: Buffer, limit = 64 * MiB, scratch?: Buffer) => decodeLz4Whole(input, new Output(scratch, limit), decompressBlock);

/** The stream decoder's verdict: its output, or the error it failed with. */
async function streamed(input: Buffer): Promise<Buffer | Error> {
  return transformBuffer(lz4Codec.decompress(), input, 4099).catch((error: Error) => error);
}

function wholeVerdict(input: Buffer): Buffer | Error {
  try {
    return whole(input) as Buffer;
  } catch (error) {
    return error as Error;
  }
}

describe("lz4 whole decoder", () => {
  const data = walLikeBytes(9 * MiB + 17);

  it("decodes our frames, into a reused buffer and growing past it", async () => {
    const frame = await compress(lz4Codec, data);
    expect(whole(frame)?.equals(data)).toBe(true);
    const scratch = Buffer.alloc(16 * MiB, 0xaa);
    const inScratch = whole(frame, 16 * MiB, scratch);
    expect(inScratch?.equals(data)).toBe(true);
    expect(inScratch?.buffer).toBe(scratch.buffer);
    expect(whole(frame, 16 * MiB, Buffer.alloc(100))?.equals(data)).toBe(true);
  });

  it("decodes 16 MiB of incompressible data (stored blocks) exactly at the limit", async () => {
    const random = randomBytes(16 * MiB, 5);
    expect(whole(await compress(lz4Codec, random), 16 * MiB, Buffer.allocUnsafe(16 * MiB))?.equals(random)).toBe(true);
  });

  it("gives up without an error when the content outgrows the limit", async () => {
    const frame = await compress(lz4Codec, data);
    expect(whole(frame, 8 * MiB)).toBeUndefined();
    expect(whole(frame, 9 * MiB)).toBeUndefined();
    const stored = await compress(lz4Codec, randomBytes(5 * MiB));
    expect(whole(stored, 4 * MiB)).toBeUndefined();
  });

  it.each([
    ["64 KiB independent blocks, block checksums", ["-B4", "-BX"]],
    ["linked 64 KiB blocks", ["-B4", "-BD"]],
    ["declared content size", ["--content-size"]],
    ["no content checksum", ["--no-frame-crc"]],
    ["high compression, linked", ["-9", "-B4", "-BD"]],
  ] as const)("decodes lz4 CLI output: %s", (_label, flags) => {
    const small = walLikeBytes(3 * MiB + 5);
    expect(whole(cliOnFile("lz4", ["-c", ...flags], small))?.equals(small)).toBe(true);
  });

  it.each(["walg-v3.0.9.lz4", "cli-linked-64k.lz4", "cli-checksums-size.lz4"])("decodes the %s fixture", (name) => {
    expect(whole(fixture(name))?.equals(walLikeBytes(FIXTURE_CONTENT_SIZE))).toBe(true);
  });

  it("skips skippable frames around the frame and refuses anything else after it", async () => {
    const skippable = (magicLow: number, body: Buffer) => {
      const header = Buffer.alloc(8);
      header.writeUInt32LE(0x184d2a50 + magicLow, 0);
      header.writeUInt32LE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    const frame = await compress(lz4Codec, data);
    const framed = Buffer.concat([skippable(0, Buffer.from("meta")), frame, skippable(3, Buffer.alloc(0))]);
    expect(whole(framed)?.equals(data)).toBe(true);
    expect(() => whole(Buffer.concat([frame, frame]))).toThrow(/after the lz4 frame/);
    expect(() => whole(Buffer.concat([frame, Buffer.from([0, 0])]))).toThrow(CorruptDataError);
    expect(() => whole(cli("lz4", ["-l", "-c"], data))).toThrow(/legacy/);
    expect(() => whole(Buffer.alloc(0))).toThrow(/empty/);
  });

  it("refuses every truncation and every damaged byte the stream decoder refuses, with the same output otherwise", async () => {
    const small = walLikeBytes(300_000, 11);
    for (const flags of [[], ["-B4", "-BD", "-BX", "--content-size"]]) {
      const frame = cliOnFile("lz4", ["-c", ...flags], small);
      for (let length = 0; length < frame.length; length += length < 64 ? 1 : 997) {
        expect(wholeVerdict(frame.subarray(0, length)), `truncated to ${length}`).toBeInstanceOf(CorruptDataError);
      }
      for (let at = 0; at < frame.length; at += at < 64 ? 1 : 389) {
        const damaged = Buffer.from(frame);
        damaged[at] = (damaged[at] ?? 0) ^ 0x10;
        const [stream, once] = [await streamed(damaged), wholeVerdict(damaged)];
        if (stream instanceof Error) expect(once, `byte ${at}`).toBeInstanceOf(CorruptDataError);
        else expect(Buffer.isBuffer(once) && once.equals(stream), `byte ${at}`).toBe(true);
        // (A flipped match offset can point at identical bytes: same output, checksum and all.)
      }
    }
  });
});

describe.each([lz4Codec, brotliCodec, zstdCodec, lzmaCodec, gzipCodec, noneCodec])("decodeWhole with $name", (codec) => {
  const data = walLikeBytes(2 * MiB + 3, 9);

  it("decodes what the codec wrote, and gives up beyond the limit", async () => {
    const input = await compress(codec, data);
    expect((await decodeWhole(codec, input, new Output(undefined, 16 * MiB)))?.equals(data)).toBe(true);
    expect(await decodeWhole(codec, input, new Output(undefined, MiB))).toBeUndefined();
  });

});

// An uncompressed object has no framing to notice a cut: the size and checksum checks of restore/download.ts do.
describe.each([lz4Codec, brotliCodec, zstdCodec, lzmaCodec, gzipCodec])("decodeWhole with $name, truncated", (codec) => {
  it("refuses a truncated object", async () => {
    const input = await compress(codec, walLikeBytes(2 * MiB + 3, 9));
    const error = await rejectionOf(decodeWhole(codec, input.subarray(0, input.length >> 1), new Output(undefined, 16 * MiB)));
    expect(error).toBeInstanceOf(CorruptDataError);
  });
});
