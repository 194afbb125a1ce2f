// zstd, lzma, gzip and brotli against independent producers: the zstd/xz/gzip CLIs and objects wal-g wrote.
import { describe, expect, it } from "vitest";
import { brotliCodec } from "../../../src/compress/brotli.js";
import { gzipCodec } from "../../../src/compress/gzip.js";
import { lzmaCodec } from "../../../src/compress/lzma.js";
import { zstdCodec } from "../../../src/compress/zstd.js";
import { FIXTURE_CONTENT_SIZE, MiB, cli, fixture, transformBuffer, walLikeBytes } from "./helpers.js";

const data = walLikeBytes(3 * MiB + 11);

describe("zstd", () => {
  it("decodes zstd CLI output, with and without a checksum", async () => {
    const input = data.subarray(0, 512 * 1024);
    for (const flags of [[], ["--no-check"], ["-19"], ["--long=27"]]) {
      const frame = cli("zstd", ["-c", ...flags], input);
      expect((await transformBuffer(zstdCodec.decompress(), frame, 7)).equals(input)).toBe(true);
    }
  });

  it("decodes concatenated frames, including one of ours", async () => {
    const parts = [data.subarray(0, 1000), data.subarray(1000, 2 * MiB), data.subarray(2 * MiB)];
    const frames = Buffer.concat([
      cli("zstd", ["-c"], parts[0]!),
      await transformBuffer(zstdCodec.compress(), parts[1]!),
      cli("zstd", ["-c"], parts[2]!),
    ]);
    expect((await transformBuffer(zstdCodec.decompress(), frames, 4097)).equals(data)).toBe(true);
  });

  it("writes frames with a content checksum that the zstd CLI decodes", async () => {
    const frame = await transformBuffer(zstdCodec.compress(), data);
    expect(frame.readUInt32LE(0)).toBe(0xfd2fb528);
    expect((frame[4] ?? 0) & 0x04).toBe(0x04); // Frame_Header_Descriptor: Content_Checksum_flag (RFC 8878 3.1.1.1.1)
    expect(cli("zstd", ["-d", "-c"], frame).equals(data)).toBe(true);
  });
});

describe("lzma", () => {
  it("writes the LZMA-alone header wal-g writes", async () => {
    const stream = await transformBuffer(lzmaCodec.compress(), data.subarray(0, 5000));
    expect(stream.subarray(0, 13).toString("hex")).toBe("5d00008000ffffffffffffffff");
  });

  it("writes streams that xz --format=lzma decodes", async () => {
    for (const input of [Buffer.alloc(0), data]) {
      const stream = await transformBuffer(lzmaCodec.compress(), input);
      expect(cli("xz", ["--format=lzma", "-d", "-c"], stream).equals(input)).toBe(true);
    }
  });

  it("decodes xz --format=lzma output", async () => {
    const stream = cli("xz", ["--format=lzma", "-1", "-c"], data);
    expect(stream.subarray(0, 1).toString("hex")).toBe("5d");
    expect((await transformBuffer(lzmaCodec.decompress(), stream, 7001)).equals(data)).toBe(true);
  });
});

describe("gzip", () => {
  it("decodes gzip CLI output, several members in a row", async () => {
    const first = cli("gzip", ["-c"], data.subarray(0, MiB));
    const members = Buffer.concat([first, cli("gzip", ["-c", "-1"], data.subarray(MiB))]);
    expect((await transformBuffer(gzipCodec.decompress(), members, 4099)).equals(data)).toBe(true);
  });

  it("refuses to compress, as wal-g does", () => {
    expect(gzipCodec.canCompress).toBe(false);
    expect(() => gzipCodec.compress()).toThrow(/gzip can only be read/);
  });
});

describe("objects written by wal-g v3.0.9", () => {
  const content = walLikeBytes(FIXTURE_CONTENT_SIZE);

  it.each([
    ["walg-v3.0.9.zst", zstdCodec],
    ["walg-v3.0.9.br", brotliCodec],
    ["walg-v3.0.9.lzma", lzmaCodec],
  ] as const)("decodes %s", async (name, codec) => {
    expect((await transformBuffer(codec.decompress(), fixture(name), 1001)).equals(content)).toBe(true);
  });
});
