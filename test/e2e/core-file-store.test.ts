// The core issue end to end on a WALG_FILE_PREFIX directory (d): the same archive (a), manual restore (c)
// and point-in-time recovery (b) checks as on MinIO, for each codec.
import { describe } from "vitest";
import { type Codec, describeArchiveAndRestore, fileStore } from "./core-support.js";

describe("WALG_FILE_PREFIX store", () => {
  for (const codec of ["lz4", "brotli", "none"] satisfies Codec[]) {
    describeArchiveAndRestore(() => fileStore(`core-file-${codec}`), codec, 20);
  }
});
