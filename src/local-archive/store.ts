// The local fast-recovery archive: plain uncompressed WAL files, written atomically, read first on restore.
import { chmod, copyFile, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncFile, syncDirectory } from "../io/fs.js";

export class LocalArchive {
  constructor(readonly dir: string) {}

  pathOf(name: string): string {
    return join(this.dir, name);
  }

  /** Copies the file in under a temporary name, fsyncs it and renames it into place. */
  async store(sourcePath: string, name: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const final = this.pathOf(name);
    const temp = `${final}.${process.pid}.tmp`;
    try {
      await copyFile(sourcePath, temp);
      // copyFile keeps the source's mode (0640 with group access to pg_wal); WAL copies stay private.
      await chmod(temp, 0o600);
      await fsyncFile(temp);
      await rename(temp, final);
      await syncDirectory(this.dir);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  async has(name: string): Promise<number | undefined> {
    try {
      const info = await stat(this.pathOf(name));
      return info.isFile() ? info.size : undefined;
    } catch {
      return undefined;
    }
  }
}
