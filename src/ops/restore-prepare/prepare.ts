// restore-prepare: turn a data directory into one that recovers from the archive, or into a standby that reads it
// (PostgreSQL 12+ style).
import { spawn } from "node:child_process";
import { chown, mkdir, open, readFile, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode, UsageError, WalNativeError } from "../../errors.js";
import type { Logger } from "../../log.js";

export type RecoveryTarget =
  | { readonly kind: "latest" }
  | { readonly kind: "immediate" }
  | { readonly kind: "time" | "xid" | "name" | "lsn"; readonly value: string };

export type TargetAction = "promote" | "pause" | "shutdown";

/** "targeted": recovery.signal (recover, then promote, pause or stop); "standby": standby.signal (follow a primary). */
export type RecoveryMode = "targeted" | "standby";

export interface RecoveryOptions {
  /** Undefined: targeted. */
  readonly mode?: RecoveryMode;
  /** A standby's connection to its primary (primary_conninfo); left as it is when undefined. */
  readonly primaryConninfo?: string;
  readonly target: RecoveryTarget;
  readonly action: TargetAction;
  /** "latest", "current" or a timeline number. */
  readonly timeline: string;
  /** Undefined: PostgreSQL's default (inclusive). */
  readonly inclusive?: boolean;
  readonly restoreCommand: string;
}

export interface PrepareOptions {
  readonly dataDir: string;
  readonly recovery: RecoveryOptions;
  /** Run `wal-g backup-fetch <dataDir> <backup>` first. */
  readonly fetch?: { readonly backup: string; readonly walg: string };
  readonly force: boolean;
  /** Major version of the PostgreSQL binaries that will run the directory; undefined when unknown. */
  readonly serverMajor: () => Promise<number | undefined>;
}

/** Settings this command owns in postgresql.auto.conf; earlier values of each are replaced. */
export const RECOVERY_SETTINGS = [
  "restore_command", "recovery_end_command", "recovery_target", "recovery_target_name", "recovery_target_time",
  "recovery_target_xid", "recovery_target_lsn", "recovery_target_inclusive", "recovery_target_timeline",
  "recovery_target_action",
] as const;

const MARKER = "# recovery settings written by wal-native restore-prepare";

/** Throws UsageError for values PostgreSQL would refuse at start-up (it reports them only in its log). */
export function validateRecovery(options: RecoveryOptions): void {
  const { target } = options;
  if ("value" in target) {
    if (/[\u0000-\u001f\u007f]/.test(target.value)) throw new UsageError(`--target-${target.kind} contains control characters`);
    const problem = TARGET_CHECKS[target.kind](target.value);
    if (problem) throw new UsageError(`--target-${target.kind} '${target.value}': ${problem}`);
  }
  if (!/^(latest|current|[1-9]\d{0,9})$/.test(options.timeline)) {
    throw new UsageError(`--target-timeline '${options.timeline}': expected latest, current or a timeline number`);
  }
  if (options.inclusive !== undefined && !["time", "xid", "lsn"].includes(target.kind)) {
    throw new UsageError("--inclusive/--exclusive apply only to --target-time, --target-xid and --target-lsn");
  }
  if (options.restoreCommand.trim() === "" || /[\n\r\0]/.test(options.restoreCommand)) {
    throw new UsageError("--restore-command must be one non-empty line");
  }
  if (options.primaryConninfo !== undefined) {
    if (options.mode !== "standby") throw new UsageError("--primary-conninfo is for a standby: add --standby");
    if (options.primaryConninfo.trim() === "" || /[\u0000-\u001f\u007f]/.test(options.primaryConninfo)) {
      throw new UsageError("--primary-conninfo must be one non-empty line, like 'host=primary.example port=5432 user=replicator'");
    }
  }
  // A standby replays whatever its primary writes, on the newest timeline; a target would make it stop there.
  if (options.mode === "standby" && target.kind !== "latest") {
    throw new UsageError(`--target-${target.kind} is for a targeted recovery; a standby follows its primary (leave out --standby to recover to a target)`);
  }
}

const TARGET_CHECKS: Record<"time" | "xid" | "name" | "lsn", (value: string) => string | undefined> = {
  // PostgreSQL parses the rest (time zones, fractions); a date first catches swapped or empty arguments.
  time: (v) => (/^\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}.*)?$/.test(v) ? undefined : "expected a timestamp like '2024-01-08 14:30:00+00'"),
  // An xid, or an epoch-qualified 64-bit one (xid8), as recovery_target_xid accepts.
  xid: (v) => (/^\d{1,20}$/.test(v) && BigInt(v) >= 3n && BigInt(v) < 2n ** 64n ? undefined : "expected a transaction id (an integer of at least 3)"),
  // MAXFNAMELEN is 64 bytes including the terminator (xlog_internal.h).
  name: (v) => (v.length > 0 && Buffer.byteLength(v) <= 63 ? undefined : "expected a restore point name of 1 to 63 bytes"),
  lsn: (v) => (/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(v) ? undefined : "expected an LSN like 0/3000060"),
};

/** The settings to write, in order; recovery_target_action only matters when a target is set. */
export function recoverySettings(options: RecoveryOptions): Array<[string, string]> {
  const { target } = options;
  const settings: Array<[string, string]> = [["restore_command", options.restoreCommand]];
  if (target.kind === "immediate") settings.push(["recovery_target", "immediate"]);
  else if (target.kind !== "latest") settings.push([`recovery_target_${target.kind}`, target.value]);
  if (options.inclusive !== undefined) settings.push(["recovery_target_inclusive", options.inclusive ? "on" : "off"]);
  if (target.kind !== "latest") settings.push(["recovery_target_action", options.action]);
  settings.push(["recovery_target_timeline", options.timeline]);
  if (options.primaryConninfo !== undefined) settings.push(["primary_conninfo", options.primaryConninfo]);
  return settings;
}

/** A configuration-file string literal: single quotes, embedded quotes doubled (as ALTER SYSTEM writes). */
export function quoteSetting(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Drops earlier recovery settings, earlier values of what it writes, and our marker from the file's text, and appends the new ones. */
export function rewriteAutoConf(existing: string, settings: ReadonlyArray<readonly [string, string]>): string {
  const owned = new Set<string>([...RECOVERY_SETTINGS, ...settings.map(([name]) => name)]);
  const kept = existing.split("\n").filter((line) => {
    if (line.trim() === MARKER) return false;
    const name = /^\s*([A-Za-z_][\w.]*)\s*(=|\s)/.exec(line)?.[1]?.toLowerCase();
    return name === undefined || !owned.has(name);
  });
  while (kept.length > 0 && kept[kept.length - 1]?.trim() === "") kept.pop();
  const added = settings.map(([name, value]) => `${name} = ${quoteSetting(value)}`);
  return [...kept, MARKER, ...added, ""].join("\n");
}

/** A command argument for a shell (restore_command runs through /bin/sh). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

export interface PrepareReport {
  readonly settings: Array<[string, string]>;
  readonly autoConf: string;
  readonly signal: string;
}

export async function prepareRecovery(options: PrepareOptions, log: Logger): Promise<PrepareReport> {
  const { dataDir, force } = options;
  validateRecovery(options.recovery);
  if (options.fetch) {
    await ensureEmptyDir(dataDir, force);
    await runBackupFetch(options.fetch.walg, dataDir, options.fetch.backup, log);
  }
  const major = await checkDataDir(dataDir);
  refuseUnless(force, await runningPid(dataDir, log), (pid) =>
    new WalNativeError(`data directory '${dataDir}' is in use by a running server (postmaster.pid: pid ${pid})`, ExitCode.dataError,
      { hint: `stop it first (pg_ctl -D ${dataDir} stop); preparing recovery under a running server does nothing until it restarts` }));
  const server = await options.serverMajor();
  if (server === undefined) log.warn("cannot tell the major version of the PostgreSQL binaries; pass --pg-bin to check it");
  refuseUnless(force, server !== undefined && server !== major ? server : undefined, (found) =>
    new WalNativeError(`data directory '${dataDir}' is PostgreSQL ${major} but the server binaries are PostgreSQL ${found}`, ExitCode.config,
      { hint: `point --pg-bin at the PostgreSQL ${major} binaries (e.g. /usr/lib/postgresql/${major}/bin)` }));

  const settings = recoverySettings(options.recovery);
  const owner = await stat(dataDir);
  const autoConf = join(dataDir, "postgresql.auto.conf");
  const existing = await readFile(autoConf, "utf8").catch(() => "");
  await writeOwned(autoConf, rewriteAutoConf(existing, settings), owner);
  const standby = options.recovery.mode === "standby";
  const signal = join(dataDir, standby ? "standby.signal" : "recovery.signal");
  await writeOwned(signal, "", owner);
  await removeStale(join(dataDir, "recovery.conf"), "PostgreSQL 12 and later refuse to start while it exists", log);
  if (standby) await removeStale(join(dataDir, "recovery.signal"), "beside standby.signal it is ignored (the server starts as a standby)", log);
  else await removeStale(join(dataDir, "standby.signal"), "it would start a standby instead of a targeted recovery", log);
  if (owner.uid === 0) log.warn(`'${dataDir}' is owned by root; PostgreSQL will not run it: chown -R postgres: ${dataDir}`);
  return { settings, autoConf, signal };
}

/** Throws the refusal for a problem unless --force was given. */
function refuseUnless<T>(force: boolean, problem: T | undefined, error: (problem: T) => WalNativeError): void {
  if (problem !== undefined && !force) throw error(problem);
}

async function ensureEmptyDir(dir: string, force: boolean): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw localError(`cannot read '${dir}'`, error);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return;
  }
  if (entries.length > 0 && !force) {
    throw new WalNativeError(`'${dir}' is not empty (${entries.length} entries); refusing to fetch a backup into it`, ExitCode.dataError,
      { hint: "move the old data directory aside (keep it until the recovery is verified), or pass --force" });
  }
}

/** Returns the data directory's major version (PG_VERSION); refuses what cannot do PostgreSQL 12+ recovery. */
async function checkDataDir(dir: string): Promise<number> {
  const info = await stat(dir).catch((error: unknown) => {
    throw new WalNativeError(`data directory '${dir}' does not exist`, ExitCode.noInput, { cause: error, hint: "fetch a base backup into it first, or pass --fetch" });
  });
  if (!info.isDirectory()) throw new WalNativeError(`'${dir}' is not a directory`, ExitCode.noInput);
  const text = await readFile(join(dir, "PG_VERSION"), "utf8").catch(() => undefined);
  const major = Number.parseInt(text?.trim() ?? "", 10);
  if (!Number.isInteger(major)) {
    throw new WalNativeError(`'${dir}' is not a PostgreSQL data directory (no readable PG_VERSION)`, ExitCode.dataError,
      { hint: "restore a base backup into it first (wal-g backup-fetch or pg_basebackup), or pass --fetch" });
  }
  if (major < 12) {
    throw new WalNativeError(`'${dir}' is PostgreSQL ${major}; restore-prepare writes PostgreSQL 12+ recovery settings`, ExitCode.dataError,
      { hint: "PostgreSQL 11 and older use recovery.conf" });
  }
  return major;
}

/** The pid in postmaster.pid when that process is alive; a stale file (crash, copied backup) is only reported. */
async function runningPid(dir: string, log: Logger): Promise<number | undefined> {
  const text = await readFile(join(dir, "postmaster.pid"), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const pid = Number.parseInt(text.split("\n")[0] ?? "", 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EPERM") return pid;
    log.warn(`ignoring stale postmaster.pid in '${dir}' (pid ${pid} is not running)`);
    return undefined;
  }
}

/** Writes via a temporary file and rename, mode 0600, owned like the data directory (when run as root). */
async function writeOwned(path: string, text: string, owner: { uid: number; gid: number }): Promise<void> {
  const temp = `${path}.restore-prepare.tmp`;
  try {
    const handle = await open(temp, "w", 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (process.getuid?.() === 0) await chown(temp, owner.uid, owner.gid);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw localError(`cannot write '${path}'`, error);
  }
}

async function removeStale(path: string, why: string, log: Logger): Promise<void> {
  try {
    await unlink(path);
    log.warn(`removed ${path}: ${why}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw localError(`cannot remove '${path}'`, error);
  }
}

/** wal-g writes its progress to stderr; both its streams go to ours so stdout stays clean. */
async function runBackupFetch(walg: string, dir: string, backup: string, log: Logger): Promise<void> {
  log.info(`fetching backup ${backup} into ${dir}: ${walg} backup-fetch ${dir} ${backup}`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(walg, ["backup-fetch", dir, backup], { stdio: ["ignore", 2, 2] });
    child.once("error", reject);
    child.once("close", (status, signal) => resolve(status ?? (signal ? 128 : 1)));
  }).catch((error: unknown) => {
    throw new WalNativeError(`cannot run '${walg}': ${(error as Error).message}`, ExitCode.config, { cause: error });
  });
  if (code !== 0) {
    throw new WalNativeError(`wal-g backup-fetch ${backup} failed (exit ${code})`, ExitCode.tempFailure,
      { hint: `see wal-g's messages above; '${dir}' may hold a partial backup: empty it before trying again` });
  }
}

function localError(message: string, cause: unknown): WalNativeError {
  return new WalNativeError(`${message}: ${(cause as Error).message}`, ExitCode.tempFailure, { cause });
}
