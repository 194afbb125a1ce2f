// The background uploader: one detached process per pg_wal that pushes every file archive_status lists
// as ready as soon as it appears, oldest first, and records each confirmed upload. PostgreSQL's own call
// for a file then finds the record (or waits for the upload in progress) in bin/wal-archive, before Node
// starts; a file the uploader could not push is pushed by that call, which reports the error.
import { spawn } from "node:child_process";
import { type FSWatcher, watch } from "node:fs";
import { mkdir, open, readFile, unlink, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Env } from "../config.js";
import { STATE_DIR } from "../fastpath/protocol.js";
import { claimUpload, pruneRecords, settingsFingerprint } from "./records.js";
import type { PushContext } from "./push/push.js";
import { absentInOneLook, readyNames, unrecorded, uploadOne } from "./upload-ahead.js";
import { exists } from "../io/exists.js";

/**
 * Uploads at once. At most two hold a whole segment (push.ts's compression slots); the others hold their
 * compressed bytes while they wait for the network, which hides a far store's latency. While files arrive
 * about as fast as they go, three keep PostgreSQL's oldest file waiting least: pgbench -i -s 100, max .ready
 * 4-6 (median 4.5) over 4 runs against 5-6 (median 6) with six, which share MinIO and the disk with it.
 */
const PARALLEL = 3;
/**
 * A backlog longer than this (archiving resumed after an outage, a burst) is cleared by throughput rather
 * than by the oldest file's wait: up to PARALLEL_BACKLOG at once, until no more than PARALLEL files are left.
 * 64 ready segments at 20 ms RTT: 1.27-1.31 s with six against 1.41-1.53 s with three.
 */
const BACKLOG = 8;
const PARALLEL_BACKLOG = 6;
/** Without a ready file for this long the uploader exits; the next archive call starts another. */
const IDLE_EXIT_MS = 30_000;
/** archive_status is watched (inotify); the rescan also covers events a watcher may drop. */
const RESCAN_MS = 100;
/** A file whose upload failed is left to PostgreSQL's own call for this long (it reports the error). */
const RETRY_FAILED_MS = 2_000;
const PID_FILE = "uploader.pid";
/** The settings the running uploader was started under (settingsFingerprint), beside its pid. */
const SETTINGS_FILE = "uploader.settings";
/** Records of files PostgreSQL has marked done are removed this often. */
const PRUNE_RECORDS_MS = 1_000;

export function uploaderEnabled(walDir: string, env: Env, uploadConcurrency: number): boolean {
  return uploadConcurrency > 1 && env.WALNATIVE_UPLOADER !== "off" && walDir !== "";
}

/**
 * Starts the uploader of this pg_wal unless one runs under this call's settings. Only for a real pg_wal
 * (with archive_status). An uploader started under other settings (archive_command changed the
 * compression method and PostgreSQL reloaded it) is replaced: it would go on uploading every new file
 * the old way for as long as WAL keeps coming. The spawner writes the pid file, so a starting uploader
 * already counts as running; PostgreSQL's archiver runs one command at a time, so two spawners do not race.
 */
export async function ensureUploader(walDir: string, env: Env): Promise<void> {
  const entry = process.argv[1];
  if (!entry || !(await exists(join(walDir, "archive_status")))) return;
  const dir = join(walDir, STATE_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const settings = settingsFingerprint(env);
  if (await uploaderAlive(walDir)) {
    if ((await readFile(join(dir, SETTINGS_FILE), "utf8").catch(() => "")) === settings) return;
    await stopUploader(walDir);
  }
  await writeFile(join(dir, SETTINGS_FILE), settings, { mode: 0o600 });
  const log = await open(join(dir, "uploader.log"), "a", 0o600);
  // --expose-gc: push.ts frees each segment's compression buffers while they are young. A small young
  // generation and one malloc arena (brotli's encoders run on pool threads, each of which kept its own):
  // peak RSS of the uploader pushing 64 segments, brotli 185-195 -> 150-160 MB, lz4 ~152 -> ~148 MB.
  const child = spawn(process.execPath, ["--expose-gc", "--max-semi-space-size=1", entry, "--upload-worker", walDir], {
    detached: true,
    stdio: ["ignore", log.fd, log.fd],
    cwd: process.cwd(),
    // A thread per core: more threads only add allocator caches (resident memory), not speed.
    env: { UV_THREADPOOL_SIZE: String(Math.max(2, availableParallelism())), MALLOC_ARENA_MAX: "1", ...process.env, ...env },
  });
  await log.close();
  child.unref();
  if (child.pid !== undefined) await writeFile(join(dir, PID_FILE), `${child.pid}\n`, { mode: 0o600 });
}

export async function uploaderAlive(walDir: string): Promise<boolean> {
  const pid = await pidInFile(walDir);
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the uploader of this pg_wal, if one runs: before a data directory is removed. */
export async function stopUploader(walDir: string): Promise<void> {
  const pid = await pidInFile(walDir);
  if (pid === undefined) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export async function runUploader(walDir: string, context: PushContext, env: Env): Promise<void> {
  if (!(await ownsPidFile(walDir))) return;
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
  const failedUntil = new Map<string, number>();
  /** Names a listing has covered, and those it found in no form in storage (conditional writes still guard them). */
  const listed = new Set<string>();
  const knownAbsent = new Set<string>();
  let listing: Promise<void> = Promise.resolve();
  const isKnownAbsent = async (name: string) => {
    await listing;
    return knownAbsent.has(name);
  };
  let lastWork = Date.now();
  let lastPrune = 0;
  let clearingBacklog = false;
  try {
    while ((await ownsPidFile(walDir)) && (await exists(statusDir))) {
      const now = Date.now();
      if (now - lastPrune >= PRUNE_RECORDS_MS) {
        lastPrune = now;
        await pruneRecords(walDir);
      }
      // Ready files this process knows nothing about yet; only the few it can start now are checked for a
      // record (a look each), not the whole backlog at every scan.
      const waiting = (await readyNames(walDir)).filter(
        (name) => !running.has(name) && !uploaded.has(name) && (failedUntil.get(name) ?? 0) <= now,
      );
      if (waiting.length > 0 || running.size > 0) lastWork = now;
      else if (now - lastWork > IDLE_EXIT_MS) break;
      const backlog = waiting.length + running.size;
      clearingBacklog = backlog > BACKLOG || (clearingBacklog && backlog > PARALLEL);
      const parallel = clearingBacklog ? PARALLEL_BACKLOG : PARALLEL;
      const queue = await unrecorded(walDir, waiting, env, parallel - running.size);
      // Claimed at once, before the listing below: PostgreSQL's call for the oldest file is usually already
      // waiting in bin/wal-archive, which gives the uploader ~0.1 s to claim it before starting Node.
      const starting: string[] = [];
      for (const name of queue) {
        if (await claimUpload(walDir, name).catch(() => false)) starting.push(name);
        else failedUntil.set(name, now + RETRY_FAILED_MS); // another process is pushing it
      }
      if (starting.length > 0) {
        // One LIST answers for every file ready at that moment; files that became ready since need another.
        // Only a push that must not overwrite (WALG_PREVENT_WAL_OVERWRITE) looks before it writes, so without
        // that setting nobody would read the answer. The files compress while the listing runs; each write
        // waits for it.
        if (context.config.preventWalOverwrite && starting.some((name) => !listed.has(name))) {
          for (const name of waiting) listed.add(name);
          listing = absentInOneLook(waiting, context).then(
            (absent) => {
              for (const name of absent) knownAbsent.add(name);
            },
            () => undefined,
          );
        }
        for (const name of starting) {
          const upload = uploadOne(name, { walDir, env }, { ...context, knownAbsent: isKnownAbsent }, true).then(async (ok) => {
            knownAbsent.delete(name);
            if (ok) {
              uploaded.add(name);
              // Storage answers again (after an outage): the files that failed meanwhile need not wait their turn.
              failedUntil.clear();
            } else failedUntil.set(name, Date.now() + RETRY_FAILED_MS);
            // PostgreSQL's calls for uploaded files end in sh, so the local archive is kept in bounds here.
            if (ok) await pruneLocalArchive(context, env);
            running.delete(name);
          });
          running.set(name, upload);
        }
      }
      await Promise.race([sleep(RESCAN_MS), new Promise<void>((resolve) => (wake = resolve)), ...running.values()]);
    }
  } finally {
    watcher?.close();
    await Promise.all(running.values());
    await pruneRecords(walDir);
    if ((await pidInFile(walDir)) === process.pid) await unlink(join(walDir, STATE_DIR, PID_FILE)).catch(() => undefined);
  }
}

let pruning: Promise<unknown> | undefined;
async function pruneLocalArchive(context: PushContext, env: Env): Promise<void> {
  const dir = context.config.localArchiveDir;
  if (!dir || pruning) return;
  pruning = import("../local-archive/retention.js").then(({ pruneIfDue }) => pruneIfDue(dir, context.storage, env, context.log));
  await pruning.finally(() => (pruning = undefined));
}

/** The pid file written by the spawner names the one uploader of this pg_wal. */
async function ownsPidFile(walDir: string): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const pid = await pidInFile(walDir);
    if (pid === process.pid) return true;
    if (pid !== undefined) return false;
    await sleep(10); // the spawner writes it right after spawn() returns
  }
  return false;
}

async function pidInFile(walDir: string): Promise<number | undefined> {
  const text = await readFile(join(walDir, STATE_DIR, PID_FILE), "utf8").catch(() => "");
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
