// Small filesystem helpers shared by every layer: existence, fsync of a file or a directory, error codes.
import { open, stat } from "node:fs/promises";

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
