// One contract suite for every Storage implementation (memory, filesystem, MinIO).
import { Readable } from "node:stream";
import { expect, it } from "vitest";
import { NotFoundError } from "../../src/errors.js";
import { ObjectExistsError, type Storage } from "../../src/storage/storage.js";

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function storageContract(make: () => Promise<Storage>): void {
  it("writes, stats, reads back and removes an object", async () => {
    const storage = await make();
    const body = Buffer.from("hello wal");
    const info = await storage.write("wal_005/a.lz4", Readable.from([body]));
    expect(info.size).toBe(body.length);
    expect((await storage.stat("wal_005/a.lz4"))?.size).toBe(body.length);
    expect(await readAll(await storage.read("wal_005/a.lz4"))).toEqual(body);
    await storage.remove("wal_005/a.lz4");
    expect(await storage.stat("wal_005/a.lz4")).toBeUndefined();
    await expect(storage.remove("wal_005/a.lz4")).resolves.toBeUndefined();
  });

  it("reports an absent object as undefined on stat and NotFoundError on read", async () => {
    const storage = await make();
    expect(await storage.stat("wal_005/missing")).toBeUndefined();
    await expect(storage.read("wal_005/missing")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("refuses to replace an object when asked to write only if absent", async () => {
    const storage = await make();
    await storage.write("wal_005/b", Readable.from([Buffer.from("first")]), { ifAbsent: true });
    await expect(storage.write("wal_005/b", Readable.from([Buffer.from("second")]), { ifAbsent: true })).rejects.toBeInstanceOf(
      ObjectExistsError,
    );
    expect((await readAll(await storage.read("wal_005/b"))).toString()).toBe("first");
  });

  it("finds which candidate keys exist, in the order asked", async () => {
    const storage = await make();
    await storage.write("wal_005/X.br", Readable.from([Buffer.from("b")]));
    await storage.write("wal_005/X.lz4", Readable.from([Buffer.from("l")]));
    await storage.write("wal_005/X.partial.lz4", Readable.from([Buffer.from("p")]));
    const found = await storage.statAll(["wal_005/X.lz4", "wal_005/X.lzma", "wal_005/X.br", "wal_005/X"]);
    expect(found.map((info) => info.key)).toEqual(["wal_005/X.lz4", "wal_005/X.br"]);
  });

  it("lists objects under a prefix", async () => {
    const storage = await make();
    await storage.write("wal_005/1", Readable.from([Buffer.from("1")]));
    await storage.write("wal_005/2", Readable.from([Buffer.from("22")]));
    await storage.write("basebackups_005/x", Readable.from([Buffer.from("x")]));
    const keys: string[] = [];
    for await (const info of storage.list("wal_005/")) keys.push(info.key);
    expect(keys.sort()).toEqual(["wal_005/1", "wal_005/2"]);
  });

  it("writes an empty object and a multi-megabyte one in many chunks", async () => {
    const storage = await make();
    await storage.write("wal_005/empty", Readable.from([]));
    expect((await storage.stat("wal_005/empty"))?.size).toBe(0);
    const chunks = Array.from({ length: 300 }, (_, i) => Buffer.alloc(100_000, i % 251));
    await storage.write("wal_005/big", Readable.from(chunks));
    const back = await readAll(await storage.read("wal_005/big"));
    // Buffer.equals: vitest's deep equality walks 30 MB element by element.
    expect(back.length).toBe(30_000_000);
    expect(back.equals(Buffer.concat(chunks))).toBe(true);
  });

  it("writes a Buffer body as it is, with metadata, and honours write-only-if-absent for it", async () => {
    const storage = await make();
    const body = Buffer.alloc(3 * 1024 * 1024 + 7, 9);
    const info = await storage.write("wal_005/buffer", body, { ifAbsent: true, metadata: () => ({ "walnative-sha256": "ab" }) });
    expect(info.size).toBe(body.length);
    expect((await readAll(await storage.read("wal_005/buffer"))).equals(body)).toBe(true);
    await expect(storage.write("wal_005/buffer", Buffer.from("other"), { ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
    expect((await storage.stat("wal_005/buffer"))?.size).toBe(body.length);
  });
}
