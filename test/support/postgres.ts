// Real PostgreSQL clusters for e2e tests, run as the postgres OS user from a root test process: Debian's
// 15 by default, another major with WALNATIVE_TEST_PG or initCluster({ major }) (test/support/tools.ts).
// Every cluster and work dir made here is stopped/removed in afterAll (registered on import).
import { spawn } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, inject } from "vitest";
import { freePort } from "./minio-server.js";
import { ensureTraversable, REPO_BIN, WORK_DIR_PREFIX } from "./paths.js";
import { takeBaseBackup } from "./base-backup.js";
import { PG_BIN, PG_MAJOR, pgBinFor, requireTool } from "./tools.js";

export interface Cluster {
  root: string;    // postgres-owned dir holding data/, the log and the unix socket
  data: string;    // PGDATA
  port: number;
  logFile: string;
  bin: string;     // initdb, pg_ctl, postgres of the cluster's major, and the clients (psql, pgbench)
  major: number;
}

export interface RunResult { stdout: string; stderr: string; code: number }

const workDirs: string[] = [];
const clusters: Cluster[] = [];
const PG_UID_GID = { uid: -1, gid: -1 };

afterAll(cleanup);

/** PATH given to every postgres-user process: our commands first, then node, then PostgreSQL. */
export const PG_PATH = [REPO_BIN, dirname(process.execPath), PG_BIN, "/usr/local/bin", "/usr/bin", "/bin"].join(":");

/** Runs a command as postgres with exactly the base env plus `env` (nothing else leaks in). */
export async function runAsPostgres(
  cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; check?: boolean } = {},
): Promise<RunResult> {
  const env = { PATH: PG_PATH, HOME: "/var/lib/postgresql", LANG: "C.UTF-8", ...opts.env };
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const child = spawn("runuser", ["-u", "postgres", "--", "env", "-i", ...envArgs, cmd, ...args], {
    stdio: ["pipe", "pipe", "pipe"], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
  // A child that exits without reading its input (id, a failing command) must not crash the test with EPIPE.
  child.stdin.on("error", () => undefined);
  child.stdin.end(opts.input ?? "");
  const code = await new Promise<number>((res, rej) => {
    child.once("error", rej);
    child.once("close", (c) => res(c ?? 128));
  });
  if (code !== 0 && opts.check !== false) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${code} (as postgres)\n${stderr}${stdout}`);
  }
  return { stdout, stderr, code };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  if (PG_UID_GID.uid < 0) {
    const { stdout } = await runAsPostgres("id", []);
    PG_UID_GID.uid = Number(/uid=(\d+)/.exec(stdout)?.[1]);
    PG_UID_GID.gid = Number(/gid=(\d+)/.exec(stdout)?.[1]);
  }
  return PG_UID_GID;
}

/** Creates a dir owned by postgres (mode 0755), with traversable parents. */
export async function mkdirAsPostgres(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  const { uid, gid } = await postgresIds();
  await chown(path, uid, gid);
  await chmod(path, 0o755);
  await ensureTraversable(path);
  return path;
}

/** A fresh /tmp/wal-native-test-<run>-<label>-XXXXXX dir owned by postgres; removed in afterAll. */
export async function makeWorkDir(label = "pg"): Promise<string> {
  const runId = inject("runId") ?? "norun";
  const dir = await mkdtemp(`${WORK_DIR_PREFIX}${runId}-${label}-`);
  workDirs.push(dir);
  return mkdirAsPostgres(dir);
}

/**
 * initdb a new cluster (trust auth, C locale, fsync off) listening on a free 127.0.0.1 port; `major`
 * picks the npm package's binaries of that major, else the e2e default (PG_BIN).
 */
export async function initCluster(
  opts: { workDir?: string; name?: string; walSegSizeMb?: number; major?: number } = {},
): Promise<Cluster> {
  if (opts.major === undefined) requireTool("initdb", "apt-get install postgresql-15 (or run bash scripts/setup-test-tools.sh)");
  const { bin, major } = opts.major === undefined ? { bin: PG_BIN, major: PG_MAJOR } : { bin: pgBinFor(opts.major), major: opts.major };
  const root = await mkdirAsPostgres(join(opts.workDir ?? (await makeWorkDir()), opts.name ?? "primary"));
  const data = join(root, "data");
  const segArgs = opts.walSegSizeMb === undefined ? [] : [`--wal-segsize=${opts.walSegSizeMb}`];
  await runAsPostgres(join(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust",
    "--locale=C", "-E", "UTF8", "--no-sync", ...segArgs]);
  return adopt(root, { bin, major });
}

/**
 * A cluster record for a data dir at root/data that is not started yet (a restored backup); it runs
 * with the binaries of `like`. Tracked for cleanup; nothing is written to its configuration.
 */
export async function clusterAt(root: string, like: Pick<Cluster, "bin" | "major">): Promise<Cluster> {
  const cluster: Cluster = { root, data: join(root, "data"), port: await clusterPort(), logFile: join(root, "postgres.log"), bin: like.bin, major: like.major };
  clusters.push(cluster);
  return cluster;
}

/**
 * A free port for a cluster, below the kernel's ephemeral range (ip_local_port_range). A port from
 * freePort() (port 0) lies inside that range, where every outgoing connection on the machine (S3 clients,
 * other test runs) takes ports too, and it can be taken before the server binds it: seen under load as
 * "could not bind IPv4 address "127.0.0.1": Address already in use".
 */
async function clusterPort(): Promise<number> {
  const range = await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => "");
  const ephemeralStart = Number(range.trim().split(/\s+/)[0]);
  if (!(ephemeralStart > 11_000)) return freePort();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralStart - 10_000));
    if (await canBind(port)) return port;
  }
  return freePort();
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Gives an existing data dir at root/data its own port and socket dir, and tracks it for cleanup. */
async function adopt(root: string, like: Pick<Cluster, "bin" | "major">): Promise<Cluster> {
  const cluster: Cluster = { root, data: join(root, "data"), port: await clusterPort(), logFile: join(root, "postgres.log"), bin: like.bin, major: like.major };
  clusters.push(cluster);
  await configure(cluster, {
    port: cluster.port, listen_addresses: "127.0.0.1", unix_socket_directories: root,
    fsync: "off", max_connections: 20, shared_buffers: "32MB", max_wal_senders: 4,
  });
  return cluster;
}

/** Sets parameters in postgresql.auto.conf, replacing earlier values of the same names. */
export async function configure(cluster: Cluster, settings: Record<string, string | number | boolean>): Promise<void> {
  const file = join(cluster.data, "postgresql.auto.conf");
  const names = new Set(Object.keys(settings).map((k) => k.toLowerCase()));
  const kept = (await readFile(file, "utf8").catch(() => "")).split("\n")
    .filter((line) => line !== "" && !names.has(line.split("=")[0]?.trim().toLowerCase() ?? ""));
  const added = Object.entries(settings).map(([k, v]) => `${k} = '${String(v).replaceAll("'", "''")}'`);
  await writeFile(file, [...kept, ...added, ""].join("\n"));
  const { uid, gid } = await postgresIds();
  await chown(file, uid, gid);
}

/**
 * pg_ctl start -w; `env` reaches the server and so archive_command/restore_command. A port another process
 * took in the meantime is replaced by a new one (cluster.port changes), up to twice.
 */
export async function start(cluster: Cluster, env: Record<string, string> = {}): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await runAsPostgres(join(cluster.bin, "pg_ctl"),
      ["-D", cluster.data, "-l", cluster.logFile, "-w", "-t", "120", "start"], { env, check: false });
    if (res.code === 0) return;
    const tail = await logTail(cluster, 8);
    if (attempt < 3 && /could not bind .*Address already in use/.test(tail)) {
      cluster.port = await clusterPort();
      await configure(cluster, { port: cluster.port });
      continue;
    }
    throw new Error(`pg_ctl start failed (${res.code}): ${res.stderr}\n${await logTail(cluster)}`);
  }
}

export async function stop(cluster: Cluster, mode: "smart" | "fast" | "immediate" = "fast"): Promise<void> {
  const res = await runAsPostgres(join(cluster.bin, "pg_ctl"),
    ["-D", cluster.data, "-m", mode, "-w", "-t", "120", "stop"], { check: false });
  if (res.code !== 0) throw new Error(`pg_ctl stop failed (${res.code}): ${res.stderr}\n${await logTail(cluster)}`);
}

export async function isRunning(cluster: Cluster): Promise<boolean> {
  const res = await runAsPostgres(join(cluster.bin, "pg_ctl"), ["-D", cluster.data, "status"], { check: false });
  return res.code === 0;
}

/** Runs an SQL script (psql -X -A -t, ON_ERROR_STOP); returns trimmed stdout. */
export async function psql(cluster: Cluster, sql: string, db = "postgres"): Promise<string> {
  const res = await runAsPostgres(join(cluster.bin, "psql"), ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
    "-h", cluster.root, "-p", String(cluster.port), "-d", db, "-f", "-"], { input: sql });
  return res.stdout.trim();
}

/** pgbench against the cluster (connection flags added); returns stdout. */
export async function pgbench(cluster: Cluster, args: string[]): Promise<string> {
  const res = await runAsPostgres(join(cluster.bin, "pgbench"), ["-h", cluster.root, "-p", String(cluster.port), ...args]);
  return res.stdout;
}

/**
 * A base backup into destRoot/data with the WAL it needs to become consistent (as pg_basebackup
 * -X stream), taken with the low-level backup API so that it works for every major; returns it as a
 * new (stopped) cluster with its own port.
 */
export async function basebackup(cluster: Cluster, destRoot: string): Promise<Cluster> {
  await mkdirAsPostgres(destRoot);
  await takeBaseBackup(cluster, join(destRoot, "data"), { includeWal: true });
  return adopt(destRoot, cluster);
}

/** Polls until `condition` returns a truthy value (returned); errors it throws count as "not yet". */
export async function waitFor<T>(
  condition: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${opts.what ?? "condition"}${last === undefined ? "" : `: ${String(last)}`}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

export async function logTail(cluster: Cluster, lines = 40): Promise<string> {
  const text = await readFile(cluster.logFile, "utf8").catch(() => "(no log)");
  return `--- last lines of ${cluster.logFile} ---\n${text.split("\n").slice(-lines).join("\n")}`;
}

/** Stops every cluster (immediate) and removes every work dir made in this file; set WALNATIVE_TEST_KEEP=1 to keep dirs. */
export async function cleanup(): Promise<void> {
  for (const cluster of clusters.splice(0)) {
    if (await isRunning(cluster)) await stop(cluster, "immediate").catch(() => undefined);
  }
  if (process.env["WALNATIVE_TEST_KEEP"] === "1") return;
  for (const dir of workDirs.splice(0)) {
    await stopPrefetchWorkers(dir);
    // maxRetries: a worker that was between two files when it was stopped may still add one.
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

/**
 * wal-restore's prefetch workers and wal-archive's background uploaders outlive their cluster by up to
 * 30 s; stop those under this dir.
 */
export async function stopPrefetchWorkers(root: string): Promise<void> {
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  const pidFiles = [join(".wal-native", "prefetch", "worker.pid"), join(".wal-native", "uploader.pid")];
  for (const entry of entries.filter((path) => pidFiles.some((pidFile) => path.endsWith(pidFile)))) {
    // "<pid> <boot id> <start time>" (src/daemon/identity.ts): the pid is the first word.
    const pid = Number((await readFile(join(root, entry), "utf8").catch(() => "")).split(" ")[0]);
    if (pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}
