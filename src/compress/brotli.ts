// Brotli codec through node:zlib: quality 3 as wal-g's cbrotli writer uses (walg-compat.md 2.5).
import { promisify } from "node:util";
import { brotliCompress, constants, createBrotliCompress, createBrotliDecompress } from "node:zlib";
import type { Codec } from "./codec.js";
import { reportAsCorrupt } from "./codec-stream.js";

/** lgwin 22 is libbrotli's default window, which cbrotli leaves in place. */
const PARAMS = { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_LGWIN]: 22 };

const compressAsync = promisify(brotliCompress);

/**
 * zlib streams keep memory bounded by themselves: they stop feeding the engine while the readable side is full.
 * A truncated stream fails at end of input with Z_BUF_ERROR "unexpected end of file"; bytes after the end of a
 * complete brotli stream are ignored by zlib (cbrotli would reject them; wal-g never writes any).
 */
export const brotliCodec: Codec = {
  name: "brotli",
  extension: "br",
  canCompress: true,
  compress: () => createBrotliCompress({ params: PARAMS }),
  // One-shot zlib calls run on the thread pool.
  compressWhole: (data) => compressAsync(data, { params: PARAMS }),
  decompress: () => reportAsCorrupt(createBrotliDecompress(), "brotli"),
};
