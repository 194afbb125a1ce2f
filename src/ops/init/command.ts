// wal-native init: prepare and prove the archive storage (scripts/init-walg.sh calls this).
import type { ToolCommand } from "../shared/command.js";
import { flagProblem, parseCount, parseFlags } from "../shared/flags.js";

const FLAGS = { switches: ["no-versioning", "no-lifecycle"], values: ["abort-multipart-days", "noncurrent-days"] } as const;

export const command: ToolCommand = {
  usage: `usage: wal-native init [--abort-multipart-days N] [--noncurrent-days N] [--no-versioning] [--no-lifecycle]
  Validates the configuration, then for WALG_S3_PREFIX: creates the bucket if missing, enables
  versioning, and adds two lifecycle rules limited to the prefix: abort incomplete multipart uploads
  after N days (default 7) and expire noncurrent versions after N days (default 30). Current objects
  are never expired: deleting old WAL and backups is wal-g delete's job. Other rules are kept.
  For WALG_FILE_PREFIX: creates the directory if missing. In both cases it proves access with a
  write/read/delete round trip under the prefix. Safe to run again; each step says what it did.
exit codes: 0 ready; 75 storage refused or unreachable; 78 configuration error
`,
  needsConfig: false,
  checkArgs: (args) => flagProblem(args, FLAGS),
  async run(args, { log }) {
    const flags = parseFlags(args, FLAGS);
    const { initArchive } = await import("./init.js");
    let warnings = 0;
    await initArchive(
      process.env,
      {
        abortMultipartDays: parseCount(flags.values.get("abort-multipart-days") ?? "7", "--abort-multipart-days", 1),
        noncurrentDays: parseCount(flags.values.get("noncurrent-days") ?? "30", "--noncurrent-days", 1),
        versioning: !flags.switches.has("no-versioning"),
        lifecycle: !flags.switches.has("no-lifecycle"),
      },
      (step, status, detail) => {
        if (status === "warning") warnings += 1;
        process.stdout.write(`${status.padEnd(8)} ${step.padEnd(14)} ${detail}\n`);
      },
    );
    log.info(`storage ready${warnings ? ` (${warnings} warning${warnings > 1 ? "s" : ""} above)` : ""}`);
  },
};
