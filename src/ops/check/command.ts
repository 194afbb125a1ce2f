// wal-native check: health of archiving and backups for people, JSON, or Prometheus (monitor-walg.sh).
import { rename, writeFile } from "node:fs/promises";
import type { ToolCommand } from "../shared/command.js";
import { flagProblem, parseDuration, parseFlags } from "../shared/flags.js";

const FLAGS = {
  switches: ["json", "prometheus", "no-postgres"],
  values: ["pgdata", "max-archive-age", "max-backup-age", "max-ready-age", "output"],
} as const;

export const command: ToolCommand = {
  usage: `usage: wal-native check [--json | --prometheus] [--output FILE] [--pgdata DIR] [--no-postgres]
                        [--max-archive-age 2h] [--max-backup-age 24h] [--max-ready-age 15m]
  storage        the archive answers (critical if not)
  backups        the newest backup's age from its sentinel's FinishTime (critical if none;
                 warning past --max-backup-age)
  archiver       pg_stat_archiver through PGHOST/PGPORT/PGUSER/...: archive_mode, the last success
                 and failure (warning while failing or past --max-archive-age)
  backlog        .ready files in PGDATA/pg_wal/archive_status, which pg_stat_archiver does not show
                 (critical while archiving fails with files waiting, or when the oldest waited
                 past --max-ready-age); PGDATA from --pgdata, the environment or the server
  local archive  size of WALNATIVE_LOCAL_ARCHIVE (warning above WALNATIVE_LOCAL_ARCHIVE_MAX_MB)
  --prometheus   textfile-collector format; --output FILE writes it atomically (temp file + rename)
  --no-postgres  only storage, backups and the local archive
exit codes: 0 ok; 1 warning; 2 critical; 64 bad arguments; 78 configuration error
`,
  checkArgs(args) {
    const problem = flagProblem(args, FLAGS);
    if (problem) return problem;
    return args.includes("--json") && args.includes("--prometheus") ? "--json and --prometheus exclude each other" : undefined;
  },
  async run(args, { config }) {
    const flags = parseFlags(args, FLAGS);
    const duration = (name: string, fallback: string): number => parseDuration(flags.values.get(name) ?? fallback, `--${name}`);
    const options = {
      maxArchiveAgeMs: duration("max-archive-age", "2h"),
      maxBackupAgeMs: duration("max-backup-age", "24h"),
      maxReadyAgeMs: duration("max-ready-age", "15m"),
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
    const file = flags.values.get("output");
    if (file) {
      await writeFile(`${file}.tmp`, text);
      await rename(`${file}.tmp`, file);
    } else process.stdout.write(text);
    return LEVEL_VALUE[report.status];
  },
};
