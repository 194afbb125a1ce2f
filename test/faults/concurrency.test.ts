// Concurrency: two archivers racing on one segment. Equal content: both succeed;
// different content: exactly one wins and the archive holds the winner's bytes. Also against real wal-g.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { minioEnv, uniquePrefix } from "../support/minio.js";
import { MiB, makeSegment } from "../support/wal.js";
import { liveName, runWalg, walgBinary } from "../support/walg.js";
import { record } from "./results.js";
import { baseEnv, runTool, scratchDir } from "./tools.js";

const NAME = "000000010000000000000011";
const TRIALS = 5;

let work: string;
beforeAll(async () => {
  work = await scratchDir("race");
});

/** Two files with the same name: a and b are equal, c differs from both after the header. */
async function sources(trial: string): Promise<{ a: string; b: string; c: string; bytes: Buffer; other: Buffer }> {
  const dir = join(work, trial);
  for (const sub of ["a", "b", "c"]) await mkdir(join(dir, sub), { recursive: true });
  const bytes = makeSegment(NAME, { segmentSize: MiB });
  const other = makeSegment(NAME, { segmentSize: MiB });
  await writeFile(join(dir, "a", NAME), bytes);
  await writeFile(join(dir, "b", NAME), bytes);
  await writeFile(join(dir, "c", NAME), other);
  return { a: join(dir, "a", NAME), b: join(dir, "b", NAME), c: join(dir, "c", NAME), bytes, other };
}

async function restored(storeEnv: Record<string, string>): Promise<Buffer> {
  const dir = await scratchDir("race-restore");
  const result = await runTool("wal-restore", [NAME, join(dir, "X")], { env: baseEnv(storeEnv) });
  expect(result.code, result.stderr).toBe(0);
  return readFile(join(dir, "X"));
}

async function storeFor(kind: "s3" | "file", trial: string): Promise<Record<string, string>> {
  if (kind === "s3") return minioEnv(uniquePrefix(`race-${trial}`));
  const dir = join(await scratchDir("race-store"), "store");
  await mkdir(dir);
  return { WALG_FILE_PREFIX: dir };
}

describe.each(["s3", "file"] as const)("two wal-archive processes on one segment (%s storage)", (kind) => {
  it("equal content: both exit 0, every time", async () => {
    const codes: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const files = await sources(`${kind}-eq-${trial}`);
      const store = await storeFor(kind, `eq${trial}`);
      const results = await Promise.all([files.a, files.b].map((path) => runTool("wal-archive", [path, NAME], { env: baseEnv(store) })));
      for (const result of results) expect(result.code, result.stderr).toBe(0);
      codes.push(...results.map((result) => result.code));
      expect((await restored(store)).equals(files.bytes)).toBe(true);
    }
    record({
      scenario: "8 concurrency",
      check: `two wal-archive, equal content (${kind})`,
      outcome: "both exit 0 in every trial; the archive restores the segment",
      figures: { trials: TRIALS, "exit codes": [...new Set(codes)].join(", ") },
    });
  });

  it("different content: exactly one exits 0, the other 65, and the archive holds the winner's bytes", async () => {
    const wins = { first: 0, second: 0 };
    for (let trial = 0; trial < TRIALS; trial++) {
      const files = await sources(`${kind}-ne-${trial}`);
      const store = await storeFor(kind, `ne${trial}`);
      const [one, two] = await Promise.all([files.a, files.c].map((path) => runTool("wal-archive", [path, NAME], { env: baseEnv(store) })));
      expect([one?.code, two?.code].sort(), `${one?.stderr}\n${two?.stderr}`).toEqual([0, 65]);
      const loser = one?.code === 65 ? one : two;
      expect(loser?.stderr).toContain("already archived");
      const winner = one?.code === 0 ? files.bytes : files.other;
      expect((await restored(store)).equals(winner)).toBe(true);
      wins[one?.code === 0 ? "first" : "second"] += 1;
    }
    record({
      scenario: "8 concurrency",
      check: `two wal-archive, different content (${kind})`,
      outcome: "exactly one exit 0 and one exit 65 in every trial; the archive holds the winner's bytes",
      figures: { trials: TRIALS, "first started won": wins.first, "second started won": wins.second },
    });
  });
});

describe.skipIf(!walgBinary)(liveName("wal-archive and wal-g wal-push on one segment"), () => {
  it("equal content: both exit 0 and the archive restores the segment", async () => {
    for (let trial = 0; trial < 3; trial++) {
      const files = await sources(`walg-eq-${trial}`);
      const store = minioEnv(uniquePrefix(`race-walg-eq${trial}`));
      const [ours, theirs] = await Promise.all([
        runTool("wal-archive", [files.a, NAME], { env: baseEnv(store) }),
        runWalg(["wal-push", files.b], { ...store, WALG_PREVENT_WAL_OVERWRITE: "true" }),
      ]);
      expect(ours.code, ours.stderr).toBe(0);
      expect(theirs.code, theirs.stderr).toBe(0);
      expect((await restored(store)).equals(files.bytes)).toBe(true);
    }
    record({
      scenario: "8 concurrency",
      check: "wal-archive and wal-g wal-push, equal content",
      outcome: "both exit 0 in every trial (wal-g with WALG_PREVENT_WAL_OVERWRITE=true); the archive restores the segment",
      figures: { trials: 3 },
    });
  });

  // "Ours exit 0, the archive holds wal-g's bytes" is a possible outcome: our conditional write succeeded, then
  // wal-g's unconditional PUT replaced it. It is counted apart, as "acknowledged, later overwritten by wal-g".
  it("different content: the archive holds one complete version, ours exits 65 only for wal-g's, and an acknowledged push can only be overwritten by wal-g's unconditional PUT", async () => {
    const outcomes: string[] = [];
    for (let trial = 0; trial < 4; trial++) {
      const files = await sources(`walg-ne-${trial}`);
      const store = minioEnv(uniquePrefix(`race-walg-ne${trial}`));
      const [ours, theirs] = await Promise.all([
        runTool("wal-archive", [files.a, NAME], { env: baseEnv(store) }),
        runWalg(["wal-push", files.c], { ...store, WALG_PREVENT_WAL_OVERWRITE: "true" }),
      ]);
      const stored = await restored(store);
      const holds = stored.equals(files.bytes) ? "ours" : stored.equals(files.other) ? "wal-g's" : "neither";
      expect(holds).not.toBe("neither");
      expect(ours.code === 0 || ours.code === 65, ours.stderr).toBe(true);
      // We exit 65 only when another version is stored; wal-g exits 1 when it finds ours.
      if (ours.code === 65) expect(holds).toBe("wal-g's");
      if (holds === "ours") expect(theirs.code).not.toBe(0);
      const overwritten = ours.code === 0 && holds === "wal-g's";
      outcomes.push(overwritten ? "acknowledged, later overwritten by wal-g" : `ours ${ours.code}, wal-g ${theirs.code}, archive holds ${holds}`);
    }
    const counts = outcomes.reduce<Record<string, number>>((all, o) => ({ ...all, [o]: (all[o] ?? 0) + 1 }), {});
    record({
      scenario: "8 concurrency",
      check: "wal-archive and wal-g wal-push, different content",
      outcome:
        "the archive always holds one complete version and our exit code agrees with it (observed outcomes below; " +
        "wal-g's check-then-PUT has no condition, so only our side of the race is atomic)",
      figures: { trials: outcomes.length, ...counts },
    });
  });
});
