// The uploader's hash thread (src/io/hash-thread.ts): the same digests as hashing in place, computed on the
// thread without a copy of the segment, and a dead thread costs speed only.
import { createHash, randomFillSync } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { allocSegmentBuffer, hashesOnThread, sha256Of, startHashThread, stopHashThread } from "../../src/io/hash-thread.js";

const hex = (data: Buffer) => createHash("sha256").update(data).digest("hex");

afterAll(stopHashThread);

describe("hash thread", () => {
  it("hashes in place before it runs, then on the thread for shared buffers, with equal digests", async () => {
    const before = allocSegmentBuffer(1024 * 1024);
    randomFillSync(before);
    expect(before.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    expect(await sha256Of(before)).toBe(hex(before));
    expect(hashesOnThread()).toBe(0);

    await startHashThread();
    const segments = Array.from({ length: 3 }, (_, i) => randomFillSync(allocSegmentBuffer(2 * 1024 * 1024 + i)));
    expect(segments[0]!.buffer).toBeInstanceOf(SharedArrayBuffer);
    // Several at once, and a view that starts inside the shared memory (offset and length travel with it).
    const view = segments[2]!.subarray(4096, 4096 + 1_000_000);
    const digests = await Promise.all([...segments.map(sha256Of), sha256Of(view)]);
    expect(digests).toEqual([...segments.map(hex), hex(view)]);
    expect(hashesOnThread()).toBe(4);
    // An ordinary buffer is still hashed in place (the thread cannot read it without a copy).
    expect(await sha256Of(before)).toBe(hex(before));
    expect(hashesOnThread()).toBe(4);
  });

  it("hashes on the calling thread once the thread is gone, including what it was asked while dying", async () => {
    await startHashThread();
    const data = randomFillSync(allocSegmentBuffer(4 * 1024 * 1024));
    const counted = hashesOnThread();
    const asked = sha256Of(data);
    await stopHashThread();
    expect(await asked).toBe(hex(data));
    expect(await sha256Of(data)).toBe(hex(data));
    expect(hashesOnThread()).toBeLessThanOrEqual(counted + 1);
    expect(allocSegmentBuffer(16).buffer).not.toBeInstanceOf(SharedArrayBuffer);
  });
});
