// wal-g compatibility proven offline, from what a real wal-g v3.0.9 wrote (test/fixtures/walg-v3.0.9): on a FILE
// store and on MinIO, wal-restore gives back every object byte-identical; wal-archive writes the same keys and
// framing (LZ4 frame header, flags and checksum byte for byte; brotli, zstd and xz streams the reference CLIs
// decode); backup-list, wal-verify and check answer as wal-g did for a bucket wal-g filled from PostgreSQL 15.
// Segments of wal-g's default 16 MiB size too: wal-g's LZ4 frame of four independent 4 MiB blocks is restored, and
// wal-archive writes the same layout.
// The live suite (compat-walg-vectors-live) checks that these vectors still match what wal-g writes.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { getObject, listKeys, minioEnv, minioInfo, putObject, uniquePrefix } from "../support/minio.js";
import { s3ClientFor } from "../support/minio-server.js";
import { tempDir } from "../support/temp-dir.js";
import { runBin } from "../support/run-command.js";
import { requireTool } from "../support/tools.js";
import { type WalVector, fixture, inputOf, loadManifest, lz4Blocks, readSettings, walName } from "../support/walg-vectors.js";

/** The encryption types wal-restore reads: their vectors restore byte-identical with the test keys, like the plain ones. */
const READABLE_ENCRYPTION = new Set<string>(["libsodium", "pgp"]);

const manifest = loadManifest();
const plain = manifest.wal.filter((v) => v.encryption === undefined);
const readable = manifest.wal.filter((v) => v.encryption === undefined || READABLE_ENCRYPTION.has(v.encryption.type));
const encrypted = manifest.wal.filter((v) => v.encryption !== undefined);
/** Our commands reading and writing storage only: no local archive, no logs, no prefetch worker. */
const OURS = { WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALG_DOWNLOAD_CONCURRENCY: "1" };
const WAL = { ...OURS, WALG_PG_WAL_SIZE: String(manifest.walSegmentSizeMb) };
/** The default-size vectors: wal-g pushed them with WALG_PG_WAL_SIZE unset, and so do we. */
const { defaultSize } = manifest;
const DEFAULT_SIZE_WAL = OURS;
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/** A store of either kind that objects can be put into and read back from, by key. */
interface Store {
  env: Record<string, string>;
  put(key: string, body: Buffer, mtime?: number): Promise<void>;
  get(key: string): Promise<Buffer>;
  keys(): Promise<string[]>;
  remove(key: string): Promise<void>;
}

let scratch: string;
beforeAll(async () => {
  scratch = await tempDir("compat-vectors");
});

async function newStore(backend: "file" | "minio", label: string): Promise<Store> {
  if (backend === "minio") {
    const prefix = uniquePrefix(label);
    return {
      env: minioEnv(prefix),
      put: (key, body) => putObject(`${prefix}/${key}`, body),
      get: (key) => getObject(`${prefix}/${key}`),
      keys: async () => (await listKeys(`${prefix}/`)).map((k) => k.slice(prefix.length + 1)),
      remove: async (key) => {
        await s3ClientFor(minioInfo()).send(new DeleteObjectCommand({ Bucket: minioInfo().bucket, Key: `${prefix}/${key}` }));
      },
    };
  }
  const root = await mkdtemp(join(scratch, `${label}-`));
  return {
    env: { WALG_FILE_PREFIX: root },
    put: async (key, body, mtime) => {
      await mkdir(dirname(join(root, key)), { recursive: true });
      await writeFile(join(root, key), body);
      if (mtime !== undefined) await utimes(join(root, key), mtime, mtime);
    },
    get: (key) => readFile(join(root, key)),
    keys: async () => (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(root.length + 1)).sort(),
    remove: (key) => rm(join(root, key)),
  };
}

/** wal-restore <name> pg_wal/RECOVERYXLOG in a fresh directory, as PostgreSQL calls it. */
async function restore(name: string, env: Record<string, string>): Promise<{ code: number; stderr: string; file?: Buffer }> {
  const dir = await mkdtemp(join(scratch, "dst-"));
  await mkdir(join(dir, "pg_wal"));
  const result = await runBin("wal-restore", [name, "pg_wal/RECOVERYXLOG"], { cwd: dir, env });
  const file = await readFile(join(dir, "pg_wal", "RECOVERYXLOG")).catch(() => undefined);
  return { code: result.code, stderr: result.stderr, file };
}

/** Decodes with a reference CLI (lz4, brotli, zstd, xz), which knows nothing of wal-g or of us. */
function cliDecode(method: string, bytes: Buffer): Buffer {
  const [tool, args] = {
    lz4: ["lz4", ["-d", "-c"]],
    brotli: ["brotli", ["-d", "-c"]],
    zstd: ["zstd", ["-d", "-c"]],
    lzma: ["xz", ["--format=lzma", "-d", "-c"]],
  }[method] as [string, string[]];
  const result = spawnSync(requireTool(tool), args, { input: bytes, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${tool} ${args.join(" ")} exited ${result.status}: ${result.stderr.toString()}`);
  return result.stdout;
}

for (const backend of ["file", "minio"] as const) {
  describe(`${backend} store: wal-restore reads what wal-g v3.0.9 stored`, () => {
    it.each(readable.map((v) => [v.id, v] as const))("%s is restored byte-identical", async (_id, vector) => {
      const store = await newStore(backend, "vectors-restore");
      await store.put(vector.key, fixture(vector.object));
      // Configured for lz4 (the default) whatever the object's method: finding it is wal-g's extension search.
      const result = await restore(walName(vector), { ...store.env, ...WAL, ...readSettings(vector) });
      expect(result.code, result.stderr).toBe(0);
      expect(result.file?.equals(fixture(vector.input))).toBe(true);
    });
  });

  describe(`${backend} store: wal-archive writes what wal-g v3.0.9 writes`, () => {
    it.each(plain.map((v) => [v.id, v] as const))("%s: same key, same framing, decoded by the reference tool", async (_id, vector) => {
      const store = await newStore(backend, "vectors-archive");
      const input = fixture(vector.input);
      const source = join(await mkdtemp(join(scratch, "src-")), walName(vector));
      await writeFile(source, input);
      const pushed = await runBin("wal-archive", [source, walName(vector)], { cwd: scratch, env: { ...store.env, ...WAL, WALG_COMPRESSION_METHOD: vector.method } });
      expect(pushed.code, pushed.stderr).toBe(0);
      expect((await store.keys()).filter((k) => k.startsWith("wal_005/"))).toEqual([vector.key]);
      const ours = await store.get(vector.key);
      const theirs = fixture(vector.object);
      switch (vector.method) {
        case "none":
          expect(ours.equals(theirs)).toBe(true);
          return;
        case "lz4": {
          // Same header (FLG 0x64: independent blocks, content checksum; BD 0x70: 4 MiB blocks), one frame, same
          // number of blocks and the same content checksum (xxh32 of the input) at the very end.
          const [a, b] = [lz4Blocks(ours), lz4Blocks(theirs)];
          expect(a.header).toBe("04224d186470b9");
          expect(a).toMatchObject({ header: b.header, checksum: b.checksum, contentChecksumOk: true, trailing: 0 });
          expect(a.blocks.map((block) => block.content.length)).toEqual(b.blocks.map((block) => block.content.length));
          expect(b.trailing).toBe(0);
          expect(Math.max(...a.blocks.map((block) => block.size))).toBeLessThanOrEqual(4 * 1024 * 1024);
          break;
        }
        case "lzma":
          // The .lzma ("LZMA alone") header: properties 0x5D, 8 MiB dictionary, unknown size.
          expect(ours.subarray(0, 13).toString("hex")).toBe(theirs.subarray(0, 13).toString("hex"));
          break;
        case "zstd":
          expect(ours.subarray(0, 4).toString("hex")).toBe("28b52ffd");
          break;
        default:
          break;
      }
      expect(cliDecode(vector.method, ours).equals(input)).toBe(true);
      expect(cliDecode(vector.method, theirs).equals(input)).toBe(true);
    });
  });

  describe(`${backend} store: 16 MiB segments (wal-g's default size, WALG_PG_WAL_SIZE unset)`, () => {
    it.each(defaultSize.vectors.map((v) => [v.id, v] as const))("%s: wal-restore restores wal-g's object byte-identical", async (_id, vector) => {
      const store = await newStore(backend, "vectors-16mib-restore");
      await store.put(vector.key, fixture(vector.object));
      const result = await restore(walName(vector), { ...store.env, ...DEFAULT_SIZE_WAL, ...readSettings(vector) });
      expect(result.code, result.stderr).toBe(0);
      expect(result.file?.length).toBe(16 * 1024 * 1024);
      expect(result.file?.equals(defaultSizeInput(vector))).toBe(true);
    });

    it.each(defaultSize.vectors.map((v) => [v.id, v] as const))("%s: wal-archive writes wal-g's key and framing", async (_id, vector) => {
      const store = await newStore(backend, "vectors-16mib-archive");
      const input = defaultSizeInput(vector);
      const source = join(await mkdtemp(join(scratch, "src-")), walName(vector));
      await writeFile(source, input);
      const settings = { ...store.env, ...DEFAULT_SIZE_WAL, WALG_COMPRESSION_METHOD: vector.method, ...readSettings(vector) };
      const pushed = await runBin("wal-archive", [source, walName(vector)], { cwd: scratch, env: settings });
      expect(pushed.code, pushed.stderr).toBe(0);
      expect((await store.keys()).filter((k) => k.startsWith("wal_005/"))).toEqual([vector.key]);
      let [ours, theirs] = [await store.get(vector.key), fixture(vector.object)];
      if (vector.encryption !== undefined) {
        const { loadCrypter } = await import("../../src/crypto/crypter.js");
        const { encryptionFrom } = await import("../../src/crypto/keys.js");
        const crypter = await loadCrypter(encryptionFrom(readSettings(vector))!);
        [ours, theirs] = [await crypter.decrypt(ours, vector.key), await crypter.decrypt(theirs, vector.key)];
      }
      if (vector.method === "lz4") {
        // wal-g's layout: header 04 22 4D 18 64 70 B9 (independent 4 MiB blocks, content checksum), then exactly
        // four compressed blocks, each decoding on its own to the same 4 MiB quarter of the input, then the checksum.
        const [a, b] = [lz4Blocks(ours), lz4Blocks(theirs)];
        expect(a.header).toBe("04224d186470b9");
        expect(a.header).toBe(b.header);
        const layout = (frame: typeof a) => frame.blocks.map((block) => ({ stored: block.stored, decoded: block.content.length }));
        expect(layout(b)).toEqual(Array(4).fill({ stored: false, decoded: 4 * 1024 * 1024 }));
        expect(layout(a)).toEqual(layout(b));
        for (const [index, block] of a.blocks.entries()) expect(block.content.equals(b.blocks[index]!.content), `block ${index}`).toBe(true);
        expect(a).toMatchObject({ checksum: b.checksum, contentChecksumOk: true, trailing: 0 });
      }
      if (vector.method === "lzma") expect(ours.subarray(0, 13).toString("hex")).toBe(theirs.subarray(0, 13).toString("hex"));
      if (vector.method === "zstd") expect(ours.subarray(0, 4).toString("hex")).toBe("28b52ffd");
      expect(cliDecode(vector.method, ours).equals(input)).toBe(true);
      expect(cliDecode(vector.method, theirs).equals(input)).toBe(true);
    });
  });
}

/** The regenerated 16 MiB input, checked to be exactly what wal-g was given. */
function defaultSizeInput(vector: WalVector): Buffer {
  const input = inputOf(vector);
  if (sha256(input) !== defaultSize.input.sha256) {
    throw new Error(`${defaultSize.input.recipe} no longer gives the input wal-g was given (SHA-256 ${defaultSize.input.sha256})`);
  }
  return input;
}

describe("wal-archive puts every kind of file where wal-g v3.0.9 does, for each prefix setting", () => {
  const names = [...new Set(plain.map((v) => v.input))].map((input) => input.slice(input.lastIndexOf("/") + 1));
  it.each(manifest.layout.map((l) => [l.storage, l.prefix, l.settings, l] as const))("%s %s %o", async (_storage, _prefix, _settings, layout) => {
    const sources = await mkdtemp(join(scratch, "src-"));
    for (const vector of plain.filter((v) => v.method === "lz4")) await writeFile(join(sources, walName(vector)), fixture(vector.input));
    let env: Record<string, string>;
    let keys: () => Promise<string[]>;
    if (layout.storage === "s3") {
      // A bucket of its own: several settings write to the bucket root.
      const bucket = `layout-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
      const client = s3ClientFor(minioInfo());
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      env = { ...minioEnv("unused"), WALG_S3_PREFIX: layout.prefix.replace("walg-layout", bucket), ...layout.settings };
      keys = async () => ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key ?? "");
    } else {
      const store = await newStore("file", "vectors-layout");
      const dir = store.env["WALG_FILE_PREFIX"] ?? "";
      env = { WALG_FILE_PREFIX: layout.prefix.replace("<dir>", dir), ...layout.settings };
      keys = store.keys;
    }
    for (const name of names) {
      const pushed = await runBin("wal-archive", [join(sources, name), name], { cwd: scratch, env: { ...env, ...WAL, WALG_COMPRESSION_METHOD: "lz4" } });
      expect(pushed.code, pushed.stderr).toBe(0);
    }
    // Our archive-identity object sits at the store root beside wal_005/; wal-g neither writes nor reads it.
    expect((await keys()).filter((k) => !k.endsWith("wal_native_identity.json")).sort()).toEqual(layout.keys);
  });
});

describe("wal-archive on what wal-g v3.0.9 archived (no checksum metadata: compared by content)", () => {
  const stored = plain.filter((v) => v.method === "lz4" && (v.kind === "segment" || v.kind === "history"));
  for (const backend of ["file", "minio"] as const) {
    it.each(stored.map((v) => [backend, v.id, v] as const))("%s store, %s: equal content exits 0, different content 65, the object stays", async (_b, _id, vector) => {
      const store = await newStore(backend, "vectors-overwrite");
      await store.put(vector.key, fixture(vector.object));
      const input = fixture(vector.input);
      const source = join(await mkdtemp(join(scratch, "src-")), walName(vector));
      // Configured for another method: the comparison has to find wal-g's .lz4 object and decompress it.
      const push = () => runBin("wal-archive", [source, walName(vector)], { cwd: scratch, env: { ...store.env, ...WAL, WALG_COMPRESSION_METHOD: "zstd" } });
      await writeFile(source, input);
      const same = await push();
      expect(same.code, same.stderr).toBe(0);
      expect(same.stderr).toContain("with equal content; nothing to do");
      const other = Buffer.from(input);
      other[other.length - 2] = (other[other.length - 2] ?? 0) ^ 0xff;
      await writeFile(source, other);
      const different = await push();
      expect(different.code, different.stderr).toBe(65);
      expect(different.stderr).toContain("with different content; not overwriting");
      expect((await store.keys()).filter((k) => k.startsWith("wal_005/"))).toEqual([vector.key]);
      expect((await store.get(vector.key)).equals(fixture(vector.object))).toBe(true);
    });
  }
});

describe("wal-archive encrypts as wal-g does", () => {
  // One vector per variant that has a segment: the settings wal-g ran with, our wal-archive, then our reader.
  const segments = [...new Map(encrypted.filter((v) => v.kind === "segment").map((v) => [v.id.split("/")[0], v])).values()];
  it.each(segments.map((v) => [v.id, v] as const))("%s: same key, encrypted after compression, restored byte-identical", async (_id, vector) => {
    const store = await newStore("file", "vectors-encrypt");
    const input = fixture(vector.input);
    const source = join(await mkdtemp(join(scratch, "src-")), walName(vector));
    await writeFile(source, input);
    const settings = { ...store.env, ...WAL, WALG_COMPRESSION_METHOD: vector.method, ...readSettings(vector) };
    const pushed = await runBin("wal-archive", [source, walName(vector)], { cwd: scratch, env: settings });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).toMatch(new RegExp(`pushed ${walName(vector)} \\(.* ${vector.method}\\+${vector.encryption!.type},`));
    expect((await store.keys()).filter((k) => k.startsWith("wal_005/"))).toEqual([vector.key]);
    const ours = await store.get(vector.key);
    // Not the plain compressed stream, and no checksum of the content beside it.
    expect(ours.subarray(0, 4).equals(fixture(plain.find((v) => v.method === vector.method && v.kind === "segment")!.object).subarray(0, 4))).toBe(false);
    const { loadCrypter } = await import("../../src/crypto/crypter.js");
    const { encryptionFrom } = await import("../../src/crypto/keys.js");
    const crypter = await loadCrypter(encryptionFrom(readSettings(vector))!);
    const compressed = await crypter.decrypt(ours, vector.key);
    if (vector.encryption!.type === "libsodium") {
      // wal-g's framing: 24-byte header, 8209-byte chunks, a FINAL chunk; sized exactly as wal-g sizes its own.
      expect(ours.length).toBe(crypter.sealedSize!(compressed.length));
      const theirs = await crypter.decrypt(fixture(vector.object), vector.key);
      expect(fixture(vector.object).length).toBe(crypter.sealedSize!(theirs.length));
    }
    if (vector.method !== "none") expect(cliDecode(vector.method, compressed).equals(input)).toBe(true);
    else expect(compressed.equals(input)).toBe(true);
    const restored = await restore(walName(vector), settings);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.file?.equals(input)).toBe(true);
  });
});

describe("wal-g's encrypted objects with the wrong key", () => {
  // For OpenPGP, the other test key pair: a private key that is not the one the object was encrypted to.
  const protectedKey = encrypted.find((v) => v.encryption!.type === "pgp" && v.encryption!.passphrase !== undefined)!;
  const wrong: Record<string, Record<string, string>> = {
    libsodium: { WALG_LIBSODIUM_KEY: "f".repeat(64), WALG_LIBSODIUM_KEY_TRANSFORM: "hex" },
    pgp: readSettings(protectedKey),
  };
  const firsts = [
    encrypted.find((v) => v.encryption!.type === "libsodium")!,
    encrypted.find((v) => v.encryption!.type === "pgp" && v.encryption!.passphrase === undefined && v.encryption!.keyPath === undefined)!,
  ];
  it.each(firsts.map((v) => [v.id, v] as const))("%s: wal-restore aborts (exit 200), says why, and writes nothing", async (_id, vector) => {
    const store = await newStore("file", "vectors-wrong-key");
    await store.put(vector.key, fixture(vector.object));
    const result = await restore(walName(vector), { ...store.env, ...WAL, WALNATIVE_RESTORE_RETRY_SECONDS: "0", ...wrong[vector.encryption!.type] });
    expect(result.code, result.stderr).toBe(200);
    expect(result.stderr).toMatch(
      vector.encryption!.type === "libsodium"
        ? /cannot decrypt wal_005\/\S+ with the key of WALG_LIBSODIUM_KEY: the key differs/
        : /cannot decrypt wal_005\/\S+ with the key of WALG_PGP_KEY_PATH: /,
    );
    expect(result.file).toBeUndefined();
  });

  it("a plain object with a key set: wal-restore says it is not encrypted", async () => {
    const vector = plain.find((v) => v.method === "lz4" && v.kind === "segment")!;
    const store = await newStore("file", "vectors-plain-with-key");
    await store.put(vector.key, fixture(vector.object));
    const result = await restore(walName(vector), { ...store.env, ...WAL, WALNATIVE_RESTORE_RETRY_SECONDS: "0", ...wrong.libsodium });
    expect(result.code, result.stderr).toBe(200);
    expect(result.stderr).toMatch(/wal_005\/\S+\.lz4 is not encrypted \(it reads as a plain lz4 object\), but WALG_LIBSODIUM_KEY is set/);
    expect(result.file).toBeUndefined();
  });
});

describe("wal-g's encrypted objects without the key", () => {
  // Each variant's first compressed object: with no key configured, a decoder meets ciphertext.
  const firsts = [...new Map(encrypted.filter((v) => v.method !== "none").map((v) => [v.id.split("/")[0], v])).values()];
  it.each(firsts.map((v) => [v.id, v] as const))("%s: wal-restore aborts (exit > 125) and writes nothing", async (_id, vector) => {
    const store = await newStore("file", "vectors-encrypted");
    await store.put(vector.key, fixture(vector.object));
    const result = await restore(walName(vector), { ...store.env, ...WAL, WALNATIVE_RESTORE_RETRY_SECONDS: "0" });
    expect(result.code, result.stderr).toBeGreaterThan(125);
    expect(result.file).toBeUndefined();
  });
});

/** The recorded bucket, loaded with its objects' mtimes (FILE) or in mtime order (MinIO). */
async function loadBucket(backend: "file" | "minio"): Promise<Store> {
  const store = await newStore(backend, "vectors-bucket");
  const objects = [...manifest.bucket.objects].sort((a, b) => a.mtime - b.mtime || a.key.localeCompare(b.key));
  for (const object of objects) {
    await store.put(object.key, fixture(`${manifest.bucket.store}${object.key}`), object.mtime);
    // MinIO stamps its own LastModified: upload sentinels in order, apart, so the backups sort as wal-g saw them.
    if (backend === "minio" && object.key.endsWith("_backup_stop_sentinel.json")) await sleep(5);
  }
  return store;
}

const output = (file: string): string => fixture(`walg-output/${file}`).toString();
/** The output as read from another store: wal-g's "modified" (the sentinel's LastModified) blanked. */
function withoutModified(text: string): string {
  if (text.startsWith("[")) {
    return JSON.stringify((JSON.parse(text) as Array<Record<string, unknown>>).map(({ time: _time, ...rest }) => rest));
  }
  return text.replace(/ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (?=[0-9A-F]{24} )/g, " <modified> ");
}
/** wal-verify's text, one entry per check, in a fixed order (wal-g prints them in random order). */
const sections = (text: string): string[] => text.split(/(?=\[wal-verify\] \w+ check status)/).filter(Boolean).sort();

for (const backend of ["file", "minio"] as const) {
  describe(`${backend} store: the bucket wal-g filled from PostgreSQL 15`, () => {
    let store: Store;
    let env: Record<string, string>;
    const position = ["--timeline", String(manifest.bucket.cluster.timeline), "--lsn", manifest.bucket.cluster.lsn];
    beforeAll(async () => {
      store = await loadBucket(backend);
      env = { ...store.env, ...OURS, TZ: "UTC", WALG_UPLOAD_CONCURRENCY: "1" };
    });

    it("wal-restore restores every WAL object to the content wal-g wal-fetch gave", async () => {
      const wal = manifest.bucket.objects.filter((o) => o.key.startsWith("wal_005/"));
      expect(wal.length).toBeGreaterThanOrEqual(6);
      for (const object of wal) {
        const name = object.key.slice("wal_005/".length).replace(/\.(lz4|br|zst|lzma)$/, "");
        const result = await restore(name, env);
        expect(result.code, `${name}: ${result.stderr}`).toBe(0);
        expect(sha256(result.file ?? Buffer.alloc(0)), name).toBe(object.plainSha256);
      }
    });

    it.each([
      ["backup-list.txt", []],
      ["backup-list-detail.txt", ["--detail"]],
      ["backup-list.json", ["--json"]],
      ["backup-list-detail.json", ["--detail", "--json"]],
    ] as const)("wal-native backup-list %s prints what wal-g printed (%o)", async (file, args) => {
      const ours = await runBin("wal-native", ["backup-list", ...args], { env });
      expect(ours.code, ours.stderr).toBe(0);
      // On a FILE store the sentinels keep the mtimes wal-g saw; MinIO stamps its own upload time.
      if (backend === "file") expect(ours.stdout).toBe(output(file));
      else expect(withoutModified(ours.stdout.trim())).toBe(withoutModified(output(file).trim()));
    });

    it.each([
      ["wal-verify.json", "wal-verify.txt", undefined],
      ["wal-verify-lost.json", "wal-verify-lost.txt", manifest.bucket.outputs.find((o) => o.without)?.without],
    ] as const)("wal-native wal-verify gives %s and %s (given the recorded timeline and LSN)", async (json, text, without) => {
      const removed = without === undefined ? undefined : await store.get(without);
      if (without !== undefined) await store.remove(without);
      try {
        const ours = await runBin("wal-native", ["wal-verify", "integrity", "timeline", "--json", ...position], { env });
        const theirs = output(json);
        // wal-g exits 0 whatever it found; we exit 0, 1 or 2 by the worst status.
        expect(ours.code, ours.stderr).toBe({ OK: 0, WARNING: 1, FAILURE: 2 }[(JSON.parse(theirs) as { integrity: { status: "OK" } }).integrity.status]);
        expect(ours.stdout.trim()).toBe(theirs.trim());
        const oursText = await runBin("wal-native", ["wal-verify", "integrity", "timeline", ...position], { env });
        expect(sections(oursText.stdout)).toHaveLength(2);
        expect(sections(oursText.stdout)).toEqual(sections(output(text)));
      } finally {
        if (without !== undefined && removed !== undefined) await store.put(without, removed);
      }
      if (without !== undefined) expect(JSON.parse(output(json)).integrity.status).toBe("FAILURE");
    });

    it("wal-native check finds the backups wal-g lists, and dates the newest by its FinishTime", async () => {
      const listed = JSON.parse(output("backup-list-detail.json")) as Array<{ backup_name: string; finish_time: string }>;
      const newest = [...listed].sort((a, b) => Date.parse(a.finish_time) - Date.parse(b.finish_time)).at(-1);
      const run = await runBin("wal-native", ["check", "--no-postgres", "--json"], { env });
      const report = JSON.parse(run.stdout) as {
        status: string; checks: Array<{ check: string; status: string; message: string }>;
        metrics: { backup_count: number; last_backup_timestamp_seconds: number; last_backup_age_seconds: number };
      };
      expect(report.metrics.backup_count).toBe(listed.length);
      expect(report.metrics.last_backup_timestamp_seconds).toBeCloseTo(Date.parse(newest?.finish_time ?? "") / 1000, 2);
      const backups = report.checks.find((c) => c.check === "backups");
      expect(backups?.message).toMatch(new RegExp(`^newest of ${listed.length} backups is ${newest?.backup_name}, completed .* ago \\(sentinel FinishTime\\)`));
      // The recording ages: past the default 24 h the same backup is a warning (exit 1), before it ok.
      const old = report.metrics.last_backup_age_seconds > 24 * 3600;
      expect(backups?.status).toBe(old ? "warning" : "ok");
      expect(run.code, run.stdout + run.stderr).toBe(old ? 1 : 0);
      const relaxed = await runBin("wal-native", ["check", "--no-postgres", "--max-backup-age", "36500d"], { env });
      expect(relaxed.code, relaxed.stdout + relaxed.stderr).toBe(0);
      expect(relaxed.stdout).toMatch(/^wal-native check: OK\n/);
    });
  });
}
