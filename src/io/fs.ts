// Small filesystem helpers shared by every layer: existence, fsync of a file or a directory, error codes, large writes.
import { type FileHandle, open, stat } from "node:fs/promises";

/** A path that can be stat'ed (file or directory); any error counts as absent. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export function fsyncFile(path: string): Promise<void> {
  return fsync(path, "r+");
}

/** fsync of a directory: makes the names created, renamed or removed in it durable. */
export function syncDirectory(dir: string): Promise<void> {
  return fsync(dir, "r");
}

async function fsync(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function isCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

/**
 * Files of our own making (restored segments, FILE-store objects) reach the page cache in writes of this size, the
 * size pgBackRest writes in. The write's size picks the size of the page-cache folios the kernel allocates for it,
 * and so which free memory it takes: a 1 MiB write takes a large free block, as recently freed memory is (a
 * deleted or recycled segment), while writes of 64 KiB or less take the small fragments first, which PostgreSQL's
 * own 8 KiB page writes need too. On the project's test machine (a VM that hands
 * memory free for a few seconds back to its host, so that touching it again costs ~150 ms per 16 MiB), recoveries
 * through 64 segments took 4.2-4.9 s with 1 MiB writes against 10.3-10.8 s with 32 KiB ones, in alternating runs
 * with the page cache nearly empty and two-thirds full; the startup process spent seconds copying its page writes
 * into memory taken back from the host when our 32 KiB writes had used up the small fragments (docs/PERFORMANCE.md).
 * One write of a whole 16 MiB segment was slower again (8.1-9.5 s, not looked into). Elsewhere (no memory handed
 * back) the size matters little; 1 MiB means 16 write() calls per segment.
 */
export const WRITE_SLICE = 1024 * 1024;

/** Writes all of `data` at the handle's position, WRITE_SLICE bytes at a time. */
export async function writeInSlices(handle: FileHandle, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await handle.write(data, offset, Math.min(WRITE_SLICE, data.length - offset));
    offset += bytesWritten;
  }
}
