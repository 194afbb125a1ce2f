import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { FsStorage } from "../../../src/storage/fs.js";
import { MemoryStorage } from "../../support/memory-storage.js";
import { storageContract } from "../../support/storage-contract.js";

const roots: string[] = [];
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

function freshRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "wal-native-fs-"));
  roots.push(root);
  return root;
}

describe("memory storage", () => storageContract(async () => new MemoryStorage()));

describe("filesystem storage", () => {
  storageContract(async () => new FsStorage(freshRoot()));

  it("lays objects out as wal-g does and leaves no temporary files", async () => {
    const root = freshRoot();
    await new FsStorage(root).write("wal_005/000000010000000000000001.lz4", Readable.from([Buffer.from("x")]));
    expect(readdirSync(join(root, "wal_005"))).toEqual(["000000010000000000000001.lz4"]);
  });

  it("creates files 0600 and directories 0700", async () => {
    const root = freshRoot();
    await new FsStorage(root).write("wal_005/a", Readable.from([Buffer.from("x")]));
    expect(statSync(join(root, "wal_005", "a")).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "wal_005")).mode & 0o777).toBe(0o700);
  });

  it("hides wal-g's temporary names from listings", async () => {
    const root = freshRoot();
    const storage = new FsStorage(root);
    await storage.write("wal_005/a", Readable.from([Buffer.from("x")]));
    await storage.write("wal_005/a.tmp.20261125T120000Z-0123456789abcdef", Readable.from([Buffer.from("x")]));
    const keys: string[] = [];
    for await (const info of storage.list("wal_005/")) keys.push(info.key);
    expect(keys).toEqual(["wal_005/a"]);
  });

  it("removes its temporary file when the body fails midway", async () => {
    const root = freshRoot();
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error("source broke"));
      },
    });
    await expect(new FsStorage(root).write("wal_005/c", failing)).rejects.toThrow(/cannot write/);
    expect(readdirSync(join(root, "wal_005"))).toEqual([]);
  });
});
