// Restore drills (test-restore.sh, test-pitr.sh, dr-drill.sh): fetch a backup with wal-g (or copy a base
// backup directory), recover it with our restore_command into an isolated temporary cluster on another
// port, check it (pg_amcheck and a query), report the measured recovery time, and clean up whatever happens.
import { stopPrefetchWorker } from "../../restore/prefetch/index.js";
import { appendFile, chmod, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../log.js";
import { type RunOptions, DrillError, freePort, mustRun, runProcess } from "./process.js";

export interface DrillOptions {
  readonly kind: "restore" | "pitr" | "dr";
  /** wal-g backup name or LATEST; with fromDirectory, the backup directory to copy. */
  readonly backup: string;
  /** The backup is a directory (a plain base backup) to copy instead of fetching one with wal-g. */
  readonly fromDirectory?: boolean;
  /** restore-prepare target options, e.g. ["--target-time", "2024-01-08 14:30:00+00"]; [] for latest. */
  readonly target: readonly string[];
  readonly pgBin: string;
  readonly walg: string;
  /** Our wal-native launcher (restore-prepare). */
  readonly walNative: string;
  /** OS user that owns and runs the cluster when we are root. */
  readonly osUser: string;
  readonly dbUser: string;
  readonly parentDir?: string;
  readonly keep: boolean;
  readonly query: string;
  readonly expect?: string;
  readonly amcheck: boolean;
  readonly timeoutMs: number;
  /** Read the local fast-recovery archive too (off by default: the drill proves the remote archive). */
  readonly useLocalArchive: boolean;
}

export interface DrillReport {
  readonly kind: DrillOptions["kind"];
  readonly backup: string;
  readonly target: string;
  readonly port: number;
  readonly fetchSeconds: number;
  readonly recoverySeconds: number;
  readonly totalSeconds: number;
  readonly timeline: number;
  readonly lsn: string;
  readonly amcheck: string;
  readonly queryResult: string;
}

/** Settings that keep the drill cluster away from production: own port, socket only, never archiving. */
function isolation(work: string, port: number): Record<string, string> {
  return {
    port: String(port),
    listen_addresses: "",
    unix_socket_directories: work,
    hba_file: join(work, "pg_hba.conf"),
    ident_file: join(work, "pg_ident.conf"),
    // A promoted drill cluster must never push its new timeline into the production archive.
    archive_mode: "off",
    archive_command: "",
    logging_collector: "off",
    shared_buffers: "128MB",
    max_connections: "20",
    // With hot standby, recovery refuses to run with fewer connections (and workers, locks, prepared
    // transactions) than the primary had: "recovery aborted because of insufficient parameter settings" for
    // any primary above 20 connections. The drill connects only once it has promoted.
    hot_standby: "off",
  };
}

export async function runDrill(options: DrillOptions, log: Logger, say: (line: string) => void): Promise<DrillReport> {
  const started = performance.now();
  const work = await mkdtemp(join(options.parentDir ?? tmpdir(), "wal-native-drill-"));
  const data = join(work, "data");
  const port = await freePort();
  const env = drillEnv(work, options);
  // pg_ctl changes into its working directory first: run there, not in the caller's (root's home is 0700).
  const asUser: RunOptions = { user: options.osUser, env, cwd: work };
  let serverStarted = false;
  let ok = false;
  try {
    await handOver(work, options.osUser);
    say(`${options.kind} drill: ${options.backup} (${describeTarget(options.target)}) into ${work}, port ${port}`);
    const fetchStart = performance.now();
    if (options.fromDirectory) await copyBackup(options.backup, data, asUser);
    const fetch = options.fromDirectory ? [] : ["--fetch", options.backup, "--walg", options.walg];
    await mustRun(options.fromDirectory ? "restore-prepare" : "restore-prepare --fetch", options.walNative, [
      "restore-prepare", data, ...fetch, "--pg-bin", options.pgBin,
      ...options.target, "--target-action", "promote",
    ], { ...asUser, passStderr: true });
    const fetchSeconds = (performance.now() - fetchStart) / 1000;
    say(`${options.fromDirectory ? "copied" : "fetched"} and prepared the backup in ${fetchSeconds.toFixed(1)} s`);
    await isolate(work, data, port, options.osUser);

    const recoveryStart = performance.now();
    serverStarted = true;
    await mustRun("pg_ctl start", join(options.pgBin, "pg_ctl"), ["-D", data, "-l", join(work, "postgres.log"), "-w", "-t", String(Math.ceil(options.timeoutMs / 1000)), "start"], asUser)
      .catch(async (error: Error) => {
        throw new DrillError(`${error.message}\n${await logTail(work)}`);
      });
    const sql = (text: string, db = "postgres"): Promise<string> => psql(options, work, port, text, db, asUser);
    await waitForPromotion(sql, options.timeoutMs, work);
    const recoverySeconds = (performance.now() - recoveryStart) / 1000;
    const position = (await sql("select timeline_id || ' ' || pg_current_wal_lsn() from pg_control_checkpoint()")).split(" ");
    say(`recovered and promoted in ${recoverySeconds.toFixed(1)} s (timeline ${position[0]}, LSN ${position[1]})`);

    const amcheck = options.amcheck ? await runAmcheck(options, work, port, asUser) : "skipped";
    say(`pg_amcheck: ${amcheck}`);
    const queryResult = await sql(options.query);
    if (options.expect !== undefined && queryResult !== options.expect) {
      throw new DrillError(`query '${options.query}' returned '${queryResult}', expected '${options.expect}'`);
    }
    say(`query '${options.query}' -> ${queryResult}${options.expect !== undefined ? " (as expected)" : ""}`);
    const totalSeconds = (performance.now() - started) / 1000;
    say(`OK: recovery time ${totalSeconds.toFixed(1)} s (${options.fromDirectory ? "copy" : "fetch"} ${fetchSeconds.toFixed(1)} s + replay ${recoverySeconds.toFixed(1)} s + checks)`);
    ok = true;
    return {
      kind: options.kind, backup: options.backup, target: describeTarget(options.target), port,
      fetchSeconds: ms(fetchSeconds), recoverySeconds: ms(recoverySeconds), totalSeconds: ms(totalSeconds), timeline: Number(position[0]), lsn: position[1] ?? "", amcheck, queryResult,
    };
  } finally {
    if (serverStarted) await runProcess(join(options.pgBin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], asUser).catch(() => undefined);
    if (options.keep) log.info(`kept ${work}${ok ? "" : " for inspection"}`);
    else {
      await stopPrefetchWorker(join(data, "pg_wal"));
      await rm(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
  }
}

/** The storage settings pass through; nothing that could point at the production cluster does. */
function drillEnv(work: string, options: DrillOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["PGDATA", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"]) delete env[name];
  if (!options.useLocalArchive) env.WALNATIVE_LOCAL_ARCHIVE = "";
  env.WALNATIVE_RESTORE_LOG = join(work, "wal-restore.log");
  env.WALNATIVE_ARCHIVE_LOG = "";
  return env;
}

/**
 * The backup directory copied as the drill's data directory, by the OS user that runs the cluster (so it
 * owns every file); the original stays as it was, for the next drill. Nothing is copied from a directory
 * that is not a PostgreSQL data directory.
 */
async function copyBackup(dir: string, data: string, run: RunOptions): Promise<void> {
  if ((await readFile(join(dir, "PG_VERSION"), "utf8").catch(() => undefined)) === undefined) {
    throw new DrillError(`'${dir}' is not a PostgreSQL data directory (no readable PG_VERSION)`,
      "pass a base backup directory: pg_basebackup -Fp, or a copy taken between pg_backup_start and pg_backup_stop");
  }
  await mustRun("copy the backup", "cp", ["-a", "--", dir, data], run);
}

async function handOver(work: string, osUser: string): Promise<void> {
  await chmod(work, 0o700);
  const ids = await userIds(osUser);
  if (ids) await chown(work, ids.uid, ids.gid);
}

/** uid and gid of the OS user when we are root (and must hand files over); undefined otherwise. */
async function userIds(osUser: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = await runProcess("id", ["-u", osUser], { env: process.env });
  const gid = await runProcess("id", ["-g", osUser], { env: process.env });
  if (uid.code !== 0 || gid.code !== 0) throw new DrillError(`OS user '${osUser}' does not exist`, "pass --os-user, the user PostgreSQL runs as");
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function isolate(work: string, data: string, port: number, osUser: string): Promise<void> {
  const lines = Object.entries(isolation(work, port)).map(([name, value]) => `${name} = '${value.replaceAll("'", "''")}'`);
  await appendFile(join(data, "postgresql.auto.conf"), `# wal-native drill: isolated from production\n${lines.join("\n")}\n`);
  // Debian's and Ubuntu's clusters keep postgresql.conf in /etc/postgresql, so their backups have none; the drill
  // needs nothing from it (its own settings are in postgresql.auto.conf), but the server will not start without one.
  const conf = join(data, "postgresql.conf");
  const created = await writeFile(conf, "# wal-native drill: the backed-up cluster kept its postgresql.conf elsewhere\n", { flag: "wx" }).then(() => true, () => false);
  // Socket in a 0700 directory and no TCP: trust is safe here and spares the drill any passwords.
  await writeFile(join(work, "pg_hba.conf"), "local all all trust\n");
  await writeFile(join(work, "pg_ident.conf"), "");
  const ids = await userIds(osUser);
  for (const file of [join(data, "postgresql.auto.conf"), join(work, "pg_hba.conf"), join(work, "pg_ident.conf"), ...(created ? [conf] : [])]) {
    if (ids) await chown(file, ids.uid, ids.gid);
  }
}

async function psql(options: DrillOptions, work: string, port: number, sql: string, db: string, run: RunOptions): Promise<string> {
  const result = await mustRun(`psql '${sql}'`, join(options.pgBin, "psql"), [
    "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", work, "-p", String(port), "-U", options.dbUser, "-d", db, "-c", sql,
  ], run);
  return result.stdout.trim();
}

/** Recovery is over when the server has promoted (pg_is_in_recovery() false); a FATAL stops the server. */
async function waitForPromotion(sql: (text: string) => Promise<string>, timeoutMs: number, work: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await sql("select pg_is_in_recovery()").catch(() => undefined);
    if (state === "f") return;
    if (Date.now() > deadline) throw new DrillError(`recovery did not finish within ${timeoutMs / 1000} s\n${await logTail(work)}`);
    const log = await readFile(join(work, "postgres.log"), "utf8").catch(() => "");
    if (state === undefined && stoppedTheServer(log)) throw new DrillError(`recovery failed\n${await logTail(work)}`);
    await sleep(200);
  }
}

/** A FATAL or PANIC that ends the server, not one that only turns away our connection while it recovers (hot_standby off). */
export function stoppedTheServer(log: string): boolean {
  return log.split("\n").some((line) => /\b(FATAL|PANIC):/.test(line) && !/the database system is (starting up|not accepting connections|not yet accepting connections|in recovery mode)/.test(line));
}

async function runAmcheck(options: DrillOptions, work: string, port: number, run: RunOptions): Promise<string> {
  const result = await runProcess(join(options.pgBin, "pg_amcheck"), [
    "-h", work, "-p", String(port), "-U", options.dbUser, "--all", "--install-missing", "--heapallindexed",
  ], run);
  if (result.code !== 0) {
    throw new DrillError(`pg_amcheck found problems (exit ${result.code}):\n  ${`${result.stdout}${result.stderr}`.trim().split("\n").slice(0, 20).join("\n  ")}`);
  }
  return "no corruption found (all databases, heap and B-tree indexes)";
}

async function logTail(work: string): Promise<string> {
  const text = await readFile(join(work, "postgres.log"), "utf8").catch(() => "(no server log)");
  return `last lines of the drill server's log:\n  ${text.trim().split("\n").slice(-12).join("\n  ")}`;
}

/** Seconds rounded to milliseconds, for the JSON report. */
function ms(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

export function describeTarget(target: readonly string[]): string {
  return target.length === 0 ? "latest" : target.join(" ").replace(/^--target-/, "");
}
