// Damaged zstd, brotli, gzip and lzma input fails with CorruptDataError, never with partial output.
import { describe, expect, it } from "vitest";
import type { Codec } from "../../../src/compress/codec.js";
import { brotliCodec } from "../../../src/compress/brotli.js";
import { gzipCodec } from "../../../src/compress/gzip.js";
import { lz4Codec } from "../../../src/compress/lz4.js";
import { lzmaCodec } from "../../../src/compress/lzma.js";
import { zstdCodec } from "../../../src/compress/zstd.js";
import { CorruptDataError } from "../../../src/errors.js";
import { MiB, cli, rejectionOf, transformBuffer, walLikeBytes } from "./helpers.js";

const data = walLikeBytes(2 * MiB + 3);

/** gzip cannot be written by us, so its stream comes from the CLI. */
async function compressed(codec: Codec): Promise<Buffer> {
  return codec.canCompress ? transformBuffer(codec.compress(), data) : cli("gzip", ["-c"], data);
}

async function expectCorrupt(codec: Codec, input: Buffer): Promise<void> {
  const error = await rejectionOf(transformBuffer(codec.decompress(), input, 8191));
  expect(error).toBeInstanceOf(CorruptDataError);
}

const DECODERS = [lz4Codec, zstdCodec, brotliCodec, gzipCodec, lzmaCodec];

describe.each(DECODERS)("$name decoder on damaged input", (codec) => {
  it("rejects an empty object", async () => {
    await expectCorrupt(codec, Buffer.alloc(0));
  });

  it("rejects truncation at several points", async () => {
    const whole = await compressed(codec);
    for (const length of [1, 5, 13, 100, whole.length >> 1, whole.length - 5, whole.length - 1]) {
      await expectCorrupt(codec, whole.subarray(0, length));
    }
  });

  it("rejects garbage", async () => {
    await expectCorrupt(codec, walLikeBytes(10000, 3));
  });
});

// Brotli and LZMA-alone carry no checksum, so a flipped bit there may decode to wrong bytes without an error.
describe.each([zstdCodec, gzipCodec, lz4Codec])("$name decoder with a checksum", (codec) => {
  it("rejects a flipped bit in the middle of the stream", async () => {
    const damaged = Buffer.from(await compressed(codec));
    const middle = damaged.length >> 1;
    damaged[middle] = (damaged[middle] ?? 0) ^ 0x04;
    await expectCorrupt(codec, damaged);
  });

  it("rejects a damaged trailer", async () => {
    const damaged = Buffer.from(await compressed(codec));
    damaged[damaged.length - 2] = (damaged[damaged.length - 2] ?? 0) ^ 0x01;
    await expectCorrupt(codec, damaged);
  });
});

describe("trailing data", () => {
  const STRICT = [zstdCodec, gzipCodec, lz4Codec, lzmaCodec];
  it.each(STRICT)("$name rejects garbage after a complete stream", async (codec) => {
    const whole = await compressed(codec);
    await expectCorrupt(codec, Buffer.concat([whole, Buffer.from("trailing garbage")]));
  });
});

describe("errors that do not come from the data", () => {
  it.each([brotliCodec, gzipCodec])("$name passes an error it is destroyed with through unchanged", async (codec) => {
    const decoder = codec.decompress();
    const upstream = Object.assign(new Error("socket hang up"), { code: "ECONNRESET", errno: -104 });
    const reported = new Promise<unknown>((resolve) => decoder.on("error", resolve));
    decoder.destroy(upstream);
    expect(await reported).toBe(upstream);
  });
});
