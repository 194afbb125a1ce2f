// Full disks, on small tmpfs mounts: a full local archive must not stop archiving; a full
// pg_wal on restore fails cleanly (exit above 125) without a partial %p or a temporary file left behind.
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { minioEnv, uniquePrefix } from "../support/minio.js";
import { MiB, makeSegment } from "../support/wal.js";
import { record } from "./results.js";
import { baseEnv, listDir, runTool, scratchDir } from "./tools.js";

const NAME = "000000010000000000000041";
const SEGMENT_SIZE = 4 * MiB; // twice the tmpfs size
const mounts: string[] = [];
let work: string;
let prefix: string;
const segment = makeSegment(NAME, { segmentSize: SEGMENT_SIZE, payload: 3 * MiB });

/** A 2 MiB tmpfs (we run as root); unmounted after the file's tests. */
async function smallDisk(label: string): Promise<string> {
  const dir = join(work, label);
  await mkdir(dir);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

beforeAll(async () => {
  work = await scratchDir("disks");
  prefix = uniquePrefix("disks");
  await writeFile(join(work, NAME), segment);
});

afterAll(() => {
  for (const dir of mounts.splice(0)) execFileSync("umount", [dir]);
});

describe("a full local archive directory", () => {
  it("archiving still succeeds to storage, with a warning, and leaves no temporary file", async () => {
    const disk = await smallDisk("local-full");
    const env = baseEnv({ ...minioEnv(prefix), WALNATIVE_LOCAL_ARCHIVE: join(disk, "archive") });
    const result = await runTool("wal-archive", [join(work, NAME), NAME], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/warn: could not keep a local copy of 000000010000000000000041 .*(ENOSPC|no space)/i);
    expect(result.stderr).toContain(`pushed ${NAME}`);
    expect(await listDir(join(disk, "archive"))).not.toContain(NAME);
    expect((await listDir(join(disk, "archive"))).filter((name) => name.includes(".tmp"))).toEqual([]);
    const out = await scratchDir("disks-out");
    const restored = await runTool("wal-restore", [NAME, join(out, "X")], { env: baseEnv(minioEnv(prefix)) });
    expect(restored.code, restored.stderr).toBe(0);
    expect((await readFile(join(out, "X"))).equals(segment)).toBe(true);
    record({
      scenario: "7 disks",
      check: "local archive directory full",
      outcome: "exit 0 with a warning; the segment is in storage and restores byte-identical; no temporary file on the full disk",
      figures: { "tmpfs size (MiB)": 2, "segment size (MiB)": SEGMENT_SIZE / MiB, "exit code": result.code },
    });
  });
});

describe("a full filesystem store", () => {
  it("exit 75 with a clear message, no temporary object left", async () => {
    const disk = await smallDisk("store-full");
    const env = baseEnv({ WALG_FILE_PREFIX: disk, WALG_COMPRESSION_METHOD: "none" });
    const result = await runTool("wal-archive", [join(work, NAME), NAME], { env });
    expect(result.code, result.stderr).toBe(75);
    expect(result.stderr).toContain(`cannot write 'wal_005/${NAME}'`);
    expect(await listDir(join(disk, "wal_005"))).toEqual([]);
    record({
      scenario: "7 disks",
      check: "WALG_FILE_PREFIX store full",
      outcome: "exit 75 (PostgreSQL keeps the segment and retries); no partial or temporary object",
      figures: { "exit code": result.code },
    });
  });
});

describe("a full %p directory on restore", () => {
  it("fails cleanly: exit 200, no partial %p, no temporary file", async () => {
    const disk = await smallDisk("pgwal-full");
    const result = await runTool("wal-restore", [NAME, join(disk, "RECOVERYXLOG")], { env: baseEnv(minioEnv(prefix)) });
    expect(result.code, result.stderr).toBe(200);
    expect(result.stderr).toContain(`no space left to restore ${NAME}`);
    expect(await listDir(disk)).toEqual([]);
    record({
      scenario: "7 disks",
      check: "%p directory full on restore",
      outcome: "exit 200 (abort recovery, not 'missing'); the directory is left empty",
      figures: { "tmpfs size (MiB)": 2, "segment size (MiB)": SEGMENT_SIZE / MiB, "exit code": result.code },
    });
  });
});
