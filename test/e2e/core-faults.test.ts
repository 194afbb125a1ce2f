// Overwrite protection (f), corrupt stored objects (g) and a MinIO outage during wal-restore (h), on the
// real MinIO (and, where the code path differs, a WALG_FILE_PREFIX store).
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3ClientFor } from "../support/minio-server.js";
import { getObject, minioEnv, minioInfo, startMinio, stopMinio, uniquePrefix } from "../support/minio.js";
import { makeWorkDir } from "../support/postgres.js";
import { makeSegment } from "../support/wal.js";
import { type Codec, SUFFIX, runOurs } from "./core-support.js";

let work: string;
beforeAll(async () => {
  work = await makeWorkDir("core-faults");
});

const raw = s3ClientFor(minioInfo());
afterAll(() => raw.destroy());

interface StoreUnderTest {
  readonly env: Record<string, string>;
  read(key: string): Promise<Buffer>;
  /** Replaces the object's bytes; on S3 the object metadata is kept when asked. */
  replace(key: string, body: Buffer, keepMetadata: boolean): Promise<void>;
}

async function s3Under(): Promise<StoreUnderTest> {
  const prefix = uniquePrefix("faults");
  const bucket = minioInfo().bucket;
  return {
    env: minioEnv(prefix),
    read: (key) => getObject(`${prefix}/${key}`),
    replace: async (key, body, keepMetadata) => {
      const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
      await raw.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: body, Metadata: keepMetadata ? head.Metadata : {} }));
    },
  };
}

async function fileUnder(): Promise<StoreUnderTest> {
  const root = join(work, uniquePrefix("store"));
  await mkdir(root);
  return {
    env: { WALG_FILE_PREFIX: root },
    read: (key) => readFile(join(root, key)),
    replace: (key, body) => writeFile(join(root, key), body),
  };
}

let counter = 0;
/** A fresh directory with a segment file in it; each test gets its own segment name and local archive. */
async function segmentFile(seed: number): Promise<{ dir: string; name: string; path: string; local: string }> {
  counter += 1;
  const name = `0000000100000000000000${(0x10 + counter).toString(16).toUpperCase()}`;
  const dir = join(work, `case-${counter}`);
  await mkdir(join(dir, "restored"), { recursive: true });
  const path = join(dir, name);
  await writeFile(path, makeSegment(name, { seed: Buffer.alloc(64 * 1024, seed) }));
  return { dir, name, path, local: join(dir, "local-archive") };
}

const QUIET = { WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "" };

describe.each([
  { kind: "MinIO", open: s3Under },
  { kind: "WALG_FILE_PREFIX", open: fileUnder },
])("overwrite on a $kind store", ({ open }) => {
  it("accepts an equal re-push (exit 0) and refuses different content (exit 65) leaving the stored object unchanged", async () => {
    const store = await open();
    const { dir, name, path, local } = await segmentFile(1);
    const env = { ...store.env, ...QUIET, WALNATIVE_LOCAL_ARCHIVE: local };
    const key = `wal_005/${name}.lz4`;

    expect((await runOurs("wal-archive", [path, name], env)).code).toBe(0);
    const stored = await store.read(key);

    const again = await runOurs("wal-archive", [path, name], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`${name} is already archived in .* with equal content`));

    const other = join(dir, "other");
    await writeFile(other, makeSegment(name, { seed: Buffer.alloc(64 * 1024, 2) }));
    const conflict = await runOurs("wal-archive", [other, name], env);
    expect(conflict.code, conflict.stderr).toBe(65);
    expect(conflict.stderr).toMatch(new RegExp(`error: ${name} is already archived in .* with different content; not overwriting`));
    expect((await store.read(key)).equals(stored)).toBe(true);

    // What a later recovery gets, local archive first, is still the first content.
    const restored = join(dir, "restored", "x");
    expect((await runOurs("wal-restore", [name, restored], env)).code).toBe(0);
    expect((await readFile(restored)).equals(await readFile(path))).toBe(true);
  });
});

describe("a stored object with flipped bytes", () => {
  it.each<{ kind: string; open: () => Promise<StoreUnderTest>; codec: Codec; keepMetadata: boolean }>([
    { kind: "MinIO, lz4 frame", open: s3Under, codec: "lz4", keepMetadata: false },
    { kind: "MinIO, uncompressed with its checksum metadata", open: s3Under, codec: "none", keepMetadata: true },
    { kind: "WALG_FILE_PREFIX, lz4 frame", open: fileUnder, codec: "lz4", keepMetadata: false },
  ])("makes wal-restore exit above 125 without creating the destination ($kind)", async ({ open, codec, keepMetadata }) => {
    const store = await open();
    const { dir, name, path } = await segmentFile(3);
    const env = { ...store.env, ...QUIET, WALNATIVE_LOCAL_ARCHIVE: "", WALG_COMPRESSION_METHOD: codec, WALNATIVE_RESTORE_RETRY_SECONDS: "2" };
    expect((await runOurs("wal-archive", [path, name], env)).code).toBe(0);
    const key = `wal_005/${name}${SUFFIX[codec]}`;
    const body = Buffer.from(await store.read(key));
    const middle = Math.floor(body.length / 2);
    body.set(body.subarray(middle, middle + 16).map((byte) => byte ^ 0xff), middle);
    await store.replace(key, body, keepMetadata);

    const destination = join(dir, "restored", "RECOVERYXLOG");
    const result = await runOurs("wal-restore", [name, destination], env);
    expect(result.code, result.stderr).toBeGreaterThan(125);
    expect(result.stderr, result.stderr).toMatch(/wal-restore: error: .*(checksum|SHA-256|corrupt)/i);
    await expect(stat(destination)).rejects.toThrow(/ENOENT/);
    expect((await readdir(join(dir, "restored"))).filter((entry) => !entry.startsWith(".wal-native"))).toEqual([]);
  });
});

describe("MinIO stopped", () => {
  it("makes wal-restore retry for WALNATIVE_RESTORE_RETRY_SECONDS, then exit above 125, never 74", async () => {
    const store = await s3Under();
    const { dir, name, path } = await segmentFile(4);
    const env = { ...store.env, ...QUIET, WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_RESTORE_RETRY_SECONDS: "3" };
    expect((await runOurs("wal-archive", [path, name], env)).code).toBe(0);
    const destination = join(dir, "restored", "RECOVERYXLOG");
    let restore;
    let archive;
    await stopMinio();
    try {
      restore = await runOurs("wal-restore", [name, destination], env);
      archive = await runOurs("wal-archive", [path, name], env);
    } finally {
      await startMinio();
    }
    expect(restore.code, restore.stderr).toBe(200);
    expect(restore.stderr).toMatch(/wal-restore: warn: attempt 2 for /);
    expect(restore.stderr).toMatch(/wal-restore: error: .*ECONNREFUSED/);
    await expect(stat(destination)).rejects.toThrow(/ENOENT/);
    // The archiver's view of the same outage: a temporary failure PostgreSQL retries.
    expect(archive.code, archive.stderr).toBe(75);
    // Once MinIO is back the same call succeeds.
    expect((await runOurs("wal-restore", [name, destination], env)).code).toBe(0);
  });
});
