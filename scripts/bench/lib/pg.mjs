// PostgreSQL 15 clusters for the benchmark, run as the postgres OS user: initdb, settings, start/stop, psql.
import { execFileSync } from "node:child_process";
import { appendFileSync, chownSync, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { onCleanup } from "./cleanup.mjs";
import { check, PG_BIN, postgresEnv, postgresIds, run } from "./proc.mjs";

/** A cluster lives in root/: data/, the server log and the unix socket. */
export function clusterAt(root, port) {
  return { root, data: join(root, "data"), logFile: join(root, "postgres.log"), port };
}

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export async function initdb(cluster) {
  await check(join(PG_BIN, "initdb"), ["-D", cluster.data, "-U", "postgres", "-A", "trust", "--locale=C",
    "-E", "UTF8", "--no-sync"], { asPostgres: true, env: postgresEnv() });
}

/**
 * Appends settings to postgresql.auto.conf (the last value of a name wins). Always sets the port, socket
 * dir, no TCP, millisecond UTC log timestamps (restore times are read from the log) and fsync off.
 */
export function configure(cluster, settings = {}) {
  const all = {
    port: cluster.port, listen_addresses: "", unix_socket_directories: cluster.root,
    log_line_prefix: "%m [%p] ", log_timezone: "UTC", fsync: "off", max_connections: 20, ...settings,
  };
  const file = join(cluster.data, "postgresql.auto.conf");
  appendFileSync(file, Object.entries(all).map(([k, v]) => `${k} = '${String(v).replaceAll("'", "''")}'\n`).join(""));
  const { uid, gid } = postgresIds();
  chownSync(file, uid, gid);
}

/**
 * pg_ctl start; `env` is complete when it has PATH, else added to postgresEnv(). `wait` false returns as soon as the postmaster is launched (recovery timing reads the log).
 * Registers an immediate stop for cleanup; returns the function that runs it.
 */
export async function start(cluster, env = {}, { wait = true } = {}) {
  const stopOnExit = onCleanup(`stop cluster ${cluster.data}`, () => stopSync(cluster));
  const result = await run(join(PG_BIN, "pg_ctl"),
    ["-D", cluster.data, "-l", cluster.logFile, wait ? "-w" : "-W", "-t", "300", "start"],
    { asPostgres: true, env: { ...(env.PATH ? env : postgresEnv(env)), PGDATA: cluster.data } });
  if (result.code !== 0) throw new Error(`pg_ctl start failed (${result.code}): ${result.stderr}\n${logTail(cluster)}`);
  return stopOnExit;
}

export async function stop(cluster, mode = "fast") {
  if (!isRunning(cluster)) return;
  await check(join(PG_BIN, "pg_ctl"), ["-D", cluster.data, "-m", mode, "-w", "-t", "120", "stop"],
    { asPostgres: true, env: postgresEnv() });
}

/** Synchronous immediate stop, for cleanup paths. */
export function stopSync(cluster) {
  if (!isRunning(cluster)) return;
  execFileSync(join(PG_BIN, "pg_ctl"), ["-D", cluster.data, "-m", "immediate", "-w", "-t", "60", "stop"],
    { ...postgresIds(), env: postgresEnv(), stdio: "ignore" });
}

export function isRunning(cluster) {
  const pidFile = join(cluster.data, "postmaster.pid");
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs SQL through psql (-X -A -t, stop on error); returns trimmed stdout. */
export async function psql(cluster, sql) {
  const result = await check(join(PG_BIN, "psql"), ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
    "-h", cluster.root, "-p", String(cluster.port), "-d", "postgres", "-f", "-"],
  { asPostgres: true, env: postgresEnv(), input: sql });
  return result.stdout.trim();
}

export async function pgbench(cluster, args) {
  return check(join(PG_BIN, "pgbench"), ["-h", cluster.root, "-p", String(cluster.port), ...args],
    { asPostgres: true, env: postgresEnv() });
}

export function logTail(cluster, lines = 30) {
  const text = existsSync(cluster.logFile) ? readFileSync(cluster.logFile, "utf8") : "(no log)";
  return `--- last lines of ${cluster.logFile} ---\n${text.trimEnd().split("\n").slice(-lines).join("\n")}`;
}

/** "2026-01-02 03:04:05.678 UTC" (log_line_prefix %m with log_timezone UTC) -> epoch ms. */
export function logTimestamp(line) {
  const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC/.exec(line);
  return match ? Date.parse(`${match[1]}T${match[2]}Z`) : undefined;
}
