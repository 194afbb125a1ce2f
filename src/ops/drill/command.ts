// wal-native drill restore|pitr|dr: the restore drills of the runbook (scripts/test-restore.sh,
// test-pitr.sh, dr-drill.sh) as one tested implementation.
import { readdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { ToolCommand } from "../shared/command.js";
import { findOnPath, ourLauncher } from "../shared/executables.js";
import { UsageError } from "../../errors.js";
import { flagProblem, parseDuration, parseFlags } from "../shared/flags.js";

const FLAGS = {
  switches: ["keep", "no-amcheck", "use-local-archive", "json"],
  values: ["backup", "backup-dir", "target-time", "target-name", "target-xid", "target-lsn", "pg-bin", "walg", "os-user", "db-user",
    "work-dir", "query", "expect", "timeout"],
  minPositionals: 1,
  maxPositionals: 1,
} as const;

const TARGETS = ["target-time", "target-name", "target-xid", "target-lsn"] as const;

export const command: ToolCommand = {
  usage: `usage: wal-native drill restore|pitr|dr [options]
  Restores a backup into a temporary cluster on a free port, proves it, and removes it again:
  wal-g backup-fetch (or a copy of --backup-dir) + wal-native restore-prepare, then PostgreSQL replays WAL
  through wal-restore
  (the local archive is skipped unless --use-local-archive), promotes, and is checked with
  pg_amcheck and a query. The cluster listens on a socket in the drill's directory only and never
  archives. Prints the measured recovery time; exits non-zero on any failure.
  restore   the newest backup to the end of the archive (scripts/test-restore.sh)
  pitr      to --target-time/--target-name/--target-xid/--target-lsn (scripts/test-pitr.sh "<time>");
            with --target-time the newest backup that finished before it is used
  dr        the site-failure procedure: list the backups, restore the newest to the end of the
            archive without any local state (scripts/dr-drill.sh)
options:
  --backup NAME        a backup name from backup-list (default LATEST)
  --backup-dir DIR     instead of a wal-g backup: a base backup directory you made yourself (pg_basebackup
                       -Fp, the low-level backup API, a snapshot of a stopped server); it is copied, not
                       changed, and needs no wal-g
  --query SQL          check query (default: select count(*) from pg_database); --expect VALUE
  --pg-bin DIR         PostgreSQL binaries matching the backup (default: pg_config --bindir, PATH)
  --walg PATH          wal-g (default: wal-g on PATH); --os-user USER (default postgres, when root)
  --db-user NAME       role to connect as (default $POSTGRES_USER or postgres)
  --work-dir DIR       where the temporary cluster goes (default $TMPDIR or /tmp); --keep keeps it
  --timeout 30m        for the fetch and for the recovery; --no-amcheck; --json
exit codes: 0 drill passed; 1 drill failed; 64 bad arguments; 78 configuration error
`,
  checkArgs(args) {
    const problem = flagProblem(args, FLAGS);
    if (problem) return problem;
    const flags = parseFlags(args, FLAGS);
    const kind = flags.positionals[0];
    if (!["restore", "pitr", "dr"].includes(kind ?? "")) return `unknown drill '${kind}' (restore, pitr or dr)`;
    const targets = TARGETS.filter((name) => flags.values.has(name));
    if (kind === "pitr" && targets.length !== 1) return "a pitr drill needs exactly one of --target-time, --target-name, --target-xid, --target-lsn";
    if (kind !== "pitr" && targets.length > 0) return `a ${kind} drill restores to the end of the archive; use 'drill pitr' for a target`;
    if (flags.values.has("backup-dir") && (flags.values.has("backup") || flags.values.has("walg"))) {
      return "--backup-dir restores that directory; it takes no --backup or --walg";
    }
    return undefined;
  },
  async run(args, { config, log }) {
    const flags = parseFlags(args, FLAGS);
    const kind = flags.positionals[0] as "restore" | "pitr" | "dr";
    const [{ runDrill }, { chooseBackup }, { stringifyJson }] = await Promise.all([
      import("./drill.js"),
      import("./backup.js"),
      import("../shared/json.js"),
    ]);
    const target = TARGETS.flatMap((name) => (flags.values.has(name) ? [`--${name}`, flags.values.get(name) as string] : []));
    const json = flags.switches.has("json");
    const say = (line: string): void => void (json ? process.stderr : process.stdout).write(`${line}\n`);
    const backupDir = flags.values.get("backup-dir");
    const backup = backupDir !== undefined
      ? resolve(backupDir)
      : await chooseBackup(config(), flags.values.get("backup") ?? "LATEST", flags.values.get("target-time"), say, kind === "dr");
    const report = await runDrill({
      kind, backup, fromDirectory: backupDir !== undefined, target,
      pgBin: flags.values.get("pg-bin") ?? findPgBin(),
      walg: flags.values.get("walg") ?? findOnPath("wal-g") ?? "wal-g",
      walNative: ourLauncher("wal-native"),
      osUser: flags.values.get("os-user") ?? "postgres",
      dbUser: flags.values.get("db-user") ?? (process.env.POSTGRES_USER || "postgres"),
      parentDir: flags.values.get("work-dir"),
      keep: flags.switches.has("keep"),
      query: flags.values.get("query") ?? "select count(*) from pg_database",
      expect: flags.values.get("expect"),
      amcheck: !flags.switches.has("no-amcheck"),
      timeoutMs: parseDuration(flags.values.get("timeout") ?? "30m", "--timeout"),
      useLocalArchive: flags.switches.has("use-local-archive") && kind !== "dr",
    }, log, say);
    if (json) process.stdout.write(`${stringifyJson(report, "  ")}\n`);
  },
};

/** pg_ctl on PATH, else the newest /usr/lib/postgresql/<major>/bin (Debian's layout). */
function findPgBin(): string {
  const onPath = findOnPath("pg_ctl");
  if (onPath) return dirname(onPath);
  const majors = (() => {
    try {
      return readdirSync("/usr/lib/postgresql").filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
    } catch {
      return [];
    }
  })();
  if (majors[0]) return `/usr/lib/postgresql/${majors[0]}/bin`;
  throw new UsageError("cannot find the PostgreSQL binaries; pass --pg-bin");
}
