// The checksum recorded in object metadata (src/io/content-digest.ts): XXH64 for new objects, SHA-256 still
// read from objects of earlier versions; streamed and one-shot digests agree.
import { describe, expect, it } from "vitest";
import { META_SHA256, META_XXH64, digestMetadata, digestOf, recordedDigest, startDigest } from "../../src/io/content-digest.js";

describe("content digest", () => {
  it("computes XXH64 (seed 0) and SHA-256 as their reference values, XXH64 padded to 16 hex digits", () => {
    expect(digestOf(Buffer.alloc(0))).toEqual({ algorithm: "xxh64", hex: "ef46db3751d8e999" });
    expect(digestOf(Buffer.from("abc")).hex).toBe("44bc2cf5ad770999");
    expect(digestOf(Buffer.from("abc"), "sha256").hex).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // Some inputs hash to a value below 2^60: the hex keeps its leading zeros.
    const short = Array.from({ length: 5000 }, (_, i) => digestOf(Buffer.from(`wal ${i}`)).hex);
    expect(short.every((hex) => /^[0-9a-f]{16}$/.test(hex))).toBe(true);
    expect(short.some((hex) => hex.startsWith("0"))).toBe(true);
  });

  it.each(["xxh64", "sha256"] as const)("streams %s to the same digest as one call, whatever the chunking", (algorithm) => {
    const data = Buffer.from(Array.from({ length: 300_001 }, (_, i) => (i * 7919) & 0xff));
    const stream = startDigest(algorithm);
    for (let offset = 0; offset < data.length; offset += 65_537) stream.update(data.subarray(offset, offset + 65_537));
    expect(stream.hex()).toBe(digestOf(data, algorithm).hex);
  });

  it("reads what a push records and what earlier versions recorded, preferring XXH64", () => {
    const digest = digestOf(Buffer.from("segment"));
    expect(digestMetadata(digest)).toEqual({ [META_XXH64]: digest.hex });
    expect(recordedDigest(digestMetadata(digest))).toEqual(digest);
    expect(recordedDigest({ [META_SHA256]: "AB12" })).toEqual({ algorithm: "sha256", hex: "ab12" });
    expect(recordedDigest({ [META_SHA256]: "ab12", [META_XXH64]: "0011" })).toEqual({ algorithm: "xxh64", hex: "0011" });
    expect(recordedDigest({ "walnative-system-id": "1" })).toBeUndefined();
    expect(recordedDigest(undefined)).toBeUndefined();
  });
});
