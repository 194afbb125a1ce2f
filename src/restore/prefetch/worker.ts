// Prefetch for recovery: a detached worker keeps the next segments of the timeline PostgreSQL is
// replaying downloaded, verified and published by rename in pg_wal/.wal-native/prefetch/, where
// wal-restore (or the sh launcher, before Node starts) takes them by rename.
import { readdirSync, writeFileSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rmdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setPriority } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../../config.js";
import { NotFoundError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { DEFAULT_SEGMENT_SIZE, MIN_SEGMENT_SIZE, WalSegment, isSegmentName, parseWalFileName } from "../../wal/file-name.js";
import { readClusterSystemId } from "../../wal/system-id.js";
import type { Storage } from "../../storage/storage.js";
import { MARKS, NAMES, STATE_DIR, fetchingMark } from "../../fastpath/protocol.js";
import { pidFile, prefetchDir } from "./handoff.js";
import { type Cursor, leftBehind, plan, widenedWindow, withoutMark } from "./schedule.js";
import { daemonAlive, ensureDaemon, ownsPidFile, stopDaemon } from "../../daemon/daemon.js";
import { helpersMayOutliveCalls } from "../../daemon/adoption.js";
import { currentBootId, readProcessFile, signalIfAlive } from "../../daemon/identity.js";
import { type Lifetime, watchLifetime } from "../../daemon/lifetime.js";
import { bodiesInMemory, downloadVerified, fromLocalArchive } from "../download.js";
import { exists } from "../../io/fs.js";

const POLL_MS = 20;
const WORKER_NICENESS = 10;
/**
 * Until worker.ready exists, a live worker is still starting (Node, storage client, first look at the
 * cursor): PostgreSQL's call waits for it rather than fetching the segment the worker is about to fetch.
 * It appears once the first segments are marked in hand, or after this long without a cursor.
 */
const READY_WITHOUT_CURSOR_MS = 200;
/** A worker whose window PostgreSQL has not moved for this long has nothing left to do. */
const IDLE_EXIT_MS = 30_000;
const MISSING_RETRY_MS = 1_000;
/**
 * Downloaded objects wait whole in memory for one of the two decode buffers. An index build's WAL compresses only
 * to ~7 MiB per segment: four such downloads at once took the worker from ~115 to 150-160 MB. No new download
 * starts while this much is held or expected (one always may): two at a time for such objects, four for typical
 * ones (~1 MiB).
 */
const BODY_BUDGET = 8 * 1024 * 1024;

/**
 * Another download would hold too much. Sizes are known only once a download starts, so the last one's counts;
 * before the first, half the budget (two at a time), as a worker starting among poorly compressed objects would
 * otherwise take four of them at once.
 */
function overBudget(inFlight: number): boolean {
  const { held, last } = bodiesInMemory();
  return held >= BODY_BUDGET || inFlight * (last || BODY_BUDGET / 2) >= BODY_BUDGET;
}

/**
 * Starts a worker, if none runs, while the requested segment is still being fetched: Node takes a
 * while to start, and the worker only begins downloading once notePrefetchPosition() moves the
 * cursor after the requested segment has been served.
 */
export async function startPrefetchWorker(walDir: string, config: Config): Promise<EarlyWorker | undefined> {
  const pid = await ensureWorker(walDir, config, true);
  return pid === undefined ? undefined : { pid, walDir };
}

export interface EarlyWorker {
  readonly pid: number;
  readonly walDir: string;
}

/**
 * Undoes startPrefetchWorker() when the call that started it fails: PostgreSQL is about to abort
 * the recovery, so nothing of ours should be left running or lying in pg_wal.
 */
export async function stopEarlyWorker(worker: EarlyWorker): Promise<void> {
  const dir = prefetchDir(worker.walDir);
  const named = await readProcessFile(pidFile(dir));
  if (named?.pid === worker.pid) await signalIfAlive(named, "SIGKILL");
  for (const file of [NAMES.workerPid, NAMES.workerReady, NAMES.workerLog, NAMES.cursor]) await unlink(join(dir, file)).catch(() => undefined);
  await rmdir(dir).catch(() => undefined);
  await rmdir(join(worker.walDir, STATE_DIR)).catch(() => undefined);
}

/** Tells the worker where replay is ("<segment> <segment size>"); starts a worker if none runs. */
export async function notePrefetchPosition(walDir: string, name: string, segmentSize: number, config: Config): Promise<void> {
  if (!prefetchEnabled(config) || !isSegmentName(name)) return;
  const dir = prefetchDir(walDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `cursor.${process.pid}`);
  await writeFile(temp, `${name} ${segmentSize}\n`, { mode: 0o600 });
  await rename(temp, join(dir, NAMES.cursor));
  await ensureWorker(walDir, config, false);
}

/** WALG_DOWNLOAD_CONCURRENCY=1 turns it off; so does a postmaster that is PID 1 (daemon/adoption.ts): no worker then. */
function prefetchEnabled(config: Config): boolean {
  return config.downloadConcurrency > 1 && helpersMayOutliveCalls();
}

/**
 * The spawner writes the worker's pid file, so a worker that is still starting already counts as
 * running; the worker exits unless the file names it. PostgreSQL calls restore_command one at a
 * time, so two spawners never race for one pg_wal.
 */
async function ensureWorker(walDir: string, config: Config, freshCursor: boolean): Promise<number | undefined> {
  const dir = prefetchDir(walDir);
  const script = process.argv[1];
  if (!prefetchEnabled(config) || !script) return undefined;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (await daemonAlive(pidFile(dir))) return undefined;
  // A cursor left by an earlier recovery must not send the new worker after old segments.
  if (freshCursor) await unlink(join(dir, NAMES.cursor)).catch(() => undefined);
  // Whatever an earlier worker left may be from before a crash of the machine (published without
  // fsync): gone before the new worker's pid file names this boot.
  await removePublished(dir);
  await unlink(join(dir, NAMES.workerReady)).catch(() => undefined);
  return ensureDaemon({
    pidFile: pidFile(dir),
    logFile: join(dir, NAMES.workerLog),
    // --expose-gc: the worker frees each segment's buffers as soon as it is published (peak RSS). A 1 MiB young
    // generation, as the uploader's: peak RSS 122/122 MB against 131/135 (lz4) and 156/163 against 192/184 (brotli) in
    // alternating recoveries of 64 segments, CPU and time within their spread (docs/PERFORMANCE.md).
    execArgv: ["--expose-gc", "--max-semi-space-size=1"],
    script,
    args: ["--prefetch-worker", walDir],
    env: process.env,
  });
}

export interface WorkerContext {
  readonly config: Config;
  readonly log: Logger;
  readonly storage: () => Promise<Storage>;
}

export async function runPrefetchWorker(walDir: string, context: WorkerContext): Promise<void> {
  const dir = prefetchDir(walDir);
  if (!(await ownsPidFile(pidFile(dir)))) return;
  lowerPriority();
  const lifetime = watchLifetime(join(walDir, ".."), context.log);
  try {
    // Unsynced files are safe to publish only when the readers can tell this boot from the next.
    const durable = currentBootId() === undefined;
    await new Prefetcher(dir, context, await context.storage(), await readClusterSystemId("."), durable, lifetime).run();
  } finally {
    lifetime.end();
    if ((await readProcessFile(pidFile(dir)))?.pid === process.pid) {
      await unlink(join(dir, NAMES.workerReady)).catch(() => undefined);
      await unlink(pidFile(dir)).catch(() => undefined);
    }
  }
}

class Prefetcher {
  // The schedule's state (schedule.ts ScheduleState).
  readonly inFlight = new Set<string>();
  readonly published = new Set<string>();
  readonly retryAfter = new Map<string, number>();
  /** Names storage said it does not hold (at the last try). */
  readonly missing = new Set<string>();
  /** Segments marked as the archive's last (markKept). */
  private readonly keepMarks = new Map<string, Promise<void>>();
  window: number;
  private cursor: Cursor | undefined;
  private segmentSize = DEFAULT_SEGMENT_SIZE;

  constructor(
    private readonly dir: string,
    private readonly context: WorkerContext,
    private readonly storage: Storage,
    private readonly systemId: bigint | undefined,
    private readonly durable: boolean,
    private readonly lifetime: Lifetime,
  ) {
    this.window = context.config.downloadConcurrency;
  }

  async run(): Promise<void> {
    await this.removeTemporaries();
    const started = Date.now();
    let ready = false;
    let lastMove = Date.now();
    while (Date.now() - lastMove < IDLE_EXIT_MS && !this.lifetime.signal.aborted && !(await recoveryOver())) {
      const cursor = await this.readCursor();
      if (cursor === null) return; // the directory is gone: the cluster was removed
      // A seeded cursor (fetch.ts) guessed the segment size; the served file's real size corrects it.
      if (cursor && (cursor.name !== this.cursor?.name || cursor.segmentSize !== this.cursor.segmentSize)) {
        if (cursor.name !== this.cursor?.name) this.adapt(cursor);
        this.cursor = cursor;
        lastMove = Date.now();
        await this.cleanup(cursor);
      }
      if (this.cursor) this.schedule(this.cursor);
      if (!ready && (this.cursor || Date.now() - started > READY_WITHOUT_CURSOR_MS)) ready = writeMarker(join(this.dir, NAMES.workerReady));
      await sleep(POLL_MS);
    }
    // Replay has moved on or ended: what is left would only fill pg_wal.
    await removePublished(this.dir);
  }

  /** Replay asked for a segment we had not published yet: the window is too small for its speed. */
  private adapt(next: Cursor): void {
    if (this.cursor === undefined) return;
    const wider = widenedWindow(this.window, this.context.config.downloadConcurrency, this.published.has(next.name));
    if (wider === undefined) return;
    this.window = wider;
    this.context.log.info(`replay is outrunning prefetch at ${next.name}: window widened to ${this.window}`);
  }

  private schedule(cursor: Cursor): void {
    const { fetch, keep } = plan(cursor, this, Date.now(), overBudget);
    if (keep) void this.markKept(keep);
    for (const name of fetch) {
      this.inFlight.add(name);
      void this.fetch(name).finally(() => this.inFlight.delete(name));
    }
  }

  /**
   * The archive's last segment is read again by PostgreSQL (once or twice) as recovery ends. Its
   * `.keep` mark has bin/wal-restore serve it by copy, so each re-read costs a copy instead of a wait
   * for one more download. Marked before it is fetched when the end is already known, else later.
   */
  private markKept(name: string): Promise<void> {
    let mark = this.keepMarks.get(name);
    if (!mark) {
      mark = writeFile(join(this.dir, `${name}${MARKS.keep}`), "", { mode: 0o600 }).catch(() => undefined);
      this.keepMarks.set(name, mark);
    }
    return mark;
  }

  private async fetch(name: string): Promise<void> {
    const destination = join(this.dir, name);
    // Tells bin/wal-restore that this segment is in hand (downloading, waiting to be decoded): PostgreSQL's
    // call waits for it instead of starting Node to fetch the same segment a second time. Written before
    // the first await, so the segments of the first schedule() are marked when worker.ready appears; not for
    // the looks schedule() takes every poll at a published name (history files, the archive's last segment).
    const marker = name.endsWith(".history") || this.published.has(name) ? undefined : join(this.dir, fetchingMark(name));
    if (marker) writeMarker(marker);
    try {
      if (await exists(destination)) {
        this.published.add(name);
        return;
      }
      await this.keepMarks.get(name);
      const expect = { file: parseWalFileName(name, MIN_SEGMENT_SIZE), systemId: this.systemId };
      const { localArchiveDir, compression, encryption } = this.context.config;
      const publish = { durable: this.durable };
      const local = localArchiveDir ? await fromLocalArchive(localArchiveDir, destination, expect, this.context.log, publish) : undefined;
      const started = performance.now();
      if (local === undefined) await downloadVerified(this.storage, destination, expect, compression, { ...publish, encryption });
      this.context.log.debug(`published ${name} in ${Math.round(performance.now() - started)} ms`);
      this.published.add(name);
      this.missing.delete(name);
      await unlink(`${destination}${MARKS.missing}`).catch(() => undefined);
      (globalThis as { gc?: () => void }).gc?.();
    } catch (error) {
      const absent = error instanceof NotFoundError;
      this.retryAfter.set(name, Date.now() + MISSING_RETRY_MS * (absent ? 1 : 3));
      if (absent) {
        this.context.log.debug(`${name} is not in the archive`);
        this.missing.add(name);
        // Storage's answer, at most MISSING_RETRY_MS plus one request old: bin/wal-restore answers 74 from it while
        // the epoch second written in it is fresh (a few seconds), as if it had asked a moment earlier. Never for a
        // history file: PostgreSQL picks its new timeline from those answers, and another cluster recovered from
        // this archive may archive one at any moment (bin/wal-restore asks storage for each).
        if (!name.endsWith(".history")) await writeFile(`${destination}${MARKS.missing}`, `${Math.floor(Date.now() / 1000)}\n`, { mode: 0o600 });
      } else {
        this.context.log.warn(`prefetch of ${name} failed: ${(error as Error).message}`);
      }
    } finally {
      if (marker) await unlink(marker).catch(() => undefined);
    }
  }

  /** Segments behind replay, or of another timeline, will not be asked for again. */
  private async cleanup(cursor: Cursor): Promise<void> {
    for (const entry of await readdir(this.dir).catch(() => [] as string[])) {
      if (!leftBehind(entry, cursor)) continue;
      await unlink(join(this.dir, entry)).catch(() => undefined);
      this.published.delete(entry);
      this.keepMarks.delete(withoutMark(entry));
    }
  }

  private async removeTemporaries(): Promise<void> {
    for (const entry of await readdir(this.dir).catch(() => [] as string[])) {
      const leftover = entry.startsWith(".") && (entry.endsWith(".tmp") || entry.endsWith(".fetching"));
      if (leftover) await unlink(join(this.dir, entry)).catch(() => undefined);
    }
  }

  /** undefined: no cursor yet; null: the prefetch directory no longer exists. */
  private async readCursor(): Promise<Cursor | undefined | null> {
    let text: string;
    try {
      text = await readFile(join(this.dir, NAMES.cursor), "utf8");
    } catch (error) {
      return (error as { code?: string }).code === "ENOENT" && !(await exists(this.dir)) ? null : undefined;
    }
    const [name, size] = text.trim().split(/\s+/);
    if (!name || !isSegmentName(name)) return undefined;
    if (size && Number(size) > 0) this.segmentSize = Number(size);
    try {
      return { name, segment: WalSegment.parse(name, this.segmentSize), segmentSize: this.segmentSize };
    } catch {
      return undefined;
    }
  }
}

/** An empty marker file, written synchronously; false when it could not be written. */
function writeMarker(path: string): boolean {
  try {
    writeFileSync(path, "", { mode: 0o600 });
    return true;
  } catch {
    return false;
  }
}

/** Segments, history files and their marks in the prefetch directory. */
async function removePublished(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const name = withoutMark(entry);
    if (isSegmentName(name) || name.endsWith(".history")) await unlink(join(dir, entry)).catch(() => undefined);
  }
}

/**
 * Replay is the critical path and the look-ahead only feeds it: on a busy machine the worker takes the
 * CPU that replay leaves, which made recoveries faster on two cores.
 */
function lowerPriority(): void {
  // Linux gives each thread its own nice value: V8's and libuv's threads already run, and only threads
  // started later inherit the main thread's. Elsewhere one call covers the process.
  let threads: number[] = [0];
  try {
    threads = readdirSync("/proc/self/task").map(Number).filter((tid) => tid > 0);
  } catch {
    // no /proc: the process as a whole
  }
  for (const thread of threads) {
    try {
      setPriority(thread, WORKER_NICENESS);
    } catch {
      // not allowed here, or the thread ended: it runs at normal priority
    }
  }
}

/**
 * In a real data directory (the worker's cwd, as PostgreSQL's), recovery is over once PostgreSQL
 * has removed recovery.signal and there is no standby.signal: nothing will be asked for again.
 */
async function recoveryOver(): Promise<boolean> {
  if (!(await exists(join("global", "pg_control")))) return false;
  return !(await exists("recovery.signal")) && !(await exists("standby.signal"));
}

/** Stops the worker of this pg_wal, if one runs: before a recovered data directory is removed. */
export async function stopPrefetchWorker(walDir: string): Promise<void> {
  await stopDaemon(pidFile(prefetchDir(walDir)));
}

