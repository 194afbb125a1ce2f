// Storage outage during recovery to the latest point. With wal-restore, recovery aborts
// (exit 200) instead of promoting, and once MinIO is back a restart reaches the true end with every row.
// The same scenario with `wal-g wal-fetch` as restore_command is recorded as observed.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { minioEnv, startMinio, stopMinio, uniquePrefix } from "../support/minio.js";
import {
  type Cluster, basebackup, configure, initCluster, isRunning, makeWorkDir, psql, runAsPostgres, start, stop, waitFor,
} from "../support/postgres.js";
import { PG_BIN } from "../support/tools.js";
import { liveName, walgBinary, walgForPostgres } from "../support/walg.js";
import { record } from "./results.js";
import { BIN } from "./tools.js";

let prefix: string;
let primaryRows: number;
let backupRows: number;
let ours: Cluster;
let theirs: Cluster;
let segmentsAfterBackup: number;

beforeAll(async () => {
  prefix = uniquePrefix("outage-restore");
  const workDir = await makeWorkDir("outage-restore");
  const primary = await initCluster({ workDir, walSegSizeMb: 1 });
  await configure(primary, { archive_mode: "on", archive_command: `${BIN}/wal-archive %p %f` });
  await start(primary, { ...minioEnv(prefix), WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "" });
  await psql(primary, "create table t (id int, pad text); insert into t select g, repeat('x', 200) from generate_series(1, 1000) g; checkpoint;");
  backupRows = 1000;
  ours = await basebackup(primary, join(workDir, "ours"));
  theirs = await basebackup(primary, join(workDir, "walg"));
  const before = await psql(primary, "select pg_walfile_name(pg_current_wal_lsn())");
  for (let round = 0; round < 12; round++) {
    await psql(primary, "insert into t select g, repeat('y', 200) from generate_series(1, 3000) g; select pg_switch_wal();");
  }
  primaryRows = Number(await psql(primary, "select count(*) from t"));
  const last = await psql(primary, "select pg_walfile_name(pg_switch_wal())");
  segmentsAfterBackup = Number.parseInt(last.slice(16), 16) - Number.parseInt(before.slice(16), 16);
  await waitFor(async () => (await psql(primary, "select last_archived_wal from pg_stat_archiver")) >= last, { what: "archive", timeoutMs: 120_000 });
  await stop(primary);
});

afterAll(async () => {
  // Later files expect the shared MinIO up; a failed test may have left it stopped.
  await startMinio().catch(() => undefined);
});

async function prepareRecovery(cluster: Cluster, restoreCommand: string): Promise<void> {
  await configure(cluster, { restore_command: restoreCommand, recovery_target_timeline: "latest", archive_mode: "off" });
  await runAsPostgres("touch", [join(cluster.data, "recovery.signal")]);
}

async function pgCtlStart(cluster: Cluster, env: Record<string, string>) {
  return runAsPostgres(join(PG_BIN, "pg_ctl"), ["-D", cluster.data, "-l", cluster.logFile, "-w", "-t", "120", "start"], { env, check: false });
}

const promoted = (log: string): boolean => /selected new timeline ID|archive recovery complete/.test(log);

describe("MinIO down while a cluster recovers to the latest point", () => {
  it("wal-restore: recovery aborts instead of promoting, and after MinIO returns it reaches the true end", async () => {
    const env = {
      ...minioEnv(prefix),
      WALNATIVE_LOCAL_ARCHIVE: "",
      WALNATIVE_RESTORE_LOG: "",
      WALNATIVE_RESTORE_RETRY_SECONDS: "3",
      WALNATIVE_S3_TIMEOUT_SECONDS: "2",
      WALG_S3_MAX_RETRIES: "1",
    };
    await prepareRecovery(ours, `${BIN}/wal-restore %f %p`);
    await stopMinio();
    let failed;
    try {
      failed = await pgCtlStart(ours, env);
      await waitFor(async () => !(await isRunning(ours)), { what: "the aborted recovery to stop", timeoutMs: 60_000 });
    } finally {
      await startMinio();
    }
    const abortedLog = await readFile(ours.logFile, "utf8");
    expect(failed.code).not.toBe(0);
    expect(abortedLog).toMatch(/could not restore file "[^"]+" from archive: child process exited with exit code 200/);
    expect(promoted(abortedLog)).toBe(false);
    expect((await readdir(join(ours.data, "pg_wal"))).filter((name) => name.endsWith(".history"))).toEqual([]);
    const abortLine = abortedLog.split("\n").find((line) => line.includes("exit code 200")) ?? "";

    const started = Date.now();
    await start(ours, env);
    await waitFor(async () => (await psql(ours, "select pg_is_in_recovery()")) === "f", { what: "promotion at the end of the archive", timeoutMs: 120_000 });
    const recoveryMs = Date.now() - started;
    const rows = Number(await psql(ours, "select count(*) from t"));
    expect(rows).toBe(primaryRows);
    await stop(ours);
    record({
      scenario: "3 storage outage during recovery",
      check: "wal-restore as restore_command, MinIO down at start of recovery",
      outcome: "restore_command exited 200, PostgreSQL stopped recovery with FATAL and did not promote; after MinIO returned, a restart replayed to the true end with every row",
      figures: {
        "rows on the primary": primaryRows,
        "rows after recovery": rows,
        "segments after the base backup": segmentsAfterBackup,
        "recovery after MinIO returned (s)": recoveryMs / 1000,
        "PostgreSQL log": abortLine.replace(/^.*?(FATAL|LOG)/, "$1").slice(0, 160),
      },
    });
  });

  it.skipIf(!walgBinary)(liveName("wal-g wal-fetch (observed): a storage error reads as 'not in the archive' and the cluster promotes early"), async () => {
    const walg = await walgForPostgres();
    const home = await makeWorkDir("walg-home");
    await prepareRecovery(theirs, `${walg.binary} wal-fetch %f %p`);
    await stopMinio();
    let result;
    let inRecovery = "";
    let rows = -1;
    try {
      // Few retries, as for wal-restore above: with wal-g's default a single file kept retrying for minutes
      // (a manual wal-fetch against a closed port had not finished after 200 s).
      result = await pgCtlStart(theirs, { ...minioEnv(prefix), HOME: home, WALG_DOWNLOAD_CONCURRENCY: "1", WALG_S3_MAX_RETRIES: "1" });
      if (result.code === 0) {
        await waitFor(async () => (await psql(theirs, "select pg_is_in_recovery()")) === "f", { what: "wal-g's recovery to end", timeoutMs: 120_000 });
        inRecovery = await psql(theirs, "select pg_is_in_recovery()");
        rows = Number(await psql(theirs, "select count(*) from t"));
      }
    } finally {
      await startMinio();
    }
    const log = await readFile(theirs.logFile, "utf8");
    const walgLine = log.split("\n").find((line) => line.startsWith("ERROR:")) ?? "";
    // What we observe with wal-g v3.0.9: exit 1 on a connection error, so PostgreSQL ends recovery early.
    expect(result?.code).toBe(0);
    expect(promoted(log)).toBe(true);
    expect(inRecovery).toBe("f");
    expect(rows).toBe(backupRows);
    expect(rows).toBeLessThan(primaryRows);
    const timeline = await psql(theirs, "select timeline_id from pg_control_checkpoint()");
    await stop(theirs);
    record({
      scenario: "3 storage outage during recovery",
      check: "wal-g wal-fetch as restore_command, MinIO down (observed, WALG_S3_MAX_RETRIES=1)",
      outcome:
        "wal-g exits 1 on a connection error, which PostgreSQL reads as 'file not in archive': recovery ended at the base backup, " +
        `the cluster promoted to timeline ${timeline} and ${primaryRows - rows} committed rows are missing`,
      figures: { "rows on the primary": primaryRows, "rows after recovery": rows, timeline, "wal-g line": walgLine.slice(0, 160) },
    });
  });
});
