// gzip codec, read-only like in wal-g (walg-compat.md 2.6): objects from older tools may still be fetched.
import type { Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import { ConfigError } from "../errors.js";
import type { Codec } from "./codec.js";
import { reportAsCorrupt } from "./codec-stream.js";

/**
 * Node's gunzip reads concatenated members like Go's compress/gzip, fails on truncation ("unexpected end of
 * file") and on a non-gzip trailer, and bounds memory by pausing the engine while its output is unread.
 */
export const gzipCodec: Codec = {
  name: "gzip",
  extension: "gz",
  canCompress: false,
  compress: (): Transform => {
    const hint = "use lz4, brotli, zstd, lzma or none";
    throw new ConfigError("WALG_COMPRESSION_METHOD", "gzip can only be read, not written", hint);
  },
  decompress: () => reportAsCorrupt(createGunzip(), "gzip"),
};
