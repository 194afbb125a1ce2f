// Benchmark plumbing: command-line flags, the run's work dir (and removal of ones left by a crashed run),
// the delay proxy, and the build of our commands.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { killMarked, onCleanup } from "./cleanup.mjs";
import { PG_BIN, REPO_ROOT, check, ensureTraversable, mkdirForPostgres, postgresIds, TIME_BIN } from "./proc.mjs";

export const USAGE = `usage: npm run bench -- [options]
  --quick            N = 8, one run per cell, no latency scenario, no pgbench -s 100 (development, smoke test)
  --segments N       number of 16 MiB segments (default 64)
  --repeat K         runs per archive/restore cell, median reported (default 3)
  --no-latency       skip the 20 ms round-trip scenario
  --no-pgbench       skip the pgbench -i archiver-lag scenario
  --pgbench-scale S  scale for that scenario (default 100)
  --no-pgbench-tmpfs skip its second pass, with MinIO's data in /dev/shm (a diagnostic)
  --no-build         use dist/ as it is (default: npm run build first)
  --out DIR          output directory (default bench-out)
  --cache DIR        data cache (default $WALNATIVE_BENCH_CACHE or ~/.cache/wal-native-bench)
  --keep             keep the work dir under /tmp for inspection
  --tools LIST       only these tools, comma-separated (ours, wal-g, wal-g daemon, cp; development)
  --no-fastpath      skip the per-call fast-path measurements (development)
  --no-matrix        skip the archive and restore runs (development)
  --no-restore       skip the restore runs only (development)`;

export function parseArgs(argv) {
  const opts = {
    quick: false, segments: 64, repeat: 3, latency: true, pgbench: true, pgbenchTmpfs: true, pgbenchScale: 100, build: true, fastpath: true, matrix: true, restore: true, tools: undefined,
    out: join(REPO_ROOT, "bench-out"), keep: false,
    cache: process.env.WALNATIVE_BENCH_CACHE || join(homedir(), ".cache", "wal-native-bench"),
  };
  const value = (i, flag) => {
    if (argv[i + 1] === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--quick") Object.assign(opts, { quick: true, segments: 8, repeat: 1, latency: false, pgbench: false });
    else if (flag === "--segments") opts.segments = positive(value(i++, flag), flag);
    else if (flag === "--repeat") opts.repeat = positive(value(i++, flag), flag);
    else if (flag === "--no-latency") opts.latency = false;
    else if (flag === "--no-pgbench") opts.pgbench = false;
    else if (flag === "--no-pgbench-tmpfs") opts.pgbenchTmpfs = false;
    else if (flag === "--pgbench-scale") opts.pgbenchScale = positive(value(i++, flag), flag);
    else if (flag === "--no-build") opts.build = false;
    else if (flag === "--out") opts.out = value(i++, flag);
    else if (flag === "--cache") opts.cache = value(i++, flag);
    else if (flag === "--keep") opts.keep = true;
    else if (flag === "--tools") opts.tools = value(i++, flag).split(",").map((tool) => tool.trim());
    else if (flag === "--no-fastpath") opts.fastpath = false;
    else if (flag === "--no-matrix") opts.matrix = false;
    else if (flag === "--no-restore") opts.restore = false;
    else if (flag === "--help" || flag === "-h") opts.help = true;
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  return opts;
}

function positive(text, flag) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: '${text}' is not a positive integer`);
  return n;
}

/** Fails early, with the fix, when something the benchmark needs is missing. */
export function preflight() {
  if (process.getuid?.() !== 0) throw new Error("the benchmark runs as root (it starts PostgreSQL as the postgres user)");
  postgresIds();
  for (const [path, hint] of [[TIME_BIN, "apt-get install time (or bash scripts/setup-test-tools.sh)"],
    [join(PG_BIN, "initdb"), "apt-get install postgresql-15"]]) {
    if (!existsSync(path)) throw new Error(`${path} not found: ${hint}`);
  }
}

export async function build(say) {
  say("build: npm run build");
  await check(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT });
}

const WORK_PREFIX = "wal-native-bench-";

/** Removes work dirs of earlier runs whose process is gone, stopping whatever they left running. */
export function removeStaleRuns(say) {
  // /dev/shm: the tmpfs MinIO of the pgbench diagnostic pass.
  for (const parent of ["/tmp", "/dev/shm"]) {
    for (const entry of readdirSafe(parent)) {
      const match = new RegExp(`^${WORK_PREFIX}(\\d+)-(\\w+)$`).exec(entry);
      if (!match || isAlive(Number(match[1]))) continue;
      const stopped = killMarked(`WALNATIVE_BENCH_RUN=${match[2]}`, 0);
      say(`removing stale ${parent}/${entry}${stopped ? ` (stopped ${stopped} leftover processes)` : ""}`);
      rmSync(join(parent, entry), { recursive: true, force: true });
    }
  }
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
  onCleanup("remove work dir", () => {
    if (keep) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  // Runs before the removal (last in, first out) and after everything registered later: catches
  // detached helpers (prefetch workers) that an interrupted scenario had no chance to wait for.
  onCleanup("stop leftover processes", () => killMarked(`WALNATIVE_BENCH_RUN=${runId}`, 0));
  return { dir, runId };
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
  return { endpoint: `http://127.0.0.1:${port}`, pid: child.pid };
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
