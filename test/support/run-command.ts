// Runs one of our built commands (bin/*) as a child process, as PostgreSQL would, and captures it all.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_BIN } from "./paths.js";

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runBin(
  name: "wal-archive" | "wal-restore" | "wal-native",
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO_BIN, name), args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}
