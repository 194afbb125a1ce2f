// Prefetch for recovery: a detached worker keeps the next segments of the timeline PostgreSQL is
// replaying downloaded, verified and published by rename in pg_wal/.wal-native/prefetch/, where
// wal-restore (or the sh launcher, before Node starts) takes them by rename.
import { spawn } from "node:child_process";
import { mkdir, open, readFile, readdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../config.js";
import { NotFoundError } from "../errors.js";
import type { Logger } from "../log.js";
import { DEFAULT_SEGMENT_SIZE, WalSegment, isSegmentName, parseWalFileName } from "../wal/file-name.js";
import { readClusterSystemId } from "../wal/identity.js";
import type { Storage } from "../storage/storage.js";
import { STATE_DIR } from "../cache/upload-records.js";
import { downloadVerified, fromLocalArchive } from "./restore-file.js";

const POLL_MS = 20;
/** A worker whose window PostgreSQL has not moved for this long has nothing left to do. */
const IDLE_EXIT_MS = 30_000;
const MISSING_RETRY_MS = 1_000;
const MAX_PARALLEL = 4;
const MAX_WINDOW = 32;

export function prefetchDir(walDir: string): string {
  return join(walDir, STATE_DIR, "prefetch");
}

/** Moves a prefetched segment onto the destination; false when there is none. */
export async function takePrefetched(walDir: string, name: string, destination: string): Promise<boolean> {
  try {
    await rename(join(prefetchDir(walDir), name), destination);
    return true;
  } catch {
    return false;
  }
}

/** Tells the worker where replay is ("<segment> <segment size>"); starts a worker if none runs. */
export async function notePrefetchPosition(walDir: string, name: string, segmentSize: number, config: Config): Promise<void> {
  if (config.downloadConcurrency <= 1 || !isSegmentName(name)) return;
  const dir = prefetchDir(walDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `cursor.${process.pid}`);
  await writeFile(temp, `${name} ${segmentSize}\n`, { mode: 0o600 });
  await rename(temp, join(dir, "cursor"));
  if (await workerAlive(dir)) return;
  const log = await open(join(dir, "worker.log"), "a", 0o600);
  const entry = process.argv[1];
  if (!entry) return;
  const child = spawn(process.execPath, [entry, "--prefetch-worker", walDir], {
    detached: true,
    stdio: ["ignore", log.fd, log.fd],
    cwd: process.cwd(),
    env: process.env,
  });
  child.unref();
  await log.close();
}

async function workerAlive(dir: string): Promise<boolean> {
  try {
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
  try {
    await new Prefetcher(dir, context, await context.storage(), await readClusterSystemId(".")).run();
  } finally {
    await unlink(join(dir, "worker.pid")).catch(() => undefined);
  }
}

class Prefetcher {
  private readonly inFlight = new Set<string>();
  private readonly published = new Set<string>();
  private readonly retryAfter = new Map<string, number>();
  private window: number;
  private cursor: Cursor | undefined;
  private segmentSize = DEFAULT_SEGMENT_SIZE;

  constructor(
    private readonly dir: string,
    private readonly context: WorkerContext,
    private readonly storage: Storage,
    private readonly systemId: bigint | undefined,
  ) {
    this.window = context.config.downloadConcurrency;
  }

  async run(): Promise<void> {
    await this.removeTemporaries();
    let lastMove = Date.now();
    while (Date.now() - lastMove < IDLE_EXIT_MS) {
      const cursor = await this.readCursor();
      if (cursor === null) return; // the directory is gone: the cluster was removed
      if (cursor && cursor.name !== this.cursor?.name) {
        this.adapt(cursor);
        this.cursor = cursor;
        lastMove = Date.now();
        await this.cleanup(cursor);
      }
      if (this.cursor) this.schedule(this.cursor);
      await sleep(POLL_MS);
    }
    // Replay has moved on or ended: what is left would only fill pg_wal.
    await this.removeAll();
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

  private schedule(cursor: Cursor): void {
    let name = cursor.segment;
    for (let i = 0; i < this.window && this.inFlight.size < Math.min(this.window, MAX_PARALLEL); i += 1) {
      name = name.next(cursor.segmentSize);
      const text = name.toString();
      const retry = this.retryAfter.get(text) ?? 0;
      if (retry > Date.now()) return; // the archive ends here for now; nothing beyond it exists either
      if (this.inFlight.has(text) || this.published.has(text)) continue;
      this.inFlight.add(text);
      void this.fetch(text).finally(() => this.inFlight.delete(text));
    }
  }

  private async fetch(name: string): Promise<void> {
    const destination = join(this.dir, name);
    if (await exists(destination)) {
      this.published.add(name);
      return;
    }
    try {
      const expect = { file: parseWalFileName(name, 1024 * 1024), systemId: this.systemId };
      const { localArchiveDir, compression } = this.context.config;
      const local = localArchiveDir ? await fromLocalArchive(localArchiveDir, destination, expect, this.context.log) : undefined;
      if (local === undefined) await downloadVerified(this.storage, destination, expect, compression);
      this.published.add(name);
      this.retryAfter.delete(name);
    } catch (error) {
      this.retryAfter.set(name, Date.now() + MISSING_RETRY_MS * (error instanceof NotFoundError ? 1 : 3));
      if (!(error instanceof NotFoundError)) this.context.log.warn(`prefetch of ${name} failed: ${(error as Error).message}`);
    }
  }

  /** Segments at or behind replay, or of another timeline, will not be asked for again. */
  private async cleanup(cursor: Cursor): Promise<void> {
    const position = cursor.segment.segmentNumber(cursor.segmentSize);
    for (const entry of await readdir(this.dir).catch(() => [] as string[])) {
      if (!isSegmentName(entry)) continue;
      const segment = WalSegment.parse(entry, 1024 * 1024);
      const behind = segment.timeline !== cursor.segment.timeline || segment.segmentNumber(cursor.segmentSize) <= position;
      if (behind) {
        await unlink(join(this.dir, entry)).catch(() => undefined);
        this.published.delete(entry);
      }
    }
  }

  private async removeAll(): Promise<void> {
    for (const entry of await readdir(this.dir).catch(() => [] as string[])) {
      if (isSegmentName(entry)) await unlink(join(this.dir, entry)).catch(() => undefined);
    }
  }

  private async removeTemporaries(): Promise<void> {
    for (const entry of await readdir(this.dir).catch(() => [] as string[])) {
      if (entry.startsWith(".") && entry.endsWith(".tmp")) await unlink(join(this.dir, entry)).catch(() => undefined);
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

/** One worker per pg_wal: the pid file is created exclusively; a stale one (dead pid) is replaced. */
async function acquireLock(dir: string): Promise<boolean> {
  const path = join(dir, "worker.pid");
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return true;
    } catch {
      if (await workerAlive(dir)) return false;
      await unlink(path).catch(() => undefined);
    }
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
