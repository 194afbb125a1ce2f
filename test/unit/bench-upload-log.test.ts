// The benchmark reads our uploader's log (scripts/bench/lib/upload-log.mjs) to say how long the slowest upload
// of the archiver-lag scenario took and how much of it was the wait for the store.
import { describe, expect, it } from "vitest";
import { longestUpload } from "../../scripts/bench/lib/upload-log.mjs";

describe("bench: the uploader's log", () => {
  it("finds the slowest upload and its wait for the store", () => {
    const log = [
      "wal-archive uploader: debug: pushed 000000010000000000000042 (16.0 MiB -> 6.7 MiB lz4, 117 ms, storage 96 ms)",
      "wal-archive uploader: debug: uploaded 000000010000000000000042 ahead (16.0 MiB -> 6.7 MiB lz4)",
      "wal-archive uploader: debug: pushed 000000010000000000000043 (16.0 MiB -> 6.7 MiB lz4, 261 ms, storage 243 ms)",
      "wal-archive uploader: warn: upload ahead of 000000010000000000000044 failed (PostgreSQL will push it itself): 503 (900 ms)",
      "wal-archive uploader: debug: pushed 000000010000000000000045 (16.0 MiB -> 6.7 MiB lz4, 153 ms, storage 129 ms)",
    ].join("\n");
    expect(longestUpload(log)).toEqual({ longestUploadMs: 261, longestUploadStorageMs: 243 });
  });

  it("reads lines without the store's part (a streamed upload, or a log of an earlier version)", () => {
    const log = "wal-archive uploader: debug: pushed 000000010000000000000002 (16.0 MiB -> 958.8 KiB lz4, 73 ms)\n";
    expect(longestUpload(log)).toEqual({ longestUploadMs: 73, longestUploadStorageMs: undefined });
  });

  it("has nothing to say about a log without uploads", () => {
    expect(longestUpload("wal-archive uploader: info: started\n")).toEqual({});
  });
});
