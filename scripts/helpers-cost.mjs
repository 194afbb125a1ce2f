#!/usr/bin/env node
// What the detached helpers (the background uploader and the prefetch worker) are worth, side by side: archive
// throughput (the WAL of `pgbench -i`, written while archive_command is empty, then archived from a backlog once it
// is set: the time until all is archived) and the time of a recovery to the end of that WAL, for each mode in turn,
// round after round (the machine is shared: alternating spreads its noise over every mode). Modes:
//   helpers   the server started normally: the uploader and the prefetch worker run
//   in-call   what is left without them: upload-ahead inside each archive call, no prefetch
//             (WALNATIVE_UPLOADER=off, WALG_DOWNLOAD_CONCURRENCY=1)
//   pid1      the server as PID 1 of its own PID namespace (a container without an init), with default settings
// usage (as root): node scripts/helpers-cost.mjs [--rounds 3] [--scale 30] [--modes helpers,in-call,pid1]
// Needs PostgreSQL 15 (Debian's), MinIO (scripts/setup-test-tools.sh) and a built dist/ (npm run build).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PG = "/usr/lib/postgresql/15/bin";
const { values: opts } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, scale: { type: "string", default: "30" }, modes: { type: "string", default: "helpers,in-call,pid1" } },
});
const MODES = opts.modes.split(",");
const MINIO = ["/root/go/bin/minio", join(process.env.HOME ?? "/root", "go/bin/minio")].find(existsSync);
if (!MINIO) throw new Error("no minio: bash scripts/setup-test-tools.sh");
const KEYS = { user: "helpers-cost", secret: "helpers-cost-secret" };
const work = mkdtempSync("/tmp/wal-native-helpers-cost-");
spawnSync("chown", ["postgres:", work]);
spawnSync("chmod", ["755", work]);
const started = [];
process.on("exit", () => {
  for (const child of started) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

function freePort() {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Runs a command as postgres with exactly this environment; throws on failure unless check is false. */
function asPostgres(cmd, args, env = {}, check = true) {
  const full = { PATH: `${REPO}/bin:${dirname(process.execPath)}:${PG}:/usr/bin:/bin`, HOME: "/var/lib/postgresql", LANG: "C.UTF-8", ...env };
  const result = spawnSync("runuser", ["-u", "postgres", "--", "env", "-i", ...Object.entries(full).map(([k, v]) => `${k}=${v}`), cmd, ...args], { encoding: "utf8" });
  if (check && result.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
}

function sql(dir, port, query) {
  return asPostgres(`${PG}/psql`, ["-X", "-A", "-t", "-q", "-h", dir, "-p", String(port), "-U", "postgres", "-c", query]);
}

async function waitFor(what, condition, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

async function startMinio() {
  const port = await freePort();
  const child = spawn(MINIO, ["server", join(work, "minio"), "--address", `127.0.0.1:${port}`, "--console-address", `127.0.0.1:${await freePort()}`],
    { stdio: "ignore", env: { PATH: "/usr/bin:/bin", HOME: work, MINIO_ROOT_USER: KEYS.user, MINIO_ROOT_PASSWORD: KEYS.secret } });
  started.push(child);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor("minio", async () => (await fetch(`${endpoint}/minio/health/live`)).ok, 60_000);
  // wal-native init makes the bucket (and proves the credentials).
  asPostgres(`${REPO}/bin/wal-native`, ["init"], storageEnv(endpoint, "init"), false);
  return endpoint;
}

function storageEnv(endpoint, prefix) {
  return { AWS_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: KEYS.user, AWS_SECRET_ACCESS_KEY: KEYS.secret, AWS_REGION: "us-east-1",
    AWS_S3_FORCE_PATH_STYLE: "true", WALG_S3_PREFIX: `s3://helpers-cost/${prefix}`, WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "" };
}

const MODE_ENV = { helpers: {}, "in-call": { WALNATIVE_UPLOADER: "off", WALG_DOWNLOAD_CONCURRENCY: "1" }, pid1: {} };

/** Servers still running: stopped (immediately) if the script fails. */
const running = new Map();

/** Starts the server in the mode's way; returns how to stop it. */
async function startServer(mode, data, dir, port, env) {
  const stop = await startInMode(mode, data, dir, port, env);
  const stopOnce = async (fast = true) => {
    if (!running.delete(data)) return;
    await stop(fast);
  };
  running.set(data, stopOnce);
  return stopOnce;
}

async function startInMode(mode, data, dir, port, env) {
  if (mode !== "pid1") {
    asPostgres(`${PG}/pg_ctl`, ["-D", data, "-l", join(dir, "postgres.log"), "-w", "-t", "600", "start"], env);
    return async (fast) => asPostgres(`${PG}/pg_ctl`, ["-D", data, "-m", fast ? "fast" : "immediate", "-w", "stop"], {}, false);
  }
  const full = { PATH: `${REPO}/bin:${dirname(process.execPath)}:${PG}:/usr/bin:/bin`, HOME: "/var/lib/postgresql", LANG: "C.UTF-8", ...env };
  const log = openSync(join(dir, "postgres.log"), "a");
  const child = spawn("unshare", ["--pid", "--fork", "--mount-proc", "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
    "env", "-i", ...Object.entries(full).map(([k, v]) => `${k}=${v}`), `${PG}/postgres`, "-D", data], { cwd: data, stdio: ["ignore", log, log] });
  started.push(child);
  const exited = new Promise((done) => child.once("exit", done));
  // Never pg_ctl it: postmaster.pid says 1. The postmaster is unshare's child here.
  let postmaster;
  await waitFor("postmaster", () => {
    postmaster = readdirSync("/proc").map(Number).find((pid) => pid > 0 && ppidOf(pid) === child.pid);
    return postmaster !== undefined;
  });
  await waitFor("connections", () => sql(dir, port, "select 1") === "1");
  return async (fast) => {
    process.kill(postmaster, fast ? "SIGINT" : "SIGQUIT");
    await exited;
  };
}

function ppidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function configure(data, settings) {
  const lines = Object.entries(settings).map(([k, v]) => `${k} = '${v}'`).join("\n");
  asPostgres("sh", ["-c", `printf '%s\\n' "$1" >> "$2"`, "sh", lines, join(data, "postgresql.auto.conf")]);
}

async function oneRound(mode, round, endpoint) {
  const dir = join(work, `${mode}-${round}`);
  asPostgres("mkdir", ["-p", dir]);
  const data = join(dir, "data");
  const port = await freePort();
  const env = { ...storageEnv(endpoint, `${mode}-${round}`), ...MODE_ENV[mode] };
  asPostgres(`${PG}/initdb`, ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]);
  configure(data, { port, listen_addresses: "127.0.0.1", unix_socket_directories: dir, fsync: "off", max_wal_size: "4GB",
    archive_mode: "on", archive_command: "" });
  let stop = await startServer(mode, data, dir, port, env);
  asPostgres(`${PG}/pg_basebackup`, ["-h", dir, "-p", String(port), "-U", "postgres", "-D", join(dir, "backup"), "-X", "stream", "-c", "fast", "--no-sync"]);
  asPostgres(`${PG}/pgbench`, ["-h", dir, "-p", String(port), "-U", "postgres", "-i", "-q", "-s", opts.scale, "postgres"]);
  const last = sql(dir, port, "select pg_walfile_name(pg_switch_wal())");
  // The backlog: every segment since the backup is .ready; archiving starts now.
  const began = performance.now();
  sql(dir, port, `alter system set archive_command = '${REPO}/bin/wal-archive %p %f'`);
  sql(dir, port, "select pg_reload_conf()");
  await waitFor("archiving", () => sql(dir, port, "select last_archived_wal from pg_stat_archiver") >= last);
  const archived = performance.now();
  const segments = Number(sql(dir, port, "select archived_count from pg_stat_archiver"));
  await stop();

  const backup = join(dir, "backup");
  asPostgres(`${REPO}/bin/wal-native`, ["restore-prepare", backup, "--pg-bin", PG]);
  configure(backup, { port, archive_mode: "off" });
  const recovering = performance.now();
  stop = await startServer(mode, backup, dir, port, env);
  await waitFor("promotion", () => sql(dir, port, "select pg_is_in_recovery()") === "f");
  const recovered = performance.now();
  await stop();
  rmSync(dir, { recursive: true, force: true });
  return { segments, archiveS: (archived - began) / 1000, recoveryS: (recovered - recovering) / 1000 };
}

const endpoint = await startMinio();
const results = Object.fromEntries(MODES.map((mode) => [mode, []]));
try {
  for (let round = 1; round <= Number(opts.rounds); round++) {
    for (const mode of MODES) {
      const result = await oneRound(mode, round, endpoint);
      results[mode].push(result);
      console.log(`round ${round} ${mode.padEnd(8)} ${result.segments} segments: archived in ${result.archiveS.toFixed(1)} s, recovered in ${result.recoveryS.toFixed(1)} s`);
    }
  }
} catch (error) {
  for (const stop of [...running.values()]) await stop(false);
  console.error(error);
  process.exit(1);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`;
console.log("\nmode      segments  archive s, median [range]  recovery s, median [range]");
for (const mode of MODES) {
  const rows = results[mode];
  const pick = (key) => rows.map((row) => row[key]);
  console.log(`${mode.padEnd(9)} ${String(median(pick("segments"))).padStart(8)}  ${median(pick("archiveS")).toFixed(1).padStart(6)} [${spread(pick("archiveS"))}]`
    + `         ${median(pick("recoveryS")).toFixed(1).padStart(6)} [${spread(pick("recoveryS"))}]`);
}
process.exit(0); // MinIO, a child of this process, would keep it alive
