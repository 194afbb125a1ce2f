// The core issue end to end on MinIO: PostgreSQL archives through wal-archive (a), a single segment
// restored by hand is byte-identical (c), and a base backup recovers through wal-restore to a named
// restore point (b); for each codec wal-archive can be configured with.
import { describe } from "vitest";
import { uniquePrefix } from "../support/minio.js";
import { type Codec, describeArchiveAndRestore, s3Store } from "./core-support.js";

describe("MinIO store", () => {
  for (const codec of ["lz4", "brotli", "none"] satisfies Codec[]) {
    describeArchiveAndRestore(async () => s3Store(uniquePrefix(`core-${codec}`)), codec, 20);
  }
});
