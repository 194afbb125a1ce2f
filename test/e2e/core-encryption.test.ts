// Encryption end to end with PostgreSQL: the server archives through wal-archive with a libsodium key (MinIO)
// or an OpenPGP key (FILE store), so segments go out through the background uploader, upload-ahead and the
// per-call push; every object in wal_005/ must be ciphertext that decrypts to the WAL PostgreSQL wrote; a base
// backup then recovers to a restore point through wal-restore and its prefetch worker. Where wal-g is found, it
// reads the archive with the same key.
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCodec } from "../../src/compress/codec.js";
import { loadCrypter } from "../../src/crypto/crypter.js";
import { encryptionFrom } from "../../src/crypto/keys.js";
import { getObject, uniquePrefix } from "../support/minio.js";
import { runBin } from "../support/run-command.js";
import { MiB, makeSegment } from "../support/wal.js";
import { findWalg, runWalg } from "../support/walg.js";
import { VECTORS_DIR } from "../support/walg-vectors.js";
import { type Codec, type LoadedCluster, type Store, archiveLoad, expectCompleteArchive, fileStore, recoverToRestorePoint, s3Store } from "./core-support.js";

const WALG = findWalg();
const SCALE = 5;

interface Variant {
  readonly label: string;
  readonly codec: Codec;
  readonly settings: Record<string, string>;
  store(): Promise<Store & { read(key: string): Promise<Buffer> }>;
}

const VARIANTS: Variant[] = [
  {
    label: "libsodium (hex key), lz4, MinIO",
    codec: "lz4",
    settings: { WALG_LIBSODIUM_KEY: randomBytes(32).toString("hex"), WALG_LIBSODIUM_KEY_TRANSFORM: "hex" },
    store: async () => {
      const prefix = uniquePrefix("core-libsodium");
      return { ...s3Store(prefix), read: (key: string) => getObject(`${prefix}/${key}`) };
    },
  },
  {
    label: "OpenPGP (key file with passphrase), brotli, FILE store",
    codec: "brotli",
    // The test key pair of the golden vectors: made for tests, protects nothing.
    settings: { WALG_PGP_KEY_PATH: join(VECTORS_DIR, "keys", "pgp-test-protected-secret.asc"), WALG_PGP_KEY_PASSPHRASE: "" },
    store: async () => {
      const store = await fileStore("core-pgp");
      return { ...store, read: (key: string) => readFile(join(store.root, key)) };
    },
  },
];

beforeAll(async () => {
  // The passphrase of the vectors' protected key, as the manifest records it.
  const manifest = JSON.parse(await readFile(join(VECTORS_DIR, "manifest.json"), "utf8")) as { wal: Array<{ encryption?: { passphrase?: string } }> };
  VARIANTS[1]!.settings.WALG_PGP_KEY_PASSPHRASE = manifest.wal.find((vector) => vector.encryption?.passphrase)!.encryption!.passphrase!;
});

describe.each(VARIANTS)("$label", (variant) => {
  let store: Store & { read(key: string): Promise<Buffer> };
  let loaded: LoadedCluster;

  it("archives every WAL file, each object encrypted after compression", async () => {
    const plainStore = await variant.store();
    store = { ...plainStore, env: { ...plainStore.env, ...variant.settings } };
    loaded = await archiveLoad(store, variant.codec, SCALE);
    await expectCompleteArchive(store, loaded, variant.codec);
    const crypter = await loadCrypter(encryptionFrom(variant.settings)!);
    const codec = await loadCodec(variant.codec);
    const keys = await store.walKeys();
    for (const key of keys) {
      const object = await store.read(key);
      // Ciphertext: the codec alone cannot read it.
      await expect(buffer(Readable.from([object]).pipe(codec.decompress()))).rejects.toThrow();
      await buffer(Readable.from([await crypter.decrypt(object, key)]).pipe(codec.decompress()));
    }
    const sampleKey = keys.find((key) => key.startsWith(`wal_005/${loaded.sample.name}`))!;
    const sample = await buffer(Readable.from([await crypter.decrypt(await store.read(sampleKey), sampleKey)]).pipe(codec.decompress()));
    expect(sample.equals(await readFile(loaded.sample.path))).toBe(true);
    // The uploader (or upload-ahead) sent files before PostgreSQL asked for them, with the same encryption.
    const archiveLog = await readFile(join(loaded.workDir, "wal-archive.log"), "utf8");
    expect(archiveLog).toMatch(new RegExp(`uploaded ahead: .* ${variant.codec}\\+${variant.settings.WALG_LIBSODIUM_KEY ? "libsodium" : "pgp"}`));
  });

  it("wal-native check --switch reads a fresh segment back with the key", async () => {
    const method = variant.settings.WALG_LIBSODIUM_KEY ? "libsodium" : "pgp";
    const run = await runBin("wal-native", ["check", "--switch"], {
      env: { ...store.env, WALNATIVE_LOCAL_ARCHIVE: "", PGHOST: loaded.cluster.root, PGPORT: String(loaded.cluster.port), PGUSER: "postgres", PGDATA: loaded.cluster.data },
    });
    // Exit 1 at most: no base backup in wal-g's layout is a warning.
    expect(run.code, run.stdout + run.stderr).toBeLessThanOrEqual(1);
    expect(run.stdout).toMatch(new RegExp(`ok +switch +[0-9A-F]{24} archived .*decrypted with the ${method} key \\(its authentication checked\\); identical to pg_wal's copy\\)`));
  });

  it("recovers a base backup to the restore point through wal-restore and its prefetch worker", async () => {
    const { sums, log, serverLog } = await recoverToRestorePoint(store, loaded);
    expect(serverLog).toContain(`recovery stopping at restore point "${loaded.restorePoint}"`);
    expect(sums).toEqual(loaded.atRestorePoint);
    expect(log).toMatch(/restored [0-9A-F]{24} from prefetch/);
    expect(log).not.toMatch(/error:/);
  });

  it.skipIf(!WALG)(`wal-g wal-fetch reads the segments with the same key${WALG ? "" : " (skipped: no wal-g binary; set WALG_BIN)"}`, async () => {
    const out = join(loaded.workDir, "walg-fetched");
    const fetched = await runWalg(["wal-fetch", loaded.sample.name, out], { ...store.env });
    expect(fetched.code, fetched.stderr).toBe(0);
    expect((await readFile(out)).equals(await readFile(loaded.sample.path))).toBe(true);
  });
});

describe("a file larger than the whole-buffer path (128 MiB segments) streams through the cipher", () => {
  const NAME = "000000010000000000000003";
  it.each([
    ["libsodium", { WALG_LIBSODIUM_KEY: randomBytes(32).toString("hex"), WALG_LIBSODIUM_KEY_TRANSFORM: "hex" }],
    ["OpenPGP", { WALG_PGP_KEY_PATH: join(VECTORS_DIR, "keys", "pgp-test-secret.asc") }],
  ] as const)("%s: archived, decrypted by our reader, restored byte-identical", async (_label, settings) => {
    const store = await fileStore("core-large");
    const segment = makeSegment(NAME, { segmentSize: 128 * MiB, payload: 4 * MiB });
    const source = join(store.root, "..", NAME);
    await writeFile(source, segment);
    const env = { ...store.env, ...settings, WALG_PG_WAL_SIZE: "128", WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALG_DOWNLOAD_CONCURRENCY: "1" };
    const pushed = await runBin("wal-archive", [source, NAME], { env });
    expect(pushed.code, pushed.stderr).toBe(0);
    const key = `wal_005/${NAME}.lz4`;
    const crypter = await loadCrypter(encryptionFrom(settings)!);
    const plain = await buffer(Readable.from([await crypter.decrypt(await readFile(join(store.root, key)), key)]).pipe((await loadCodec("lz4")).decompress()));
    expect(plain.equals(segment)).toBe(true);
    const out = join(store.root, "..", "RESTORED");
    const restored = await runBin("wal-restore", [NAME, out], { env });
    expect(restored.code, restored.stderr).toBe(0);
    expect((await readFile(out)).equals(segment)).toBe(true);
    if (WALG) {
      // The streamed encryption is wal-g's framing too.
      const fetched = await runWalg(["wal-fetch", NAME, `${out}.walg`], { ...store.env, ...settings, WALG_PG_WAL_SIZE: "128" });
      expect(fetched.code, fetched.stderr).toBe(0);
      expect((await readFile(`${out}.walg`)).equals(segment)).toBe(true);
    }
  });
});

describe("the cipher modules load only when a key is set", () => {
  it.each([
    ["no key", {}, []],
    ["a libsodium key", { WALG_LIBSODIUM_KEY: "k".repeat(32) }, ["sodium-native"]],
    ["an OpenPGP key", { WALG_PGP_KEY_PATH: join(VECTORS_DIR, "keys", "pgp-test-secret.asc") }, ["openpgp"]],
  ] as const)("wal-archive and wal-restore with %s load only its module", async (_label, settings, expected) => {
    const store = await fileStore("core-lazy");
    const hook = join(store.root, "..", "hook.cjs");
    // Reports every require of the two cipher packages, whatever loads them.
    await writeFile(hook, `const M = require("module"); const load = M._load;
M._load = function (request, ...rest) { if (request === "sodium-native" || request === "openpgp") process.stderr.write("LOADED " + request + "\\n"); return load.call(this, request, ...rest); };\n`);
    const name = "000000010000000000000009";
    const source = join(store.root, "..", name);
    await writeFile(source, makeSegment(name, { segmentSize: MiB }));
    const env = { ...store.env, ...settings, NODE_OPTIONS: `--require ${hook}`, WALG_PG_WAL_SIZE: "1", WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALG_DOWNLOAD_CONCURRENCY: "1" };
    const pushed = await runBin("wal-archive", [source, name], { env });
    expect(pushed.code, pushed.stderr).toBe(0);
    const restored = await runBin("wal-restore", [name, join(store.root, "..", "RESTORED")], { env });
    expect(restored.code, restored.stderr).toBe(0);
    for (const run of [pushed, restored]) expect([...new Set([...run.stderr.matchAll(/^LOADED (\S+)$/gm)].map((match) => match[1]))]).toEqual(expected);
  });
});
