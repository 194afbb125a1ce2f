// What the local fast-recovery archive holds: WAL files with their sizes and ages.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isWalFileName } from "../wal/file-name.js";

export interface LocalFile {
  readonly name: string;
  readonly size: number;
  readonly mtime: Date;
}

export interface LocalUsage {
  readonly files: LocalFile[];
  readonly bytes: number;
}

/** Oldest first (by mtime, then name). A missing directory is an empty archive. */
export async function readLocalUsage(dir: string): Promise<LocalUsage> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return { files: [], bytes: 0 };
    throw error;
  }
  const files: LocalFile[] = [];
  // WAL files as wal-archive stores them (segment, .history, .partial, .backup); temp files and state are ignored.
  for (const name of names.filter(isWalFileName)) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info?.isFile()) files.push({ name, size: info.size, mtime: info.mtime });
  }
  files.sort((a, b) => a.mtime.getTime() - b.mtime.getTime() || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { files, bytes: files.reduce((sum, file) => sum + file.size, 0) };
}
