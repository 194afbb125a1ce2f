// wal-native check brought into each state for real: healthy, an old backup, MinIO down, archiving stalled.
// The healthy cluster's backup is taken with the low-level backup API and recorded in basebackups_005/ as
// wal-g records its own (sentinel and metadata.json), so that no wal-g is needed; where wal-g is found, a
// backup it pushes into the same archive must be counted too.
import { execFile } from "node:child_process";
import { chmod, copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { minioEnv, putObject, startMinio, stopMinio, uniquePrefix } from "../support/minio.js";
import { REPO_BIN, REPO_ROOT } from "../support/paths.js";
import { takeBaseBackup, walgBackupObjects } from "../support/base-backup.js";
import { type Cluster, configure, initCluster, makeWorkDir, mkdirAsPostgres, psql, runAsPostgres, start, stop, waitFor } from "../support/postgres.js";
import { NO_WALG, walgBinary } from "../support/walg.js";

const WALG = walgBinary;
const WALG_SKIP = WALG ? "" : ` ${NO_WALG}`;

interface Run { code: number; stdout: string; stderr: string }

let cluster: Cluster;
let workDir: string;
let prefix: string;
let env: Record<string, string>;
const archiveCommand = `${REPO_BIN}/wal-archive %p %f`;

async function check(args: string[], extra: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(join(REPO_BIN, "wal-native"), ["check", ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env, PGHOST: cluster.root, PGPORT: String(cluster.port), PGUSER: "postgres", PGDATA: cluster.data, ...extra },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function switchAndWaitArchived(): Promise<void> {
  const segment = await psql(cluster, "insert into t select generate_series(1, 100); select pg_walfile_name(pg_switch_wal());");
  await waitFor(async () => (await psql(cluster, "select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment, {
    what: `${segment} to be archived`,
  });
}

beforeAll(async () => {
  prefix = uniquePrefix("ops-check");
  workDir = await makeWorkDir("ops-check");
  env = { ...minioEnv(prefix), WALNATIVE_LOCAL_ARCHIVE: await mkdirAsPostgres(join(workDir, "wal_archive")), WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "" };
  cluster = await initCluster({ workDir });
  await configure(cluster, { archive_mode: "on", archive_command: archiveCommand });
  await start(cluster, env);
  await psql(cluster, "create table t (x int);");
  await switchAndWaitArchived();
  const backup = await takeBaseBackup(cluster, join(await mkdirAsPostgres(join(workDir, "backup")), "data"));
  for (const [key, text] of Object.entries(walgBackupObjects(backup))) await putObject(`${prefix}/${key}`, text);
});

afterAll(async () => {
  if (cluster) await stop(cluster).catch(() => undefined);
});

describe("wal-native check", () => {
  it("is ok (exit 0) on a healthy cluster, in text, JSON and Prometheus form", async () => {
    const text = await check([]);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^wal-native check: OK\n/);
    expect(text.stdout).toMatch(/ok +storage +s3:\/\/.+ reachable/);
    expect(text.stdout).toMatch(/ok +backups +newest of 1 backup is base_[0-9A-F]{24}, completed \d+ s ago \(sentinel FinishTime\)/);
    expect(text.stdout).toMatch(/ok +archiver +last archived [0-9A-F]{24}\S* \d+ s ago \(\d+ archived, 0 failed\)/);
    expect(text.stdout).toMatch(/ok +backlog +no WAL files waiting to be archived/);
    expect(text.stdout).toMatch(/ok +local archive +\d+ files, /);

    const json = JSON.parse((await check(["--json"])).stdout);
    expect(json.status).toBe("ok");
    expect(json.checks.map((c: { check: string }) => c.check)).toEqual(["storage", "backups", "archiver", "backlog", "local archive"]);
    expect(json.metrics).toMatchObject({ storage_up: 1, backup_count: 1, postgres_up: 1, archiver_failing: 0, wal_ready_files: 0 });

    const file = join(workDir, "walnative.prom");
    const prom = await check(["--prometheus", "--output", file]);
    expect(prom.code).toBe(0);
    expect(prom.stdout).toBe("");
    const metrics = await readFile(file, "utf8");
    expect(metrics).toContain("# TYPE walnative_check_status gauge\nwalnative_check_status 0\n");
    expect(metrics).toContain('walnative_check_result{check="local_archive"} 0\n');
    expect(metrics).toMatch(/^walnative_backup_count 1$/m);
    expect(metrics).toMatch(/^walnative_last_backup_age_seconds \d+(\.\d+)?$/m);
    expect(metrics).toMatch(/^walnative_archiver_archived_count [1-9]\d*$/m);
  });

  it("warns (exit 1) when the newest backup finished longer ago than 24 h, by its sentinel's FinishTime", async () => {
    const oldPrefix = uniquePrefix("ops-check-old");
    const finished = new Date(Date.now() - 3 * 86_400_000);
    const sentinel = `{"LSN":33554472,"FinishLSN":33554720,"SystemIdentifier":7441920419134727468,"StartTime":"${new Date(finished.getTime() - 60_000).toISOString()}","FinishTime":"${finished.toISOString()}","IsPermanent":false}`;
    await putObject(`${oldPrefix}/basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json`, sentinel);
    const run = await check([], minioEnv(oldPrefix));
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^wal-native check: WARNING \(1 warning\)\n/);
    expect(run.stdout).toMatch(/warning +backups +newest of 1 backup is base_000000010000000000000002, completed 3\.0 d ago \(sentinel FinishTime\): older than 24\.0 h/);
    const relaxed = await check(["--max-backup-age", "4d"], minioEnv(oldPrefix));
    expect(relaxed.code).toBe(0);
  });

  it("is critical (exit 2) when there is no backup at all", async () => {
    const run = await check(["--no-postgres"], minioEnv(uniquePrefix("ops-check-none")));
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toMatch(/critical +backups +no backups in s3:\/\//);
    expect(run.stdout).not.toContain("archiver");
  });

  it("monitor-walg.sh alerts through ALERT_COMMAND, writes the textfile, and exits with check's code", async () => {
    const alert = join(workDir, "alert.txt");
    const prom = join(workDir, "monitor.prom");
    let code = 0;
    try {
      await promisify(execFile)("sh", [join(REPO_ROOT, "scripts", "monitor-walg.sh"), "--no-postgres"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env, ...minioEnv(uniquePrefix("ops-monitor")), ALERT_COMMAND: `cat > ${alert}`, PROMETHEUS_TEXTFILE: prom },
      });
    } catch (error) {
      code = (error as { code: number }).code;
    }
    expect(code).toBe(2);
    expect(await readFile(alert, "utf8")).toMatch(/^wal-native check: CRITICAL \(1 critical\)\n.*no backups in s3:/s);
    expect(await readFile(prom, "utf8")).toMatch(/^walnative_check_status 2$/m);
  });

  it("is critical (exit 2) while MinIO is stopped", async () => {
    await stopMinio();
    let run: Run;
    try {
      run = await check(["--json"], { WALG_S3_MAX_RETRIES: "0" });
    } finally {
      await startMinio();
    }
    expect(run.code).toBe(2);
    const json = JSON.parse(run.stdout);
    expect(json.status).toBe("critical");
    expect(json.checks[0]).toMatchObject({ check: "storage", status: "critical" });
    expect(json.checks[0].message).toMatch(/^cannot reach s3:\/\/.+: .*(ECONNREFUSED|connect)/);
    expect(json.metrics.storage_up).toBe(0);
    expect(json.metrics.postgres_up).toBe(1);
  });

  it("is critical (exit 2) while archiving is stalled with .ready files waiting, and ok again once it recovers", async () => {
    await configure(cluster, { archive_command: `WALG_S3_PREFIX=s3://no-such-bucket-walnative/x ${archiveCommand}` });
    await psql(cluster, "select pg_reload_conf();");
    await psql(cluster, "insert into t select generate_series(1, 100); select pg_switch_wal();");
    await psql(cluster, "insert into t select generate_series(1, 100); select pg_switch_wal();");
    await waitFor(async () => Number(await psql(cluster, "select failed_count from pg_stat_archiver")) > 0, { what: "an archive failure" });
    const stalled = await check([]);
    expect(stalled.code, stalled.stdout).toBe(2);
    expect(stalled.stdout).toMatch(/warning +archiver +archive_command is failing: last failure [0-9A-F]{24} /);
    expect(stalled.stdout).toMatch(/critical +backlog +archiving stalled: [2-9] WAL files waiting in pg_wal, oldest [0-9A-F]{24} for \d+ s/);
    const prom = await check(["--prometheus"]);
    expect(prom.stdout).toMatch(/^walnative_archiver_failing 1$/m);
    expect(prom.stdout).toMatch(/^walnative_wal_ready_files [2-9]$/m);

    await configure(cluster, { archive_command: archiveCommand });
    await psql(cluster, "select pg_reload_conf();");
    await switchAndWaitArchived();
    await waitFor(async () => (await check([])).code === 0, { what: "check to be ok again", timeoutMs: 90_000, intervalMs: 1000 });
    expect((await check([])).stdout).toMatch(/ok +backlog +no WAL files waiting/);
  });

  it.skipIf(!WALG)(`counts a backup that wal-g backup-push adds to the archive${WALG_SKIP}`, async () => {
    const walg = join(workDir, "wal-g");
    await copyFile(WALG as string, walg);
    await chmod(walg, 0o755);
    const push = await runAsPostgres(walg, ["backup-push", cluster.data], {
      env: { ...env, HOME: workDir, PGHOST: cluster.root, PGPORT: String(cluster.port), PGDATA: cluster.data }, check: false,
    });
    expect(push.code, push.stderr).toBe(0);
    const run = await check(["--json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(json.metrics.backup_count).toBe(2);
    expect(json.checks[1].message).toMatch(/^newest of 2 backups is base_[0-9A-F]{24}, completed \d+ s ago \(sentinel FinishTime\)/);
  });

  it("refuses bad options with exit 64", async () => {
    const run = await check(["--max-archive-age", "soon"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("--max-archive-age: 'soon' is not a duration");
    expect((await check(["--json", "--prometheus"])).code).toBe(64);
  });
});
