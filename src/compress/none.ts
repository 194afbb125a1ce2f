// Uncompressed objects: the bytes pass through unchanged (walg-compat.md 1.5).
import { PassThrough } from "node:stream";
import type { Codec } from "./codec.js";

export const noneCodec: Codec = {
  name: "none",
  extension: "",
  canCompress: true,
  compress: () => new PassThrough(),
  decompress: () => new PassThrough(),
};
