// Child processes for restore drills: run as the PostgreSQL OS user when we are root, capture output.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { ExitCode, WalNativeError } from "../../errors.js";

export class DrillError extends WalNativeError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.internal, { hint });
  }
}

export interface RunOptions {
  /** OS user to run as (through runuser) when this process is root. */
  readonly user?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Working directory; the caller's may not be reachable for the other user (root's home is 0700). */
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /** Pass the child's stderr through to ours (wal-g and restore-prepare progress). */
  readonly passStderr?: boolean;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runProcess(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const asOther = options.user !== undefined && process.getuid?.() === 0;
  const [file, argv] = asOther ? [runuser(), ["-u", options.user as string, "--", command, ...args]] : [command, [...args]];
  const child = spawn(file, argv, { env: options.env, cwd: options.cwd, stdio: ["ignore", "pipe", options.passStderr ? "inherit" : "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = options.timeoutMs ? setTimeout(() => child.kill("SIGTERM"), options.timeoutMs) : undefined;
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (status, signal) => resolve(status ?? (signal ? 128 : 1)));
    });
    return { code, stdout, stderr };
  } catch (error) {
    throw new DrillError(`cannot run ${command}: ${(error as Error).message}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Runs and throws DrillError with the last lines of output when the exit code is not 0. */
export async function mustRun(what: string, command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const result = await runProcess(command, args, options);
  if (result.code !== 0) {
    const tail = `${result.stderr}${result.stdout}`.trim().split("\n").slice(-8).join("\n  ");
    throw new DrillError(`${what} failed (exit ${result.code})${tail ? `:\n  ${tail}` : ""}`);
  }
  return result;
}

/** runuser lives in /usr/sbin, which a PATH made for the postgres user may lack. */
function runuser(): string {
  for (const path of ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]) if (existsSync(path)) return path;
  return "runuser";
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
