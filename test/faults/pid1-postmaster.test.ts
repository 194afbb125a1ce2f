// PostgreSQL as PID 1 of its own PID namespace, as in a container without an init. Such a postmaster adopts every
// orphan of the namespace and reaps it as its own child: one that dies by a signal or exits with a status other than
// 0 or 1 is taken for a crashed backend, and every session is terminated (PostgreSQL 13 to 18; 18 calls it an
// "untracked child process"). The OOM killer's SIGKILL of a helper of ours that outlived its call did exactly that.
// Here the server archives and then recovers with wal-archive and wal-restore as PID 1; whatever of ours the
// postmaster has adopted is SIGKILLed while a session is open, and that session must survive.
//
// Never pg_ctl such a server from outside its namespace: its postmaster.pid says 1. It is stopped by signalling the
// postmaster's pid as this process sees it, found as the child of `unshare`.
import { type ChildProcess, spawn } from "node:child_process";
import { readFile, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { minioEnv, uniquePrefix } from "../support/minio.js";
import { type Cluster, basebackup, configure, initCluster, makeWorkDir, psql, runAsPostgres, waitFor } from "../support/postgres.js";
import { PG_BIN } from "../support/tools.js";
import { BIN } from "./tools.js";

interface Pid1Server {
  readonly cluster: Cluster;
  readonly unshare: ChildProcess;
  /** The postmaster's pid in this (the test's) namespace. */
  readonly postmaster: number;
  readonly exited: Promise<void>;
}

const servers: Pid1Server[] = [];
let prefix: string;
let primary: Cluster;
let workDir: string;

/** Parent pid and command line of a process, as this namespace sees it; undefined once it is gone. */
async function processInfo(pid: number): Promise<{ ppid: number; cmdline: string } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).replaceAll("\0", " ").trim();
    return { ppid, cmdline };
  } catch {
    return undefined;
  }
}

async function childrenOf(parent: number): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const info = await processInfo(pid);
    if (info?.ppid === parent) found.push({ pid, cmdline: info.cmdline });
  }
  return found;
}

/** Starts the cluster's postgres as PID 1 of a new PID namespace (and mount namespace, for its own /proc). */
async function startAsPid1(cluster: Cluster, env: Record<string, string>): Promise<Pid1Server> {
  const path = [BIN, dirname(process.execPath), PG_BIN, "/usr/bin", "/bin"].join(":");
  const environment = Object.entries({ PATH: path, HOME: "/var/lib/postgresql", LANG: "C.UTF-8", ...env }).map(([k, v]) => `${k}=${v}`);
  const log = (await import("node:fs")).openSync(cluster.logFile, "a");
  const unshare = spawn("unshare", ["--pid", "--fork", "--mount-proc", "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
    "env", "-i", ...environment, join(cluster.bin, "postgres"), "-D", cluster.data], { cwd: cluster.data, stdio: ["ignore", log, log] });
  const exited = new Promise<void>((resolve) => unshare.once("exit", () => resolve()));
  const postmaster = await waitFor(async () => (await childrenOf(unshare.pid as number))[0]?.pid, { what: "the postmaster to start" });
  const server = { cluster, unshare, postmaster, exited };
  servers.push(server);
  // It is PID 1 where it runs: its own postmaster.pid says so.
  await waitFor(async () => (await readFile(join(cluster.data, "postmaster.pid"), "utf8")).split("\n")[0] === "1", { what: "postmaster.pid" });
  await waitFor(async () => (await psql(cluster, "select 1")) === "1", { what: "connections", timeoutMs: 120_000 });
  return server;
}

/** Fast shutdown by signal (never pg_ctl: postmaster.pid says 1); the kernel then ends whatever is left in the namespace. */
async function stopPid1(server: Pid1Server): Promise<void> {
  try {
    process.kill(server.postmaster, "SIGINT");
  } catch {
    // already gone
  }
  await server.exited;
}

/** Processes the postmaster has adopted: its children that are not PostgreSQL's own ("postgres: ..." titles). */
async function adoptedOrphans(server: Pid1Server): Promise<{ pid: number; cmdline: string }[]> {
  return (await childrenOf(server.postmaster)).filter((child) => !child.cmdline.startsWith("postgres:"));
}

async function session(cluster: Cluster): Promise<pg.Client> {
  const client = new pg.Client({ host: cluster.root, port: cluster.port, user: "postgres", database: "postgres" });
  client.on("error", () => undefined); // asserted through the next query instead
  await client.connect();
  return client;
}

/**
 * SIGKILLs every orphan of ours the postmaster has adopted (what the OOM killer does) and waits until the postmaster
 * has reaped them: it handles a crash in the same step (signals every backend at once), so a session is gone by then
 * if it is going to be. Returns what it killed.
 */
async function killAdopted(server: Pid1Server): Promise<string[]> {
  const orphans = await adoptedOrphans(server);
  for (const orphan of orphans) process.kill(orphan.pid, "SIGKILL");
  for (const orphan of orphans) await waitFor(async () => (await processInfo(orphan.pid)) === undefined, { what: `pid ${orphan.pid} reaped` });
  return orphans.map((orphan) => orphan.cmdline);
}

const CRASH = /terminated by signal|exited with exit code|terminating any other active server processes|reinitializing/;

/** The server's log lines that tell of a child's crash and the restart of every process. */
async function crashLines(cluster: Cluster): Promise<string[]> {
  return (await readFile(cluster.logFile, "utf8")).split("\n").filter((line) => CRASH.test(line));
}

/** The session's backend and the table's rows, or why the session failed (with what was killed and the log's crash lines). */
async function stillServing(client: pg.Client, cluster: Cluster, killed: string[]): Promise<unknown> {
  return client.query("select pg_backend_pid() as pid, count(*)::int as rows from t").then(
    (result) => result.rows[0],
    async (error: Error) => ({ error: error.message, killed, log: await crashLines(cluster) }),
  );
}

beforeAll(async () => {
  prefix = uniquePrefix("pid1");
  workDir = await makeWorkDir("pid1");
  primary = await initCluster({ workDir, walSegSizeMb: 1 });
  await configure(primary, { archive_mode: "on", archive_command: `${BIN}/wal-archive %p %f` });
}, 120_000);

afterAll(async () => {
  for (const server of servers.splice(0)) await stopPid1(server);
  // The helpers' pid files name pids of the namespaces, which mean other processes here: the cleanup that stops
  // helpers by their pid files must not see them, nor pg_ctl a postmaster.pid that says 1.
  for (const entry of await readdir(workDir, { recursive: true }).catch(() => [] as string[])) {
    if (/(^|\/)(worker\.pid|uploader\.pid|postmaster\.pid)$/.test(entry)) await rm(join(workDir, entry), { force: true });
  }
});

describe("PostgreSQL as PID 1 of its own PID namespace, without an init", () => {
  const env = () => ({ ...minioEnv(prefix), WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "" });

  it("archives, and a SIGKILL of anything of ours it adopted terminates no session", async () => {
    const server = await startAsPid1(primary, env());
    const client = await session(primary);
    const before = await client.query("select pg_backend_pid() as pid");
    await psql(primary, "create table t (id int, pad text); insert into t select g, repeat('x', 200) from generate_series(1, 2000) g;");
    for (let round = 0; round < 6; round++) await psql(primary, "insert into t select g, repeat('y', 200) from generate_series(1, 2000) g; select pg_switch_wal();");
    const last = await psql(primary, "select pg_walfile_name(pg_switch_wal())");
    await waitFor(async () => (await psql(primary, "select last_archived_wal from pg_stat_archiver")) >= last, { what: "archiving", timeoutMs: 120_000 });
    const killed = await killAdopted(server);
    // The session opened before the kill still works, in the same backend, and the server never restarted.
    expect(await stillServing(client, primary, killed)).toEqual({ pid: before.rows[0].pid, rows: 14_000 });
    expect(await crashLines(primary)).toEqual([]);
    expect(await adoptedOrphans(server)).toEqual([]);
    await client.end();
  });

  it("recovers, and a SIGKILL of anything of ours it adopted terminates no session", async () => {
    const backup = await basebackup(primary, join(workDir, "restored"));
    for (let round = 0; round < 6; round++) await psql(primary, "insert into t select g, repeat('z', 200) from generate_series(1, 2000) g; select pg_switch_wal();");
    await psql(primary, "select pg_create_restore_point('pid1'); insert into t values (0, 'after the restore point');");
    const last = await psql(primary, "select pg_walfile_name(pg_switch_wal())");
    await waitFor(async () => (await psql(primary, "select last_archived_wal from pg_stat_archiver")) >= last, { what: "archiving", timeoutMs: 120_000 });
    const prepared = await runAsPostgres(join(BIN, "wal-native"), ["restore-prepare", backup.data, "--target-name", "pid1", "--target-action", "pause",
      "--restore-command", `${BIN}/wal-restore %f %p`, "--pg-bin", backup.bin], { check: false });
    expect(prepared.code, prepared.stderr).toBe(0);
    await configure(backup, { archive_mode: "off" });
    const server = await startAsPid1(backup, env());
    const client = await session(backup);
    const before = await client.query("select pg_backend_pid() as pid");
    await waitFor(async () => (await psql(backup, "select pg_get_wal_replay_pause_state()")) === "paused", { what: "recovery to the restore point", timeoutMs: 120_000 });
    const killed = await killAdopted(server);
    expect(await stillServing(client, backup, killed)).toEqual({ pid: before.rows[0].pid, rows: 26_000 });
    expect(await crashLines(backup)).toEqual([]);
    await client.end();
    await psql(backup, "select pg_wal_replay_resume()");
    await waitFor(async () => (await psql(backup, "select pg_is_in_recovery()")) === "f", { what: "promotion", timeoutMs: 60_000 });
    expect(await adoptedOrphans(server)).toEqual([]);
  });
});
