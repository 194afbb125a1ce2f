// The detached helpers end with their server and are good citizens meanwhile: an uploader whose store is
// unreachable backs off (doubling waits, not an attempt every two seconds) and exits once PostgreSQL is gone
// (postmaster.pid naming a dead process); a helper exits 0 on a stop signal and on a broken configuration, as the
// postmaster, when it is PID 1 and adopts them, takes any other status for a crashed backend.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { describeProcess, isAlive } from "../../src/daemon/identity.js";
import { NAMES, STATE_DIR } from "../../src/fastpath/protocol.js";
import { type WalScratch, segmentNames, walScratch } from "../support/pg-wal-scratch.js";
import { REPO_ROOT } from "../support/paths.js";
import { runBin } from "../support/run-command.js";
import { makeSegment } from "../support/wal.js";

const roots: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A data directory as PostgreSQL leaves it while running: global/pg_control and a postmaster.pid naming a live process. */
function runningCluster(): WalScratch & { postmaster: ChildProcess } {
  const dir = walScratch("lifetime");
  roots.push(dir.root);
  mkdirSync(join(dir.data, "global"));
  writeFileSync(join(dir.data, "global", "pg_control"), Buffer.alloc(8192));
  writeFileSync(join(dir.data, "recovery.signal"), ""); // the prefetch worker ends with recovery otherwise
  const postmaster = spawn("sleep", ["300"], { stdio: "ignore" });
  children.push(postmaster);
  writeFileSync(join(dir.data, "postmaster.pid"), `${postmaster.pid}\n${dir.data}\n`);
  return { ...dir, postmaster };
}

/** S3 on a port where nothing listens: every request fails at once (no retries). */
const UNREACHABLE_S3 = {
  WALG_FILE_PREFIX: "",
  WALG_S3_PREFIX: "s3://bucket/prefix",
  AWS_ENDPOINT: "http://127.0.0.1:9",
  AWS_ACCESS_KEY_ID: "test-key-id",
  AWS_SECRET_ACCESS_KEY: "test-secret-key",
  AWS_S3_FORCE_PATH_STYLE: "true",
  WALG_S3_MAX_RETRIES: "0",
};

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("the background uploader", () => {
  it("backs off while its store is unreachable and exits once its PostgreSQL is gone", async () => {
    const dir = runningCluster();
    const env = { ...dir.env, ...UNREACHABLE_S3 };
    const [first, second] = segmentNames("000000010000000000000040", 2) as [string, string];
    for (const name of [first, second]) {
      writeFileSync(join(dir.wal, name), makeSegment(name));
      writeFileSync(join(dir.wal, "archive_status", `${name}.ready`), "");
    }
    const call = await runBin("wal-archive", [`pg_wal/${first}`, first], { cwd: dir.data, env });
    expect(call.code, call.stderr).toBe(75);
    const log = join(dir.wal, STATE_DIR, NAMES.uploaderLog);
    const pidLine = readFileSync(join(dir.wal, STATE_DIR, NAMES.uploaderPid), "utf8").trim();
    expect(await isAlive(pidLine)).toBe(true);
    // Three failures of the same file in a row: each wait twice the one before.
    const delays = await until("three failed attempts", () => {
      const waits = [...readFileSync(log, "utf8").matchAll(new RegExp(`${second}: next attempt in (\\d+) s`, "g"))].map((m) => Number(m[1]));
      return waits.length >= 3 && waits;
    });
    expect(delays.slice(0, 3)).toEqual([2, 4, 8]);
    // The server stops (its postmaster's process is gone, the .ready files stay): the uploader follows.
    dir.postmaster.kill("SIGKILL");
    await until("the uploader's exit", () => (existsSync(`/proc/${pidLine.split(" ")[0]}`) ? false : true), 15_000);
    expect(readFileSync(log, "utf8")).toMatch(/PostgreSQL is gone .*: stopping/);
    expect(readFileSync(log, "utf8")).toMatch(/exiting \(server gone\)/);
  }, 120_000);
});

/** Starts a helper the way its spawner does: the process, then its pid file naming it. */
function startHelper(dir: WalScratch, flag: "--upload-worker" | "--prefetch-worker", env: Record<string, string>): ChildProcess & { output: () => string } {
  const entry = join(REPO_ROOT, "dist", flag === "--upload-worker" ? "wal-archive.cjs" : "wal-restore.cjs");
  const child = spawn(process.execPath, [entry, flag, "pg_wal"], { cwd: dir.data, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const pidFile = flag === "--upload-worker" ? join(dir.wal, STATE_DIR, NAMES.uploaderPid) : join(dir.wal, STATE_DIR, NAMES.prefetch, NAMES.workerPid);
  mkdirSync(join(pidFile, ".."), { recursive: true });
  writeFileSync(pidFile, `${describeProcess(child.pid)}\n`);
  return Object.assign(child, { output: () => output });
}

const exitOf = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));

describe.each(["--upload-worker", "--prefetch-worker"] as const)("the helper %s", (flag) => {
  it("exits 0 on SIGTERM", async () => {
    const dir = runningCluster();
    // A ready file keeps the uploader busy; the prefetch worker waits for its cursor.
    const [name] = segmentNames("000000010000000000000050", 1) as [string];
    writeFileSync(join(dir.wal, name), makeSegment(name));
    writeFileSync(join(dir.wal, "archive_status", `${name}.ready`), "");
    const helper = startHelper(dir, flag, { ...dir.env, ...UNREACHABLE_S3 });
    const exited = exitOf(helper);
    await until("the helper's start", () => /started \(pid \d+\)/.test(helper.output()));
    helper.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(helper.output()).toMatch(/stopping on SIGTERM/);
  });

  it("exits 0 when its configuration is broken, saying why", async () => {
    const dir = runningCluster();
    const helper = startHelper(dir, flag, { ...dir.env, WALG_COMPRESSION_METHOD: "rot13" });
    expect(await exitOf(helper)).toEqual({ code: 0, signal: null });
    expect(helper.output()).toMatch(/WALG_COMPRESSION_METHOD/);
  });
});
