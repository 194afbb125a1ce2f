// wal-g's daemon mode: `wal-g daemon <socket>` runs as postgres with the scenario's environment (PGDATA
// decides where pushed and fetched paths resolve); walg-daemon-client relays each archive/restore call.
// The daemon is moved into the scenario's cgroup as soon as it runs, so its CPU counts as the tool's.
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { onCleanup } from "./cleanup.mjs";
import { postgresIds } from "./proc.mjs";

/** Starts the daemon; resolves { socket, pid, stop } once its socket exists. */
export async function startDaemon(ctx, root, dataDir, env, cgroup) {
  if (!ctx.tools.daemonClient) throw new Error(ctx.tools.daemonNote ?? "no walg-daemon-client");
  const socket = join(root, "walg.sock");
  const logFile = join(root, "walg-daemon.log");
  const logFd = openSync(logFile, "a");
  const child = spawn(ctx.tools.walg, ["daemon", socket], {
    cwd: dataDir, env: { ...env, PGDATA: dataDir }, ...postgresIds(), stdio: ["ignore", logFd, logFd], detached: true,
  });
  closeSync(logFd);
  if (cgroup && cgroup.procs !== "-") writeFileSync(cgroup.procs, `${child.pid}\n`);
  let exited;
  child.once("exit", (code) => { exited = code; });
  const stop = onCleanup("stop wal-g daemon", () => {
    try {
      process.kill(child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  });
  const deadline = Date.now() + 30_000;
  // The socket file appears at bind(), a moment before the daemon accepts: wait for a connection.
  while (!existsSync(socket) || !(await accepts(socket))) {
    if (exited !== undefined || Date.now() > deadline) {
      stop();
      throw new Error(`wal-g daemon did not start (exit ${exited}):\n${readFileSync(logFile, "utf8").slice(-1500)}`);
    }
    await sleep(20);
  }
  return { socket, pid: child.pid, stop };
}

function accepts(socket) {
  return new Promise((resolve) => {
    const probe = createConnection(socket);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}
