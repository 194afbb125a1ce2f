// Every writable codec gives back its input, whatever the size and however the bytes are split.
import { describe, expect, it } from "vitest";
import { WRITABLE_CODECS, loadCodec } from "../../../src/compress/codec.js";
import type { CodecName } from "../../../src/compress/codec.js";
import { MiB, awkwardPieces, chunked, runTransform, walLikeBytes } from "./helpers.js";

type Split = 1 | 7 | 65537 | "awkward";

const SIZES = [0, 1, 3000, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 123];
const SMALL = 3000;

/**
 * [how the input is split, how the compressed stream is split]. Each tiny piece costs a few microseconds of
 * stream overhead (a thread-pool round trip for zlib), so 7-byte pieces of multi-MiB data are kept to the code
 * that is ours: lz4 framing both ways at one whole block, and the lz4 and zstd decoders everywhere.
 */
function splits(codec: CodecName, size: number): Array<[Split, Split]> {
  if (size <= SMALL) return [[1, 1], [7, 7], [65537, 65537]];
  const list: Array<[Split, Split]> = [[65537, 65537], ["awkward", "awkward"]];
  if (codec === "lz4" && size === 4 * MiB) list.push([7, 7]);
  if (codec === "lz4" || codec === "zstd") list.push(["awkward", 7]);
  return list;
}

function pieces(data: Buffer, split: Split): Iterable<Buffer> {
  return split === "awkward" ? awkwardPieces(data) : chunked(data, split);
}

const input = walLikeBytes(9 * MiB + 123);
const cases = WRITABLE_CODECS.flatMap((codec) =>
  SIZES.flatMap((size) => splits(codec, size).map(([inSplit, outSplit]) => ({ codec, size, inSplit, outSplit }))),
);

describe("codec round trips", () => {
  it.each(cases)("$codec: $size bytes, input in $inSplit pieces, compressed in $outSplit pieces", async (c) => {
    const codec = await loadCodec(c.codec);
    const data = input.subarray(0, c.size);
    const compressed = await runTransform(codec.compress(), pieces(data, c.inSplit));
    const restored = await runTransform(codec.decompress(), pieces(compressed, c.outSplit));
    expect(restored.length).toBe(c.size);
    expect(restored.equals(data)).toBe(true);
  });

  it("every writable codec can compress", async () => {
    for (const name of WRITABLE_CODECS) expect((await loadCodec(name)).canCompress).toBe(true);
  });

  it("returns a fresh stream on every call", async () => {
    for (const name of WRITABLE_CODECS) {
      const codec = await loadCodec(name);
      expect(codec.compress()).not.toBe(codec.compress());
      expect(codec.decompress()).not.toBe(codec.decompress());
    }
  });
});
