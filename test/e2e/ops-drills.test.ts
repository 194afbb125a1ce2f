// The restore drills run as an operator would run them: scripts/test-restore.sh, test-pitr.sh and
// dr-drill.sh against a real archive (our archive_command) in MinIO, from a base backup directory taken
// with the low-level backup API (--backup-dir, no wal-g needed) and, where wal-g is found, from a real
// wal-g backup-push in the same archive (--walg: backup-fetch, and the choice of the backup by time).
import { execFile } from "node:child_process";
import { chmod, copyFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { minioEnv, uniquePrefix } from "../support/minio.js";
import { REPO_BIN, REPO_ROOT, ensureTraversable } from "../support/paths.js";
import { takeBaseBackup } from "../support/base-backup.js";
import { type Cluster, PG_PATH, configure, initCluster, makeWorkDir, mkdirAsPostgres, psql, runAsPostgres, start, stop, waitFor } from "../support/postgres.js";
import { liveName, walgBinary, walgPath } from "../support/walg.js";

interface Run { code: number; stdout: string; stderr: string }

let cluster: Cluster;
let walg: string;
let backupDir: string;
let drills: string;
let env: Record<string, string>;
let targetTime: string;

async function script(name: string, args: string[], extra: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)("sh", [join(REPO_ROOT, "scripts", name), ...args], {
      env: { ...env, ...extra }, timeout: 170_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function switchAndWait(): Promise<void> {
  const segment = await psql(cluster, "select pg_walfile_name(pg_switch_wal());");
  await waitFor(async () => (await psql(cluster, "select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment, { what: `${segment} archived` });
}

/** No drill directory and no server started from one is left behind. */
async function expectCleanedUp(): Promise<void> {
  expect(await readdir(drills)).toEqual([]);
  const { stdout } = await promisify(execFile)("ps", ["-eo", "args"]);
  expect(stdout).not.toContain("wal-native-drill-");
}

beforeAll(async () => {
  const prefix = uniquePrefix("ops-drills");
  const workDir = await makeWorkDir("ops-drills");
  drills = await mkdirAsPostgres(join(workDir, "drills"));
  env = {
    ...minioEnv(prefix), PATH: PG_PATH, HOME: "/root", WALNATIVE_LOCAL_ARCHIVE: await mkdirAsPostgres(join(workDir, "wal_archive")),
    WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "",
  };
  cluster = await initCluster({ workDir });
  await configure(cluster, { archive_mode: "on", archive_command: `${REPO_BIN}/wal-archive %p %f` });
  await start(cluster, env);
  await psql(cluster, "create table t (x int); insert into t select generate_series(1, 1000);");
  await switchAndWait();
  backupDir = (await takeBaseBackup(cluster, join(await mkdirAsPostgres(join(workDir, "backup")), "data"))).dir;
  if (walgBinary) {
    walg = join(workDir, "wal-g");
    await copyFile(walgPath(), walg);
    await chmod(walg, 0o755);
    const push = await runAsPostgres(walg, ["backup-push", cluster.data], { env: { ...env, PGHOST: cluster.root, PGPORT: String(cluster.port) }, check: false });
    expect(push.code, push.stderr).toBe(0);
  }
  await psql(cluster, "insert into t select generate_series(1, 500);");
  await sleep(1100);
  targetTime = await psql(cluster, "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
  await sleep(1100);
  await psql(cluster, "insert into t select generate_series(1, 500);");
  await switchAndWait();
});

afterAll(async () => {
  if (cluster) await stop(cluster).catch(() => undefined);
});

describe("restore drills from a base backup directory (--backup-dir, no wal-g)", () => {
  const from = (): string[] => ["--backup-dir", backupDir];

  it("test-restore.sh restores the backup and all WAL, checks it, reports the time and cleans up", async () => {
    const run = await script("test-restore.sh", [...from(), "--work-dir", drills, "--query", "select count(*) from t", "--expect", "2000"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    console.log(run.stdout.trim()); // the measured times, for the CI log
    expect(run.stdout).toContain(`restore drill: ${backupDir} (latest) into `);
    expect(run.stdout).toMatch(/^copied and prepared the backup in \d+\.\d s$/m);
    expect(run.stdout).toMatch(/^recovered and promoted in \d+\.\d s \(timeline 2, LSN [0-9A-F]+\/[0-9A-F]+\)$/m);
    expect(run.stdout).toContain("pg_amcheck: no corruption found");
    expect(run.stdout).toContain("query 'select count(*) from t' -> 2000 (as expected)");
    expect(run.stdout).toMatch(/^OK: recovery time \d+\.\d s \(copy \d+\.\d s \+ replay \d+\.\d s \+ checks\)$/m);
    await expectCleanedUp();
  });

  it("test-pitr.sh stops at the given time", async () => {
    const run = await script("test-pitr.sh", [targetTime, ...from(), "--work-dir", drills, "--query", "select count(*) from t", "--expect", "1500"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`(time ${targetTime})`);
    expect(run.stdout).toContain("-> 1500 (as expected)");
    await expectCleanedUp();
  });

  it("dr-drill.sh restores without local state and reports JSON", async () => {
    const run = await script("dr-drill.sh", [...from(), "--work-dir", drills, "--json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    console.log(`dr drill: ${JSON.stringify(report)}`);
    expect(report).toMatchObject({ kind: "dr", backup: backupDir, target: "latest", timeline: 2, queryResult: "3" });
    expect(report.totalSeconds).toBeGreaterThanOrEqual(report.fetchSeconds + report.recoverySeconds);
    await expectCleanedUp();
  });

  it("fails (exit 1) when the check query disagrees, and still cleans up", async () => {
    const run = await script("test-restore.sh", [...from(), "--work-dir", drills, "--query", "select count(*) from t", "--expect", "999", "--no-amcheck"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("query 'select count(*) from t' returned '2000', expected '999'");
    await expectCleanedUp();
  });

  it("fails when the directory holds no backup, refuses --backup-dir with --backup or --walg, and a pitr drill without a time", async () => {
    const empty = await mkdirAsPostgres(join(drills, "..", "not-a-backup"));
    const run = await script("test-restore.sh", ["--backup-dir", empty, "--work-dir", drills]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`'${empty}' is not a PostgreSQL data directory`);
    const both = await script("test-restore.sh", [...from(), "--backup", "LATEST"]);
    expect(both.code).toBe(64);
    expect(both.stderr).toContain("--backup-dir restores that directory; it takes no --backup or --walg");
    const usage = await script("test-pitr.sh", []);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain("usage: test-pitr.sh");
    await expectCleanedUp();
  });
});

describe.skipIf(!walgBinary)(liveName("restore drills on a wal-g backup"), () => {
  describe("restore drills", () => {
    it("test-restore.sh restores the newest backup and all WAL, checks it, reports the time and cleans up", async () => {
      const run = await script("test-restore.sh", ["--walg", walg, "--work-dir", drills, "--query", "select count(*) from t", "--expect", "2000"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      console.log(run.stdout.trim()); // the measured times, for the CI log
      expect(run.stdout).toMatch(/^restore drill: base_[0-9A-F]{24} \(latest\) into .*wal-native-drill-/m);
      expect(run.stdout).toMatch(/^recovered and promoted in \d+\.\d s \(timeline 2, LSN [0-9A-F]+\/[0-9A-F]+\)$/m);
      expect(run.stdout).toContain("pg_amcheck: no corruption found");
      expect(run.stdout).toContain("query 'select count(*) from t' -> 2000 (as expected)");
      expect(run.stdout).toMatch(/^OK: recovery time \d+\.\d s \(fetch \d+\.\d s \+ replay \d+\.\d s \+ checks\)$/m);
      expect(run.stderr).toMatch(/wal-native restore-prepare: .*recovery\.signal/);
      await expectCleanedUp();
    });

    it("test-pitr.sh stops at the given time, using a backup that finished before it", async () => {
      const run = await script("test-pitr.sh", [targetTime, "--walg", walg, "--work-dir", drills, "--query", "select count(*) from t", "--expect", "1500"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^using base_[0-9A-F]{24}, the newest backup that finished before /m);
      expect(run.stdout).toContain(`(time ${targetTime})`);
      expect(run.stdout).toContain("-> 1500 (as expected)");
      await expectCleanedUp();
    });

    it("dr-drill.sh lists the backups, restores without local state and reports JSON", async () => {
      const run = await script("dr-drill.sh", ["--walg", walg, "--work-dir", drills, "--json"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stderr).toMatch(/^1 backup in s3:\/\/.+:\n {2}base_[0-9A-F]{24} {2}\d{4}-/m);
      const report = JSON.parse(run.stdout);
      console.log(`dr drill: ${JSON.stringify(report)}`);
      expect(report).toMatchObject({ kind: "dr", target: "latest", timeline: 2, queryResult: "3" });
      expect(report.totalSeconds).toBeGreaterThan(0);
      expect(report.totalSeconds).toBeGreaterThanOrEqual(report.fetchSeconds + report.recoverySeconds);
      await expectCleanedUp();
    });

    it("fails (exit 1) when the check query disagrees, and still cleans up", async () => {
      const run = await script("test-restore.sh", ["--walg", walg, "--work-dir", drills, "--query", "select count(*) from t", "--expect", "999", "--no-amcheck"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("query 'select count(*) from t' returned '2000', expected '999'");
      await expectCleanedUp();
    });

    it("fails when there is nothing to restore, and refuses a pitr drill without a time", async () => {
      const empty = await script("test-restore.sh", ["--walg", walg, "--work-dir", drills], minioEnv(uniquePrefix("ops-drills-empty")));
      expect(empty.code).toBe(1);
      expect(empty.stderr).toMatch(/no backups in s3:\/\//);
      const usage = await script("test-pitr.sh", []);
      expect(usage.code).toBe(64);
      expect(usage.stderr).toContain("usage: test-pitr.sh");
      await expectCleanedUp();
    });
  });
});
