// Running the real wal-g in e2e tests: as root for wal-push/wal-fetch, or as postgres (a copy it can
// reach) for backup-push/backup-fetch; each call gets an isolated HOME so wal-g's decompressor cache
// file (walg-compat.md 2.7) never leaks from one test into another.
import { spawn } from "node:child_process";
import { chmod, copyFile, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { makeWorkDir, runAsPostgres, type RunResult } from "./postgres.js";
import { findTool, requireTool } from "./tools.js";

export const WALG_HINT =
  "wal-g v3.0.9 (with brotli) is expected in ~/go/bin: bash scripts/setup-test-tools.sh builds or finds it";

/** Settings that keep wal-g deterministic in tests: no prefetch child, no upload-ahead of other files. */
const QUIET = { WALG_DOWNLOAD_CONCURRENCY: "1", WALG_UPLOAD_CONCURRENCY: "1" };

/** The wal-g to test against: WALG_BIN, else wal-g on PATH or in ~/go/bin; undefined when there is none. */
export function findWalg(): string | undefined {
  return process.env["WALG_BIN"] || findTool("wal-g");
}

export function walgPath(): string {
  return findWalg() ?? requireTool("wal-g", WALG_HINT);
}

/** `wal-g --version` first line, e.g. "wal-g version v3.0.9 ...". */
export async function walgVersion(): Promise<string> {
  return (await runWalg(["--version"], {})).stdout.split("\n")[0] ?? "";
}

let rootHome: Promise<string> | undefined;

/** Runs wal-g as the test process (root) with exactly `env` plus PATH/HOME; never throws on exit codes. */
export async function runWalg(args: readonly string[], env: Record<string, string>, opts: { cwd?: string } = {}): Promise<RunResult> {
  rootHome ??= makeWorkDir("walg-home");
  const home = await mkdtemp(join(await rootHome, "h-"));
  return new Promise((resolve, reject) => {
    const child = spawn(walgPath(), args, {
      cwd: opts.cwd,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: home, ...QUIET, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/** A copy of wal-g the postgres user can execute (~root is not traversable), and its own HOME. */
export interface PostgresWalg {
  readonly binary: string;
  run(args: readonly string[], env: Record<string, string>): Promise<RunResult>;
}

export async function walgForPostgres(): Promise<PostgresWalg> {
  const dir = await makeWorkDir("walg");
  const binary = join(dir, "wal-g");
  await copyFile(walgPath(), binary);
  await chmod(binary, 0o755);
  return {
    binary,
    run: (args, env) => runAsPostgres(binary, [...args], { env: { HOME: dir, ...QUIET, ...env }, check: false }),
  };
}
