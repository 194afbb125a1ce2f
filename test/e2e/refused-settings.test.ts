// Every wal-g setting wal-native refuses (the table in src/walg-settings.ts) stops the real commands: wal-archive
// exits 78 and wal-restore above 125 naming it, under each name wal-g reads it by, before anything is stored or
// written to %p; every wal-native command refuses one at start the same way, and both background workers stop at
// start naming it (exit 0, as workers always do).
import { mkdtemp, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { walgSettings } from "../../src/walg-settings.js";
import { runBin } from "../support/run-command.js";
import { tempDir } from "../support/temp-dir.js";
import { MiB, makeSegment } from "../support/wal.js";

const NAME = "000000010000000000000007";
const REFUSED = walgSettings().filter((setting) => setting.treatment === "refused");
/** A store that works, so that nothing but the refused setting can fail the call. */
let store: string;
let work: string;
let segment: string;
const OURS = { WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALG_DOWNLOAD_CONCURRENCY: "1", WALG_PG_WAL_SIZE: "1" };

beforeAll(async () => {
  work = await tempDir("refused");
  store = join(work, "store");
  await mkdir(store);
  segment = join(work, NAME);
  await writeFile(segment, makeSegment(NAME, { segmentSize: MiB }));
});

const env = (extra: Record<string, string>) => ({ WALG_FILE_PREFIX: store, ...OURS, ...extra });

describe("each refused setting, under every name wal-g reads it by", () => {
  for (const setting of REFUSED) {
    for (const name of [setting.name, ...setting.aliases]) {
      it(`${name}: wal-archive exits 78 and stores nothing; wal-restore exits 200 and writes nothing`, async () => {
        const pushed = await runBin("wal-archive", [segment, NAME], { cwd: work, env: env({ [name]: "x" }) });
        expect(pushed.code, pushed.stderr).toBe(78);
        expect(pushed.stderr).toMatch(new RegExp(`wal-archive: error: ${name}: .*not supported by wal-native`));
        expect(await readdir(store)).toEqual([]);
        const out = await mkdtemp(join(work, "out-"));
        const restored = await runBin("wal-restore", [NAME, join(out, "RESTORED")], { cwd: out, env: env({ [name]: "x" }) });
        expect(restored.code, restored.stderr).toBe(200);
        expect(restored.stderr).toMatch(new RegExp(`wal-restore: error: ${name}: `));
        expect(await readdir(out)).toEqual([]);
      });
    }
  }

  it("the harmless values (wal-g's defaults) pass", async () => {
    const harmless = Object.fromEntries(REFUSED.flatMap((setting) => (setting.harmless ? [[setting.name, setting.harmless.values]] : [])));
    expect(Object.keys(harmless).length).toBeGreaterThanOrEqual(4);
    const pushed = await runBin("wal-archive", [segment, NAME], { cwd: work, env: env(harmless) });
    expect(pushed.code, pushed.stderr).toBe(0);
  });
});

describe("every command and worker refuses at start", () => {
  const refused = { WALG_CSE_KMS_ID: "arn:aws:kms:eu-west-1:111122223333:key/test" };
  const COMMANDS: Array<[string, string[], number]> = [
    ["init", [], 78],
    ["check", [], 78],
    ["cache", ["prune"], 78],
    ["drill", ["restore"], 78],
    ["wal-push", ["<segment>", NAME], 78],
    ["wal-fetch", [NAME, "<out>/RESTORED"], 200],
    ["backup-list", [], 78],
    ["wal-verify", [], 78],
    // Works on a local directory without storage settings, and still refuses.
    ["restore-prepare", ["<out>"], 78],
  ];

  it("the list covers every command wal-native --help names", async () => {
    const help = await runBin("wal-native", ["--help"], { env: {} });
    const listed = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]+) /gm)].map((match) => match[1]);
    expect(listed.sort()).toEqual(COMMANDS.map(([name]) => name).sort());
  });

  it.each(COMMANDS)("wal-native %s %j exits %i naming WALG_CSE_KMS_ID", async (command, args, code) => {
    const out = await mkdtemp(join(work, "cmd-"));
    const argv = args.map((arg) => arg.replace("<segment>", segment).replace("<out>", out));
    const run = await runBin("wal-native", [command, ...argv], { cwd: out, env: env(refused) });
    expect(run.code, run.stdout + run.stderr).toBe(code);
    expect(run.stderr).toMatch(/error: WALG_CSE_KMS_ID: client-side encryption with an AWS KMS data key: not supported by wal-native/);
    expect((await readdir(out)).filter((name) => !name.startsWith("."))).toEqual([]);
  });

  it.each([
    ["wal-archive", "--upload-worker"],
    ["wal-restore", "--prefetch-worker"],
  ] as const)("the %s worker (%s) stops at start naming it, and does nothing", async (program, flag) => {
    const walDir = join(await mkdtemp(join(work, "worker-")), "pg_wal");
    await mkdir(join(walDir, "archive_status"), { recursive: true });
    // A segment ready to upload: an uploader that ran would store it.
    await writeFile(join(walDir, NAME), await readFile(segment));
    await writeFile(join(walDir, "archive_status", `${NAME}.ready`), "");
    const own = await mkdtemp(join(work, "worker-store-"));
    const run = await runBin(program, [flag, walDir], { cwd: walDir, env: { ...env(refused), WALG_FILE_PREFIX: own } });
    // Workers always exit 0 (their parent may be the postmaster, which takes any other status as a crash).
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/error: WALG_CSE_KMS_ID: client-side encryption with an AWS KMS data key: not supported by wal-native/);
    expect(await readdir(own)).toEqual([]);
  });
});
