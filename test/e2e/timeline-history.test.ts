// History files and new timelines. At the end of a recovery PostgreSQL picks its new timeline as one past the
// newest history file the archive holds, asking restore_command for each: an answer "not in the archive" served
// from a cache could make two clusters recovered from one archive (a DR drill and a real failover) choose the same
// timeline, and then either jam archiving (65) or overwrite each other's WAL. So a history file's absence is asked
// of storage every time; only a history file that exists (final, never overwritten) may come from the prefetch
// worker.
import { spawn } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { getObject, listKeys, minioEnv, putObject, uniquePrefix } from "../support/minio.js";
import { REPO_BIN } from "../support/paths.js";
import {
  type Cluster, basebackup, configure, initCluster, makeWorkDir, psql, runAsPostgres, start, stop, waitFor,
} from "../support/postgres.js";
import { tempDir } from "../support/temp-dir.js";

let prefix: string;
let primary: Cluster;
let first: Cluster;
let second: Cluster;
/** A segment of the primary's archive after the base backup. */
let archivedSegment: string;
const env = (storagePrefix: string): Record<string, string> => ({
  ...minioEnv(storagePrefix), WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "",
});

beforeAll(async () => {
  prefix = uniquePrefix("timelines");
  const workDir = await makeWorkDir("timelines");
  primary = await initCluster({ workDir, walSegSizeMb: 1 });
  await configure(primary, { archive_mode: "on", archive_command: `${REPO_BIN}/wal-archive %p %f` });
  await start(primary, env(prefix));
  await psql(primary, "create table t (id int, pad text); insert into t select g, repeat('x', 100) from generate_series(1, 1000) g;");
  first = await basebackup(primary, join(workDir, "first"));
  second = await basebackup(primary, join(workDir, "second"));
  archivedSegment = await psql(primary, "insert into t select g, 'y' from generate_series(1, 1000) g; select pg_walfile_name(pg_switch_wal());");
  const last = await psql(primary, "insert into t select g, 'z' from generate_series(1, 1000) g; select pg_walfile_name(pg_switch_wal());");
  await waitFor(async () => (await psql(primary, "select last_archived_wal from pg_stat_archiver")) >= last, { what: "archiving", timeoutMs: 120_000 });
  await stop(primary);
}, 300_000);

/** Runs bin/wal-restore as PostgreSQL does (data directory as the working directory); resolves with its exit code. */
function walRestore(cwd: string, args: string[], extraEnv: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const child = spawn(join(REPO_BIN, "wal-restore"), args, { cwd, env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...extraEnv }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 128, stderr }));
  });
}

describe("a history file's absence is never served from a cache", () => {
  it("wal-restore asks storage for a history file the prefetch worker last saw missing", async () => {
    // An archive of its own holding one real segment, so that the worker starts and looks ahead from it.
    const own = uniquePrefix("timelines-cache");
    await putObject(`${own}/wal_005/${archivedSegment}.lz4`, await getObject(`${prefix}/wal_005/${archivedSegment}.lz4`));
    const dataDir = await tempDir("history-cache");
    await mkdir(join(dataDir, "pg_wal"));
    const storage = { ...env(own), WALNATIVE_LOG_LEVEL: "debug" };
    const served = await walRestore(dataDir, [archivedSegment, "pg_wal/RECOVERYXLOG"], storage);
    expect(served.code, served.stderr).toBe(0);
    // The worker probes the next timeline's history file (PostgreSQL asks for it as recovery ends) and finds none.
    const prefetch = join(dataDir, "pg_wal", ".wal-native", "prefetch");
    await waitFor(async () => /00000002\.history is not in the archive/.test(await readFile(join(prefetch, "worker.log"), "utf8")),
      { what: "the worker's probe of 00000002.history", timeoutMs: 30_000 });
    // Frozen right after that answer (alive, so its files still count), while another cluster archives the file.
    const worker = Number((await readFile(join(prefetch, "worker.pid"), "utf8")).trim().split(/\s+/)[0]);
    process.kill(worker, "SIGSTOP");
    try {
      const history = "1\t0/3000060\tno recovery target specified\n";
      await putObject(`${own}/wal_005/00000002.history`, history);
      const asked = await walRestore(dataDir, ["00000002.history", "pg_wal/RECOVERYHISTORY"], storage);
      expect(asked.code, asked.stderr).toBe(0);
      expect(await readFile(join(dataDir, "pg_wal", "RECOVERYHISTORY"), "utf8")).toBe(history);
    } finally {
      process.kill(worker, "SIGCONT");
      process.kill(worker, "SIGKILL");
    }
  });

  it("two clusters recovered from one archive, one after the other, choose timelines 2 and 3", async () => {
    const restoreCommand = `${REPO_BIN}/wal-restore %f %p`;
    for (const cluster of [first, second]) {
      const prepared = await runAsPostgres(join(REPO_BIN, "wal-native"), ["restore-prepare", cluster.data, "--restore-command", restoreCommand,
        "--pg-bin", cluster.bin], { check: false });
      expect(prepared.code, prepared.stderr).toBe(0);
    }
    const timelineOf = async (cluster: Cluster): Promise<number> => {
      await start(cluster, env(prefix));
      await waitFor(async () => (await psql(cluster, "select pg_is_in_recovery()")) === "f", { what: "promotion", timeoutMs: 120_000 });
      return Number(await psql(cluster, "select timeline_id from pg_control_checkpoint()"));
    };
    // The first promotes and archives its history file (archive_mode and archive_command came with the backup).
    expect(await timelineOf(first)).toBe(2);
    await waitFor(async () => (await listKeys(`${prefix}/wal_005/00000002.history`)).length === 1, { what: "00000002.history archived", timeoutMs: 60_000 });
    // The second, started afterwards, must see it and pick the timeline after it.
    expect(await timelineOf(second)).toBe(3);
    await waitFor(async () => (await listKeys(`${prefix}/wal_005/00000003.history`)).length === 1, { what: "00000003.history archived", timeoutMs: 60_000 });
    expect(await psql(second, "select count(*) from t")).toBe(await psql(first, "select count(*) from t"));
    const secondLog = await readFile(second.logFile, "utf8");
    expect(secondLog).toMatch(/selected new timeline ID: 3/);
    await stop(first);
    await stop(second);
  });
});
