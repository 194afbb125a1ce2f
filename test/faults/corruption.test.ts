// Corruption: damaged objects, another cluster's WAL under a valid name and a local copy
// that does not match its name never reach PostgreSQL; a mismatched file is never archived.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { listKeys, minioEnv, uniquePrefix } from "../support/minio.js";
import { initCluster } from "../support/postgres.js";
import { MiB, makeSegment } from "../support/wal.js";
import { record } from "./results.js";
import { baseEnv, listDir, readStored, runTool, scratchDir, writeStored } from "./tools.js";

const NAME = "000000010000000000000003";
const NEXT = "000000010000000000000004";
const ABORT = 200; // wal-restore's "abort recovery" status: anything above 125 makes PostgreSQL stop, not promote

let work: string;
beforeAll(async () => {
  work = await scratchDir("corrupt");
});

async function archive(prefix: string, segment: Buffer, name = NAME, extra: Record<string, string> = {}) {
  const path = join(work, `${prefix}-${name}`);
  await writeFile(path, segment);
  return runTool("wal-archive", [path, name], { env: baseEnv({ ...minioEnv(prefix), ...extra }) });
}

/** Restores into an empty directory and returns the result with what the directory holds afterwards. */
async function restore(prefix: string, options: { name?: string; cwd?: string; extra?: Record<string, string> } = {}) {
  const dir = await scratchDir("restore");
  const target = join(dir, "RECOVERYXLOG");
  const result = await runTool("wal-restore", [options.name ?? NAME, target], {
    env: baseEnv({ ...minioEnv(prefix), ...options.extra }),
    cwd: options.cwd,
  });
  return { ...result, target, left: await listDir(dir) };
}

function flipBit(body: Buffer, at: number): Buffer {
  const damaged = Buffer.from(body);
  damaged[at] = (damaged[at] ?? 0) ^ 0x10;
  return damaged;
}

describe("a damaged object in storage", () => {
  it("refuses an lz4 object with one flipped bit (frame checksum), with or without our metadata", async () => {
    const prefix = uniquePrefix("flip-lz4");
    expect((await archive(prefix, makeSegment(NAME, { segmentSize: MiB, payload: 200_000 }))).code).toBe(0);
    const key = `${prefix}/wal_005/${NAME}.lz4`;
    const stored = await readStored(key);
    for (const metadata of [stored.metadata, {}]) {
      await writeStored(key, flipBit(stored.body, stored.body.length >> 1), metadata);
      const result = await restore(prefix);
      expect(result.code).toBe(ABORT);
      expect(result.stderr).toMatch(/lz4 (block|content) checksum mismatch|lz4 block is corrupt/);
      expect(result.left).toEqual([]);
    }
    record({
      scenario: "5 corruption",
      check: "bit flip in an lz4 object",
      outcome: "restore exits 200 (abort recovery), nothing written to %p, no temporary file left",
      figures: { "object bytes": stored.body.length, "exit code": ABORT },
    });
  });

  it("refuses an uncompressed object with a flipped payload bit (XXH64 recorded at archive time)", async () => {
    const prefix = uniquePrefix("flip-none");
    expect((await archive(prefix, makeSegment(NAME, { segmentSize: MiB, payload: 600_000 }), NAME, { WALG_COMPRESSION_METHOD: "none" })).code).toBe(0);
    const key = `${prefix}/wal_005/${NAME}`;
    const stored = await readStored(key);
    expect(stored.metadata["walnative-xxh64"]).toMatch(/^[0-9a-f]{16}$/);
    await writeStored(key, flipBit(stored.body, 500_000), stored.metadata);
    const result = await restore(prefix);
    expect(result.code).toBe(ABORT);
    expect(result.stderr).toContain("does not match the checksum (XXH64) recorded when it was archived");
    expect(result.left).toEqual([]);
    record({
      scenario: "5 corruption",
      check: "bit flip in an uncompressed object",
      outcome: "the XXH64 checksum in the object's metadata catches it: exit 200, nothing written",
      figures: { "flipped byte offset": 500_000, "exit code": result.code },
    });
  });

  it("refuses an object whose header belongs to another segment, and a truncated object", async () => {
    const prefix = uniquePrefix("swapped");
    expect((await archive(prefix, makeSegment(NAME, { segmentSize: MiB }))).code).toBe(0);
    const key = `${prefix}/wal_005/${NAME}.lz4`;
    const good = await readStored(key);
    // The next segment's object, stored under this name without metadata (as wal-g or a bad copy would leave it).
    const other = uniquePrefix("swapped-src");
    expect((await archive(other, makeSegment(NEXT, { segmentSize: MiB }), NEXT)).code).toBe(0);
    await writeStored(key, (await readStored(`${other}/wal_005/${NEXT}.lz4`)).body, {});
    const swapped = await restore(prefix);
    expect(swapped.code).toBe(ABORT);
    expect(swapped.stderr).toContain("does not match the name");
    expect(swapped.left).toEqual([]);

    await writeStored(key, good.body.subarray(0, good.body.length - 9), good.metadata);
    const truncated = await restore(prefix);
    expect(truncated.code).toBe(ABORT);
    expect(truncated.stderr).toContain("lz4 data is truncated");
    expect(truncated.left).toEqual([]);
    record({
      scenario: "5 corruption",
      check: "another segment's object under this name; a truncated object",
      outcome: "both refused with exit 200 before anything reaches %p",
      figures: { "exit code (swapped)": swapped.code, "exit code (truncated)": truncated.code },
    });
  });
});

describe("an object from another cluster", () => {
  it("is refused on restore in a data directory whose pg_control names another system", async () => {
    const cluster = await initCluster({ walSegSizeMb: 1 });
    const systemId = (await readFile(join(cluster.data, "global", "pg_control"))).readBigUInt64LE(0);
    const foreignId = systemId ^ 0x5a5a5an;
    const prefix = uniquePrefix("foreign");
    expect((await archive(prefix, makeSegment(NAME, { segmentSize: MiB, systemId: foreignId }))).code).toBe(0);

    const refused = await restore(prefix, { cwd: cluster.data });
    expect(refused.code).toBe(ABORT);
    expect(refused.stderr).toContain(`belongs to database system ${foreignId}, not to this cluster (${systemId})`);
    expect(refused.left).toEqual([]);

    // Control: the same restore of this cluster's own segment succeeds in the same directory.
    const own = uniquePrefix("own");
    const mine = makeSegment(NAME, { segmentSize: MiB, systemId });
    expect((await archive(own, mine)).code).toBe(0);
    const restored = await restore(own, { cwd: cluster.data });
    expect(restored.code).toBe(0);
    expect((await readFile(restored.target)).equals(mine)).toBe(true);

    // Archive side: the prefix claimed by the foreign system refuses this cluster's WAL.
    const mixed = await archive(prefix, makeSegment(NEXT, { segmentSize: MiB, systemId }), NEXT);
    expect(mixed.code).toBe(65);
    expect(mixed.stderr).toContain(`holds the archive of system ${foreignId}`);
    expect(await listKeys(`${prefix}/wal_005/${NEXT}`)).toEqual([]);
    record({
      scenario: "5 corruption",
      check: "another cluster's segment under a valid name",
      outcome: "restore in a real initdb'd data dir refuses it (exit 200); archiving into a prefix claimed by another system exits 65",
      figures: { "restore exit": refused.code, "archive exit": mixed.code },
    });
  });
});

describe("a bad copy in the local archive", () => {
  it("is skipped with a warning and the correct file comes from storage", async () => {
    const prefix = uniquePrefix("local-bad");
    const good = makeSegment(NAME, { segmentSize: MiB });
    expect((await archive(prefix, good)).code).toBe(0);
    const local = await scratchDir("local");
    const copies: [string, Buffer][] = [
      ["header of another segment", makeSegment(NEXT, { segmentSize: MiB })],
      ["truncated", good.subarray(0, 300_000)],
      ["empty", Buffer.alloc(0)],
    ];
    for (const [, bad] of copies) {
      await writeFile(join(local, NAME), bad);
      const result = await restore(prefix, { extra: { WALNATIVE_LOCAL_ARCHIVE: local } });
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`ignoring the local copy of ${NAME}`);
      expect(result.stderr).toContain("restored 000000010000000000000003 from s3://");
      expect((await readFile(result.target)).equals(good)).toBe(true);
      expect(result.left).toEqual(["RECOVERYXLOG"]);
    }
    record({
      scenario: "5 corruption",
      check: "local-archive copy that does not match its name",
      outcome: "skipped with a warning; the file restored from storage is byte-identical to the archived one",
      figures: { "bad copies tried": copies.length },
    });
  });
});

describe("archiving a file whose header does not match its name", () => {
  it("exits 65 and uploads nothing", async () => {
    const prefix = uniquePrefix("mismatch");
    const cases: [string, Buffer, RegExp][] = [
      ["another segment's header", makeSegment(NEXT, { segmentSize: MiB }), /header page address 0\/400000 does not match the name/],
      ["a newer timeline in the header", makeSegment(NAME, { segmentSize: MiB, headerTimeline: 2 }), /header timeline 2 does not match/],
      ["a file cut short", makeSegment(NAME, { segmentSize: MiB }).subarray(0, 700_000), /file is 700000 bytes/],
      ["not WAL at all", Buffer.alloc(MiB, 0x41), /page magic 0x4141 is not a PostgreSQL/],
    ];
    for (const [, bytes, message] of cases) {
      const result = await archive(prefix, bytes);
      expect(result.code).toBe(65);
      expect(result.stderr).toMatch(message);
    }
    expect(await listKeys(`${prefix}/wal_005/`)).toEqual([]);
    record({
      scenario: "5 corruption",
      check: "archiving a mismatched file",
      outcome: "wal-archive exits 65 for each and the archive stays empty",
      figures: { cases: cases.length, "exit code": 65 },
    });
  });
});
