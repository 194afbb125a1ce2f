// compressWhole (the archive path for files up to 64 MiB) must write what the streaming writers write:
// byte for byte for LZ4 (same blocks, same checksum), a stream that decodes to the input for brotli.
import { describe, expect, it } from "vitest";
import { brotliCodec } from "../../../src/compress/brotli.js";
import { lz4Codec } from "../../../src/compress/lz4.js";
import { MiB, randomBytes, transformBuffer, walLikeBytes } from "./helpers.js";

const inputs: Array<[string, Buffer]> = [
  ["empty", Buffer.alloc(0)],
  ["one byte", Buffer.from([42])],
  ["16 MiB of WAL-like data (4 full blocks)", walLikeBytes(16 * MiB)],
  ["incompressible, not a whole number of blocks (stored blocks)", randomBytes(9 * MiB + 5, 3)],
];

describe("compressWhole", () => {
  for (const [label, input] of inputs) {
    it(`lz4: ${label} gives the streaming writer's exact bytes`, async () => {
      const whole = await lz4Codec.compressWhole!(input);
      const streamed = await transformBuffer(lz4Codec.compress(), input);
      expect(whole.equals(streamed)).toBe(true);
      expect((await transformBuffer(lz4Codec.decompress(), whole)).equals(input)).toBe(true);
    });

    it(`brotli: ${label} decodes back to the input`, async () => {
      const whole = await brotliCodec.compressWhole!(input);
      expect((await transformBuffer(brotliCodec.decompress(), whole)).equals(input)).toBe(true);
    });
  }
});
