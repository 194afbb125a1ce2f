// Running the real wal-g in e2e tests: as root for wal-push/wal-fetch, or as postgres (a copy it can
// reach) for backup-push/backup-fetch; each call gets an isolated HOME so wal-g's decompressor cache
// file (walg-compat.md 2.7) never leaks from one test into another. wal-g cannot be installed on every
// machine, so the live suites run only where one is found and are skipped with NO_WALG in their names
// elsewhere; the offline suites prove the same from the vectors wal-g wrote (test/support/walg-vectors.ts).
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { chmod, copyFile, mkdtemp } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { makeWorkDir, runAsPostgres, type RunResult } from "./postgres.js";

export const WALG_HINT = "install wal-g v3.0.9 (built with brotli and libsodium) and set WALG_BIN=/path/to/wal-g";

/** Appended to the name of every suite that needs wal-g itself, so a skipped run says why. */
export const NO_WALG = "(skipped: no wal-g binary; set WALG_BIN)";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * WALG_BIN, else wal-g on PATH, else in $HOME/go/bin; undefined when there is none. A WALG_BIN that is set
 * but not executable is an error, not a reason to skip.
 */
export function findWalg(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env["WALG_BIN"];
  if (configured) {
    if (!executable(configured)) throw new Error(`WALG_BIN=${configured} is not an executable file; ${WALG_HINT}`);
    return configured;
  }
  const dirs = [...(env["PATH"] ?? "").split(delimiter).filter(Boolean), join(homedir(), "go", "bin")];
  return dirs.map((dir) => join(dir, "wal-g")).find(executable);
}

/** The wal-g the live suites use, or undefined: then they are skipped, `describe.skipIf(!walgBinary)(liveName("..."))`. */
export const walgBinary: string | undefined = findWalg();

/** A live suite's name: as given where wal-g is found, with NO_WALG appended where it is not. */
export function liveName(name: string): string {
  return walgBinary === undefined ? `${name} ${NO_WALG}` : name;
}

/** Settings that keep wal-g deterministic in tests: no prefetch child, no upload-ahead of other files. */
const QUIET = { WALG_DOWNLOAD_CONCURRENCY: "1", WALG_UPLOAD_CONCURRENCY: "1" };

export function walgPath(): string {
  if (walgBinary === undefined) throw new Error(`no wal-g binary: ${WALG_HINT}`);
  return walgBinary;
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
