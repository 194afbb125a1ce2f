// wal-native check: health of archiving and backups for people, JSON, or Prometheus (monitor-walg.sh).
import { rename, writeFile } from "node:fs/promises";
import type { ToolCommand } from "../shared/command.js";
import { flagProblem, parseDuration, parseFlags } from "../shared/flags.js";

const FLAGS = {
  switches: ["json", "prometheus", "no-postgres", "switch", "no-wal-usage"],
  values: ["pgdata", "max-archive-age", "max-backup-age", "max-ready-age", "output", "switch-timeout", "textfile"],
} as const;

export const command: ToolCommand = {
  usage: `usage: wal-native check [--switch [--switch-timeout 60s]] [--json | --prometheus] [--output FILE]
                        [--pgdata DIR] [--no-postgres] [--no-wal-usage]
                        [--max-archive-age 2h] [--max-backup-age 24h] [--max-ready-age 15m]
  settings       archive_mode, wal_level, archive_command, archive_timeout through PGHOST/PGPORT/PGUSER/...
                 (critical when nothing can be archived; warning when archive_command is not wal-archive)
  switch         --switch: a restore point and pg_switch_wal() on the primary, then waits (--switch-timeout)
                 until that segment is in storage, reads it back as restore_command would (decode,
                 header, size, recorded checksum, system identifier) and compares it with pg_wal's copy;
                 reports the time it took (critical if it does not arrive or does not verify)
  storage        the archive answers (critical if not)
  usage          objects and bytes under wal_005/ and basebackups_005/, oldest and newest WAL segment
                 (--no-wal-usage: skip the listing of wal_005/)
  backups        the newest backup's age from its sentinel's FinishTime (warning if there is none yet,
                 or past --max-backup-age)
  archiver       pg_stat_archiver: the last success and failure (warning while failing or past
                 --max-archive-age)
  backlog        .ready files in PGDATA/pg_wal/archive_status, which pg_stat_archiver does not show
                 (critical while archiving fails with files waiting, or when the oldest waited
                 past --max-ready-age); PGDATA from --pgdata, the environment or the server
  local archive  size of WALNATIVE_LOCAL_ARCHIVE (warning above WALNATIVE_LOCAL_ARCHIVE_MAX_MB)
  --prometheus   textfile-collector format; --output FILE writes it atomically (temp file + rename)
  --textfile F   also write the Prometheus format to F (atomically), whatever is printed: one run for
                 both the report and the metrics (scripts/monitor-walg.sh)
  --no-postgres  only storage, backups and the local archive
exit codes: 0 ok; 1 warning; 2 critical; 64 bad arguments; 78 configuration error
`,
  checkArgs(args) {
    const problem = flagProblem(args, FLAGS);
    if (problem) return problem;
    if (args.includes("--json") && args.includes("--prometheus")) return "--json and --prometheus exclude each other";
    if (args.includes("--switch") && args.includes("--no-postgres")) return "--switch needs PostgreSQL: it cannot go with --no-postgres";
    return undefined;
  },
  async run(args, { config }) {
    const flags = parseFlags(args, FLAGS);
    const duration = (name: string, fallback: string): number => parseDuration(flags.values.get(name) ?? fallback, `--${name}`);
    const options = {
      maxArchiveAgeMs: duration("max-archive-age", "2h"),
      maxBackupAgeMs: duration("max-backup-age", "24h"),
      maxReadyAgeMs: duration("max-ready-age", "15m"),
      switchTimeoutMs: flags.switches.has("switch") ? duration("switch-timeout", "60s") : undefined,
      walUsage: !flags.switches.has("no-wal-usage"),
    };
    const [{ runChecks, LEVEL_VALUE }, output, { openStorage }, { withPostgres }, { retentionLimits }] = await Promise.all([
      import("./checks.js"),
      import("./output.js"),
      import("../../storage/open.js"),
      import("../shared/pg.js"),
      import("../../local-archive/retention.js"),
    ]);
    const report = await runChecks(config(), () => openStorage(config()), {
      ...options,
      dataDir: flags.values.get("pgdata") || process.env.PGDATA || undefined,
      postgres: flags.switches.has("no-postgres") ? undefined : withPostgres,
      localArchiveMaxBytes: retentionLimits(process.env).maxBytes,
    });
    const text = flags.switches.has("prometheus") ? output.renderPrometheus(report)
      : flags.switches.has("json") ? output.renderJson(report) : output.renderText(report);
    const textfile = flags.values.get("textfile");
    if (textfile) await writeAtomically(textfile, output.renderPrometheus(report));
    const file = flags.values.get("output");
    if (file) await writeAtomically(file, text);
    else process.stdout.write(text);
    return LEVEL_VALUE[report.status];
  },
};

/** node_exporter may read the file at any moment: never a half-written one. */
async function writeAtomically(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}
