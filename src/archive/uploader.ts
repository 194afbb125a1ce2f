// The background uploader: one detached process per pg_wal that pushes every file archive_status lists as ready as
// soon as it appears, oldest first, and records each confirmed upload. PostgreSQL's own call for a file then finds
// the record (or waits for the upload in progress) in bin/wal-archive, before Node starts; a file the uploader could
// not push is pushed by that call, which reports the error. It ends with its server (daemon/lifetime.ts).
import { type FSWatcher, watch } from "node:fs";
import { mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Env } from "../config.js";
import { NAMES, STATE_DIR, settingsFingerprint } from "../fastpath/protocol.js";
import { daemonAlive, ownsPidFile, spawnDaemon, stopDaemon } from "../daemon/daemon.js";
import { helpersMayOutliveCalls } from "../daemon/adoption.js";
import { readProcessFile } from "../daemon/identity.js";
import { watchLifetime } from "../daemon/lifetime.js";
import { exists } from "../io/fs.js";
import { claimUpload, pruneRecords } from "./records.js";
import type { PushContext } from "./push/push.js";
import { lookInOneList, readyNames, unrecorded, uploadOne } from "./upload-ahead.js";
import { Failures, HighWater, pace, takeUp } from "./upload-schedule.js";

/** Without a ready file for this long the uploader exits; the next archive call starts another. */
const IDLE_EXIT_MS = 30_000;
/** archive_status is watched (inotify); the rescan also covers events a watcher may drop. */
const RESCAN_MS = 100;
/** Records of files PostgreSQL has marked done are removed this often. */
const PRUNE_RECORDS_MS = 1_000;

/** Under a postmaster that is PID 1 (daemon/adoption.ts) the call uploads ahead within itself instead. */
export function uploaderEnabled(walDir: string, env: Env, uploadConcurrency: number): boolean {
  return uploadConcurrency > 1 && env.WALNATIVE_UPLOADER !== "off" && walDir !== "" && helpersMayOutliveCalls();
}

function pidFile(walDir: string): string {
  return join(walDir, STATE_DIR, NAMES.uploaderPid);
}

/** The settings the running uploader was started under (settingsFingerprint), beside its pid file. */
const SETTINGS_FILE = "uploader.settings";

/**
 * Starts the uploader of this pg_wal unless one runs under this call's settings. Only for a real pg_wal (with
 * archive_status). An uploader started under other settings (archive_command changed the compression method and
 * PostgreSQL reloaded it) is replaced: it would go on uploading every new file the old way for as long as WAL keeps
 * coming. The spawner writes the pid file, so a starting uploader already counts as running; PostgreSQL's archiver
 * runs one command at a time, so two spawners do not race.
 */
export async function ensureUploader(walDir: string, env: Env): Promise<void> {
  const script = process.argv[1];
  if (!script || !(await exists(join(walDir, "archive_status")))) return;
  const settingsFile = join(walDir, STATE_DIR, SETTINGS_FILE);
  const settings = settingsFingerprint(env);
  if (await daemonAlive(pidFile(walDir))) {
    if ((await readFile(settingsFile, "utf8").catch(() => "")) === settings) return;
    // The old one finishes its uploads in flight (their claims keep this one off them) and exits 0.
    await stopDaemon(pidFile(walDir), "SIGTERM");
  }
  await mkdir(join(walDir, STATE_DIR), { recursive: true, mode: 0o700 });
  await writeFile(settingsFile, settings, { mode: 0o600 });
  await spawnDaemon({
    pidFile: pidFile(walDir),
    logFile: join(walDir, STATE_DIR, NAMES.uploaderLog),
    // --expose-gc: push.ts frees each segment's compression buffers while they are young. A small young generation
    // and one malloc arena (brotli's encoders run on pool threads, each of which kept its own) bound its memory.
    execArgv: ["--expose-gc", "--max-semi-space-size=1"],
    script,
    args: ["--upload-worker", walDir],
    // A thread per core: more threads only add allocator caches (resident memory), not speed.
    env: { UV_THREADPOOL_SIZE: String(Math.max(2, availableParallelism())), MALLOC_ARENA_MAX: "1", ...process.env, ...env },
  });
}

export async function uploaderAlive(walDir: string): Promise<boolean> {
  return daemonAlive(pidFile(walDir));
}

export async function runUploader(walDir: string, context: PushContext, env: Env): Promise<void> {
  if (!(await ownsPidFile(pidFile(walDir)))) return;
  const lifetime = watchLifetime(join(walDir, ".."), context.log);
  const statusDir = join(walDir, "archive_status");
  let wake: () => void = () => undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(statusDir, () => wake());
    watcher.on("error", () => undefined);
  } catch {
    // no inotify: the rescan finds new files, 100 ms later
  }
  const running = new Map<string, Promise<void>>();
  const uploaded = new Set<string>();
  const failures = new Failures();
  const highWater = new HighWater();
  /**
   * Names a listing has covered, those it found in no form in storage (conditional writes still guard them), and
   * those it found archived (compared before they are compressed).
   */
  const listed = new Set<string>();
  const knownAbsent = new Set<string>();
  const knownPresent = new Set<string>();
  let listing: Promise<void> = Promise.resolve();
  const isKnownAbsent = async (name: string) => {
    await listing;
    return knownAbsent.has(name);
  };
  const isKnownPresent = (name: string) => knownPresent.has(name);
  let lastWork = Date.now();
  let lastPrune = 0;
  let clearingBacklog = false;
  const stillOurs = async () => (await readProcessFile(pidFile(walDir)))?.pid === process.pid && (await exists(statusDir));
  try {
    while (!lifetime.signal.aborted && (await stillOurs())) {
      const now = Date.now();
      if (now - lastPrune >= PRUNE_RECORDS_MS) {
        lastPrune = now;
        await pruneRecords(walDir);
      }
      // Ready files this process knows nothing about yet; only the few it can start now are checked for a
      // record (a look each), not the whole backlog at every scan.
      const waiting = takeUp(await readyNames(walDir), new Set(running.keys()), uploaded, failures, now);
      if (waiting.length > 0 || running.size > 0) lastWork = now;
      else if (now - lastWork > IDLE_EXIT_MS) break;
      const current = pace(waiting.length + running.size, clearingBacklog, context.config.uploadConcurrency);
      clearingBacklog = current.clearingBacklog;
      const queue = await unrecorded(walDir, waiting, env, current.parallel - running.size);
      // Claimed at once, before the listing below: PostgreSQL's call for the oldest file is usually already
      // waiting in bin/wal-archive, which gives the uploader ~0.1 s to claim it before starting Node.
      const starting: string[] = [];
      for (const name of queue) {
        if (await claimUpload(walDir, name).catch(() => false)) starting.push(name);
        else failures.busy(name, now); // another process is pushing it
      }
      if (starting.length > 0) {
        // One LIST answers for every file ready at that moment; files that became ready since need another.
        // Only a push that must not overwrite (WALG_PREVENT_WAL_OVERWRITE) looks before it writes, so without
        // that setting nobody would read the answer. The files compress while the listing runs; each write
        // waits for it.
        if (context.config.preventWalOverwrite && starting.some((name) => !listed.has(name))) {
          for (const name of waiting) listed.add(name);
          listing = lookInOneList(waiting, context).then(
            ({ absent, present }) => {
              for (const name of absent) knownAbsent.add(name);
              for (const name of present) knownPresent.add(name);
            },
            () => undefined,
          );
        }
        for (const name of starting) {
          const mostBefore = highWater.most;
          const inFlight = highWater.started();
          if (inFlight > mostBefore) context.log.info(`${inFlight} uploads at once, the most so far (starting ${name})`);
          const upload = uploadOne(name, { walDir, env }, { ...context, knownAbsent: isKnownAbsent, knownPresent: isKnownPresent }, true).then(async (ok) => {
            knownAbsent.delete(name);
            knownPresent.delete(name);
            highWater.ended();
            if (ok) {
              uploaded.add(name);
              failures.succeeded();
              // PostgreSQL's calls for uploaded files end in sh, so the local archive is kept in bounds here.
              await pruneLocalArchive(context, env);
            } else {
              const delay = failures.failed(name, Date.now());
              context.log.info(`${name}: next attempt in ${Math.round(delay / 1000)} s at the earliest`);
            }
            running.delete(name);
          });
          running.set(name, upload);
        }
      }
      await Promise.race([
        sleep(RESCAN_MS),
        new Promise<void>((resolve) => (wake = resolve)),
        new Promise<void>((resolve) => lifetime.signal.addEventListener("abort", () => resolve(), { once: true })),
        ...running.values(),
      ]);
    }
  } finally {
    watcher?.close();
    await Promise.all(running.values());
    await pruneRecords(walDir);
    lifetime.end();
    context.log.info(`exiting${lifetime.reason() ? ` (${lifetime.reason()})` : ""}; most uploads at once: ${highWater.most}`);
    if ((await readProcessFile(pidFile(walDir)))?.pid === process.pid) {
      await unlink(pidFile(walDir)).catch(() => undefined);
    }
  }
}

let pruning: Promise<unknown> | undefined;
async function pruneLocalArchive(context: PushContext, env: Env): Promise<void> {
  const dir = context.config.localArchiveDir;
  if (!dir || pruning) return;
  pruning = import("../local-archive/retention.js").then(({ pruneIfDue }) => pruneIfDue(dir, context.storage, env, context.log));
  await pruning.finally(() => (pruning = undefined));
}
