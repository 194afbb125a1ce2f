// Key layout vectors (walg-compat.md 13.5): for each prefix setting, wal-g and wal-archive put every kind of
// WAL file at exactly the same key or path.
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { minioEnv, minioInfo } from "../support/minio.js";
import { s3ClientFor } from "../support/minio-server.js";
import { tempDir } from "../support/temp-dir.js";
import { runBin } from "../support/run-command.js";
import { MiB, makeSegment } from "../support/wal.js";
import { liveName, runWalg, walgBinary } from "../support/walg.js";

const OURS = { WALG_PG_WAL_SIZE: "1", WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALG_COMPRESSION_METHOD: "lz4" };
const FILES = [
  { name: "000000010000000000000007", bytes: makeSegment("000000010000000000000007", { segmentSize: MiB, payload: 1024 }) },
  { name: "00000002.history", bytes: Buffer.from("1\t0/8000000\tno recovery target specified\n") },
  { name: "000000010000000000000008.partial", bytes: makeSegment("000000010000000000000008", { segmentSize: MiB, payload: 1024 }) },
  { name: "000000010000000000000006.00000028.backup", bytes: Buffer.from("START WAL LOCATION: 0/6000028 (file 000000010000000000000006)\n") },
];
/** Our archive-identity object sits at the store root; wal-g neither writes nor reads it. */
const IDENTITY = "wal_native_identity.json";

describe.skipIf(!walgBinary)(liveName("wal-g v3.0.9 and wal-archive put every file at the same key"), () => {
  let scratch: string;
  let sources: string;
  beforeAll(async () => {
    scratch = await tempDir("compat-layout");
    sources = await mkdtemp(join(scratch, "src-"));
    for (const file of FILES) await writeFile(join(sources, file.name), file.bytes);
  });

  /** Pushes every file with wal-g, lists, empties the store, pushes with wal-archive, lists. */
  async function bothLayouts(env: Record<string, string>, list: () => Promise<string[]>, empty: () => Promise<void>): Promise<[string[], string[]]> {
    for (const { name } of FILES) {
      const result = await runWalg(["wal-push", join(sources, name)], { ...env, WALG_PG_WAL_SIZE: "1" });
      expect(result.code, result.stderr).toBe(0);
    }
    const theirs = await list();
    await empty();
    for (const { name } of FILES) {
      const result = await runBin("wal-archive", [join(sources, name), name], { cwd: scratch, env: { ...env, ...OURS } });
      expect(result.code, result.stderr).toBe(0);
    }
    const ours = (await list()).filter((key) => !key.endsWith(IDENTITY));
    return [theirs, ours];
  }

  const expected = (root: string): string[] => FILES.map(({ name }) => `${root}wal_005/${name}.lz4`).sort();

  describe("S3 prefixes", () => {
    const s3 = () => s3ClientFor(minioInfo());
    async function keysOf(bucket: string): Promise<string[]> {
      const page = await s3().send(new ListObjectsV2Command({ Bucket: bucket }));
      return (page.Contents ?? []).map((object) => object.Key ?? "").sort();
    }
    async function emptyBucket(bucket: string): Promise<void> {
      const keys = await keysOf(bucket);
      if (keys.length > 0) await s3().send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    }

    it.each([
      ["s3://B", {}, ""],
      ["s3://B/", {}, ""],
      ["s3://B/a/b/", {}, "a/b/"],
      ["s3://B/a//c", {}, "a/c/"], // aws-sdk-go v1 cleans the request path: not "a//c/" as walg-compat.md 13.5 says
      ["s3://B/a/", { WALG_STORAGE_PREFIX: "x/" }, "a/x/"],
    ] as const)("%s %o puts objects under '%s'", async (prefix, extra, root) => {
      // A bucket of its own: several vectors write to the bucket root.
      const bucket = `layout-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
      await s3().send(new CreateBucketCommand({ Bucket: bucket }));
      const env = { ...minioEnv("unused"), WALG_S3_PREFIX: prefix.replace("B", bucket), ...extra };
      const [theirs, ours] = await bothLayouts(env, () => keysOf(bucket), () => emptyBucket(bucket));
      expect(theirs).toEqual(expected(root));
      expect(ours).toEqual(theirs);
      expect(await keysOf(bucket)).toContain(`${root}${IDENTITY}`);
    });
  });

  describe("FILE prefixes", () => {
    async function filesUnder(dir: string): Promise<string[]> {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1)).sort();
    }

    it.each([
      ["%s", {}, ""],
      ["file://localhost%s", {}, ""],
      ["%s", { WALG_STORAGE_PREFIX: "x/" }, "x/"],
    ] as const)("WALG_FILE_PREFIX=%s %o puts files under '<dir>/%s'", async (prefix, extra, root) => {
      const dir = await mkdtemp(join(scratch, "r-"));
      const env = { WALG_FILE_PREFIX: prefix.replace("%s", dir), ...extra };
      const [theirs, ours] = await bothLayouts(env, () => filesUnder(dir), async () => {
        for (const entry of await readdir(dir)) await rm(join(dir, entry), { recursive: true });
      });
      expect(theirs).toEqual(expected(root));
      expect(ours).toEqual(theirs);
    });
  });
});
