// Child processes for the benchmark: run as root or as the postgres OS user (spawn uid/gid, no runuser
// in the measured path), collect output, time them, and make files and dirs postgres can use.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, statSync } from "node:fs";
import { dirname, parse, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const REPO_BIN = resolve(REPO_ROOT, "bin");
export const TIME_BIN = "/usr/bin/time";

let ids;
/** uid and gid of the postgres OS user. */
export function postgresIds() {
  ids ??= {
    uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim()),
  };
  return ids;
}

/** The whole environment a postgres-user process gets (nothing leaks in from ours), plus `extra`. */
export function postgresEnv(extra = {}, toolsDir) {
  const path = [toolsDir, REPO_BIN, dirname(process.execPath), PG_BIN, "/usr/local/bin", "/usr/bin", "/bin"]
    .filter(Boolean).join(":");
  return { PATH: path, HOME: "/var/lib/postgresql", LANG: "C.UTF-8", ...extra };
}

/**
 * Runs a command; resolves { code, signal, stdout, stderr, ms } and never rejects on a non-zero exit.
 * opts: cwd, env (complete), asPostgres, input, timeoutMs, detached.
 */
export function run(cmd, args, opts = {}) {
  const started = performance.now();
  const ids = opts.asPostgres ? postgresIds() : {};
  const child = spawn(cmd, args, {
    cwd: opts.cwd, env: opts.env ?? process.env, ...ids,
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const keep = (text, chunk) => (text.length > 1 << 20 ? text : text + chunk.toString());
  child.stdout.on("data", (d) => { stdout = keep(stdout, d); });
  child.stderr.on("data", (d) => { stderr = keep(stderr, d); });
  if (opts.input !== undefined) child.stdin.end(opts.input);
  const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
  return new Promise((resolveRun, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? 128, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Like run(), but rejects with the command line and the tail of its output when it exits non-zero. */
export async function check(cmd, args, opts = {}) {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${result.code}${result.signal ? ` (${result.signal})` : ""}\n` +
      tail(`${result.stderr}${result.stdout}`));
  }
  return result;
}

export function tail(text, lines = 25) {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** mkdir -p, owned by postgres, mode 0700 or 0755; parents get o+x so postgres can reach it. */
export function mkdirForPostgres(path, mode = 0o755) {
  mkdirSync(path, { recursive: true });
  const { uid, gid } = postgresIds();
  chownSync(path, uid, gid);
  chmodSync(path, mode);
  ensureTraversable(dirname(path));
  return path;
}

/** chown -R postgres: whole trees copied by root. */
export function chownTreeToPostgres(path) {
  execFileSync("chown", ["-R", "postgres:postgres", path]);
}

/** Adds o+x to `path` and each ancestor lacking it (the repo's bin/ and dist/ must be reachable). */
export function ensureTraversable(path) {
  const chain = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    chain.push(p);
    if (p === parse(p).root) break;
  }
  for (const dir of chain.reverse()) {
    const { mode } = statSync(dir);
    if ((mode & 0o001) === 0) chmodSync(dir, (mode & 0o7777) | 0o001);
  }
}

/** Blocking sleep, for the synchronous cleanup paths (process 'exit' handlers cannot await). */
export function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function median(values) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
