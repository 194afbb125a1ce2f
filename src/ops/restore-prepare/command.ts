// wal-native restore-prepare: options for preparing a data directory for point-in-time recovery.
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { ExitCode, UsageError, WalNativeError } from "../../errors.js";
import type { RecoveryTarget, TargetAction } from "./prepare.js";
import type { ToolCommand } from "../shared/command.js";
import { findOnPath, isExecutable, ourLauncher } from "../shared/executables.js";
import { parseStrictly } from "../shared/flags.js";

const USAGE = `usage: wal-native restore-prepare [<data dir>] [options]
  Prepares a data directory (default $PGDATA) for archive recovery on PostgreSQL 12+: writes
  restore_command and the recovery target into postgresql.auto.conf (replacing earlier recovery
  settings; never recovery.conf) and creates recovery.signal. Then start the server.
  With --standby it creates standby.signal instead: the server starts as a standby that replays
  from the archive and from its primary, and never promotes on its own.
target (one of; default --target-latest):
  --target-latest             replay every archived WAL file (newest timeline)
  --target-immediate          stop as soon as the base backup is consistent
  --target-time <timestamp>   e.g. '2024-01-08 14:30:00+00'
  --target-xid <xid>          a transaction id
  --target-name <name>        a restore point made with pg_create_restore_point()
  --target-lsn <lsn>          e.g. 0/3000060
  --inclusive | --exclusive   stop just after (PostgreSQL's default) or just before the target
  --target-action <action>    once the target is reached: promote (default), pause or shutdown
  --target-timeline <tli>     latest (default), current or a timeline number
standby (instead of a target):
  --standby                   create standby.signal (and remove recovery.signal); on a standby,
                              wal-restore answers a storage failure with "not found" after a short
                              retry, so the standby goes on streaming instead of shutting down
  --primary-conninfo <info>   with --standby: primary_conninfo, e.g. 'host=primary port=5432
                              user=replicator' (else an earlier primary_conninfo stays as it is)
other options:
  --restore-command <cmd>     default: '<install dir>/bin/wal-restore %f %p'
  --fetch [<backup>]          first run 'wal-g backup-fetch <data dir> <backup>' (default LATEST);
                              needs wal-g and the storage settings (WALG_S3_PREFIX or WALG_FILE_PREFIX)
  --walg <path>               the wal-g binary (default: wal-g on PATH)
  --pg-bin <dir>              PostgreSQL binaries to check the major version against (default: PATH)
  --force                     prepare even a running, non-empty or other-version data directory
exit codes: 0 prepared; 64 bad arguments; 65 running, not empty before --fetch, or not a data
  directory; 66 no data directory; 75 wal-g backup-fetch failed; 78 wrong major version, or wal-g
  or the storage settings missing
`;

interface Parsed {
  dataDir?: string;
  standby: boolean;
  primaryConninfo?: string;
  /** --target-action was given (a standby takes none). */
  actionGiven: boolean;
  target: RecoveryTarget;
  action: TargetAction;
  timeline: string;
  inclusive?: boolean;
  restoreCommand?: string;
  fetch?: string;
  walg?: string;
  pgBin?: string;
  force: boolean;
}

const TARGETS = ["target-latest", "target-immediate", "target-time", "target-xid", "target-name", "target-lsn"] as const;
const OPTIONS = {
  ...Object.fromEntries(TARGETS.map((name) => [name, { type: name === "target-latest" || name === "target-immediate" ? ("boolean" as const) : ("string" as const) }])),
  inclusive: { type: "boolean" },
  exclusive: { type: "boolean" },
  "target-action": { type: "string" },
  "target-timeline": { type: "string" },
  standby: { type: "boolean" },
  "primary-conninfo": { type: "string" },
  "restore-command": { type: "string" },
  fetch: { type: "string" },
  walg: { type: "string" },
  "pg-bin": { type: "string" },
  force: { type: "boolean" },
} as const;
/** What may follow a bare --fetch as its backup name (anything else is the data directory). */
const BACKUP_NAME = /^(LATEST|base_[0-9A-Za-z_]+)$/;

/** Parses the arguments (node:util parseArgs); throws UsageError. */
export function parseArgs(args: readonly string[]): Parsed {
  // --fetch takes an optional value: a bare one is followed by a backup name or by something else (LATEST).
  const normalised = args.flatMap((arg, i) => (arg === "--fetch" && !BACKUP_NAME.test(args[i + 1] ?? "") ? ["--fetch=LATEST"] : [arg]));
  const { values, positionals, optionNames } = parseStrictly(normalised, OPTIONS);
  const targets = optionNames.filter((name) => (TARGETS as readonly string[]).includes(name));
  if (targets.length > 1) throw new UsageError("give only one recovery target (PostgreSQL allows one)");
  if (values.inclusive && values.exclusive) throw new UsageError("give only one of --inclusive and --exclusive");
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}' (one data directory only)`);
  const actionGiven = values["target-action"] !== undefined;
  const action = (values["target-action"] as string | undefined) ?? "promote";
  if (!["promote", "pause", "shutdown"].includes(action)) throw new UsageError(`--target-action '${action}': expected promote, pause or shutdown`);
  if (values.fetch === "") throw new UsageError("--fetch= needs a backup name");
  const inclusive = values.inclusive ? true : values.exclusive ? false : undefined;
  const standby = values.standby === true;
  if (standby && (actionGiven || inclusive !== undefined)) {
    throw new UsageError("--target-action, --inclusive and --exclusive are for a targeted recovery, not for --standby");
  }
  const named = targets[0] ?? "target-latest";
  const target: RecoveryTarget = named === "target-latest" ? { kind: "latest" } : named === "target-immediate" ? { kind: "immediate" }
    : { kind: named.slice("target-".length) as "time", value: values[named] as string };
  return {
    dataDir: positionals[0],
    standby,
    primaryConninfo: values["primary-conninfo"] as string | undefined,
    actionGiven,
    target,
    action: action as TargetAction,
    timeline: (values["target-timeline"] as string | undefined) ?? "latest",
    inclusive,
    restoreCommand: values["restore-command"] as string | undefined,
    fetch: values.fetch as string | undefined,
    walg: values.walg as string | undefined,
    pgBin: values["pg-bin"] as string | undefined,
    force: values.force === true,
  };
}

export const command: ToolCommand = {
  usage: USAGE,
  // Works on a local directory; only --fetch needs the storage settings, and checks them itself.
  needsConfig: false,
  checkArgs(args) {
    try {
      parseArgs(args);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  },
  async run(args, { config, log }) {
    const parsed = parseArgs(args);
    const dataDir = parsed.dataDir ?? process.env.PGDATA;
    if (!dataDir) throw new UsageError("no data directory given and PGDATA is not set");
    const { prepareRecovery, shellWord } = await import("./prepare.js");
    let fetch: { backup: string; walg: string } | undefined;
    if (parsed.fetch !== undefined) {
      config(); // wal-g reads the same WALG_* settings: a clear configuration error beats a wal-g stack trace
      fetch = { backup: parsed.fetch, walg: parsed.walg ?? requireWalg() };
    }
    const restoreCommand = parsed.restoreCommand ?? `${shellWord(ourLauncher("wal-restore"))} %f %p`;
    const report = await prepareRecovery({
      dataDir: resolve(dataDir),
      recovery: {
        mode: parsed.standby ? "standby" : "targeted", primaryConninfo: parsed.primaryConninfo,
        target: parsed.target, action: parsed.action, timeline: parsed.timeline, inclusive: parsed.inclusive, restoreCommand,
      },
      fetch,
      force: parsed.force,
      serverMajor: () => serverMajor(parsed.pgBin),
    }, log);
    for (const [name, value] of report.settings) log.info(`set ${name} = '${shown(name, value).replaceAll("'", "''")}'`);
    log.info(`wrote ${report.autoConf} and created ${report.signal}`);
    log.info(`next: start the server (pg_ctl -D ${resolve(dataDir)} start) with the storage settings in its environment`);
  },
};

/** A value as printed: a password in primary_conninfo (libpq's key=value form or a URI) is never shown. */
export function shown(name: string, value: string): string {
  if (name !== "primary_conninfo") return value;
  return value
    .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, "$1***")
    .replace(/(:\/\/[^:@/\s]*:)[^@\s]*@/, "$1***@");
}

function requireWalg(): string {
  const found = findOnPath("wal-g");
  if (found) return found;
  throw new WalNativeError("--fetch needs wal-g, which is not on PATH", ExitCode.config,
    { hint: "install wal-g (https://github.com/wal-g/wal-g/releases), pass --walg <path>, or fetch the backup yourself" });
}

/** Major version of `postgres --version` in --pg-bin or on PATH, else of `pg_config --version`. */
async function serverMajor(pgBin: string | undefined): Promise<number | undefined> {
  if (pgBin !== undefined) {
    const postgres = join(pgBin, "postgres");
    if (!isExecutable(postgres)) throw new UsageError(`--pg-bin '${pgBin}' has no postgres executable`);
    return versionOf(postgres);
  }
  const postgres = findOnPath("postgres");
  if (postgres) return versionOf(postgres);
  const pgConfig = findOnPath("pg_config");
  return pgConfig ? versionOf(pgConfig) : undefined;
}

async function versionOf(binary: string): Promise<number | undefined> {
  try {
    const { stdout } = await promisify(execFile)(binary, ["--version"], { timeout: 10_000 });
    const match = /PostgreSQL\)? (\d+)/.exec(stdout);
    return match?.[1] ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

