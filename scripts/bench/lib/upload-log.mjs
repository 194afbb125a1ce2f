// Our uploader's account of its uploads (its debug log: "pushed <name> (16.0 MiB -> 6.7 MiB lz4, 120 ms,
// storage 96 ms)"), for the archiver-lag scenario: how long the slowest upload took, and how much of it was
// the wait for the store after the segment was read and compressed.

/** { longestUploadMs, longestUploadStorageMs } of the slowest upload in the log text; {} when it has none. */
export function longestUpload(text) {
  const uploads = [...text.matchAll(/pushed [0-9A-F]{24} \(.*, (\d+) ms(?:, storage (\d+) ms)?\)/g)]
    .map((m) => ({ ms: Number(m[1]), storageMs: m[2] === undefined ? undefined : Number(m[2]) }));
  if (uploads.length === 0) return {};
  const longest = uploads.reduce((a, b) => (b.ms > a.ms ? b : a));
  return { longestUploadMs: longest.ms, longestUploadStorageMs: longest.storageMs };
}
