// V8 code caches for the bundles (written by scripts/build.mjs, read by the loader it puts in front of each).
// V8 refuses a cache made under other flags than the process runs with, so there is one per flag set the
// bundles are started with; a process with other flags compiles as usual, only without the saving.

/** None (wal-restore, wal-native, --help), bin/wal-archive's, the prefetch worker's spawn, the uploader's spawn. */
export const FLAG_SETS = [[], ["--expose-gc"], ["--expose-gc", "--max-semi-space-size=1"]];

/** The cache file's suffix for a process's flags (process.execArgv); build.mjs copies this function into each loader. */
export const cacheKey = (flags) => flags.join("").replace(/[^0-9A-Za-z]+/g, "-") || "plain";
