// downloadVerified: whole-buffer decoding for objects up to a default segment, streaming beyond;
// either way nothing appears under the destination's name unless it verified.
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import type { Codec, CodecName } from "../../../src/compress/codec.js";
import { brotliCodec } from "../../../src/compress/brotli.js";
import { lz4Codec } from "../../../src/compress/lz4.js";
import { noneCodec } from "../../../src/compress/none.js";
import { CorruptDataError, NotFoundError } from "../../../src/errors.js";
import { type DigestAlgorithm, META_SHA256, META_XXH64, digestMetadata, digestOf } from "../../../src/io/content-digest.js";
import { downloadVerified } from "../../../src/restore/download.js";
import { parseWalFileName } from "../../../src/wal/file-name.js";
import { walKey } from "../../../src/wal/archive-keys.js";
import { MemoryStorage } from "../../support/memory-storage.js";
import { MiB, makeSegment } from "../../support/wal.js";
import { transformBuffer } from "../compress/helpers.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "wal-native-restore-file-"));
  dirs.push(dir);
  return dir;
}

const NAME = "000000010000000000000031";
/** What a push records (XXH64), or an earlier version's SHA-256. */
const recorded = (data: Buffer, algorithm: DigestAlgorithm = "xxh64") => digestMetadata(digestOf(data, algorithm));

async function store(codec: Codec, name: string, content: Buffer, metadata: Record<string, string> = recorded(content)) {
  const storage = new MemoryStorage();
  const body = codec.name === "none" ? content : await transformBuffer(codec.compress(), content);
  await storage.write(walKey(name, codec.name as CodecName), Readable.from([body]), { metadata });
  return storage;
}

async function fetchTo(storage: MemoryStorage, name: string, segmentSize = 16 * MiB, preferred: CodecName = "lz4") {
  const dir = scratchDir();
  const destination = join(dir, name);
  const expect = { file: parseWalFileName(name, segmentSize) };
  const result = await downloadVerified(storage, destination, expect, preferred, { durable: false }).catch((error: unknown) => error);
  return { dir, destination, result };
}

describe("downloadVerified", () => {
  it.each([lz4Codec, brotliCodec, noneCodec])("restores a segment stored with $name, identical", async (codec) => {
    const content = makeSegment(NAME);
    const { destination, result, dir } = await fetchTo(await store(codec, NAME, content), NAME);
    expect(result).toBe(16 * MiB);
    expect(readFileSync(destination).equals(content)).toBe(true);
    expect(readdirSync(dir)).toEqual([NAME]);
  });

  it("streams a segment larger than the whole-buffer limit (64 MiB segments)", async () => {
    const name = "00000001000000000000003E";
    const content = makeSegment(name, { segmentSize: 64 * MiB, payload: 4096 });
    const { destination, result } = await fetchTo(await store(lz4Codec, name, content), name, 64 * MiB);
    expect(result).toBe(64 * MiB);
    expect(readFileSync(destination).equals(content)).toBe(true);
  });

  it.each([
    { algorithm: "xxh64", label: "XXH64", key: META_XXH64, segmentSize: 16 * MiB },
    { algorithm: "xxh64", label: "XXH64", key: META_XXH64, segmentSize: 64 * MiB },
    { algorithm: "sha256", label: "SHA-256", key: META_SHA256, segmentSize: 16 * MiB },
    { algorithm: "sha256", label: "SHA-256", key: META_SHA256, segmentSize: 64 * MiB },
  ] as const)("publishes nothing when the content does not match the $label recorded at archive time ($segmentSize bytes)", async ({ algorithm, label, key, segmentSize }) => {
    const name = "00000001000000000000003E";
    const content = makeSegment(name, { segmentSize, payload: 4096 });
    // The checksum of a copy that differs in one byte past the header: only the recorded checksum can tell.
    const other = Buffer.from(content);
    other[segmentSize - 1] = (other[segmentSize - 1] ?? 0) ^ 1;
    const metadata = recorded(other, algorithm);
    expect(Object.keys(metadata)).toEqual([key]);
    const { dir, destination, result } = await fetchTo(await store(lz4Codec, name, content, metadata), name, segmentSize);
    expect(result).toBeInstanceOf(CorruptDataError);
    expect((result as Error).message).toContain(`checksum (${label}) recorded when it was archived`);
    expect(existsSync(destination)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("restores an object of an earlier version, which recorded SHA-256, after checking it", async () => {
    const content = makeSegment(NAME);
    const { destination, result } = await fetchTo(await store(brotliCodec, NAME, content, recorded(content, "sha256")), NAME);
    expect(result).toBe(16 * MiB);
    expect(readFileSync(destination).equals(content)).toBe(true);
  });

  it("publishes nothing from a damaged lz4 object, whatever byte is damaged", async () => {
    const content = makeSegment(NAME, { payload: 100_000 });
    const storage = await store(lz4Codec, NAME, content, {});
    const key = walKey(NAME, "lz4");
    const good = storage.objects.get(key)?.body as Buffer;
    for (const at of [4, 7, 11, 200, good.length >> 1, good.length - 6, good.length - 1]) {
      const damaged = Buffer.from(good);
      damaged[at] = (damaged[at] ?? 0) ^ 0x41;
      storage.objects.set(key, { body: damaged, metadata: {} });
      const { dir, result } = await fetchTo(storage, NAME);
      expect(result, `byte ${at}`).toBeInstanceOf(CorruptDataError);
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it("refuses a segment whose header names another position, and a truncated object", async () => {
    const impostor = makeSegment("000000010000000000000032");
    const { result } = await fetchTo(await store(lz4Codec, NAME, impostor, {}), NAME);
    expect((result as Error).message).toMatch(/does not match the name/);
    const storage = await store(lz4Codec, NAME, makeSegment(NAME), {});
    const key = walKey(NAME, "lz4");
    const body = storage.objects.get(key)?.body as Buffer;
    storage.objects.set(key, { body: body.subarray(0, body.length - 9), metadata: {} });
    const truncated = await fetchTo(storage, NAME);
    expect(truncated.result).toBeInstanceOf(CorruptDataError);
    expect(readdirSync(truncated.dir)).toEqual([]);
  });

  it("finds an object stored with another codec than the configured one, and says when there is none", async () => {
    const content = makeSegment(NAME);
    const { destination } = await fetchTo(await store(brotliCodec, NAME, content), NAME, 16 * MiB, "lz4");
    expect(readFileSync(destination).equals(content)).toBe(true);
    const { result } = await fetchTo(new MemoryStorage(), NAME);
    expect(result).toBeInstanceOf(NotFoundError);
  });

  it("restores many segments at once, each identical (two decode buffers, reused)", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `0000000100000000000000${(0x40 + i).toString(16).toUpperCase()}`);
    const storage = new MemoryStorage();
    const contents = names.map((name) => makeSegment(name));
    for (const [i, name] of names.entries()) {
      const content = contents[i] as Buffer;
      await storage.write(walKey(name, "lz4"), Readable.from([await transformBuffer(lz4Codec.compress(), content)]), { metadata: recorded(content) });
    }
    const results = await Promise.all(names.map((name) => fetchTo(storage, name)));
    for (const [i, { destination }] of results.entries()) {
      expect(readFileSync(destination).equals(contents[i] as Buffer)).toBe(true);
    }
  });

  it.each([
    ["as announced", 0],
    ["longer than announced", -1000],
    ["shorter than announced", 1000],
  ])("collects a body that arrives in small chunks, %s, into the same file", async (_label, sizeError) => {
    const content = makeSegment(NAME, { payload: 3 * MiB });
    const inner = await store(lz4Codec, NAME, content);
    const storage = Object.assign(Object.create(inner) as MemoryStorage, {
      async open(key: string) {
        const object = await inner.open(key);
        const body: Buffer[] = [];
        for await (const chunk of object.body) body.push(chunk as Buffer);
        const whole = Buffer.concat(body);
        const pieces = Array.from({ length: Math.ceil(whole.length / 65_521) }, (_, i) => whole.subarray(i * 65_521, (i + 1) * 65_521));
        return { info: { ...object.info, size: whole.length + (sizeError as number) }, body: Readable.from(pieces) };
      },
    });
    const { destination, result } = await fetchTo(storage, NAME);
    expect(result).toBe(16 * MiB);
    expect(readFileSync(destination).equals(content)).toBe(true);
  });
});

