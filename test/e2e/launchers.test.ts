// The sh launchers (bin/, rendered from src/fastpath/) as PostgreSQL runs them: the fast paths answer from what the
// TypeScript wrote, print nothing to PostgreSQL's log (stderr) even when their own log cannot be written, never
// trust an odd pid, start node by its absolute path, and behave the same under dash, bash and busybox sh with
// busybox's tools.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeUploadRecord } from "../../src/archive/records.js";
import { describeProcess } from "../../src/daemon/identity.js";
import { MARKS, NAMES, STATE_DIR } from "../../src/fastpath/protocol.js";
import { type WalScratch, segmentNames, walScratch } from "../support/pg-wal-scratch.js";
import { REPO_BIN } from "../support/paths.js";
import { makeSegment } from "../support/wal.js";

const roots: string[] = [];
const sleepers: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const sleeper of sleepers) sleeper.kill("SIGKILL");
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function scratch(): WalScratch {
  const dir = walScratch("launchers");
  roots.push(dir.root);
  return dir;
}

/** A live process standing in for a helper; its exact process line, as the daemon module writes it. */
function liveStandIn(): { line: string; process: ReturnType<typeof spawn> } {
  const sleeper = spawn("sleep", ["120"], { stdio: "ignore" });
  sleepers.push(sleeper);
  return { line: describeProcess(sleeper.pid), process: sleeper };
}

/** busybox's applets on a PATH of their own, as on Alpine (no GNU stat, date, find). */
function busyboxPath(): string {
  const dir = join(scratch().root, "busybox-bin");
  mkdirSync(dir);
  for (const tool of ["sh", "stat", "date", "cp", "mv", "rm", "sleep", "readlink", "cat"]) symlinkSync("/bin/busybox", join(dir, tool));
  return dir;
}

type Shell = "sh" | "dash" | "bash" | "busybox";
const SHELLS: Shell[] = ["dash", "bash", "busybox"];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs bin/<tool> under the given shell (busybox: its sh and its tools only), cwd = the data directory. */
function launch(shell: Shell, tool: "wal-archive" | "wal-restore", args: string[], dir: WalScratch, env: Record<string, string> = {}): Promise<Run> {
  const script = join(REPO_BIN, tool);
  const [command, argv, path] =
    shell === "busybox" ? ["/bin/busybox", ["sh", script, ...args], busyboxPath()]
    : shell === "sh" ? [script, args, process.env.PATH ?? ""]
    : [`/bin/${shell}`, [script, ...args], process.env.PATH ?? ""];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: dir.data, env: { PATH: path, HOME: process.env.HOME ?? "/root", ...dir.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 128, stdout, stderr, ms: performance.now() - started }));
  });
}

/** A ready segment whose upload the TypeScript recorded (as the uploader does after storage confirmed it). */
async function recordedSegment(dir: WalScratch, name: string): Promise<void> {
  writeFileSync(join(dir.wal, name), makeSegment(name));
  writeFileSync(join(dir.wal, "archive_status", `${name}.ready`), "");
  await writeUploadRecord(dir.wal, name, join(dir.wal, name), dir.env, "16.0 MiB -> 1.0 MiB lz4");
}

/** A prefetch directory owned by a live stand-in worker, with one published segment. */
function publishedSegment(dir: WalScratch, name: string): { prefetch: string; bytes: Buffer } {
  const prefetch = join(dir.wal, STATE_DIR, NAMES.prefetch);
  mkdirSync(prefetch, { recursive: true });
  writeFileSync(join(prefetch, NAMES.workerPid), `${liveStandIn().line}\n`);
  writeFileSync(join(prefetch, NAMES.workerReady), "");
  const bytes = makeSegment(name);
  writeFileSync(join(prefetch, name), bytes);
  return { prefetch, bytes };
}

/** A log path that cannot be created: its directory does not exist (as /var/log/postgresql on RHEL or Alpine). */
const UNWRITABLE_LOG = "/nonexistent-wal-native-dir/wal.log";

describe.each(SHELLS)("the launchers under %s", (shell) => {
  it("serve an uploaded-ahead file from its record with empty stderr, writing the line to the log file only", async () => {
    const dir = scratch();
    const [first, second] = segmentNames("000000010000000000000010", 2) as [string, string];
    await recordedSegment(dir, first);
    await recordedSegment(dir, second);
    const log = join(dir.root, "archive.log");
    const served = await launch(shell, "wal-archive", [`pg_wal/${first}`, first], dir, { WALNATIVE_ARCHIVE_LOG: log });
    expect(served).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(log, "utf8")).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\[\\d+\\] wal-archive: pushed ${first} \\(uploaded ahead: 16\\.0 MiB -> 1\\.0 MiB lz4\\)\\n$`));
    expect(existsSync(join(dir.wal, STATE_DIR, NAMES.uploaded, first))).toBe(false); // used up
    const unwritable = await launch(shell, "wal-archive", [`pg_wal/${second}`, second], dir, { WALNATIVE_ARCHIVE_LOG: UNWRITABLE_LOG });
    expect(unwritable).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(existsSync(join(dir.wal, STATE_DIR, NAMES.uploaded, second))).toBe(false);
  });

  it("hand over a prefetched segment, and answer a fresh 'not in the archive', with empty stderr", async () => {
    const dir = scratch();
    const [name, absent, stale] = segmentNames("000000010000000000000020", 3) as [string, string, string];
    const { prefetch, bytes } = publishedSegment(dir, name);
    writeFileSync(join(prefetch, `${absent}${MARKS.missing}`), `${Math.floor(Date.now() / 1000)}\n`);
    writeFileSync(join(prefetch, `${stale}${MARKS.missing}`), `${Math.floor(Date.now() / 1000) - 60}\n`);
    const log = join(dir.root, "restore.log");
    const served = await launch(shell, "wal-restore", [name, "pg_wal/RECOVERYXLOG"], dir, { WALNATIVE_RESTORE_LOG: UNWRITABLE_LOG });
    expect(served).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(join(dir.wal, "RECOVERYXLOG")).equals(bytes)).toBe(true);
    expect(readFileSync(join(prefetch, NAMES.cursor), "utf8")).toBe(`${name}\n`);
    const missing = await launch(shell, "wal-restore", [absent, "pg_wal/RECOVERYXLOG"], dir, { WALNATIVE_RESTORE_LOG: log });
    expect(missing).toMatchObject({ code: 74, stdout: "", stderr: "" });
    expect(readFileSync(log, "utf8")).toMatch(new RegExp(`wal-restore: '${absent}' not found in the archive \\(checked by the prefetch worker`));
    // An answer a minute old is not trusted: Node asks storage (an empty store here: 74 too, from Node, on stderr).
    const asked = await launch(shell, "wal-restore", [stale, "pg_wal/RECOVERYXLOG"], dir, { WALNATIVE_RESTORE_LOG: log });
    expect(asked.code).toBe(74);
    expect(asked.stderr).toMatch(/wal-restore: .* not found/);
  });
});

describe("pid files and claims", () => {
  it.each(["0", "-1", "1", "", "12abc", "garbage line here", `${process.pid}`])("never wait on an uploader named by the odd line %j", async (line) => {
    const dir = scratch();
    const [name] = segmentNames("000000010000000000000030", 1) as [string];
    writeFileSync(join(dir.wal, name), makeSegment(name));
    mkdirSync(join(dir.wal, STATE_DIR, NAMES.claims), { recursive: true });
    writeFileSync(join(dir.wal, STATE_DIR, NAMES.uploaderPid), `${line}\n`);
    // A claim by a live process: only a live uploader would make the launcher wait for it.
    writeFileSync(join(dir.wal, STATE_DIR, NAMES.claims, name), `${liveStandIn().line}\n`);
    const run = await launch("dash", "wal-archive", [`pg_wal/${name}`, name], { ...dir, env: { ...dir.env, WALNATIVE_UPLOADER: "off" } });
    // Straight to Node, which pushes (the uploader is off here, so the claim is not its business). A launcher that
    // took the line for a live uploader would wait for the live claim for minutes.
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`pushed ${name}`));
    expect(run.ms).toBeLessThan(20_000);
  });
});

describe("the node they start", () => {
  it("is the absolute path written at build or install, unless WALNATIVE_NODE names another", async () => {
    const text = readFileSync(join(REPO_BIN, "wal-restore"), "utf8");
    expect(text).toMatch(/^node=\$\{WALNATIVE_NODE:-'\/[^']+'\}$/m);
    const dir = scratch();
    const marker = join(dir.root, "node-was-used");
    const wrapper = join(dir.root, "my-node");
    writeFileSync(wrapper, `#!/bin/sh\necho "$@" > '${marker}'\nexec '${process.execPath}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    // PATH without node: only the absolute path can start it.
    const run = await launch("dash", "wal-restore", ["--version"], dir, { PATH: "/nonexistent", WALNATIVE_NODE: wrapper });
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/^wal-restore \d/);
    expect(readFileSync(marker, "utf8")).toMatch(/dist\/wal-restore\.cjs --version/);
    const plain = await launch("dash", "wal-restore", ["--version"], dir, { PATH: "/nonexistent" });
    expect(plain.code, plain.stderr).toBe(0);
  });
});
