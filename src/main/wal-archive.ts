// Entry point of wal-archive, PostgreSQL's archive_command: wal-archive %p %f
// (also the detached background uploader: wal-archive --upload-worker <pg_wal dir>).
import { exitCodeLines } from "../errors.js";
import { type Invocation, handleInfoFlags, runCommand, usageFailure } from "./run.js";

const invocation: Invocation = {
  program: "wal-archive",
  role: "archive",
  argv: process.argv.slice(2),
  usage: `usage: wal-archive <path> <file name>
  PostgreSQL archive_command: archive_command = 'wal-archive %p %f'
  Compresses the WAL file at <path> and uploads it to wal_005/<file name>.<ext> in the
  configured storage (WALG_S3_PREFIX or WALG_FILE_PREFIX), keeping a local copy.
exit codes (PostgreSQL keeps the file and retries it after any non-zero exit):
${exitCodeLines("archive")}`,
};

if (invocation.argv[0] === "--upload-worker" && invocation.argv.length === 2) {
  const walDir = invocation.argv[1] as string;
  void runCommand({ ...invocation, program: "wal-archive uploader", role: "worker" }, async ({ config, log }) => {
    const [{ runUploader }, { openStorage }] = await Promise.all([import("../archive/uploader.js"), import("../storage/open.js")]);
    let storage: Promise<import("../storage/storage.js").Storage> | undefined;
    await runUploader(walDir, { config: config(), log, storage: () => (storage ??= openStorage(config())) }, process.env);
  });
} else if (!handleInfoFlags(invocation)) {
  if (invocation.argv.length !== 2) usageFailure(invocation, `expected 2 arguments, got ${invocation.argv.length}`);
  const [path, name] = invocation.argv as [string, string];
  void runCommand(invocation, async ({ config, log }) => {
    const [{ runArchive }, { openStorage }] = await Promise.all([import("../archive/call.js"), import("../storage/open.js")]);
    let storage: Promise<import("../storage/storage.js").Storage> | undefined;
    // One storage client for the push, the uploads ahead and the local archive's pruning.
    await runArchive(path, name, { config: config(), log, storage: () => (storage ??= openStorage(config())) }, process.env);
  });
}
