// Records of confirmed uploads and claims of uploads in progress (src/archive/records.ts), on a scratch pg_wal.
import { execFile, spawn } from "node:child_process";
import { build } from "esbuild";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  claimAgeMs, claimHolderAlive, claimUpload, consumeUploadRecord, pruneRecords, readUploadRecord, recordedNames, releaseClaim, writeUploadRecord,
} from "../../../src/archive/records.js";
import { describeProcess } from "../../../src/daemon/identity.js";

const roots: string[] = [];
const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  children.forEach((child) => child.kill("SIGKILL"));
  roots.forEach((root) => rmSync(root, { recursive: true, force: true }));
});

function walDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "wal-native-records-"));
  roots.push(dir);
  mkdirSync(join(dir, "archive_status"));
  return dir;
}

const NAME = "000000010000000000000042";
const env = { WALG_FILE_PREFIX: "/store", AWS_REGION: "eu-west-1" };

function readyFile(dir: string, name = NAME, content = "wal bytes"): string {
  writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, "archive_status", `${name}.ready`), "");
  return join(dir, name);
}

describe("upload records", () => {
  it("are trusted only for the same file (size, inode, mtime) and the same store, and used up once", async () => {
    const dir = walDir();
    const path = readyFile(dir);
    await writeUploadRecord(dir, NAME, path, env, "summary");
    expect(await readUploadRecord(dir, NAME, path, env)).toBe("summary");
    expect(await readUploadRecord(dir, NAME, path, { ...env, AWS_REGION: "us-east-1" })).toBeUndefined();
    expect(await readUploadRecord(dir, NAME, path, { ...env, WALG_FILE_PREFIX: "/other" })).toBeUndefined();
    utimesSync(path, new Date(), new Date(Date.now() + 1000));
    expect(await readUploadRecord(dir, NAME, path, env)).toBeUndefined();
    expect(await consumeUploadRecord(dir, NAME, path, env)).toBeUndefined(); // stale: removed all the same
    expect(await recordedNames(dir, "uploaded")).toEqual(new Set());
    await writeUploadRecord(dir, NAME, path, env, "again");
    expect(await consumeUploadRecord(dir, NAME, path, env)).toBe("again");
    expect(await consumeUploadRecord(dir, NAME, path, env)).toBeUndefined();
  });

  it("are pruned once PostgreSQL no longer lists their file as ready, of both kinds", async () => {
    const dir = walDir();
    const done = readyFile(dir, "000000010000000000000001");
    const ready = readyFile(dir, "000000010000000000000002");
    await writeUploadRecord(dir, "000000010000000000000001", done, env, "s");
    await writeUploadRecord(dir, "000000010000000000000001", done, env, "s", "pushed");
    await writeUploadRecord(dir, "000000010000000000000002", ready, env, "s");
    rmSync(join(dir, "archive_status", "000000010000000000000001.ready"));
    expect(await pruneRecords(dir)).toBe(2);
    expect(await recordedNames(dir, "uploaded")).toEqual(new Set(["000000010000000000000002"]));
    expect(await recordedNames(dir, "pushed")).toEqual(new Set());
  });
});

describe("claims", () => {
  it("go to exactly one of several processes racing for them, which holds it until it releases it", async () => {
    const dir = walDir();
    // records.ts bundled for plain node; six processes each claim, report, and hold on until every one has
    // reported (a file "go"), so that a slow starter cannot find the claim already released.
    const script = join(dir, "claim.mjs");
    await build({ entryPoints: [join(import.meta.dirname, "../../../src/archive/records.ts")], bundle: true, format: "esm", platform: "node", outfile: join(dir, "records.mjs"), logLevel: "silent" });
    writeFileSync(script, `import { existsSync, writeFileSync } from "node:fs";
import { claimUpload, releaseClaim } from "./records.mjs";
const [dir, name] = process.argv.slice(2);
const won = await claimUpload(dir, name);
writeFileSync(dir + "/result." + process.pid, won ? "won" : "lost");
while (!existsSync(dir + "/go")) await new Promise((resolve) => setTimeout(resolve, 10));
if (won) await releaseClaim(dir, name);
`);
    const racers = Array.from({ length: 6 }, () => new Promise<void>((resolve) => execFile(process.execPath, [script, dir, NAME], () => resolve())));
    const results = () => readdirSync(dir).filter((entry) => entry.startsWith("result."));
    for (const deadline = Date.now() + 25_000; results().length < 6 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
    const outcomes = results().map((entry) => readFileSync(join(dir, entry), "utf8"));
    writeFileSync(join(dir, "go"), "");
    await Promise.all(racers);
    expect(outcomes.filter((outcome) => outcome === "won")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === "lost")).toHaveLength(5);
    expect(await claimHolderAlive(dir, NAME)).toBe(false); // released
  }, 30_000);

  it("of a dead holder, or in an old or odd format, are stale: taken over", async () => {
    const dir = walDir();
    const gone = spawn("true", { stdio: "ignore" });
    await new Promise((resolve) => gone.once("exit", resolve));
    for (const stale of [`${describeProcess(gone.pid)}`, `${process.pid}`, "garbage", "0 x 1"]) {
      mkdirSync(join(dir, ".wal-native", "uploading"), { recursive: true });
      writeFileSync(join(dir, ".wal-native", "uploading", NAME), `${stale}\n`);
      expect(await claimHolderAlive(dir, NAME), stale).toBe(false);
      expect(await claimUpload(dir, NAME), stale).toBe(true);
      await releaseClaim(dir, NAME);
    }
  });

  it("of a live process count, whoever it belongs to (liveness is read from /proc, not by signalling it)", async () => {
    const dir = walDir();
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    children.push(holder);
    mkdirSync(join(dir, ".wal-native", "uploading"), { recursive: true });
    writeFileSync(join(dir, ".wal-native", "uploading", NAME), `${describeProcess(holder.pid)}\n`);
    expect(await claimHolderAlive(dir, NAME)).toBe(true);
    expect(await claimUpload(dir, NAME)).toBe(false);
    // Released only by its holder.
    await releaseClaim(dir, NAME);
    expect(await claimHolderAlive(dir, NAME)).toBe(true);
  });

  it("being written (empty) count as alive, and this process's own as not in its way", async () => {
    const dir = walDir();
    mkdirSync(join(dir, ".wal-native", "uploading"), { recursive: true });
    writeFileSync(join(dir, ".wal-native", "uploading", NAME), "");
    expect(await claimHolderAlive(dir, NAME)).toBe(true);
    rmSync(join(dir, ".wal-native", "uploading", NAME));
    expect(await claimUpload(dir, NAME)).toBe(true);
    expect(await claimHolderAlive(dir, NAME)).toBe(false);
  });

  it("age from their file's mtime, which Node's wait budget counts from", async () => {
    const dir = walDir();
    expect(await claimAgeMs(dir, NAME)).toBeUndefined();
    await claimUpload(dir, NAME);
    const path = join(dir, ".wal-native", "uploading", NAME);
    utimesSync(path, new Date(), new Date(Date.now() - 200_000));
    expect(await claimAgeMs(dir, NAME)).toBeGreaterThanOrEqual(199_000);
  });
});
