// wal-native backup-list [--detail] [--json [--pretty]]: wal-g's backup-list over the same bucket.
import type { ToolCommand } from "../shared/command.js";
import { flagProblem, parseFlags } from "../shared/flags.js";

const FLAGS = { switches: ["detail", "json", "pretty"] } as const;

export const command: ToolCommand = {
  usage: `usage: wal-native backup-list [--detail] [--json [--pretty]]
  Lists the backups in basebackups_005/ (complete ones: those with a stop sentinel), oldest first,
  with wal-g's columns: backup_name modified wal_file_name storage_name.
  --detail  adds start_time finish_time hostname data_dir pg_version start_lsn finish_lsn is_permanent
            (from each backup's metadata.json) and sorts by start_time
  --json    a JSON array like wal-g's (system_identifier exact, not rounded); --pretty indents it
`,
  checkArgs: (args) => flagProblem(args, FLAGS) ?? (args.includes("--pretty") && !args.includes("--json") ? "--pretty needs --json" : undefined),
  async run(args, { config, log }) {
    const flags = parseFlags(args, FLAGS);
    const [{ backupList }, { openStorage }] = await Promise.all([import("./backup-list.js"), import("../../storage/open.js")]);
    const output = await backupList(
      await openStorage(config()),
      { detail: flags.switches.has("detail"), json: flags.switches.has("json"), pretty: flags.switches.has("pretty") },
      log,
    );
    process.stdout.write(output);
  },
};
