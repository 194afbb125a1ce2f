// Both S3 stores against the real MinIO, the SDK-based S3Storage and the dependency-free LiteS3Storage: the
// shared storage contract, multipart uploads, metadata, and MinIO's answer to If-None-Match on both a single
// PUT and a multipart complete. Then what only the lite client does itself: signing odd keys, LIST
// continuation, and turning refusals into the same typed errors as the SDK path.
import { Readable } from "node:stream";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { type S3Location, loadConfig } from "../../src/config.js";
import { NotFoundError, StorageAccessError } from "../../src/errors.js";
import { openStorage } from "../../src/storage/open.js";
import { LiteS3Storage } from "../../src/storage/s3-lite.js";
import { S3Storage } from "../../src/storage/s3.js";
import { ObjectExistsError, type Storage } from "../../src/storage/storage.js";
import { s3ClientFor } from "../support/minio-server.js";
import { minioEnv, minioInfo, uniquePrefix } from "../support/minio.js";
import { storageContract } from "../support/storage-contract.js";

const MiB = 1024 * 1024;

type Client = "sdk" | "lite";

function openWith(client: Client, extra: Record<string, string> = {}): { storage: Promise<Storage>; prefix: string } {
  const prefix = uniquePrefix(`s3-storage-${client}`);
  return { storage: openStorage(loadConfig({ ...minioEnv(prefix), WALNATIVE_S3_CLIENT: client, ...extra })), prefix };
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

it("opens the lite client for static credentials unless WALNATIVE_S3_CLIENT=sdk", async () => {
  const prefix = uniquePrefix("s3-storage-choice");
  expect(await openStorage(loadConfig(minioEnv(prefix)))).toBeInstanceOf(LiteS3Storage);
  expect(await openStorage(loadConfig({ ...minioEnv(prefix), WALNATIVE_S3_CLIENT: "sdk" }))).toBeInstanceOf(S3Storage);
  const noKeys = { ...minioEnv(prefix), AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" };
  expect(await openStorage(loadConfig(noKeys))).toBeInstanceOf(S3Storage);
});

describe.each<[Client, string]>([
  ["sdk", "S3Storage"],
  ["lite", "LiteS3Storage"],
])("%s: %s on MinIO", (client) => {
  const open = (extra: Record<string, string> = {}) => openWith(client, extra);
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

describe("LiteS3Storage on its own", () => {
  const location = (prefix: string, extra: Record<string, string> = {}): S3Location => {
    const storage = loadConfig({ ...minioEnv(prefix), ...extra }).storage;
    if (storage.kind !== "s3") throw new Error("expected an S3 location");
    return storage;
  };
  const sdk = (prefix: string, extra: Record<string, string> = {}) => openStorage(loadConfig({ ...minioEnv(prefix), ...extra, WALNATIVE_S3_CLIENT: "sdk" }));
  const lite = (prefix: string, extra: Record<string, string> = {}, listPageSize?: number) =>
    new LiteS3Storage(location(prefix, extra), { multipart: () => sdk(prefix, extra), listPageSize });

  it("stores keys with spaces, unicode and URL-special characters under the names the SDK uses", async () => {
    const prefix = uniquePrefix("lite-keys");
    const keys = ["wal_005/a b+c=d&e?f#g%h;i,j:k@l$m", "wal_005/Grüße 日本語 \u{1F600}", "wal_005/it's (1)*!~[x]{y}"];
    const ours = lite(prefix);
    const theirs = await sdk(prefix);
    for (const [i, key] of keys.entries()) {
      await ours.write(key, Buffer.from(`body ${i}`), { metadata: { "walnative-sha256": `sum${i}` } });
      // Read back by both clients: the lite client encoded the key into the same object name as the SDK.
      expect((await readAll(await theirs.read(key))).toString()).toBe(`body ${i}`);
      expect((await ours.stat(key))?.metadata).toEqual({ "walnative-sha256": `sum${i}` });
    }
    const listed: string[] = [];
    for await (const info of ours.list("wal_005/")) listed.push(info.key);
    expect(listed.sort()).toEqual([...keys].sort());
    await theirs.write("wal_005/from sdk+é", Buffer.from("sdk"));
    expect((await readAll(await ours.read("wal_005/from sdk+é"))).toString()).toBe("sdk");
    for (const key of keys) await ours.remove(key);
    expect(await ours.statAll(keys)).toEqual([]);
  });

  it("follows LIST continuation tokens across pages (page size 2)", async () => {
    const prefix = uniquePrefix("lite-pages");
    const storage = lite(prefix, {}, 2);
    const names = Array.from({ length: 7 }, (_, i) => `wal_005/00000001000000000000000${i}.lz4`);
    for (const name of names) await storage.write(name, Buffer.from(name));
    await storage.write("basebackups_005/other", Buffer.from("x"));
    const listed: string[] = [];
    for await (const info of storage.list("wal_005/")) listed.push(info.key);
    expect(listed).toEqual(names);
    const found = await storage.statAll([names[6] ?? "", "wal_005/absent", names[0] ?? ""]);
    expect(found.map((info) => info.key)).toEqual([names[6], names[0]]);
  });

  it("turns a wrong secret into StorageAccessError with the hint, never showing the secret", async () => {
    const secret = "Wrong/Secret+Key=EXAMPLE123";
    const storage = lite(uniquePrefix("lite-secret"), { AWS_SECRET_ACCESS_KEY: secret });
    for (const attempt of [
      () => storage.read("wal_005/x"),
      () => storage.write("wal_005/x", Buffer.from("x")),
      async () => storage.statAll(["wal_005/x"]),
      () => storage.stat("wal_005/x"),
    ]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StorageAccessError);
      const { message, hint } = error as StorageAccessError;
      expect(message).not.toContain(secret);
      expect(hint).toMatch(/AWS_SECRET_ACCESS_KEY/);
    }
    // With a body to name the error, the message says what S3 said (a HEAD only has its status).
    const error = (await storage.read("wal_005/x").catch((e: unknown) => e)) as StorageAccessError;
    expect(error.message).toMatch(/SignatureDoesNotMatch \(HTTP 403\)/);
    expect(error.hint).toBe("check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  });

  it("reports a missing bucket as an access error, not as an absent object", async () => {
    const env = { ...minioEnv("x"), WALG_S3_PREFIX: `s3://no-such-bucket-${Date.now()}/p` };
    const storage = new LiteS3Storage(location("x", env), { multipart: () => openStorage(loadConfig({ ...env, WALNATIVE_S3_CLIENT: "sdk" })) });
    for (const attempt of [() => storage.read("wal_005/x"), () => storage.write("wal_005/x", Buffer.from("x")), () => storage.statAll(["wal_005/x"])]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StorageAccessError);
      expect(error).not.toBeInstanceOf(NotFoundError);
      expect((error as StorageAccessError).message).toMatch(/NoSuchBucket/);
      expect((error as StorageAccessError).hint).toMatch(/wal-native init/);
    }
  });

  it("buffers a stream of exactly one part into a single PUT, and one byte more into a multipart upload", async () => {
    const prefix = uniquePrefix("lite-part");
    const storage = lite(prefix, { WALG_S3_MAX_PART_SIZE: String(5 * MiB) });
    const part = Buffer.alloc(5 * MiB, 3);
    await storage.write("wal_005/one", Readable.from([part.subarray(0, MiB), part.subarray(MiB)]));
    expect(await etagOf(prefix, "wal_005/one")).not.toMatch(/-\d+"$/);
    const more = Buffer.concat([part, Buffer.from([4])]);
    const info = await storage.write("wal_005/two", Readable.from([more.subarray(0, 3 * MiB), more.subarray(3 * MiB)]), {
      metadata: { "walnative-sha256": "ff" },
    });
    expect(info.size).toBe(more.length);
    expect(await etagOf(prefix, "wal_005/two")).toMatch(/-2"$/);
    expect((await readAll(await storage.read("wal_005/two"))).equals(more)).toBe(true);
    expect((await storage.stat("wal_005/two"))?.metadata).toEqual({ "walnative-sha256": "ff" });
  });

  it("stops a read when its signal aborts", async () => {
    const storage = lite(uniquePrefix("lite-abort"));
    const controller = new AbortController();
    controller.abort();
    await expect(storage.stat("wal_005/x", controller.signal)).rejects.toThrow(/abort/i);
  });
});
