// Entry point of wal-restore, PostgreSQL's restore_command: wal-restore %f %p
// (also the detached prefetch worker: wal-restore --prefetch-worker <pg_wal dir>).
import { ExitCode, exitCodeLines } from "../errors.js";
import { STANDBY_RETRY_MS, TARGETED_RETRY_MS } from "../restore/on-error.js";
import { type Invocation, handleInfoFlags, runCommand, usageFailure } from "./run.js";

const invocation: Invocation = {
  program: "wal-restore",
  role: "restore",
  argv: process.argv.slice(2),
  usage: `usage: wal-restore <file name> <destination path>
  PostgreSQL restore_command: restore_command = 'wal-restore %f %p'
  Takes a prefetched segment, else looks in the local archive, then in storage
  (wal_005/<file name>.<ext>), verifies the file and writes it to <destination path> atomically.
  Afterwards a background worker prefetches the next WALG_DOWNLOAD_CONCURRENCY segments.
exit codes (PostgreSQL reads 1 to 125 as "not in the archive" and aborts recovery above 125):
${exitCodeLines("restore")}  On a standby (standby.signal) a failure exits ${ExitCode.internal} instead of ${ExitCode.abortRecovery}, so that it goes on streaming;
  WALNATIVE_RESTORE_ON_ERROR=abort or not-found decides instead. Storage failures are retried first for
  WALNATIVE_RESTORE_RETRY_SECONDS (default ${TARGETED_RETRY_MS / 1000}, or ${STANDBY_RETRY_MS / 1000} on a standby).
`,
};

if (invocation.argv[0] === "--prefetch-worker" && invocation.argv.length === 2) {
  const walDir = invocation.argv[1] as string;
  void runCommand({ ...invocation, program: "wal-restore prefetch", role: "worker" }, async ({ config, log }) => {
    const [{ runPrefetchWorker }, { openStorage }] = await Promise.all([import("../restore/prefetch/worker.js"), import("../storage/open.js")]);
    await runPrefetchWorker(walDir, { config: config(), log, storage: () => openStorage(config()) });
  });
} else if (!handleInfoFlags(invocation)) {
  if (invocation.argv.length !== 2) usageFailure(invocation, `expected 2 arguments, got ${invocation.argv.length}`);
  const [name, destination] = invocation.argv as [string, string];
  void runCommand(invocation, async ({ config, log }) => {
    const [{ fetchWalFile }, { openStorage }] = await Promise.all([import("../restore/fetch.js"), import("../storage/open.js")]);
    let storage: ReturnType<typeof openStorage> | undefined;
    await fetchWalFile(name, destination, { config: config(), log, storage: () => (storage ??= openStorage(config())) });
  });
}
