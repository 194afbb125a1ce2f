// Overwrite protection across tools: with WALG_PREVENT_WAL_OVERWRITE=true wal-g skips what we pushed when it
// is equal, and we treat what wal-g pushed (no checksum metadata: compared byte for byte) the same way.
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { listKeys, minioEnv, uniquePrefix } from "../support/minio.js";
import { tempDir } from "../support/temp-dir.js";
import { runBin } from "../support/run-command.js";
import { MiB, makeSegment } from "../support/wal.js";
import { liveName, runWalg, walgBinary } from "../support/walg.js";

const OURS = { WALG_PG_WAL_SIZE: "1", WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "" };
const PROTECT = { WALG_PREVENT_WAL_OVERWRITE: "true", WALG_PG_WAL_SIZE: "1" };

const KINDS = [
  { kind: "segment", name: "000000010000000000000005", make: () => makeSegment("000000010000000000000005", { segmentSize: MiB }) },
  { kind: ".history", name: "00000003.history", make: () => Buffer.from(`2\t0/5000000\tbefore ${Math.random()}\n`) },
];

describe.skipIf(!walgBinary)(liveName("overwrite protection across wal-g v3.0.9 and wal-archive"), () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await tempDir("compat-overwrite");
  });

  async function local(bytes: Buffer, name: string): Promise<string> {
    const path = join(await mkdtemp(join(scratch, "src-")), name);
    await writeFile(path, bytes);
    return path;
  }

  async function store(backend: "minio" | "file"): Promise<{ env: Record<string, string>; keys(): Promise<string[]> }> {
    if (backend === "minio") {
      const prefix = uniquePrefix("overwrite");
      return { env: minioEnv(prefix), keys: async () => (await listKeys(`${prefix}/wal_005/`)).map((k) => k.slice(prefix.length + 1)) };
    }
    const root = await tempDir("overwrite-store");
    return { env: { WALG_FILE_PREFIX: root }, keys: async () => (await readdir(join(root, "wal_005"))).map((n) => `wal_005/${n}`).sort() };
  }

  for (const backend of ["minio", "file"] as const) {
    describe(`${backend} store, WALG_PREVENT_WAL_OVERWRITE=true`, () => {
      describe.each(KINDS)("$kind", ({ name, make }) => {
        it("wal-g wal-push skips a file wal-archive pushed with equal content, and refuses different content", async () => {
          const { env, keys } = await store(backend);
          const bytes = make();
          const ours = await runBin("wal-archive", [await local(bytes, name), name], { cwd: scratch, env: { ...env, ...OURS, WALG_COMPRESSION_METHOD: "brotli" } });
          expect(ours.code, ours.stderr).toBe(0);
          const same = await runWalg(["wal-push", await local(bytes, name)], { ...env, ...PROTECT, WALG_COMPRESSION_METHOD: "lz4" });
          expect(same.code, same.stderr).toBe(0);
          expect(same.stderr).toMatch(new RegExp(`WAL file '.*${name.replace(".", "\\.")}' already archived with equal content, skipping`));
          expect(await keys()).toEqual([`wal_005/${name}.br`]);
          const other = Buffer.from(bytes);
          other[other.length - 2] = (other[other.length - 2] ?? 0) ^ 0xff;
          const different = await runWalg(["wal-push", await local(other, name)], { ...env, ...PROTECT, WALG_COMPRESSION_METHOD: "lz4" });
          expect(different.code).toBe(1);
          expect(different.stderr).toMatch(/already archived, contents differ, unable to overwrite/);
          expect(await keys()).toEqual([`wal_005/${name}.br`]);
        });

        it("wal-archive accepts a file wal-g pushed with equal content (0), and refuses different content (65)", async () => {
          const { env, keys } = await store(backend);
          const bytes = make();
          const walg = await runWalg(["wal-push", await local(bytes, name)], { ...env, ...PROTECT, WALG_COMPRESSION_METHOD: "lz4" });
          expect(walg.code, walg.stderr).toBe(0);
          // Configured for another method: the comparison must find wal-g's .lz4 object and decompress it.
          const same = await runBin("wal-archive", [await local(bytes, name), name], { cwd: scratch, env: { ...env, ...OURS, WALG_COMPRESSION_METHOD: "zstd" } });
          expect(same.code, same.stderr).toBe(0);
          expect(same.stderr).toContain(`${name} is already archived in `);
          expect(same.stderr).toContain("with equal content; nothing to do");
          expect(await keys()).toEqual([`wal_005/${name}.lz4`]);
          const other = Buffer.from(bytes);
          other[other.length - 2] = (other[other.length - 2] ?? 0) ^ 0xff;
          const different = await runBin("wal-archive", [await local(other, name), name], { cwd: scratch, env: { ...env, ...OURS, WALG_COMPRESSION_METHOD: "zstd" } });
          expect(different.code).toBe(65);
          expect(different.stderr).toMatch(new RegExp(`${name.replace(".", "\\.")} is already archived in .* with different content; not overwriting`));
          expect(await keys()).toEqual([`wal_005/${name}.lz4`]);
        });
      });
    });
  }
});
