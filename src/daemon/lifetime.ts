// The lifetime of a detached helper: it ends with its PostgreSQL (postmaster.pid gone or naming a dead process),
// on a signal, or when its heap nears V8's limit, and it always exits 0 on its own: when the postmaster is PID 1
// it adopts our orphaned helpers, and it takes any other exit status of an unknown child for a crashed backend.
import { ftruncateSync, fstatSync, writeSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { getHeapStatistics } from "node:v8";
import type { Logger } from "../log.js";

/** How often the helper looks at its server, its heap and its log. */
export const WATCH_MS = 1_000;
/** The helper stops (cleanly, exit 0) once its heap passes this share of V8's limit, long before V8 would abort. */
const HEAP_SHARE = 0.75;
/** The log (the helper's stdout and stderr, opened by its spawner) is emptied past this size. */
export const LOG_CAP_BYTES = 4 * 1024 * 1024;
/** After a stop signal, the helper finishes what is in flight for at most this long. */
const STOP_GRACE_MS = 5_000;

export type StopReason = "server gone" | "signal" | "memory";

/**
 * The server of a data directory: "running" while postmaster.pid names a live process, "dead" when it names none
 * (a crash, a reused directory), "none" without a postmaster.pid, or outside a real data directory (no
 * global/pg_control: a copied pg_wal, a test's scratch directory).
 */
export type ServerState = "running" | "dead" | "none";

export async function serverState(dataDir: string): Promise<ServerState> {
  if (!(await stat(join(dataDir, "global", "pg_control")).then(() => true, () => false))) return "none";
  const text = await readFile(join(dataDir, "postmaster.pid"), "utf8").catch(() => undefined);
  if (text === undefined) return "none";
  const pid = Number(text.split("\n", 1)[0]?.trim());
  if (!Number.isSafeInteger(pid) || pid < 1) return "running"; // being written: look again next time
  try {
    process.kill(pid, 0);
    return "running";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? "running" : "dead";
  }
}

/**
 * The helper's server is gone once postmaster.pid names a dead process, or once a server it has seen running has
 * removed its postmaster.pid (a clean stop). A helper started where no server runs (a DBA's wal-restore by hand in a
 * stopped data directory) has none to follow, and ends by its idle timeout as before.
 */
export function serverGoneAfter(previous: { seen: boolean }, state: ServerState): boolean {
  if (state === "running") previous.seen = true;
  return state === "dead" || (previous.seen && state === "none");
}

export interface Lifetime {
  /** Aborted when the helper should stop: its loop ends, finishes what is in flight, and returns. */
  readonly signal: AbortSignal;
  /** Why it stopped, once it has. */
  reason(): StopReason | undefined;
  /** Stops watching (the helper's loop has ended). */
  end(): void;
}

/**
 * Installs the handlers that keep the exit status 0 (signals, uncaught errors) and starts watching the server,
 * the heap and the log. The helper's loop checks `signal.aborted` between steps.
 */
export function watchLifetime(dataDir: string, log: Logger): Lifetime {
  const controller = new AbortController();
  let why: StopReason | undefined;
  const stop = (reason: StopReason, message: string): void => {
    if (controller.signal.aborted) return;
    why = reason;
    log.info(message);
    controller.abort(reason);
    // A stuck upload must not keep the helper beyond its server: what is left is PostgreSQL's own call's.
    setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
  };
  const onSignal = (signal: NodeJS.Signals) => stop("signal", `stopping on ${signal}`);
  const signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"];
  for (const signal of signals) process.on(signal, onSignal);
  const onCrash = (error: unknown) => {
    log.error(`unexpected failure, stopping: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(0);
  };
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  log.info(`started (pid ${process.pid}), following the server of ${dataDir}`);
  const server = { seen: false };
  let looking = false;
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    void (async () => {
      if (serverGoneAfter(server, await serverState(dataDir))) stop("server gone", "PostgreSQL is gone (postmaster.pid absent or its process dead): stopping");
      const heap = getHeapStatistics();
      if (heap.used_heap_size > HEAP_SHARE * heap.heap_size_limit) {
        stop("memory", `heap at ${Math.round(heap.used_heap_size / 1048576)} MiB of ${Math.round(heap.heap_size_limit / 1048576)}: stopping`);
      }
      capLog();
    })().finally(() => (looking = false));
  }, WATCH_MS);
  timer.unref();
  return {
    signal: controller.signal,
    reason: () => why,
    end() {
      clearInterval(timer);
      for (const signal of signals) process.off(signal, onSignal);
    },
  };
}

/** Empties the log file behind stderr (opened for appending by the spawner) when it has grown past the cap. */
function capLog(): void {
  try {
    if (fstatSync(2).size <= LOG_CAP_BYTES) return;
    ftruncateSync(2, 0);
    writeSync(2, `${new Date().toISOString()} [${process.pid}] log emptied at ${LOG_CAP_BYTES} bytes\n`);
  } catch {
    // stderr is no regular file (started by hand): nothing to cap
  }
}
