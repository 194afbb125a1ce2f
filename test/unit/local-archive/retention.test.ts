// Local archive retention: size and age bounds, oldest first, never a file that storage lacks.
import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryStorage } from "../../support/memory-storage.js";
import { pruneIfDue, pruneLocalArchive, retentionLimits } from "../../../src/local-archive/retention.js";
import { silentLogger } from "../../../src/log.js";

const MiB = 1048576;
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Files named by segment number n, each `size` bytes, n hours old; `archived` lists those storage holds. */
async function setup(files: { n: number; hoursOld: number; size?: number; archived?: boolean }[]): Promise<{ dir: string; storage: MemoryStorage }> {
  const dir = await mkdtemp(join(tmpdir(), "walnative-prune-"));
  dirs.push(dir);
  const storage = new MemoryStorage();
  for (const file of files) {
    const name = `0000000100000000000000${file.n.toString(16).toUpperCase().padStart(2, "0")}`;
    await writeFile(join(dir, name), Buffer.alloc(file.size ?? MiB));
    const at = new Date(Date.now() - file.hoursOld * 3_600_000);
    await utimes(join(dir, name), at, at);
    if (file.archived !== false) await storage.write(`wal_005/${name}.lz4`, Readable.from([Buffer.from("x")]));
  }
  await writeFile(join(dir, ".archive-identity"), "state, not WAL");
  return { dir, storage };
}

describe("pruneLocalArchive", () => {
  it("removes the oldest files until the archive fits the size bound", async () => {
    const { dir, storage } = await setup([{ n: 1, hoursOld: 5 }, { n: 2, hoursOld: 4 }, { n: 3, hoursOld: 3 }, { n: 4, hoursOld: 2 }]);
    const result = await pruneLocalArchive(dir, storage, { maxBytes: 2 * MiB });
    expect(result.removed.map((f) => f.name.slice(-2))).toEqual(["01", "02"]);
    expect(result.keptBytes).toBe(2 * MiB);
    expect((await readdir(dir)).sort()).toEqual([".archive-identity", "000000010000000000000003", "000000010000000000000004"]);
  });

  it("removes files older than the age bound", async () => {
    const { dir, storage } = await setup([{ n: 1, hoursOld: 80 }, { n: 2, hoursOld: 73 }, { n: 3, hoursOld: 1 }]);
    const result = await pruneLocalArchive(dir, storage, { maxAgeMs: 72 * 3_600_000 });
    expect(result.removed.map((f) => f.name.slice(-2))).toEqual(["01", "02"]);
    expect(result.keptFiles).toBe(1);
  });

  it("never removes a file that storage does not hold, and moves on to newer ones", async () => {
    const { dir, storage } = await setup([{ n: 1, hoursOld: 5, archived: false }, { n: 2, hoursOld: 4 }, { n: 3, hoursOld: 3 }]);
    const result = await pruneLocalArchive(dir, storage, { maxBytes: 1 * MiB });
    expect(result.notInStorage.map((f) => f.name.slice(-2))).toEqual(["01"]);
    expect(result.removed.map((f) => f.name.slice(-2))).toEqual(["02", "03"]);
    expect(await readdir(dir)).toContain("000000010000000000000001");
  });

  it("--all empties what storage holds; --dry-run deletes nothing", async () => {
    const { dir, storage } = await setup([{ n: 1, hoursOld: 1 }, { n: 2, hoursOld: 1 }]);
    const dry = await pruneLocalArchive(dir, storage, { all: true, dryRun: true });
    expect(dry.removed).toHaveLength(2);
    expect(await readdir(dir)).toHaveLength(3);
    await pruneLocalArchive(dir, storage, { all: true });
    expect(await readdir(dir)).toEqual([".archive-identity"]);
  });

  it("finds objects under any compression extension wal-g might have used", async () => {
    const { dir, storage } = await setup([{ n: 1, hoursOld: 1, archived: false }]);
    await storage.write("wal_005/000000010000000000000001.br", Readable.from([Buffer.from("x")]));
    expect((await pruneLocalArchive(dir, storage, { all: true })).removed).toHaveLength(1);
  });
});

describe("retention settings and automatic pruning", () => {
  it("reads the limits with defaults, 0 as off, and refuses nonsense", () => {
    expect(retentionLimits({})).toEqual({ maxBytes: 4096 * MiB, maxAgeMs: 72 * 3_600_000 });
    expect(retentionLimits({ WALNATIVE_LOCAL_ARCHIVE_MAX_MB: "0", WALNATIVE_LOCAL_ARCHIVE_MAX_AGE_HOURS: "1.5" })).toEqual({ maxBytes: undefined, maxAgeMs: 5_400_000 });
    expect(() => retentionLimits({ WALNATIVE_LOCAL_ARCHIVE_MAX_MB: "lots" })).toThrow("WALNATIVE_LOCAL_ARCHIVE_MAX_MB: 'lots' is not a number >= 0");
  });

  it("prunes after a push at most once per interval", async () => {
    const { dir, storage } = await setup([{ n: 1, hoursOld: 1 }, { n: 2, hoursOld: 1 }]);
    const env = { WALNATIVE_LOCAL_ARCHIVE_MAX_MB: "1" };
    expect((await pruneIfDue(dir, async () => storage, env, silentLogger))?.removed).toHaveLength(1);
    await writeFile(join(dir, "000000010000000000000009"), Buffer.alloc(MiB));
    await storage.write("wal_005/000000010000000000000009.lz4", Readable.from([Buffer.from("x")]));
    expect(await pruneIfDue(dir, async () => storage, env, silentLogger)).toBeUndefined();
    expect(await readdir(dir)).toContain("000000010000000000000002");
  });
});
