// Filesystem storage in wal-g's on-disk layout (walg-compat.md 1.7): temp file, fsync, rename, fsync dir.
import { createReadStream } from "node:fs";
import { link, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { LocalFileError, NotFoundError } from "../errors.js";
import { fileHandleSink } from "../io/streams.js";
import { isCode, syncDirectory, writeInSlices } from "../io/fs.js";
import { type ObjectInfo, ObjectExistsError, type OpenedObject, type Storage, type WriteBody, type WriteOptions } from "./storage.js";

/** wal-g v3.0.9 hides names with this suffix from listings (storage/utils.go HasTimestampRandomTmpSuffix). */
const TMP_SUFFIX = /\.tmp\.\d{8}T\d{6}Z-[0-9a-f]{16}$/;

export class FsStorage implements Storage {
  readonly label: string;

  constructor(private readonly root: string) {
    this.label = `file://${root}`;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, size: info.size, lastModified: info.mtime } : undefined;
    } catch (error) {
      if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR")) return undefined;
      throw new LocalFileError(`cannot stat '${key}' in ${this.label}`, error);
    }
  }

  async read(key: string): Promise<Readable> {
    return (await this.open(key)).body;
  }

  async open(key: string): Promise<OpenedObject> {
    const path = this.pathOf(key);
    const handle = await open(path, "r").catch((error: unknown) => {
      if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR") || isCode(error, "EISDIR")) throw new NotFoundError(key, this.label);
      throw new LocalFileError(`cannot open '${key}' in ${this.label}`, error);
    });
    const info = await handle.stat();
    return {
      info: { key, size: info.size, lastModified: info.mtime },
      body: createReadStream("", { fd: handle, highWaterMark: 1024 * 1024 }),
    };
  }

  async write(key: string, body: WriteBody, options: WriteOptions = {}): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    await makeDirectoryDurably(dir);
    const temp = `${path}.tmp.${timestampTag()}-${randomBytes(8).toString("hex")}`;
    try {
      const handle = await open(temp, "wx", 0o600);
      try {
        if (Buffer.isBuffer(body)) {
          options.signal?.throwIfAborted();
          await writeInSlices(handle, body);
        } else await pipeline(body, fileHandleSink(handle), { signal: options.signal });
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.publish(temp, path, key, options.ifAbsent === true);
      await syncDirectory(dir);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error instanceof ObjectExistsError ? error : new LocalFileError(`cannot write '${key}' to ${this.label}`, error);
    }
    const info = await stat(path);
    return { key, size: info.size, lastModified: info.mtime };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash + 1);
    for await (const key of walk(this.root, base)) {
      if (!key.startsWith(prefix) || TMP_SUFFIX.test(key)) continue;
      const info = await this.stat(key);
      if (info) yield info;
    }
  }

  async statAll(keys: readonly string[]): Promise<ObjectInfo[]> {
    const found = await Promise.all(keys.map((key) => this.stat(key)));
    return found.filter((info): info is ObjectInfo => info !== undefined);
  }

  async remove(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((error: unknown) => {
      if (!isCode(error, "ENOENT")) throw new LocalFileError(`cannot remove '${key}' from ${this.label}`, error);
    });
  }

  private pathOf(key: string): string {
    return join(this.root, key);
  }

  /** link() fails atomically when the name exists, which gives an if-absent write without a race. */
  private async publish(temp: string, path: string, key: string, ifAbsent: boolean): Promise<void> {
    if (!ifAbsent) return rename(temp, path);
    try {
      await link(temp, path);
    } catch (error) {
      if (isCode(error, "EEXIST")) throw new ObjectExistsError(key);
      throw error;
    }
    await unlink(temp);
  }
}

async function* walk(root: string, relative: string): AsyncIterable<string> {
  let entries;
  try {
    entries = await readdir(join(root, relative), { withFileTypes: true });
  } catch (error) {
    if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR")) return;
    throw new LocalFileError(`cannot list '${relative}' in file://${root}`, error);
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const key = relative + entry.name;
    if (entry.isDirectory()) yield* walk(root, `${key}/`);
    else if (entry.isFile()) yield key;
  }
}


/**
 * mkdir -p, and an fsync of the parent of every directory it created (the leaf's own entries are synced after the
 * rename): after a crash the first object of a new wal_005/ must not lose the directory's name.
 */
async function makeDirectoryDurably(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  for (let created = dir; ; created = dirname(created)) {
    await syncDirectory(dirname(created));
    if (created === first || dirname(created) === created) break;
  }
}

function timestampTag(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}
