// The archive's identity claim (src/wal/identity.ts): the first push claims the prefix, another system is
// refused, one process asks storage once however many pushes start together, and a failure is asked again.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConflictError, TransientStorageError } from "../../../src/errors.js";
import { IDENTITY_KEY, checkArchiveIdentity, readArchiveIdentity } from "../../../src/archive/identity.js";
import { MemoryStorage } from "../../support/memory-storage.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const cacheDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "wal-native-identity-"));
  dirs.push(dir);
  return dir;
};

/** Counts the round trips an identity check makes. */
class CountingStorage extends MemoryStorage {
  opens = 0;
  stats = 0;
  failNextOpen = false;
  override async open(key: string) {
    this.opens += 1;
    if (this.failNextOpen) {
      this.failNextOpen = false;
      throw new TransientStorageError("storage unreachable");
    }
    return super.open(key);
  }
  override async stat(key: string) {
    this.stats += 1;
    return super.stat(key);
  }
}

describe("archive identity", () => {
  it("is claimed by the first push in one GET and one conditional PUT, and refuses another system", async () => {
    const storage = new CountingStorage();
    await checkArchiveIdentity(storage, 7001n, cacheDir());
    expect([storage.opens, storage.stats, storage.writes]).toEqual([1, 0, 1]);
    expect(await readArchiveIdentity(storage)).toBe(7001n);
    const refused = await checkArchiveIdentity(storage, 7002n, cacheDir()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as Error).message).toContain("holds the archive of system 7001");
  });

  it("asks storage once for pushes that start together in one process", async () => {
    const storage = new CountingStorage();
    const dir = cacheDir();
    await Promise.all(Array.from({ length: 6 }, () => checkArchiveIdentity(storage, 7003n, dir)));
    expect([storage.opens, storage.writes]).toEqual([1, 1]);
    expect(storage.objects.has(IDENTITY_KEY)).toBe(true);
  });

  it("asks again after a failure instead of remembering it", async () => {
    const storage = new CountingStorage();
    const dir = cacheDir();
    storage.failNextOpen = true;
    await expect(checkArchiveIdentity(storage, 7004n, dir)).rejects.toBeInstanceOf(TransientStorageError);
    await checkArchiveIdentity(storage, 7004n, dir);
    expect([storage.opens, storage.writes]).toEqual([2, 1]);
  });
});
