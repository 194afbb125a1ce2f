// Encryption against the real wal-g, both ways: what wal-archive encrypts, wal-g wal-fetch decrypts, and what
// wal-g wal-push encrypts, wal-restore decrypts, byte-identical, for every libsodium key form and every method,
// and for OpenPGP keys given inline (one line, \n escapes), in a file, with a passphrase, and as a public key
// alone for archiving. Runs where wal-g is found (WALG_BIN); the same is proven offline by the vectors wal-g
// wrote (compat-walg-vectors, test/unit/crypto/walg-vectors).
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { minioEnv, uniquePrefix } from "../support/minio.js";
import { runBin } from "../support/run-command.js";
import { tempDir } from "../support/temp-dir.js";
import { MiB, makeSegment } from "../support/wal.js";
import { findWalg, runWalg, walgVersion } from "../support/walg.js";
import { VECTORS_DIR, loadManifest } from "../support/walg-vectors.js";

const WALG = findWalg();
const key = (file: string) => join(VECTORS_DIR, "keys", file);
const passphrase = loadManifest().wal.find((vector) => vector.encryption?.passphrase)?.encryption?.passphrase ?? "";

interface Variant {
  readonly label: string;
  readonly methods: readonly string[];
  /** What wal-archive and wal-g wal-push encrypt with. */
  readonly write: () => Promise<Record<string, string>>;
  /** What wal-restore and wal-g wal-fetch decrypt with (the same unless only a public key archives). */
  readonly read?: () => Promise<Record<string, string>>;
}

// Drawn once: the writing and the reading side of a test must use the same key.
const hexKey = randomBytes(32).toString("hex");
const textKey = `text key ${randomBytes(12).toString("hex")}`;
const base64Key = randomBytes(32).toString("base64");
const VARIANTS: Variant[] = [
  { label: "libsodium, key as text (none)", methods: ["lz4", "brotli", "zstd", "lzma", "none"], write: async () => ({ WALG_LIBSODIUM_KEY: textKey }) },
  { label: "libsodium, 25-byte key (zero-padded)", methods: ["lz4"], write: async () => ({ WALG_LIBSODIUM_KEY: "x".repeat(25), WALG_LIBSODIUM_KEY_TRANSFORM: "none" }) },
  { label: "libsodium, 40-byte key (cut at 32)", methods: ["lz4"], write: async () => ({ WALG_LIBSODIUM_KEY: "y".repeat(40) }) },
  { label: "libsodium, hex", methods: ["lz4"], write: async () => ({ WALG_LIBSODIUM_KEY: hexKey, WALG_LIBSODIUM_KEY_TRANSFORM: "hex" }) },
  { label: "libsodium, base64", methods: ["zstd"], write: async () => ({ WALG_LIBSODIUM_KEY: base64Key, WALG_LIBSODIUM_KEY_TRANSFORM: "base64" }) },
  {
    label: "libsodium, key file",
    methods: ["lz4"],
    write: async () => {
      const file = join(await tempDir("sodium-key"), "key");
      await writeFile(file, `${hexKey}\n`);
      return { WALG_LIBSODIUM_KEY_PATH: file, WALG_LIBSODIUM_KEY_TRANSFORM: "hex" };
    },
  },
  {
    label: "OpenPGP, inline key on one line (\\n escapes)",
    methods: ["lz4", "none"],
    write: async () => ({ WALG_PGP_KEY: (await readFile(key("pgp-test-secret.asc"), "utf8")).replaceAll("\n", "\\n") }),
  },
  { label: "OpenPGP, key file and passphrase", methods: ["brotli"], write: async () => ({ WALG_PGP_KEY_PATH: key("pgp-test-protected-secret.asc"), WALG_PGP_KEY_PASSPHRASE: passphrase }) },
  {
    label: "OpenPGP, archived with the public key alone",
    methods: ["lz4"],
    write: async () => ({ WALG_PGP_KEY_PATH: key("pgp-test-public.asc") }),
    read: async () => ({ WALG_PGP_KEY_PATH: key("pgp-test-secret.asc") }),
  },
];

const SEGMENT = "000000010000000000000005";
const HISTORY = "00000002.history";
/** Our commands reading and writing storage only: no local archive, no logs, no prefetch worker. */
const OURS = { WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALG_DOWNLOAD_CONCURRENCY: "1", WALG_PG_WAL_SIZE: "1" };

describe.skipIf(!WALG)(`libsodium and OpenPGP with wal-g v3.0.9, both ways${WALG ? "" : " (skipped: no wal-g binary; set WALG_BIN)"}`, () => {
  let scratch: string;
  const files = new Map<string, Buffer>();

  beforeAll(async () => {
    expect(await walgVersion()).toMatch(/^wal-g version v3\.0\.9\b/);
    scratch = await tempDir("compat-encryption");
    files.set(SEGMENT, makeSegment(SEGMENT, { segmentSize: MiB, payload: 300 * 1024 }));
    files.set(HISTORY, Buffer.from(`1\t0/5000000\tno recovery target specified ${randomBytes(4).toString("hex")}\n`));
  });

  async function source(name: string): Promise<string> {
    const path = join(await mkdtemp(join(scratch, "src-")), name);
    await writeFile(path, files.get(name)!);
    return path;
  }

  for (const variant of VARIANTS) {
    for (const method of variant.methods) {
      for (const name of [SEGMENT, HISTORY]) {
        it(`${variant.label}, ${method}, ${name}: wal-archive -> wal-g wal-fetch`, async () => {
          const store = { WALG_FILE_PREFIX: await mkdtemp(join(scratch, "store-")), WALG_COMPRESSION_METHOD: method };
          const writing = await variant.write();
          const pushed = await runBin("wal-archive", [await source(name), name], { cwd: scratch, env: { ...store, ...OURS, ...writing } });
          expect(pushed.code, pushed.stderr).toBe(0);
          const out = join(await mkdtemp(join(scratch, "out-")), name);
          const fetched = await runWalg(["wal-fetch", name, out], { ...store, WALG_PG_WAL_SIZE: "1", ...(await (variant.read ?? variant.write)()) });
          expect(fetched.code, fetched.stderr).toBe(0);
          expect((await readFile(out)).equals(files.get(name)!)).toBe(true);
        });

        it(`${variant.label}, ${method}, ${name}: wal-g wal-push -> wal-restore`, async () => {
          const store = { WALG_FILE_PREFIX: await mkdtemp(join(scratch, "store-")), WALG_COMPRESSION_METHOD: method };
          const pushed = await runWalg(["wal-push", await source(name)], { ...store, WALG_PG_WAL_SIZE: "1", ...(await variant.write()) });
          expect(pushed.code, pushed.stderr).toBe(0);
          const out = join(await mkdtemp(join(scratch, "out-")), "RESTORED");
          const restored = await runBin("wal-restore", [name, out], { cwd: scratch, env: { ...store, ...OURS, ...(await (variant.read ?? variant.write)()) } });
          expect(restored.code, restored.stderr).toBe(0);
          expect((await readFile(out)).equals(files.get(name)!)).toBe(true);
        });
      }
    }
  }

  it("on MinIO too, through the lite and the SDK client (libsodium)", async () => {
    for (const client of ["lite", "sdk"]) {
      const store = { ...minioEnv(uniquePrefix(`encryption-${client}`)), WALNATIVE_S3_CLIENT: client };
      const secret = { WALG_LIBSODIUM_KEY: hexKey, WALG_LIBSODIUM_KEY_TRANSFORM: "hex" };
      const pushed = await runBin("wal-archive", [await source(SEGMENT), SEGMENT], { cwd: scratch, env: { ...store, ...OURS, ...secret } });
      expect(pushed.code, pushed.stderr).toBe(0);
      const out = join(await mkdtemp(join(scratch, "out-")), SEGMENT);
      const walgEnv = Object.fromEntries(Object.entries({ ...store, ...secret, WALG_PG_WAL_SIZE: "1" }).filter(([name]) => !name.startsWith("WALNATIVE_")));
      const fetched = await runWalg(["wal-fetch", SEGMENT, out], walgEnv);
      expect(fetched.code, fetched.stderr).toBe(0);
      expect((await readFile(out)).equals(files.get(SEGMENT)!)).toBe(true);
    }
  });
});
