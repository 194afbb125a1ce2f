// wal-native cache prune: shrink the local fast-recovery archive safely (the runbook's rm -f wal_archive/*).
import type { ToolCommand } from "../shared/command.js";
import { UsageError } from "../../errors.js";
import { flagProblem, parseCount, parseDuration, parseFlags } from "../shared/flags.js";

const FLAGS = { switches: ["all", "dry-run"], values: ["max-mb", "max-age"], minPositionals: 1, maxPositionals: 1 } as const;

export const command: ToolCommand = {
  usage: `usage: wal-native cache prune [--max-mb N] [--max-age 72h] [--all] [--dry-run]
  Deletes WAL files from the local fast-recovery archive (WALNATIVE_LOCAL_ARCHIVE), oldest first,
  until it is within --max-mb (default WALNATIVE_LOCAL_ARCHIVE_MAX_MB, 4096) and no file is older
  than --max-age (default WALNATIVE_LOCAL_ARCHIVE_MAX_AGE_HOURS, 72 h); --all empties it.
  A file is deleted only when the archive storage holds it: a file not archived yet is kept and
  named. wal-archive prunes the same way by itself, at most every 5 minutes.
exit codes: 0 done; 1 files were kept because storage does not hold them yet; 75 storage unreachable
`,
  checkArgs: (args) => flagProblem(args, FLAGS) ?? (args[0] === "prune" ? undefined : `unknown cache command '${args[0]}' (prune)`),
  async run(args, { config, log }) {
    const flags = parseFlags(args, FLAGS);
    const [{ pruneLocalArchive, retentionLimits, describePrune }, { openStorage }] = await Promise.all([
      import("../../local-archive/retention.js"),
      import("../../storage/open.js"),
    ]);
    const dir = config().localArchiveDir;
    if (!dir) throw new UsageError("the local archive is switched off (WALNATIVE_LOCAL_ARCHIVE is empty): nothing to prune");
    const defaults = retentionLimits(process.env);
    const maxMb = flags.values.get("max-mb");
    const maxAge = flags.values.get("max-age");
    const dryRun = flags.switches.has("dry-run");
    const result = await pruneLocalArchive(dir, await openStorage(config()), {
      maxBytes: maxMb === undefined ? defaults.maxBytes : parseCount(maxMb, "--max-mb") * 1048576,
      maxAgeMs: maxAge === undefined ? defaults.maxAgeMs : parseDuration(maxAge, "--max-age"),
      all: flags.switches.has("all"),
      dryRun,
    });
    log.info(`${dryRun ? "would remove" : "removed"} ${describePrune(result)}`);
    for (const file of result.notInStorage) log.warn(`kept ${file.name}: not in storage yet (archiving behind or failing?)`);
    return result.notInStorage.length ? 1 : 0;
  },
};
