// One archive, two tools: what wal-archive writes real wal-g reads, and what wal-g writes wal-restore reads,
// byte for byte, for every compression wal-g can write and every kind of WAL file, on MinIO and FILE stores.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { listKeys, minioEnv, uniquePrefix } from "../support/minio.js";
import { tempDir } from "../support/temp-dir.js";
import { runBin } from "../support/run-command.js";
import { MiB, makeSegment } from "../support/wal.js";
import { liveName, runWalg, walgBinary, walgVersion } from "../support/walg.js";

const METHODS = [
  { method: "lz4", suffix: ".lz4" },
  { method: "brotli", suffix: ".br" },
  { method: "zstd", suffix: ".zst" },
  { method: "lzma", suffix: ".lzma" },
  { method: "none", suffix: "" },
] as const;

/** One file of each kind PostgreSQL archives; 1 MiB segments keep the matrix fast (WALG_PG_WAL_SIZE=1). */
function walFiles(): Array<{ kind: string; name: string; bytes: Buffer }> {
  const seg = (name: string): Buffer => makeSegment(name, { segmentSize: MiB, payload: 200 * 1024 });
  return [
    { kind: "segment", name: "000000010000000000000003", bytes: seg("000000010000000000000003") },
    { kind: ".history", name: "00000002.history", bytes: Buffer.from(`1\t0/4000000\tno recovery target specified ${randomBytes(4).toString("hex")}\n`) },
    { kind: ".partial", name: "000000010000000000000004.partial", bytes: seg("000000010000000000000004") },
    {
      kind: ".backup", name: "000000010000000000000002.00000028.backup",
      bytes: Buffer.from(`START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)\nLABEL: ${randomBytes(4).toString("hex")}\n`),
    },
  ];
}

/** Our commands as PostgreSQL runs them, reading storage only (no local archive, no logs, no prefetch). */
const OURS = { WALG_PG_WAL_SIZE: "1", WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALG_DOWNLOAD_CONCURRENCY: "1" };

interface Store {
  env: Record<string, string>;
  /** Keys below wal_005/, sorted. */
  walKeys(): Promise<string[]>;
}

async function newStore(backend: "minio" | "file", label: string): Promise<Store> {
  if (backend === "minio") {
    const prefix = uniquePrefix(label);
    return { env: minioEnv(prefix), walKeys: async () => (await listKeys(`${prefix}/wal_005/`)).map((k) => k.slice(prefix.length + 1)) };
  }
  const root = await tempDir(label);
  return { env: { WALG_FILE_PREFIX: root }, walKeys: async () => (await readdir(join(root, "wal_005")).catch(() => [])).map((n) => `wal_005/${n}`).sort() };
}

describe.skipIf(!walgBinary)(liveName("wal-archive and wal-g v3.0.9 on one archive"), () => {
  let scratch: string;
  beforeAll(async () => {
    expect(await walgVersion()).toMatch(/^wal-g version v3\.0\.9\b/);
    scratch = await tempDir("compat");
  });

  /** Writes the file under its WAL name (wal-g wal-push names the object after the path's basename). */
  async function local(bytes: Buffer, name: string): Promise<string> {
    const dir = await mkdtemp(join(scratch, "src-"));
    await writeFile(join(dir, name), bytes);
    return join(dir, name);
  }

  for (const backend of ["minio", "file"] as const) {
    describe(`${backend} store`, () => {
      for (const { method, suffix } of METHODS) {
        describe(`${method}`, () => {
          const files = walFiles();

          describe("wal-archive -> wal-g wal-fetch", () => {
            let store: Store;
            beforeAll(async () => {
              store = await newStore(backend, `compat-${method}-ours`);
            });
            it.each(files)("$kind is byte-identical", async ({ name, bytes }) => {
              const pushed = await runBin("wal-archive", [await local(bytes, name), name],
                { cwd: scratch, env: { ...store.env, ...OURS, WALG_COMPRESSION_METHOD: method } });
              expect(pushed.code, pushed.stderr).toBe(0);
              expect(await store.walKeys()).toContain(`wal_005/${name}${suffix}`);
              const out = join(await mkdtemp(join(scratch, "dst-")), "RECOVERYXLOG");
              const fetched = await runWalg(["wal-fetch", name, out], { ...store.env, WALG_PG_WAL_SIZE: "1" });
              expect(fetched.code, fetched.stderr).toBe(0);
              expect((await readFile(out)).equals(bytes)).toBe(true);
            });
          });

          describe("wal-g wal-push -> wal-restore", () => {
            let store: Store;
            beforeAll(async () => {
              store = await newStore(backend, `compat-${method}-walg`);
            });
            it.each(files)("$kind is byte-identical", async ({ name, bytes }) => {
              const pushed = await runWalg(["wal-push", await local(bytes, name)],
                { ...store.env, WALG_PG_WAL_SIZE: "1", WALG_COMPRESSION_METHOD: method });
              expect(pushed.code, pushed.stderr).toBe(0);
              expect(await store.walKeys()).toContain(`wal_005/${name}${suffix}`);
              const dir = await mkdtemp(join(scratch, "dst-"));
              await mkdir(join(dir, "pg_wal"));
              // Configured for lz4 (the default): finding any other method is wal-g's extension search.
              const restored = await runBin("wal-restore", [name, "pg_wal/RECOVERYXLOG"], { cwd: dir, env: { ...store.env, ...OURS } });
              expect(restored.code, restored.stderr).toBe(0);
              expect((await readFile(join(dir, "pg_wal", "RECOVERYXLOG"))).equals(bytes)).toBe(true);
            });
          });
        });
      }
    });
  }
});
