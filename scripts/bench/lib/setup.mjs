// Benchmark plumbing: command-line flags, the run's work dir (and removal of ones left by a crashed run),
// the delay proxy, and the build of our commands.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { killMarked, onCleanup } from "./cleanup.mjs";
import { removeStaleCgroups } from "./cgroup.mjs";
import { PG_BIN, REPO_ROOT, check, ensureTraversable, mkdirForPostgres, postgresIds } from "./proc.mjs";

export const USAGE = `usage: npm run bench -- [options]
  --quick              smoke test: N = 8, no large set, one run per cell, loopback only, lz4 only,
                       pgbench -i -s 10 without TPC-B, a standby with ours only (about 2 min)
  --segments N         segments of the archive and recovery matrices (default 64)
  --large-segments M   recoveries through a second, larger data set too (default 256; 0 skips it)
  --repeat K           runs per cell of the N-segment matrices, median reported (default 3)
  --repeat-large K     runs per recovery through the large set (default 1)
  --no-latency         skip the 20 ms round-trip scenarios
  --codecs LIST        lz4,brotli (default both)
  --tools LIST         ours, wal-g, wal-g daemon, pgbackrest, cp, pg_wal (default all that are available)
  --no-pg-archive      skip PostgreSQL's archiver under pgbench -i and TPC-B
  --pgbench-scale S    pgbench -i scale of that scenario and of the standby's (default 100)
  --tpcb-seconds T     TPC-B duration (default 60; 0 skips TPC-B)
  --tpcb-clients C     TPC-B clients (default 8)
  --pgbench-tmpfs      also run the archiver scenario with a MinIO whose data is in /dev/shm (a diagnostic)
  --no-standby         skip the primary + archive_mode = always standby scenario
  --no-rearchive       skip re-archiving segments that are already archived
  --no-fastpath        skip the per-call fast-path measurements
  --no-matrix          skip the archive and restore matrices (and the re-archive, which reads them)
  --no-restore         skip the recoveries only
  --no-build           use dist/ as it is (default: npm run build first)
  --out DIR            output directory (default bench-out)
  --cache DIR          data cache (default $WALNATIVE_BENCH_CACHE or ~/.cache/wal-native-bench)
  --keep               keep the work dir under /tmp for inspection (logs of every scenario)
  --report FILE        only render RESULTS.md and bench.png again from a results.json, into --out
  --compare A,B,...    only write RUNS.md into --out: every target in each of these results.json files, and how
                       many of the runs met it`;

export const ALL_TOOLS = ["ours", "wal-g", "wal-g daemon", "pgbackrest", "cp", "pg_wal"];

export function parseArgs(argv) {
  const opts = {
    quick: false, segments: 64, largeSegments: 256, repeat: 3, repeatLarge: 1, latency: true, codecs: ["lz4", "brotli"],
    tools: ALL_TOOLS, pgArchive: true, pgbenchScale: 100, tpcbSeconds: 60, tpcbClients: 8, pgbenchTmpfs: false,
    standby: true, standbyTools: undefined, rearchive: true, fastpath: true, matrix: true, restore: true, build: true,
    out: join(REPO_ROOT, "bench-out"), keep: false,
    cache: process.env.WALNATIVE_BENCH_CACHE || join(homedir(), ".cache", "wal-native-bench"),
  };
  const value = (i, flag) => {
    if (argv[i + 1] === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    return argv[i + 1];
  };
  const list = (text, allowed, flag) => {
    const items = text.split(",").map((item) => item.trim()).filter(Boolean);
    const bad = items.filter((item) => !allowed.includes(item));
    if (bad.length > 0 || items.length === 0) throw new Error(`${flag}: '${text}' (allowed: ${allowed.join(", ")})`);
    return items;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--quick") {
      Object.assign(opts, { quick: true, segments: 8, largeSegments: 0, repeat: 1, latency: false, codecs: ["lz4"], pgbenchScale: 10, tpcbSeconds: 0, standbyTools: ["ours"] });
    } else if (flag === "--segments") opts.segments = positive(value(i++, flag), flag);
    else if (flag === "--large-segments") opts.largeSegments = positive(value(i++, flag), flag, 0);
    else if (flag === "--repeat") opts.repeat = positive(value(i++, flag), flag);
    else if (flag === "--repeat-large") opts.repeatLarge = positive(value(i++, flag), flag);
    else if (flag === "--no-latency") opts.latency = false;
    else if (flag === "--codecs") opts.codecs = list(value(i++, flag), ["lz4", "brotli"], flag);
    else if (flag === "--tools") opts.tools = list(value(i++, flag), ALL_TOOLS, flag);
    else if (flag === "--no-pg-archive" || flag === "--no-pgbench") opts.pgArchive = false;
    else if (flag === "--pgbench-scale") opts.pgbenchScale = positive(value(i++, flag), flag);
    else if (flag === "--tpcb-seconds") opts.tpcbSeconds = positive(value(i++, flag), flag, 0);
    else if (flag === "--tpcb-clients") opts.tpcbClients = positive(value(i++, flag), flag);
    else if (flag === "--pgbench-tmpfs") opts.pgbenchTmpfs = true;
    else if (flag === "--no-standby") opts.standby = false;
    else if (flag === "--no-rearchive") opts.rearchive = false;
    else if (flag === "--no-build") opts.build = false;
    else if (flag === "--out") opts.out = value(i++, flag);
    else if (flag === "--cache") opts.cache = value(i++, flag);
    else if (flag === "--keep") opts.keep = true;
    else if (flag === "--report") opts.report = value(i++, flag);
    else if (flag === "--compare") opts.compare = value(i++, flag).split(",").map((file) => file.trim()).filter(Boolean);
    else if (flag === "--no-fastpath") opts.fastpath = false;
    else if (flag === "--no-matrix") opts.matrix = false;
    else if (flag === "--no-restore") opts.restore = false;
    else if (flag === "--help" || flag === "-h") opts.help = true;
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  return opts;
}

function positive(text, flag, min = 1) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: '${text}' is not an integer >= ${min}`);
  return n;
}

/** Fails early, with the fix, when something the benchmark needs is missing. */
export function preflight() {
  if (process.getuid?.() !== 0) throw new Error("the benchmark runs as root (it starts PostgreSQL as the postgres user)");
  postgresIds();
  for (const [path, hint] of [[join(PG_BIN, "initdb"), "apt-get install postgresql-15"], [join(PG_BIN, "pg_basebackup"), "apt-get install postgresql-15"]]) {
    if (!existsSync(path)) throw new Error(`${path} not found: ${hint}`);
  }
  ensureOpenssl();
}

/** openssl makes the TLS certificate of the bench's MinIO (lib/tls.mjs); Debian's package when it is missing. */
function ensureOpenssl() {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    if (!existsSync("/usr/bin/apt-get")) throw new Error("openssl not found (the bench's MinIO serves TLS with a certificate openssl makes)");
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "openssl"], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
}

export async function build(say) {
  say("build: npm run build");
  await check(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT });
}

const WORK_PREFIX = "wal-native-bench-";

/** Removes work dirs of earlier runs whose process is gone, stopping whatever they left running. */
export function removeStaleRuns(say) {
  const stale = (entry) => {
    const match = new RegExp(`^${WORK_PREFIX}(\\d+)-(\\w+)$`).exec(entry);
    return match && !isAlive(Number(match[1])) ? match : undefined;
  };
  // Processes first (they may still sit in a stale cgroup), then cgroups, then directories.
  // /dev/shm: the tmpfs MinIO of the archiver diagnostic pass.
  for (const parent of ["/tmp", "/dev/shm"]) {
    for (const entry of readdirSafe(parent)) {
      const match = stale(entry);
      if (!match) continue;
      const stopped = killMarked(`WALNATIVE_BENCH_RUN=${match[2]}`, 0);
      say(`removing stale ${parent}/${entry}${stopped ? ` (stopped ${stopped} leftover processes)` : ""}`);
      rmSync(join(parent, entry), { recursive: true, force: true });
    }
  }
  removeStaleCgroups((entry) => Boolean(stale(entry)), say);
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** /tmp/wal-native-bench-<pid>-<id>: owned by postgres, removed at exit unless kept. */
export function makeWorkDir(keep, say) {
  const dir = mkdtempSync(`/tmp/${WORK_PREFIX}${process.pid}-`);
  mkdirForPostgres(dir);
  ensureTraversable(REPO_ROOT);
  const runId = dir.slice(dir.lastIndexOf("-") + 1);
  const name = dir.slice(dir.lastIndexOf("/") + 1);
  onCleanup("remove work dir", () => {
    if (keep) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  // Runs before the removal (last in, first out) and after everything registered later: catches
  // detached helpers (prefetch workers) that an interrupted scenario had no chance to wait for.
  onCleanup("stop leftover processes", () => killMarked(`WALNATIVE_BENCH_RUN=${runId}`, 0));
  return { dir, runId, name };
}

/** Starts the delay proxy in front of `targetPort`; resolves its endpoint. */
export async function startProxy(targetPort, oneWayMs, markerEnv) {
  const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "bench", "lib", "delay-proxy.mjs"), String(targetPort), String(oneWayMs)], {
    stdio: ["ignore", "pipe", "inherit"], env: { PATH: process.env.PATH, ...markerEnv },
  });
  onCleanup("stop delay proxy", () => child.kill("SIGTERM"));
  const line = await new Promise((resolveLine, reject) => {
    createInterface({ input: child.stdout }).once("line", resolveLine);
    child.once("exit", (code) => reject(new Error(`delay proxy exited (${code})`)));
  });
  const port = Number(/listening (\d+)/.exec(line)?.[1]);
  // The proxy forwards bytes: TLS passes through it to MinIO.
  return { endpoint: `https://127.0.0.1:${port}`, pid: child.pid };
}

/** Machine facts for the report. */
export function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(execFileSync("cat", ["/proc/cpuinfo"]).toString())?.[1]?.trim() ?? "unknown";
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(execFileSync("cat", ["/proc/meminfo"]).toString())?.[1] ?? 0);
  return {
    nproc: Number(execFileSync("nproc").toString().trim()), cpu,
    kernel: execFileSync("uname", ["-r"]).toString().trim(), memoryGiB: Math.round(memKb / 1048576),
    node: process.version,
    postgres: execFileSync(join(PG_BIN, "postgres"), ["--version"]).toString().trim(),
  };
}
