// LZ4 blocks through the reference C library: the `lz4` package compiles its bundled sources at install, as
// zstd-napi does; only its native binding is used, not its JavaScript codec. The frame around the blocks is
// ours (lz4.ts, whole-decode.ts).
//
// Measured per 16 MiB segment on this machine. Compression, against lz4-napi (lz4_flex), which this replaced:
// 2.8 ms against 7.8 ms for table data, 8.2 ms against 29.5 ms for a B-tree index build (it compresses to
// 7 MiB only). Decoding, against the TypeScript decoder (lz4-frame.ts): 1.2 ms against ~6.5 ms, 4.0 against ~16.
import lz4 from "lz4/lib/utils.js";
import { CorruptDataError } from "../errors.js";

/** One output area for every block: the C call is synchronous, so no two callers use it at once. */
let scratch: Buffer | undefined;

/**
 * The frame block for `data`: its 4-byte size field and the compressed bytes (copied out of the shared area),
 * or undefined when compression would not make it smaller; the caller then stores the bytes as they are.
 */
export function compressBlock(data: Buffer): Buffer | undefined {
  if (data.length < 2) return undefined;
  const bound = lz4.bindings.compressBound(data.length) + 4;
  if (!scratch || scratch.length < bound) scratch = Buffer.allocUnsafe(bound);
  // At most one byte less than the input: anything longer is stored instead.
  const packedLength = lz4.bindings.compress(data, scratch, 4, 4 + data.length - 1);
  if (packedLength <= 0) return undefined;
  scratch.writeUInt32LE(packedLength, 0);
  return Buffer.from(scratch.subarray(0, 4 + packedLength));
}

/**
 * Decodes one independent block into `target` (its length is the most the block may hold); returns the decoded
 * length. A malformed block, or one that would not fit, throws CorruptDataError.
 */
export function decompressBlock(data: Buffer, target: Buffer): number {
  const decoded = lz4.bindings.uncompress(data, target);
  if (decoded < 0) throw new CorruptDataError("lz4 block is corrupt");
  return decoded;
}
