// S3Storage against the real MinIO: the shared storage contract, multipart uploads, metadata, and
// MinIO's answer to If-None-Match on both a single PUT and a multipart complete.
import { Readable } from "node:stream";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { openStorage } from "../../src/storage/open.js";
import { ObjectExistsError, type Storage } from "../../src/storage/storage.js";
import { s3ClientFor } from "../support/minio-server.js";
import { minioEnv, minioInfo, uniquePrefix } from "../support/minio.js";
import { storageContract } from "../support/storage-contract.js";

const MiB = 1024 * 1024;

function open(extra: Record<string, string> = {}): { storage: Promise<Storage>; prefix: string } {
  const prefix = uniquePrefix("s3-storage");
  return { storage: openStorage(loadConfig({ ...minioEnv(prefix), ...extra })), prefix };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** ~12 MiB that does not repeat, in 64 KiB chunks as a compressor would hand them over. */
function twelveMiB(seed: number): Buffer[] {
  return Array.from({ length: 190 }, (_, i) => Buffer.alloc(64 * 1024, (i * 7 + seed) % 251));
}

const raw = s3ClientFor(minioInfo());
afterAll(() => raw.destroy());

async function etagOf(prefix: string, key: string): Promise<string> {
  const head = await raw.send(new HeadObjectCommand({ Bucket: minioInfo().bucket, Key: `${prefix}/${key}` }));
  return head.ETag ?? "";
}

describe("S3Storage on MinIO", () => {
  storageContract(() => open().storage);

  describe("with WALG_S3_MAX_PART_SIZE = 5 MiB", () => {
    const env = { WALG_S3_MAX_PART_SIZE: String(5 * MiB) };

    it("uploads ~12 MiB as a three-part multipart upload and reads it back intact", async () => {
      const { storage, prefix } = open(env);
      const chunks = twelveMiB(1);
      const info = await (await storage).write("wal_005/big.br", Readable.from(chunks));
      const body = Buffer.concat(chunks);
      expect(info.size).toBe(body.length);
      // S3 gives a multipart object the ETag "<md5 of part md5s>-<part count>".
      expect(await etagOf(prefix, "wal_005/big.br")).toMatch(/-3"$/);
      expect((await readAll(await (await storage).read("wal_005/big.br"))).equals(body)).toBe(true);
    });

    it("keeps metadata written with a multipart upload", async () => {
      const { storage } = open(env);
      const metadata = { "walnative-sha256": "0123abcd", "walnative-system-id": "7400000000000000001" };
      await (await storage).write("wal_005/meta-big", Readable.from(twelveMiB(2)), { metadata });
      expect((await (await storage).stat("wal_005/meta-big"))?.metadata).toEqual(metadata);
    });

    it("refuses a conditional multipart upload over an existing object and leaves it unchanged", async () => {
      const { storage } = open(env);
      const first = Buffer.concat(twelveMiB(3));
      await (await storage).write("wal_005/cond-big", Readable.from([first]), { ifAbsent: true });
      await expect((await storage).write("wal_005/cond-big", Readable.from(twelveMiB(4)), { ifAbsent: true })).rejects.toBeInstanceOf(
        ObjectExistsError,
      );
      expect((await readAll(await (await storage).read("wal_005/cond-big"))).equals(first)).toBe(true);
    });
  });

  it("round-trips metadata on a single PUT: stat returns what write was given", async () => {
    const { storage } = open();
    const metadata = { "walnative-sha256": "ffee", "walnative-system-id": "18446744073709551615" };
    await (await storage).write("wal_005/meta-small", Readable.from([Buffer.from("small")]), { metadata });
    const info = await (await storage).stat("wal_005/meta-small");
    expect(info?.metadata).toEqual(metadata);
    expect(info?.size).toBe(5);
  });

  it("refuses a conditional single PUT over an existing object (MinIO honours If-None-Match: *)", async () => {
    const { storage, prefix } = open();
    await (await storage).write("wal_005/cond", Readable.from([Buffer.from("first")]));
    const etag = await etagOf(prefix, "wal_005/cond");
    const error = await (await storage).write("wal_005/cond", Readable.from([Buffer.from("second")]), { ifAbsent: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectExistsError);
    expect(await etagOf(prefix, "wal_005/cond")).toBe(etag);
  });
});
