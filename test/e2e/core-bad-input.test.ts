// Bad input to wal-archive and wal-restore (e): the exit code PostgreSQL acts on, one clear error line
// (plus an optional hint), nothing written anywhere but %p's directory, and no secret in any output. For
// wal-restore the same line says what PostgreSQL does next and why (the signal files decide).
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/minio-server.js";
import { listKeys, minioEnv, minioInfo, uniquePrefix } from "../support/minio.js";
import { makeWorkDir } from "../support/postgres.js";
import { makeSegment } from "../support/wal.js";
import { type CommandResult, runOurs } from "./core-support.js";

const SEGMENT = "000000010000000000000003";
const EMPTY = "000000010000000000000004";
const ABSENT = "000000010000000000000009";
const WRONG_SECRET = "wrong-secret-value-0123456789";

let sandbox: string; // everything our commands could touch, except the log directory
let cwd: string; // plays PGDATA: %p is relative to it, as when PostgreSQL runs the command
let logs: string;
let baseEnv: Record<string, string>;
const archivePrefix = uniquePrefix("bad-archive"); // must stay empty: every push here is refused
const restorePrefix = uniquePrefix("bad-restore"); // holds SEGMENT, pushed once in beforeAll

beforeAll(async () => {
  const work = await makeWorkDir("bad-input");
  sandbox = join(work, "sandbox");
  // cwd and the local archive sit two levels down, so "../../etc/passwd" would still land in the sandbox.
  cwd = join(sandbox, "a", "b", "data");
  logs = join(work, "logs");
  await Promise.all([mkdir(join(cwd, "pg_wal"), { recursive: true }), mkdir(join(sandbox, "a", "b", "local"), { recursive: true }), mkdir(logs)]);
  await writeFile(join(cwd, "pg_wal", SEGMENT), makeSegment(SEGMENT));
  await writeFile(join(cwd, "pg_wal", EMPTY), "");
  baseEnv = {
    WALNATIVE_LOCAL_ARCHIVE: join(sandbox, "a", "b", "local"),
    WALNATIVE_ARCHIVE_LOG: join(logs, "wal-archive.log"),
    WALNATIVE_RESTORE_LOG: join(logs, "wal-restore.log"),
    WALNATIVE_RESTORE_RETRY_SECONDS: "2",
  };
  const pushed = await runOurs("wal-archive", [`pg_wal/${SEGMENT}`, SEGMENT], { ...minioEnv(restorePrefix), WALNATIVE_LOCAL_ARCHIVE: "" }, cwd);
  expect(pushed.code, pushed.stderr).toBe(0);
});

type Program = "wal-archive" | "wal-restore";

interface Row {
  readonly what: string;
  readonly args: readonly string[];
  /** Changes to the MinIO environment of the program's prefix. */
  readonly env?: () => Promise<Record<string, string>> | Record<string, string>;
  readonly code: number;
  readonly message: RegExp;
  /** What the error line ends with when the exit code depends on the kind of recovery (wal-restore). */
  readonly then?: RegExp;
}

const wrongCredentials = () => ({ AWS_SECRET_ACCESS_KEY: WRONG_SECRET });
const unreachable = async () => ({ AWS_ENDPOINT: `http://127.0.0.1:${await freePort()}` });
const missingBucket = () => ({ WALG_S3_PREFIX: "s3://wal-native-no-such-bucket/x" });

const archiveRows: Row[] = [
  { what: "wrong argument count", args: [`pg_wal/${SEGMENT}`], code: 64, message: /expected 2 arguments, got 1$/ },
  {
    what: "../../etc/passwd as %f",
    args: [`pg_wal/${SEGMENT}`, "../../etc/passwd"],
    code: 64,
    message: /'\.\.\/\.\.\/etc\/passwd' is not a WAL file name/,
  },
  { what: "a non-WAL name", args: [`pg_wal/${SEGMENT}`, "hello.txt"], code: 64, message: /'hello\.txt' is not a WAL file name/ },
  { what: "a missing %p", args: [`pg_wal/${ABSENT}`, ABSENT], code: 66, message: new RegExp(`cannot open 'pg_wal/${ABSENT}'`) },
  { what: "an empty file", args: [`pg_wal/${EMPTY}`, EMPTY], code: 65, message: new RegExp(`'pg_wal/${EMPTY}' is empty`) },
  { what: "wrong credentials", args: [`pg_wal/${SEGMENT}`, SEGMENT], env: wrongCredentials, code: 75, message: /HTTP 403|SignatureDoesNotMatch/ },
  { what: "an unreachable endpoint", args: [`pg_wal/${SEGMENT}`, SEGMENT], env: unreachable, code: 75, message: /ECONNREFUSED/ },
  { what: "a missing bucket", args: [`pg_wal/${SEGMENT}`, SEGMENT], env: missingBucket, code: 75, message: /NoSuchBucket/ },
];

const DEST = "pg_wal/RECOVERYXLOG";
// Neither standby.signal nor recovery.signal in the working directory (a call by hand): recovery is stopped.
const NO_SIGNAL_FILE = /\(exit 200, no standby\.signal: PostgreSQL stops the recovery rather than end it early; fix the cause and start the server again\)$/;
const restoreRows: Row[] = [
  { what: "wrong argument count", args: [SEGMENT], code: 200, message: /expected 2 arguments, got 1$/ },
  { what: "../../etc/passwd as %f", args: ["../../etc/passwd", DEST], code: 200, message: /is not a WAL file name/, then: NO_SIGNAL_FILE },
  { what: "a non-WAL name", args: ["hello.txt", DEST], code: 200, message: /'hello\.txt' is not a WAL file name/, then: NO_SIGNAL_FILE },
  { what: "%p in a missing directory", args: [SEGMENT, "no-such-dir/RECOVERYXLOG"], code: 200, message: /cannot create/, then: NO_SIGNAL_FILE },
  { what: "wrong credentials", args: [SEGMENT, DEST], env: wrongCredentials, code: 200, message: /HTTP 403|SignatureDoesNotMatch/, then: NO_SIGNAL_FILE },
  { what: "an unreachable endpoint", args: [SEGMENT, DEST], env: unreachable, code: 200, message: /ECONNREFUSED/, then: NO_SIGNAL_FILE },
  { what: "a missing bucket", args: [SEGMENT, DEST], env: missingBucket, code: 200, message: /NoSuchBucket/, then: NO_SIGNAL_FILE },
];

describe.each<{ program: Program; rows: Row[]; prefix: () => string }>([
  { program: "wal-archive", rows: archiveRows, prefix: () => archivePrefix },
  { program: "wal-restore", rows: restoreRows, prefix: () => restorePrefix },
])("$program", ({ program, rows, prefix }) => {
  it.each(rows)("exits $code with one clear line for $what", async (row) => {
    const before = await snapshot(sandbox);
    const passwd = await stat("/etc/passwd");
    const env = { ...baseEnv, ...minioEnv(prefix()), ...(await row.env?.()) };
    const result = await runOurs(program, row.args, env, cwd);

    expect(result.code, result.stderr).toBe(row.code);
    expect(result.stdout).toBe("");
    expect(errorLine(result, program)).toMatch(row.message);
    if (row.then) expect(errorLine(result, program)).toMatch(row.then);
    expectNoSecret(result);
    expect(await snapshot(sandbox)).toEqual(before);
    expect((await stat("/etc/passwd")).mtimeMs).toBe(passwd.mtimeMs);
    if (program === "wal-archive") expect(await listKeys(`${archivePrefix}/`)).toEqual([]);
  });
});

describe("wal-restore in a data directory with a signal file", () => {
  it.each([
    { signal: "standby.signal", code: 1, then: /\(exit 1, standby\.signal: "not in the archive" to PostgreSQL; the standby streams from its primary and asks again later\)$/ },
    { signal: "recovery.signal", code: 200, then: /\(exit 200, recovery\.signal: PostgreSQL stops the recovery rather than end it early; fix the cause and start the server again\)$/ },
  ])("with $signal exits $code on wrong credentials, saying why in the one error line", async ({ signal, code, then }) => {
    const data = join(sandbox, "signals", signal.replace(".", "-"));
    await mkdir(join(data, "pg_wal"), { recursive: true });
    await writeFile(join(data, signal), "");
    const result = await runOurs("wal-restore", [SEGMENT, DEST], { ...baseEnv, ...minioEnv(restorePrefix), ...wrongCredentials() }, data);
    expect(result.code, result.stderr).toBe(code);
    expect(result.stdout).toBe("");
    const line = errorLine(result, "wal-restore");
    expect(line).toMatch(/HTTP 403|SignatureDoesNotMatch/);
    expect(line).toMatch(then);
    expectNoSecret(result);
    await expect(stat(join(data, DEST))).rejects.toThrow(/ENOENT/);
  });
});

describe("wal-restore", () => {
  it("exits 74 with one info line for a segment the archive does not hold", async () => {
    const result = await runOurs("wal-restore", [ABSENT, DEST], { ...baseEnv, ...minioEnv(restorePrefix) }, cwd);
    expect(result.code, result.stderr).toBe(74);
    expect(result.stderr).toBe(`wal-restore: '${ABSENT}' not found in s3://${minioInfo().bucket}/${restorePrefix}/\n`);
    await expect(stat(join(cwd, DEST))).rejects.toThrow(/ENOENT/);
  });

  it("writes only %p when the input is good, as a control for the rows above", async () => {
    const before = await snapshot(sandbox);
    const result = await runOurs("wal-restore", [SEGMENT, DEST], { ...baseEnv, ...minioEnv(restorePrefix) }, cwd);
    expect(result.code, result.stderr).toBe(0);
    const after = await snapshot(sandbox);
    const created = Object.keys(after).filter((path) => !(path in before));
    expect(created).toContain(`a/b/data/${DEST}`);
    // The prefetch worker keeps its state beside %p; nothing may appear anywhere else.
    expect(created.filter((path) => !path.startsWith("a/b/data/pg_wal/"))).toEqual([]);
    expect((await readFile(join(cwd, DEST))).equals(await readFile(join(cwd, "pg_wal", SEGMENT)))).toBe(true);
  });
});

describe("secrets", () => {
  it("appear in none of the log files written by the runs above", async () => {
    const text = (await Promise.all((await readdir(logs)).map((name) => readFile(join(logs, name), "utf8")))).join("");
    // The runs above logged errors for wrong credentials, so the files are not empty.
    expect(text).toMatch(/HTTP 403|SignatureDoesNotMatch/);
    expect(text).not.toContain(minioInfo().secretKey);
    expect(text).not.toContain(WRONG_SECRET);
  });
});

/** The single error line; every other line is a retry warning or the hint right after it. */
function errorLine(result: CommandResult, program: Program): string {
  const lines = result.stderr.replace(/\n$/, "").split("\n");
  for (const line of lines) expect(line).toMatch(new RegExp(`^${program}: (error|hint|warn: attempt \\d+ for)`));
  const errors = lines.filter((line) => line.startsWith(`${program}: error: `));
  expect(errors, result.stderr).toHaveLength(1);
  const at = lines.indexOf(errors[0] as string);
  // The error (and its hint, if any) close the output.
  expect(lines.slice(at + 1).every((line) => line.startsWith(`${program}: hint: `))).toBe(true);
  expect(lines.length - at).toBeLessThanOrEqual(2);
  return (errors[0] as string).slice(`${program}: error: `.length);
}

function expectNoSecret(result: CommandResult): void {
  const output = result.stdout + result.stderr;
  expect(output).not.toContain(minioInfo().secretKey);
  expect(output).not.toContain(WRONG_SECRET);
}

/**
 * path -> size and mtime of every file and directory under `root`. A directory's mtime changes when
 * anything is created in it, even if removed again; only %p's directory (pg_wal) may see that.
 */
async function snapshot(root: string): Promise<Record<string, string>> {
  const entries = await readdir(root, { recursive: true });
  const result: Record<string, string> = {};
  for (const entry of entries.sort()) {
    const path = relative(root, join(root, entry));
    // Our own state lives in %p's directory (pg_wal/.wal-native: identity cache, prefetch worker
    // files); it is inside the directory the commands may write, so only its absence of content matters.
    if (path.startsWith("a/b/data/pg_wal/.wal-native")) continue;
    // A prefetch worker started by the call may still be renaming its files inside pg_wal.
    const info = await stat(join(root, entry)).catch(() => undefined);
    if (!info) continue;
    result[path] = info.isDirectory() ? (path === "a/b/data/pg_wal" ? "dir" : `dir ${info.mtimeMs}`) : `${info.size} ${info.mtimeMs}`;
  }
  return result;
}
