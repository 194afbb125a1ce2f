// Files we write ourselves reach the page cache in slices of at most WRITE_SLICE bytes (io/fs.ts says why): a
// restored segment decoded whole, one streamed, and a FILE-store object written from a buffer.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { lz4Codec } from "../../../src/compress/lz4.js";
import { WRITE_SLICE, writeInSlices } from "../../../src/io/fs.js";
import { downloadVerified } from "../../../src/restore/download.js";
import { FsStorage } from "../../../src/storage/fs.js";
import { parseWalFileName } from "../../../src/wal/file-name.js";
import { walKey } from "../../../src/wal/archive-keys.js";
import { MemoryStorage } from "../../support/memory-storage.js";
import { MiB, makeSegment } from "../../support/wal.js";
import { transformBuffer } from "../compress/helpers.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "wal-native-write-slices-"));
  dirs.push(dir);
  return dir;
}

/** Every FileHandle.write() from now on: the length asked for in each call. */
async function recordWrites(): Promise<number[]> {
  const probe = await open(join(scratchDir(), "probe"), "w");
  const prototype = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const lengths: number[] = [];
  const original = prototype.write;
  vi.spyOn(prototype, "write").mockImplementation(function (this: unknown, ...args: unknown[]) {
    const [data, , length] = args as [Uint8Array, number | undefined, number | undefined];
    lengths.push(typeof length === "number" ? length : data.length);
    return original.apply(this, args);
  });
  return lengths;
}

async function restore(name: string, content: Buffer, segmentSize: number): Promise<string> {
  const storage = new MemoryStorage();
  await storage.write(walKey(name, "lz4"), Readable.from([await transformBuffer(lz4Codec.compress(), content)]));
  const destination = join(scratchDir(), name);
  await downloadVerified(storage, destination, { file: parseWalFileName(name, segmentSize) }, "lz4", { durable: false });
  return destination;
}

describe("writes in slices", () => {
  it("writeInSlices writes everything, no slice larger than WRITE_SLICE", async () => {
    const data = Buffer.alloc(3 * WRITE_SLICE + 5, 9);
    const path = join(scratchDir(), "f");
    const lengths = await recordWrites();
    const handle = await open(path, "w");
    await writeInSlices(handle, data);
    await handle.close();
    expect(lengths).toEqual([WRITE_SLICE, WRITE_SLICE, WRITE_SLICE, 5]);
    expect(readFileSync(path).equals(data)).toBe(true);
  });

  it.each([
    { how: "decoded whole", name: "000000010000000000000031", segmentSize: 16 * MiB },
    { how: "streamed", name: "00000001000000000000003E", segmentSize: 64 * MiB },
  ])("a restored segment, $how", async ({ name, segmentSize }) => {
    const content = makeSegment(name, { segmentSize, payload: 4096 });
    const lengths = await recordWrites();
    const destination = await restore(name, content, segmentSize);
    expect(readFileSync(destination).equals(content)).toBe(true);
    expect(lengths.reduce((sum, length) => sum + length, 0)).toBe(segmentSize);
    expect(Math.max(...lengths)).toBe(WRITE_SLICE);
  });

  it("an object written to a FILE store from a buffer", async () => {
    const root = scratchDir();
    const body = Buffer.alloc(4 * MiB + 1, 3);
    const lengths = await recordWrites();
    await new FsStorage(root).write("wal_005/000000010000000000000001.lz4", body);
    expect(readFileSync(join(root, "wal_005/000000010000000000000001.lz4")).equals(body)).toBe(true);
    expect(Math.max(...lengths)).toBe(WRITE_SLICE);
    expect(lengths.reduce((sum, length) => sum + length, 0)).toBe(body.length);
  });
});
