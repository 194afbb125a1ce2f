// Prefetch for recovery: a detached worker keeps the next segments of the timeline PostgreSQL is
// replaying downloaded, verified and published by rename in pg_wal/.wal-native/prefetch/, where
// wal-restore (or the sh launcher, before Node starts) takes them by rename.
import { spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setPriority } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../../config.js";
import { NotFoundError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { DEFAULT_SEGMENT_SIZE, WalSegment, isSegmentName, parseWalFileName } from "../../wal/file-name.js";
import { readClusterSystemId } from "../../wal/identity.js";
import type { Storage } from "../../storage/storage.js";
import { STATE_DIR } from "../../fastpath/protocol.js";
import { bodiesInMemory, downloadVerified, fromLocalArchive } from "../download.js";
import { exists } from "../../io/exists.js";

const POLL_MS = 20;
const WORKER_NICENESS = 10;
/**
 * Until worker.ready exists, a live worker is still starting (Node, storage client, first look at the
 * cursor): PostgreSQL's call waits for it rather than fetching the segment the worker is about to fetch.
 * It appears once the first segments are marked in hand, or after this long without a cursor.
 */
const READY_WITHOUT_CURSOR_MS = 200;
/** How long a call waits for a starting worker (bin/wal-restore waits about as long). */
const BOOT_WAIT_MS = 500;
/** A worker whose window PostgreSQL has not moved for this long has nothing left to do. */
const IDLE_EXIT_MS = 30_000;
const MISSING_RETRY_MS = 1_000;
const MAX_PARALLEL = 4;
const MAX_WINDOW = 32;
/**
 * Downloaded objects wait whole in memory for one of the two decode buffers. An index build's WAL compresses only
 * to ~7 MiB per segment: four such downloads at once took the worker from ~115 to 150-160 MB. No new download
 * starts while this much is held or expected (one always may): two at a time for such objects, four for typical
 * ones (~1 MiB).
 */
const BODY_BUDGET = 8 * 1024 * 1024;

/**
 * Another download would hold too much. Sizes are known only once a download starts, so the last one's counts;
 * before the first, half the budget (two at a time: a worker starting in ~11 MiB objects went to 167 MB).
 */
function overBudget(inFlight: number): boolean {
  const { held, last } = bodiesInMemory();
  return held >= BODY_BUDGET || inFlight * (last || BODY_BUDGET / 2) >= BODY_BUDGET;
}

export function prefetchDir(walDir: string): string {
  return join(walDir, STATE_DIR, "prefetch");
}

const BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";
/** Written to worker.boot where the boot id is unknown: that worker fsyncs what it publishes. */
const DURABLE_MARK = "durable";

/** This boot of the machine (Linux); undefined where there is no such file. */
async function currentBootId(): Promise<string | undefined> {
  const text = await readFile(BOOT_ID_FILE, "utf8").catch(() => "");
  return text.trim() || undefined;
}

/**
 * The worker publishes without fsync, so after a machine crash a published file may be torn while
 * its name survived. Its files are therefore served only while worker.pid names a live process and
 * worker.boot names this boot (a pid can be reused after a reboot); a worker that could not tell
 * the boot fsyncs instead and marks worker.boot "durable". bin/wal-restore checks the same.
 */
async function servedByLiveWorker(dir: string): Promise<boolean> {
  const [pidText, boot] = await Promise.all([
    readFile(join(dir, "worker.pid"), "utf8").catch(() => ""),
    readFile(join(dir, "worker.boot"), "utf8").then((text) => text.trim(), () => ""),
  ]);
  const pid = Number(pidText.trim());
  if (!(pid > 0) || boot === "") return false;
  if (boot !== DURABLE_MARK && boot !== (await currentBootId())) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** How long a call waits for a segment the worker is downloading before fetching it itself. */
const IN_FLIGHT_STALL_MS = 200;
const IN_FLIGHT_MAX_WAIT_MS = 5_000;
/** A segment marked in hand takes well under 0.1 s; a worker stuck with it costs this much at most. */
const IN_HAND_MAX_WAIT_MS = 1_000;

/**
 * Moves a prefetched segment onto the destination; false when there is none. When the worker is
 * downloading it right now (its temporary file grows), waits for it rather than downloading it a
 * second time, but not for a download that has stalled.
 */
export async function takePrefetched(walDir: string, name: string, destination: string): Promise<boolean> {
  const dir = prefetchDir(walDir);
  if (!(await servedByLiveWorker(dir))) return false;
  const started = Date.now();
  let lastSize = -1;
  let lastGrowth = Date.now();
  for (;;) {
    try {
      await rename(join(dir, name), destination);
      return true;
    } catch {
      // not published (yet)
    }
    // As bin/wal-restore: a starting worker, or one with this segment in hand, is waited for while it lives.
    const waited = Date.now() - started;
    const booting = waited < BOOT_WAIT_MS && !(await exists(join(dir, "worker.ready")));
    const inHand = waited < IN_HAND_MAX_WAIT_MS && (await exists(join(dir, `.${name}.fetching`)));
    if (booting || inHand) {
      if (!(await servedByLiveWorker(dir))) return false;
      await sleep(5);
      continue;
    }
    const size = await inFlightSize(dir, name);
    if (size === undefined || Date.now() - started > IN_FLIGHT_MAX_WAIT_MS) return false;
    if (size !== lastSize) [lastSize, lastGrowth] = [size, Date.now()];
    else if (Date.now() - lastGrowth > IN_FLIGHT_STALL_MS) return false;
    await sleep(5);
  }
}

/** Size of the worker's temporary file for this segment (download.ts names it .<name>.<random>.tmp). */
async function inFlightSize(dir: string, name: string): Promise<number | undefined> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const temp = entries.find((entry) => entry.startsWith(`.${name}.`) && entry.endsWith(".tmp"));
  if (!temp) return undefined;
  return (await stat(join(dir, temp)).catch(() => undefined))?.size;
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
  try {
    process.kill(worker.pid, "SIGKILL");
  } catch {
    // already gone
  }
  const dir = prefetchDir(worker.walDir);
  for (const file of ["worker.pid", "worker.ready", "worker.boot", "worker.log", "cursor"]) await unlink(join(dir, file)).catch(() => undefined);
  await rmdir(dir).catch(() => undefined);
  await rmdir(join(worker.walDir, STATE_DIR)).catch(() => undefined);
}

/** Tells the worker where replay is ("<segment> <segment size>"); starts a worker if none runs. */
export async function notePrefetchPosition(walDir: string, name: string, segmentSize: number, config: Config): Promise<void> {
  if (config.downloadConcurrency <= 1 || !isSegmentName(name)) return;
  const dir = prefetchDir(walDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `cursor.${process.pid}`);
  await writeFile(temp, `${name} ${segmentSize}\n`, { mode: 0o600 });
  await rename(temp, join(dir, "cursor"));
  await ensureWorker(walDir, config, false);
}

/**
 * The spawner writes the worker's pid file, so a worker that is still starting already counts as
 * running; the worker exits unless the file names it. PostgreSQL calls restore_command one at a
 * time, so two spawners never race for one pg_wal.
 */
async function ensureWorker(walDir: string, config: Config, freshCursor: boolean): Promise<number | undefined> {
  const dir = prefetchDir(walDir);
  const entry = process.argv[1];
  if (config.downloadConcurrency <= 1 || !entry) return undefined;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (await workerAlive(dir)) return undefined;
  // A cursor left by an earlier recovery must not send the new worker after old segments.
  if (freshCursor) await unlink(join(dir, "cursor")).catch(() => undefined);
  // Whatever an earlier worker left may be from before a crash of the machine (published without
  // fsync): gone before the new worker's files name this boot.
  await removePublished(dir);
  await unlink(join(dir, "worker.ready")).catch(() => undefined);
  await writeFile(join(dir, "worker.boot"), `${(await currentBootId()) ?? DURABLE_MARK}\n`, { mode: 0o600 });
  const log = await open(join(dir, "worker.log"), "a", 0o600);
  // --expose-gc: the worker frees each segment's buffers as soon as it is published (peak RSS).
  const child = spawn(process.execPath, ["--expose-gc", entry, "--prefetch-worker", walDir], {
    detached: true,
    stdio: ["ignore", log.fd, log.fd],
    cwd: process.cwd(),
    env: process.env,
  });
  await log.close();
  child.unref();
  if (child.pid !== undefined) await writeFile(join(dir, "worker.pid"), `${child.pid}\n`, { mode: 0o600 });
  return child.pid;
}

/** A pid recorded in another boot names some other process now (or none): no worker of ours. */
async function workerAlive(dir: string): Promise<boolean> {
  try {
    const boot = (await readFile(join(dir, "worker.boot"), "utf8").catch(() => "")).trim();
    if (boot !== "" && boot !== DURABLE_MARK && boot !== (await currentBootId())) return false;
    const pid = Number((await readFile(join(dir, "worker.pid"), "utf8")).trim());
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Cursor {
  readonly segment: WalSegment;
  readonly name: string;
  readonly segmentSize: number;
}

export interface WorkerContext {
  readonly config: Config;
  readonly log: Logger;
  readonly storage: () => Promise<Storage>;
}

export async function runPrefetchWorker(walDir: string, context: WorkerContext): Promise<void> {
  const dir = prefetchDir(walDir);
  if (!(await acquireLock(dir))) return;
  lowerPriority();
  try {
    // Unsynced files are safe to publish only when the readers can tell this boot from the next.
    const durable = (await readFile(join(dir, "worker.boot"), "utf8").catch(() => "")).trim() !== (await currentBootId());
    await new Prefetcher(dir, context, await context.storage(), await readClusterSystemId("."), durable).run();
  } finally {
    const owner = await readFile(join(dir, "worker.pid"), "utf8").catch(() => "");
    if (owner.trim() === String(process.pid)) {
      await unlink(join(dir, "worker.ready")).catch(() => undefined);
      await unlink(join(dir, "worker.pid")).catch(() => undefined);
    }
  }
}

class Prefetcher {
  private readonly inFlight = new Set<string>();
  private readonly published = new Set<string>();
  private readonly retryAfter = new Map<string, number>();
  /** Names storage said it does not hold (at the last try). */
  private readonly missing = new Set<string>();
  /** Segments marked as the archive's last (markKept). */
  private readonly keepMarks = new Map<string, Promise<void>>();
  private window: number;
  private cursor: Cursor | undefined;
  private segmentSize = DEFAULT_SEGMENT_SIZE;

  constructor(
    private readonly dir: string,
    private readonly context: WorkerContext,
    private readonly storage: Storage,
    private readonly systemId: bigint | undefined,
    private readonly durable: boolean,
  ) {
    this.window = context.config.downloadConcurrency;
  }

  async run(): Promise<void> {
    await this.removeTemporaries();
    const started = Date.now();
    let ready = false;
    let lastMove = Date.now();
    while (Date.now() - lastMove < IDLE_EXIT_MS && !(await recoveryOver())) {
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
      if (!ready && (this.cursor || Date.now() - started > READY_WITHOUT_CURSOR_MS)) ready = writeMarker(join(this.dir, "worker.ready"));
      await sleep(POLL_MS);
    }
    // Replay has moved on or ended: what is left would only fill pg_wal.
    await removePublished(this.dir);
  }

  /** Replay asked for a segment we had not published yet: the window is too small for its speed. */
  private adapt(next: Cursor): void {
    if (this.cursor === undefined || this.published.has(next.name)) return;
    const maxWindow = Math.min(this.context.config.downloadConcurrency * 4, MAX_WINDOW);
    if (this.window < maxWindow) {
      this.window = Math.min(this.window * 2, maxWindow);
      this.context.log.info(`replay is outrunning prefetch at ${next.name}: window widened to ${this.window}`);
    }
  }

  /**
   * The next segments up to the window; where the archive ends, also the segment at the cursor
   * again (PostgreSQL re-reads the last segment at the end of recovery) and the history files it
   * probes before choosing a timeline, so that the end of a recovery costs no Node start either.
   */
  private schedule(cursor: Cursor): void {
    const names: string[] = [];
    let segment = cursor.segment;
    let lastInArchive: string | undefined;
    for (let i = 0; i < this.window; i += 1) {
      segment = segment.next(cursor.segmentSize);
      const text = segment.toString();
      if ((this.retryAfter.get(text) ?? 0) > Date.now()) {
        if (this.missing.has(text)) lastInArchive = names.at(-1) ?? cursor.name;
        break; // nothing beyond a missing segment exists either
      }
      names.push(text);
    }
    if (lastInArchive) void this.markKept(lastInArchive);
    if (lastInArchive === cursor.name) names.push(cursor.name);
    const timeline = cursor.segment.timeline;
    names.push(historyName(timeline + 1), historyName(timeline));
    for (const name of names) {
      if (this.inFlight.size >= Math.min(this.window, MAX_PARALLEL)) return;
      if (this.inFlight.size > 0 && overBudget(this.inFlight.size)) return;
      if (this.inFlight.has(name) || (this.retryAfter.get(name) ?? 0) > Date.now()) continue;
      // Taken by rename, so only the re-read and the history files (copied) need a look each time.
      if (this.published.has(name) && name !== cursor.name && !name.endsWith(".history")) continue;
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
      mark = writeFile(join(this.dir, `${name}.keep`), "", { mode: 0o600 }).catch(() => undefined);
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
    const marker = name.endsWith(".history") || this.published.has(name) ? undefined : join(this.dir, `.${name}.fetching`);
    if (marker) writeMarker(marker);
    try {
      if (await exists(destination)) {
        this.published.add(name);
        return;
      }
      await this.keepMarks.get(name);
      const expect = { file: parseWalFileName(name, 1024 * 1024), systemId: this.systemId };
      const { localArchiveDir, compression, encryption } = this.context.config;
      const publish = { durable: this.durable };
      const local = localArchiveDir ? await fromLocalArchive(localArchiveDir, destination, expect, this.context.log, publish) : undefined;
      const started = performance.now();
      if (local === undefined) await downloadVerified(this.storage, destination, expect, compression, { ...publish, encryption });
      this.context.log.debug(`${new Date().toISOString()} published ${name} in ${Math.round(performance.now() - started)} ms`);
      this.published.add(name);
      this.missing.delete(name);
      await unlink(`${destination}.missing`).catch(() => undefined);
      (globalThis as { gc?: () => void }).gc?.();
    } catch (error) {
      const absent = error instanceof NotFoundError;
      this.retryAfter.set(name, Date.now() + MISSING_RETRY_MS * (absent ? 1 : 3));
      if (absent) {
        this.context.log.debug(`${new Date().toISOString()} ${name} is not in the archive`);
        this.missing.add(name);
        // Storage's answer, at most MISSING_RETRY_MS plus one request old: bin/wal-restore answers
        // 74 from it while it is fresh (a few seconds), as if it had asked a moment earlier. Never for a
        // history file: PostgreSQL picks its new timeline from those answers, and another cluster recovered
        // from this archive may archive one at any moment (bin/wal-restore asks storage for each).
        if (!name.endsWith(".history")) await writeFile(`${destination}.missing`, "", { mode: 0o600 });
      } else {
        this.context.log.warn(`prefetch of ${name} failed: ${(error as Error).message}`);
      }
    } finally {
      if (marker) await unlink(marker).catch(() => undefined);
    }
  }

  /** Segments behind replay, or of another timeline, will not be asked for again. */
  private async cleanup(cursor: Cursor): Promise<void> {
    const position = cursor.segment.segmentNumber(cursor.segmentSize);
    for (const entry of await readdir(this.dir).catch(() => [] as string[])) {
      const name = withoutMark(entry);
      if (!isSegmentName(name)) continue;
      const segment = WalSegment.parse(name, 1024 * 1024);
      const behind = segment.timeline !== cursor.segment.timeline || segment.segmentNumber(cursor.segmentSize) < position;
      if (behind) {
        await unlink(join(this.dir, entry)).catch(() => undefined);
        this.published.delete(entry);
        this.keepMarks.delete(name);
      }
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
      text = await readFile(join(this.dir, "cursor"), "utf8");
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

/** The file a mark is about: NAME.missing (storage lacks it), NAME.keep (serve by copy). */
function withoutMark(entry: string): string {
  return entry.replace(/\.(missing|keep)$/, "");
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
 * CPU that replay leaves (measured on 2 cores: recovery of 64 segments 2.95 -> 2.70 s, median of 3).
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

/** The pid file written by the spawner names the one worker of this pg_wal. */
async function acquireLock(dir: string): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const owner = await readFile(join(dir, "worker.pid"), "utf8").catch(() => "");
    if (owner.trim() === String(process.pid)) return true;
    if (owner.trim() !== "") return false;
    await sleep(10); // the spawner writes it right after spawn() returns
  }
  return false;
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
  const pid = Number((await readFile(join(prefetchDir(walDir), "worker.pid"), "utf8").catch(() => "")).trim());
  if (pid > 0) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function historyName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
}
