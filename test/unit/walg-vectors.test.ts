// The committed wal-g vectors are complete and intact: every file has the SHA-256 the manifest names, every
// method and kind is there (plain and encrypted), and wal-g's framing is what walg-compat.md says it is.
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { loadCrypter } from "../../src/crypto/crypter.js";
import { encryptionFrom } from "../../src/crypto/keys.js";
import { WalSegment } from "../../src/wal/file-name.js";
import { PAGE_MAGIC_BY_VERSION, checkSegmentHeader, readSegmentHeader } from "../../src/wal/segment-check.js";
import { findValidWalEnd } from "../../src/wal/valid-end.js";
import { VECTORS_DIR, fixture, inputOf, loadManifest, lz4Blocks, readSettings, walName } from "../support/walg-vectors.js";

const manifest = loadManifest();
const EXTENSIONS = { lz4: ".lz4", brotli: ".br", zstd: ".zst", lzma: ".lzma", none: "" } as const;
const KINDS = ["segment", "history", "partial", "backup"] as const;
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

describe("test/fixtures/walg-v3.0.9", () => {
  it("was written by wal-g v3.0.9 built with brotli and libsodium", () => {
    expect(manifest.walg.version).toMatch(/^wal-g version v3\.0\.9\t/);
    expect(manifest.walg.buildTags).toEqual(["brotli", "libsodium"]);
  });

  it("holds exactly the files the manifest lists, each with its SHA-256, in well under 10 MB", () => {
    const onDisk = readdirSync(VECTORS_DIR, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(VECTORS_DIR, join(entry.parentPath, entry.name)))
      .filter((path) => path !== "manifest.json")
      .sort();
    expect(onDisk).toEqual(Object.keys(manifest.files).sort());
    let total = 0;
    for (const [path, digest] of Object.entries(manifest.files)) {
      const bytes = fixture(path);
      total += bytes.length;
      expect(sha256(bytes), path).toBe(digest);
    }
    expect(total).toBeLessThan(5 * 1024 * 1024);
  });

  it.each(Object.entries(EXTENSIONS))("has every kind of WAL file pushed with %s, under wal-g's key", (method, extension) => {
    const plain = manifest.wal.filter((v) => v.method === method && v.encryption === undefined);
    expect(plain.map((v) => v.kind).sort()).toEqual([...KINDS].sort());
    for (const vector of plain) {
      expect(vector.key).toBe(`wal_005/${walName(vector)}${extension}`);
      expect(vector.deterministic).toBe(true);
      if (method === "none") expect(fixture(vector.object).equals(fixture(vector.input))).toBe(true);
    }
  });

  it("has a libsodium object for every method, every key transform, and OpenPGP with inline key, key file and passphrase", () => {
    const encrypted = manifest.wal.filter((v) => v.encryption !== undefined);
    const libsodium = encrypted.filter((v) => v.encryption?.type === "libsodium");
    expect(new Set(libsodium.map((v) => v.method))).toEqual(new Set(Object.keys(EXTENSIONS)));
    expect(new Set(libsodium.map((v) => v.encryption?.transform))).toEqual(new Set(["none", "hex", "base64"]));
    expect(libsodium.some((v) => v.encryption?.keyPath !== undefined)).toBe(true);
    const pgp = encrypted.filter((v) => v.encryption?.type === "pgp");
    expect(pgp.some((v) => v.encryption?.key !== undefined && v.encryption.passphrase === undefined)).toBe(true);
    expect(pgp.some((v) => v.encryption?.keyPath !== undefined)).toBe(true);
    expect(pgp.some((v) => v.encryption?.passphrase !== undefined)).toBe(true);
    for (const vector of encrypted) {
      expect(vector.deterministic).toBe(false);
      // Encryption keeps the compression's key: nothing in the name says an object is encrypted.
      expect(vector.key).toBe(`wal_005/${walName(vector)}${EXTENSIONS[vector.method]}`);
      expect(fixture(vector.object).includes(fixture(vector.input).subarray(0, 32))).toBe(false);
    }
  });

  it("shows wal-g's framing: one LZ4 frame with flags 64 70, the LZMA alone header, the zstd magic", () => {
    const plain = (method: string) => manifest.wal.filter((v) => v.method === method && v.encryption === undefined).map((v) => fixture(v.object));
    for (const lz4 of plain("lz4")) expect(lz4.subarray(0, 7).toString("hex")).toBe("04224d186470b9");
    for (const lzma of plain("lzma")) expect(lzma.subarray(0, 13).toString("hex")).toBe("5d00008000ffffffffffffffff");
    for (const zstd of plain("zstd")) expect(zstd.subarray(0, 4).toString("hex")).toBe("28b52ffd");
  });

  it("has inputs whose first page header agrees with their name (PostgreSQL 15, 1 MiB segments)", () => {
    for (const vector of manifest.wal.filter((v) => v.kind === "segment" || v.kind === "partial")) {
      const bytes = fixture(vector.input);
      const name = walName(vector).slice(0, 24);
      expect(bytes.length).toBe(manifest.walSegmentSizeMb * 1024 * 1024);
      expect(bytes.readUInt16LE(0)).toBe(0xd110);
      expect(bytes.readUInt32LE(4)).toBe(Number.parseInt(name.slice(0, 8), 16));
      expect(bytes.readBigUInt64LE(8)).toBe(BigInt(Number.parseInt(name.slice(16), 16)) * BigInt(bytes.length));
    }
  });

  it("has wal-g's key layout for S3 and FILE prefix settings, including the path it cleans (a//c -> a/c)", () => {
    const keysFor = (storage: string, prefix: string, settings = {}) =>
      manifest.layout.find((l) => l.storage === storage && l.prefix === prefix && JSON.stringify(l.settings) === JSON.stringify(settings))?.keys;
    const root = (r: string) => ["wal_005/000000010000000000000002.00000028.backup.lz4", "wal_005/000000010000000000000003.lz4",
      "wal_005/000000010000000000000004.partial.lz4", "wal_005/00000002.history.lz4"].map((k) => `${r}${k}`);
    expect(keysFor("s3", "s3://walg-layout")).toEqual(root(""));
    expect(keysFor("s3", "s3://walg-layout/")).toEqual(root(""));
    expect(keysFor("s3", "s3://walg-layout/a/b/")).toEqual(root("a/b/"));
    expect(keysFor("s3", "s3://walg-layout/a//c")).toEqual(root("a/c/"));
    expect(keysFor("s3", "s3://walg-layout/a/", { WALG_STORAGE_PREFIX: "x/" })).toEqual(root("a/x/"));
    expect(keysFor("file", "<dir>")).toEqual(root(""));
    expect(keysFor("file", "file://localhost<dir>")).toEqual(root(""));
    expect(keysFor("file", "<dir>", { WALG_STORAGE_PREFIX: "x/" })).toEqual(root("x/"));
    for (const layout of manifest.layout.filter((l) => l.storage === "s3")) {
      expect(layout.putHeaders?.["x-amz-storage-class"]).toBe("STANDARD");
    }
  });

  it("has a bucket with a full, a delta and a permanent backup, and wal-g's listings of it", () => {
    const keys = manifest.bucket.objects.map((o) => o.key);
    const sentinels = keys.filter((k) => /^basebackups_005\/base_[0-9A-F]{24}(_D_[0-9A-F]{24})?_backup_stop_sentinel\.json$/.test(k));
    expect(sentinels).toHaveLength(3);
    expect(sentinels.filter((k) => k.includes("_D_"))).toHaveLength(1);
    for (const sentinel of sentinels) expect(keys).toContain(sentinel.replace("_backup_stop_sentinel.json", "/metadata.json"));
    expect(keys.some((k) => k.includes("tar_partitions"))).toBe(false);
    const detail = JSON.parse(fixture("walg-output/backup-list-detail.json").toString()) as Array<{ is_permanent: boolean }>;
    expect(detail.map((b) => b.is_permanent)).toEqual([false, false, true]);
    for (const object of manifest.bucket.objects.filter((o) => o.key.startsWith("wal_005/"))) {
      expect(object.plainSha256, object.key).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(manifest.bucket.outputs.map((o) => o.file).sort()).toEqual([
      "walg-output/backup-list-detail.json", "walg-output/backup-list-detail.txt", "walg-output/backup-list.json",
      "walg-output/backup-list.txt", "walg-output/wal-show-detailed.json", "walg-output/wal-show.txt",
      "walg-output/wal-verify-lost.json", "walg-output/wal-verify-lost.txt", "walg-output/wal-verify.json", "walg-output/wal-verify.txt",
    ]);
  });

  describe("16 MiB segments (wal-g's default size)", () => {
    const { defaultSize } = manifest;
    const MiB = 1024 * 1024;
    const plain = defaultSize.vectors.filter((v) => v.encryption === undefined);
    const byMethod = (method: string) => plain.find((v) => v.method === method)!;

    it("come for every compressing method and libsodium over lz4, pushed with WALG_PG_WAL_SIZE unset", () => {
      expect(defaultSize.walSegmentSizeMb).toBe(16);
      expect(plain.map((v) => v.method).sort()).toEqual(["brotli", "lz4", "lzma", "zstd"]);
      const sealed = defaultSize.vectors.filter((v) => v.encryption !== undefined);
      expect(sealed.map((v) => [v.method, v.encryption?.type])).toEqual([["lz4", "libsodium"]]);
      for (const vector of defaultSize.vectors) {
        expect(vector.key).toBe(`wal_005/${defaultSize.input.name}${EXTENSIONS[vector.method]}`);
        expect(vector.input).toBe(`<generated>/${defaultSize.input.name}`);
        expect(vector.env).not.toHaveProperty("WALG_PG_WAL_SIZE");
        expect(vector.deterministic).toBe(vector.encryption === undefined);
        expect(manifest.files[vector.object], vector.object).toMatch(/^[0-9a-f]{64}$/);
      }
      // Not committed: regenerated from the recipe.
      expect(Object.keys(manifest.files).some((path) => path.endsWith(defaultSize.input.name))).toBe(false);
    });

    it("regenerate their input from the recipe: the 16 MiB wal-g was given, by the SHA-256 the manifest recorded", () => {
      const input = inputOf(byMethod("lz4"));
      expect(input.length).toBe(defaultSize.input.size);
      expect(input.length).toBe(16 * MiB);
      expect(sha256(input)).toBe(defaultSize.input.sha256);
    });

    it("have an input that is WAL as PostgreSQL 16 writes it, with records running across every 4 MiB boundary", () => {
      const input = inputOf(byMethod("lz4"));
      const segment = WalSegment.parse(defaultSize.input.name, input.length);
      const header = readSegmentHeader(input, defaultSize.input.name);
      expect(header.magic).toBe(PAGE_MAGIC_BY_VERSION[16]);
      expect(header.segmentSize).toBe(16 * MiB);
      expect(() => checkSegmentHeader(header, segment, input.length, defaultSize.input.name)).not.toThrow();
      // Every record passes xlogreader.c's checks (xl_prev chain, CRC-32C, continuation pages), up to the end.
      const valid = findValidWalEnd(input, segment.startLsn(input.length));
      expect(valid).toEqual({ end: input.length, records: expect.any(Number) });
      expect(valid.records).toBeGreaterThan(500);
      for (const boundary of [4, 8, 12].map((n) => n * MiB)) {
        expect(input.readUInt16LE(boundary + 2) & 0x0001, `XLP_FIRST_IS_CONTRECORD at ${boundary}`).toBe(1);
        expect(input.readUInt32LE(boundary + 16), `xlp_rem_len at ${boundary}`).toBeGreaterThan(0);
      }
    });

    it("lz4: one frame with wal-g's header, exactly four 4 MiB blocks that each decode on their own to a quarter of the input", () => {
      const input = inputOf(byMethod("lz4"));
      const frame = lz4Blocks(fixture(byMethod("lz4").object));
      expect(frame.header).toBe("04224d186470b9");
      expect(frame.blocks).toHaveLength(4);
      for (const [index, block] of frame.blocks.entries()) {
        expect(block.stored, `block ${index}`).toBe(false);
        expect(block.size, `block ${index}`).toBeLessThan(MiB / 8);
        expect(block.content.length, `block ${index}`).toBe(4 * MiB);
        expect(block.content.equals(input.subarray(index * 4 * MiB, (index + 1) * 4 * MiB)), `block ${index}`).toBe(true);
      }
      expect(frame.contentChecksumOk).toBe(true);
      expect(frame.trailing).toBe(0);
    });

    it("libsodium over lz4: decrypted, it is byte for byte the frame wal-g wrote unencrypted", async () => {
      const vector = defaultSize.vectors.find((v) => v.encryption !== undefined)!;
      const crypter = await loadCrypter(encryptionFrom(readSettings(vector))!);
      const object = fixture(vector.object);
      const compressed = await crypter.decrypt(object, vector.key);
      expect(compressed.equals(fixture(byMethod("lz4").object))).toBe(true);
      expect(crypter.sealedSize!(compressed.length)).toBe(object.length);
    });

    it("brotli, zstd, lzma: wal-g's framing (zstd magic, the LZMA alone header)", () => {
      expect(fixture(byMethod("zstd").object).subarray(0, 4).toString("hex")).toBe("28b52ffd");
      expect(fixture(byMethod("lzma").object).subarray(0, 13).toString("hex")).toBe("5d00008000ffffffffffffffff");
      expect(fixture(byMethod("brotli").object).length).toBeLessThan(MiB);
    });
  });
});
