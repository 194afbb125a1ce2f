// Security: hostile %f names, symlinks, file modes, and secrets that must never be printed.
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultProxy } from "../support/fault-proxy.js";
import { listKeys, minioEnv, minioInfo, uniquePrefix } from "../support/minio.js";
import { MiB, makeSegment } from "../support/wal.js";
import { record } from "./results.js";
import { type ToolResult, baseEnv, listDir, runTool, scratchDir } from "./tools.js";

const NAME = "000000010000000000000021";
const ABORT = 200;
let work: string;
let prefix: string;
const segment = makeSegment(NAME, { segmentSize: MiB });

beforeAll(async () => {
  work = await scratchDir("security");
  prefix = uniquePrefix("security");
  await writeFile(join(work, NAME), segment);
  expect((await runTool("wal-archive", [join(work, NAME), NAME], { env: baseEnv(minioEnv(prefix)) })).code).toBe(0);
});

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe("hostile %f names", () => {
  const names = [
    `../${NAME}`,
    `/tmp/${NAME}`,
    "..",
    `${NAME}/../../etc/passwd`,
    `..\\..\\${NAME}`,
    `${NAME}\n`,
    `${NAME}\u0000x`,
    "00000001.history/../../x",
    "",
  ];

  it("wal-archive refuses each with exit 64 and stores nothing", async () => {
    const p = uniquePrefix("hostile");
    for (const name of names) {
      const result = await runTool("wal-archive", [join(work, NAME), name.replace(/\u0000/g, "")], { env: baseEnv(minioEnv(p)) });
      expect(result.code, `${JSON.stringify(name)}: ${result.stderr}`).toBe(64);
      // The refusal is one line of text (plus its hint): the name's control characters are not echoed raw.
      expect(result.stderr.split("\n").filter(Boolean).length).toBeLessThanOrEqual(3);
    }
    expect(await listKeys(`${p}/`)).toEqual([]);
    record({
      scenario: "9 security",
      check: "hostile %f on archive",
      outcome: "traversal, absolute paths, separators, control characters and empty names refused with exit 64; nothing stored",
      figures: { names: names.length, "exit code": 64 },
    });
  });

  it("wal-restore refuses each with exit 200 and writes nothing", async () => {
    const dir = await scratchDir("hostile-restore");
    const out = join(dir, "out");
    await mkdir(out);
    for (const name of names) {
      const result = await runTool("wal-restore", [name.replace(/\u0000/g, ""), join(out, "X")], { env: baseEnv(minioEnv(prefix)) });
      expect(result.code, `${JSON.stringify(name)}: ${result.stderr}`).toBe(ABORT);
    }
    expect(await listDir(dir)).toEqual(["out"]);
    expect(await listDir(out)).toEqual([]);
    record({
      scenario: "9 security",
      check: "hostile %f on restore",
      outcome: "every name refused with exit 200 (a usage error must not look like 'not in the archive'); nothing written",
      figures: { names: names.length, "exit code": ABORT },
    });
  });
});

describe("symlinks", () => {
  it("archives a %p that is a symlink to a regular file as that file's content", async () => {
    const name = "000000010000000000000022";
    const bytes = makeSegment(name, { segmentSize: MiB });
    await writeFile(join(work, `real-${name}`), bytes);
    await symlink(join(work, `real-${name}`), join(work, `link-${name}`));
    const pushed = await runTool("wal-archive", [join(work, `link-${name}`), name], { env: baseEnv(minioEnv(prefix)) });
    expect(pushed.code, pushed.stderr).toBe(0);
    const out = await scratchDir("symlink-restore");
    expect((await runTool("wal-restore", [name, join(out, "X")], { env: baseEnv(minioEnv(prefix)) })).code).toBe(0);
    expect((await readFile(join(out, "X"))).equals(bytes)).toBe(true);
  });

  it("refuses a %p that links to a directory or nowhere (exit 66)", async () => {
    await symlink(work, join(work, "link-dir"));
    await symlink(join(work, "missing"), join(work, "link-dangling"));
    for (const link of ["link-dir", "link-dangling"]) {
      const result = await runTool("wal-archive", [join(work, link), "000000010000000000000023"], { env: baseEnv(minioEnv(prefix)) });
      expect(result.code, result.stderr).toBe(66);
    }
  });

  it("restores through a symlinked destination directory, and replaces (never follows) a symlink at %p", async () => {
    const real = await scratchDir("real-wal");
    const links = await scratchDir("links");
    await symlink(real, join(links, "pg_wal"));
    const viaLink = await runTool("wal-restore", [NAME, join(links, "pg_wal", "RECOVERYXLOG")], { env: baseEnv(minioEnv(prefix)) });
    expect(viaLink.code, viaLink.stderr).toBe(0);
    expect((await readFile(join(real, "RECOVERYXLOG"))).equals(segment)).toBe(true);
    expect((await lstat(join(links, "pg_wal"))).isSymbolicLink()).toBe(true);
    expect(await listDir(real)).toEqual(["RECOVERYXLOG"]);

    // An attacker's symlink at %p pointing at a file we must not touch.
    const victim = join(work, "victim.conf");
    await writeFile(victim, "keep me\n");
    await symlink(victim, join(real, "TRAP"));
    const trapped = await runTool("wal-restore", [NAME, join(real, "TRAP")], { env: baseEnv(minioEnv(prefix)) });
    expect(trapped.code, trapped.stderr).toBe(0);
    expect(await readFile(victim, "utf8")).toBe("keep me\n");
    expect((await lstat(join(real, "TRAP"))).isFile()).toBe(true);
    expect((await readFile(join(real, "TRAP"))).equals(segment)).toBe(true);
    record({
      scenario: "9 security",
      check: "symlinks",
      outcome:
        "a symlinked %p is archived as its target's bytes; links to a directory or nowhere exit 66; restore works through a " +
        "symlinked pg_wal and replaces a symlink at %p by rename instead of writing through it",
      figures: { cases: 5 },
    });
  });

  it("ignores a local-archive entry that is a symlink to a non-WAL file and restores from storage", async () => {
    const local = await scratchDir("local-link");
    const victim = join(work, "secret.txt");
    await writeFile(victim, "not wal");
    await symlink(victim, join(local, NAME));
    const out = await scratchDir("local-link-out");
    const result = await runTool("wal-restore", [NAME, join(out, "X")], { env: baseEnv({ ...minioEnv(prefix), WALNATIVE_LOCAL_ARCHIVE: local }) });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`ignoring the local copy of ${NAME}`);
    expect((await readFile(join(out, "X"))).equals(segment)).toBe(true);
    expect(await readlink(join(local, NAME))).toBe(victim);
  });
});

describe("file modes", () => {
  it("creates files 0600 and directories 0700: local archive, file store, restored file, log files", async () => {
    const root = await scratchDir("modes");
    const store = join(root, "store");
    await mkdir(store);
    const source = join(root, NAME);
    await writeFile(source, segment, { mode: 0o644 });
    const env = baseEnv({
      WALG_FILE_PREFIX: store,
      WALNATIVE_LOCAL_ARCHIVE: join(root, "local", "archive"),
      WALNATIVE_ARCHIVE_LOG: join(root, "archive.log"),
      WALNATIVE_RESTORE_LOG: join(root, "restore.log"),
    });
    expect((await runTool("wal-archive", [source, NAME], { env })).code).toBe(0);
    await mkdir(join(root, "out"));
    const restored = await runTool("wal-restore", [NAME, join(root, "out", "X")], { env: { ...env, WALNATIVE_LOCAL_ARCHIVE: "" } });
    expect(restored.code, restored.stderr).toBe(0);
    const files = [
      join(root, "local", "archive", NAME),
      join(store, "wal_005", `${NAME}.lz4`),
      join(root, "out", "X"),
      join(root, "archive.log"),
      join(root, "restore.log"),
    ];
    const dirs = [join(root, "local"), join(root, "local", "archive"), join(store, "wal_005")];
    const found: Record<string, string> = {};
    for (const path of [...files, ...dirs]) found[path.slice(root.length + 1)] = (await modeOf(path)).toString(8);
    // Everything else we leave in those directories (stamps, identity caches) is private too.
    for (const name of await listDir(join(root, "local", "archive"))) found[`local/archive/${name}`] = (await modeOf(join(root, "local", "archive", name))).toString(8);
    const expected = Object.fromEntries(Object.keys(found).map((key) => [key, dirs.some((d) => d.endsWith(key)) ? "700" : "600"]));
    expect(found).toEqual(expected);
    record({ scenario: "9 security", check: "file modes", outcome: "every file we create is 0600 and every directory 0700 (source file was 0644)", figures: found });
  });
});

describe("secrets", () => {
  const sessionToken = "FwoGZXIvYXdzEXAMPLEsessionTOKENxyz987";
  const wrongSecret = "WrongSecretKey/EXAMPLE+abc123XYZ";
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start(minioInfo().endpoint);
  });
  afterAll(async () => proxy?.close());

  it("never appear in output, errors, debug lines or log files", async () => {
    const logs = await scratchDir("secret-logs");
    const out = await scratchDir("secret-out");
    const debug = (extra: Record<string, string> = {}) =>
      baseEnv({
        ...minioEnv(prefix),
        WALNATIVE_LOG_LEVEL: "debug",
        WALNATIVE_ARCHIVE_LOG: join(logs, "archive.log"),
        WALNATIVE_RESTORE_LOG: join(logs, "restore.log"),
        WALNATIVE_S3_TIMEOUT_SECONDS: "2",
        WALNATIVE_RESTORE_RETRY_SECONDS: "1",
        WALG_S3_MAX_RETRIES: "1",
        ...extra,
      });
    const source = join(work, NAME);
    proxy.inject({ method: "GET", action: { kind: "status", status: 500, code: "InternalError" } });
    const runs: [string, Promise<ToolResult>][] = [
      ["archive", runTool("wal-archive", [source, NAME], { env: debug() })],
      ["restore", runTool("wal-restore", [NAME, join(out, "A")], { env: debug() })],
      ["restore missing", runTool("wal-restore", ["0000000100000000000000FF", join(out, "B")], { env: debug() })],
      ["wrong secret", runTool("wal-archive", [source, NAME], { env: debug({ AWS_SECRET_ACCESS_KEY: wrongSecret }) })],
      ["session token", runTool("wal-restore", [NAME, join(out, "C")], { env: debug({ AWS_SESSION_TOKEN: sessionToken }) })],
      ["500 through proxy", runTool("wal-restore", [NAME, join(out, "D")], { env: debug({ AWS_ENDPOINT: proxy.endpoint }) })],
      ["check", runTool("wal-native", ["check", "--json"], { env: debug() })],
      ["backup-list", runTool("wal-native", ["backup-list", "--json"], { env: debug() })],
      ["wal-verify", runTool("wal-native", ["wal-verify", "--json"], { env: debug() })],
      ["bad config", runTool("wal-archive", [source, NAME], { env: debug({ WALG_S3_PREFIX: "not a url", AWS_SESSION_TOKEN: sessionToken }) })],
    ];
    const results = await Promise.all(runs.map(async ([label, run]) => [label, await run] as const));
    const byLabel = Object.fromEntries(results);
    // The runs did fail where they should, so their error paths were exercised.
    expect(byLabel["archive"]?.code).toBe(0);
    expect(byLabel["restore"]?.code).toBe(0);
    expect(byLabel["wrong secret"]?.code).toBe(75);
    expect(byLabel["session token"]?.code).toBe(ABORT);
    expect(byLabel["500 through proxy"]?.code).toBe(ABORT);
    expect(byLabel["bad config"]?.code).toBe(78);
    const text = [
      ...results.map(([label, result]) => `== ${label}\n${result.stdout}\n${result.stderr}`),
      await readFile(join(logs, "archive.log"), "utf8"),
      await readFile(join(logs, "restore.log"), "utf8"),
    ].join("\n");
    expect(text).toContain("debug:");
    const forbidden = [minioInfo().secretKey, sessionToken, wrongSecret, "X-Amz-Signature=", "X-Amz-Credential=", "X-Amz-Security-Token=", "Signature="];
    const leaks = forbidden.filter((secret) => text.includes(secret));
    expect(leaks, leaks.map((leak) => text.split("\n").find((line) => line.includes(leak))).join("\n")).toEqual([]);
    record({
      scenario: "9 security",
      check: "secrets in output",
      outcome: "no secret key, session token or request signature in stdout, stderr or log files at debug level, on success and failure",
      figures: { runs: runs.length, "bytes of output searched": Buffer.byteLength(text), "patterns searched": forbidden.length },
    });
  });
});
