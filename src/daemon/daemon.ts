// Detached helpers (the uploader, the prefetch worker): spawn with a pid file that names the process exactly
// (pid, boot id, start time), a log file kept in bounds, and the checks both sides make of it.
import { spawn } from "node:child_process";
import { mkdir, open, rename, stat, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { dirname } from "node:path";
import { describeProcess, isAlive, readProcessFile, signalIfAlive } from "./identity.js";
import { helpersMayOutliveCalls } from "./adoption.js";

/** A log past this size is moved to <log>.1 when the next helper starts (one old log is kept). */
export const LOG_ROTATE_BYTES = 1024 * 1024;

export interface DaemonSpec {
  /** Written by the spawner, so that a helper still starting already counts as running. */
  readonly pidFile: string;
  readonly logFile: string;
  /** Node flags (each flag set has its own V8 code cache: scripts/code-cache.mjs). */
  readonly execArgv: readonly string[];
  /** The entry script (process.argv[1] of the calling command) and its arguments. */
  readonly script: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/** Starts the helper unless a live one is named by the pid file; returns its pid when it started one. */
export async function ensureDaemon(spec: DaemonSpec): Promise<number | undefined> {
  if (await daemonAlive(spec.pidFile)) return undefined;
  return spawnDaemon(spec);
}

/** Starts nothing when the postmaster is PID 1 and would adopt the helper (adoption.ts says why). */
export async function spawnDaemon(spec: DaemonSpec): Promise<number | undefined> {
  if (!helpersMayOutliveCalls()) return undefined;
  await mkdir(dirname(spec.pidFile), { recursive: true, mode: 0o700 });
  await rotateLog(spec.logFile);
  const log = await open(spec.logFile, "a", 0o600);
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [...spec.execArgv, spec.script, ...spec.args], {
      detached: true,
      stdio: ["ignore", log.fd, log.fd],
      cwd: process.cwd(),
      env: spec.env,
    });
    child.unref();
    pid = child.pid;
  } finally {
    await log.close();
  }
  if (pid !== undefined) await writeAtomically(spec.pidFile, `${describeProcess(pid)}\n`);
  return pid;
}

/** True while the pid file names a live helper of this boot (a reused pid does not count). */
export async function daemonAlive(pidFile: string): Promise<boolean> {
  return isAlive(await readProcessFile(pidFile));
}

/**
 * In the helper: waits (briefly) for its spawner's pid file and says whether it names this process. A helper
 * that is not named exits at once: another one of the same pg_wal won the race.
 */
export async function ownsPidFile(pidFile: string): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const named = await readProcessFile(pidFile);
    if (named?.pid === process.pid) return true;
    if (named !== undefined) return false;
    await sleep(10); // the spawner writes it right after spawn() returns
  }
  return false;
}

/**
 * Stops the helper the pid file names, if it runs: SIGKILL before its data directory is removed, SIGTERM to let it
 * finish what is in flight and exit 0 (it also stops once the pid file names another).
 */
export async function stopDaemon(pidFile: string, signal: NodeJS.Signals = "SIGKILL"): Promise<boolean> {
  return signalIfAlive(await readProcessFile(pidFile), signal);
}

async function rotateLog(logFile: string): Promise<void> {
  const size = await stat(logFile).then((info) => info.size, () => 0);
  if (size > LOG_ROTATE_BYTES) await rename(logFile, `${logFile}.1`).catch(() => undefined);
}

/** Temporary file and rename: the launchers never read half a line. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o600 });
  await rename(temp, path);
}
