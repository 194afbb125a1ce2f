// wal-native check brought into each state for real: healthy, an old backup, MinIO down, archiving stalled, and
// --switch proving (or disproving) that a segment PostgreSQL finishes now reaches storage intact.
// The healthy cluster's backup is taken with the low-level backup API and recorded in basebackups_005/ as
// wal-g records its own (sentinel and metadata.json), so that no wal-g is needed; where wal-g is found, a
// backup it pushes into the same archive must be counted too.
import { execFile } from "node:child_process";
import { chmod, copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listKeys, minioEnv, minioInfo, putObject, startMinio, stopMinio, uniquePrefix } from "../support/minio.js";
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
    expect(text.stdout).toMatch(/ok +settings +archive_mode = on, wal_level = replica, archive_command runs wal-archive, archive_timeout = 0 \(/);
    expect(text.stdout).toMatch(/ok +storage +s3:\/\/.+ reachable/);
    expect(text.stdout).toMatch(/ok +usage +wal_005\/ \d+ objects?, [\d.]+ [KM]?i?B, segments [0-9A-F]{24} to [0-9A-F]{24}; basebackups_005\/ 2 objects, /);
    expect(text.stdout).toMatch(/ok +backups +newest of 1 backup is base_[0-9A-F]{24}, completed \d+ s ago \(sentinel FinishTime\)/);
    expect(text.stdout).toMatch(/ok +archiver +last archived [0-9A-F]{24}\S* \d+ s ago \(\d+ archived, 0 failed\)/);
    expect(text.stdout).toMatch(/ok +backlog +no WAL files waiting to be archived/);
    expect(text.stdout).toMatch(/ok +local archive +\d+ files?, /);
    expect(text.stdout).not.toContain("switch");

    const json = JSON.parse((await check(["--json"])).stdout);
    expect(json.status).toBe("ok");
    expect(json.checks.map((c: { check: string }) => c.check)).toEqual(["settings", "storage", "usage", "backups", "archiver", "backlog", "local archive"]);
    expect(json.metrics).toMatchObject({ storage_up: 1, backup_count: 1, postgres_up: 1, archiver_failing: 0, wal_ready_files: 0, archive_timeout_seconds: 0 });
    expect(json.settings).toEqual({ archive_mode: "on", wal_level: "replica", archive_command: archiveCommand, archive_library: "", archive_timeout_seconds: 0 });
    // The usage is what a listing of the bucket shows.
    const walKeys = await listKeys(`${prefix}/wal_005/`);
    const segments = walKeys.map((key) => /\/([0-9A-F]{24})\.lz4$/.exec(key)?.[1]).filter((name) => name !== undefined).sort();
    expect(json.usage.wal_005).toMatchObject({ objects: walKeys.length, oldest: { name: segments[0] }, newest: { name: segments.at(-1) } });
    expect(json.usage.wal_005.bytes).toBeGreaterThan(0);
    expect(json.usage.basebackups_005.objects).toBe((await listKeys(`${prefix}/basebackups_005/`)).length);
    expect(json.metrics.storage_wal_objects).toBe(walKeys.length);

    const file = join(workDir, "walnative.prom");
    const prom = await check(["--prometheus", "--output", file]);
    expect(prom.code).toBe(0);
    expect(prom.stdout).toBe("");
    const metrics = await readFile(file, "utf8");
    expect(metrics).toContain("# TYPE walnative_check_status gauge\nwalnative_check_status 0\n");
    expect(metrics).toContain('walnative_check_result{check="local_archive"} 0\n');
    expect(metrics).toContain('walnative_check_result{check="settings"} 0\n');
    expect(metrics).toMatch(/^walnative_backup_count 1$/m);
    expect(metrics).toMatch(/^walnative_last_backup_age_seconds \d+(\.\d+)?$/m);
    expect(metrics).toMatch(/^walnative_archiver_archived_count [1-9]\d*$/m);
    expect(metrics).toMatch(new RegExp(`^walnative_storage_wal_objects ${walKeys.length}$`, "m"));
    expect(metrics).toMatch(/^walnative_storage_wal_range_info\{oldest="[0-9A-F]{24}",newest="[0-9A-F]{24}"\} 1$/m);
  });

  it("--switch: the forced segment is archived, read back, verified against pg_wal and timed (exit 0)", async () => {
    const before = await psql(cluster, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
    const run = await check(["--switch"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const line = /ok +switch +([0-9A-F]{24}) archived (\d+) ms after pg_switch_wal\(\), read back and verified in (\d+) ms \(wal_005\/\1\.lz4, [\d.]+ [KM]iB for 16\.0 MiB; XXH64 recorded at archive time matches; identical to pg_wal's copy\)/.exec(run.stdout);
    expect(line, run.stdout).not.toBeNull();
    // A new segment, which PostgreSQL has archived and storage holds.
    const segment = line?.[1] as string;
    expect(segment > before).toBe(true);
    expect(await psql(cluster, "select last_archived_wal from pg_stat_archiver")).toBe(segment);
    expect(await listKeys(`${prefix}/wal_005/${segment}`)).toEqual([`${prefix}/wal_005/${segment}.lz4`]);

    const json = JSON.parse((await check(["--switch", "--json"])).stdout);
    expect(json.checks.map((c: { check: string }) => c.check)).toEqual(["settings", "switch", "storage", "usage", "backups", "archiver", "backlog", "local archive"]);
    expect(json.switch).toEqual({ segment: expect.stringMatching(/^[0-9A-F]{24}$/), ok: true });
    expect(json.metrics.switch_ok).toBe(1);
    expect(json.metrics.switch_archive_seconds).toBeGreaterThan(0);
    expect(json.metrics.switch_verify_seconds).toBeGreaterThan(0);
    // The usage was counted after the switch: it includes the new segment.
    expect(json.usage.wal_005.newest.name).toBe(json.switch.segment);
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

  it("warns (exit 1) before the first backup: archiving can be proven before there is anything to restore", async () => {
    const run = await check(["--no-postgres"], minioEnv(uniquePrefix("ops-check-none")));
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^wal-native check: WARNING \(1 warning\)\n/);
    expect(run.stdout).toMatch(/warning +backups +no base backup in s3:\/\/\S+ yet: nothing to restore from until one exists \(wal-g backup-push --full\)/);
    expect(run.stdout).toMatch(/ok +usage +wal_005\/ 0 objects, 0 B, no WAL segment yet; basebackups_005\/ 0 objects, 0 B/);
    expect(run.stdout).not.toContain("archiver");
  });

  it("names an invalid bucket name as the cause when storage refuses the listing", async () => {
    const run = await check(["--no-postgres"], { WALG_S3_PREFIX: "s3://ab/x", WALG_S3_MAX_RETRIES: "0" });
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toMatch(/critical +storage +cannot reach s3:\/\/ab\/x\/: .*; 'ab' is not a valid bucket name: it has 2 characters; a bucket name has 3 to 63/);
  });

  it("monitor-walg.sh runs check once, alerts through ALERT_COMMAND, writes the textfile, and exits with check's code", async () => {
    const alert = join(workDir, "alert.txt");
    const prom = join(workDir, "monitor.prom");
    // WAL_NATIVE names the tool the script runs: a wrapper that counts its runs.
    const runs = join(workDir, "monitor-runs.txt");
    const wrapper = join(workDir, "counting-wal-native");
    await writeFile(wrapper, `#!/bin/sh\necho run >> ${runs}\nexec ${join(REPO_BIN, "wal-native")} "$@"\n`, { mode: 0o755 });
    let code = 0;
    try {
      await promisify(execFile)("sh", [join(REPO_ROOT, "scripts", "monitor-walg.sh"), "--no-postgres"], {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin", ...env, ...minioEnv(uniquePrefix("ops-monitor")),
          ALERT_COMMAND: `cat > ${alert}`, PROMETHEUS_TEXTFILE: prom, WAL_NATIVE: wrapper,
        },
      });
    } catch (error) {
      code = (error as { code: number }).code;
    }
    expect(code).toBe(1);
    expect(await readFile(alert, "utf8")).toMatch(/^wal-native check: WARNING \(1 warning\)\n.*no base backup in s3:/s);
    expect(await readFile(prom, "utf8")).toMatch(/^walnative_check_status 1$/m);
    expect(await readFile(runs, "utf8")).toBe("run\n");
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
    const storage = json.checks.find((c: { check: string }) => c.check === "storage");
    expect(storage).toMatchObject({ check: "storage", status: "critical" });
    expect(storage.message).toMatch(/^cannot reach s3:\/\/.+: .*(ECONNREFUSED|connect)/);
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
    expect(json.checks.find((c: { check: string }) => c.check === "backups").message).toMatch(/^newest of 2 backups is base_[0-9A-F]{24}, completed \d+ s ago \(sentinel FinishTime\)/);
  });

  it("refuses bad options with exit 64", async () => {
    const run = await check(["--max-archive-age", "soon"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("--max-archive-age: 'soon' is not a duration");
    expect((await check(["--json", "--prometheus"])).code).toBe(64);
  });
});

/**
 * --switch where archiving does not work, each cause named. This cluster runs without the background uploader
 * (WALNATIVE_UPLOADER=off), so that a file is stored only by PostgreSQL's own call of archive_command: an uploader
 * started under an earlier archive_command would go on storing files with that command's environment.
 */
describe("wal-native check --switch where archiving does not work", () => {
  let broken: Cluster;
  let brokenEnv: Record<string, string>;

  async function checkBroken(args: string[]): Promise<Run> {
    try {
      const { stdout, stderr } = await promisify(execFile)(join(REPO_BIN, "wal-native"), ["check", "--switch", "--no-wal-usage", ...args], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...brokenEnv, PGHOST: broken.root, PGPORT: String(broken.port), PGUSER: "postgres" },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  async function setArchiveCommand(command: string): Promise<void> {
    await psql(broken, `alter system set archive_command = '${command.replaceAll("'", "''")}'; select pg_reload_conf();`);
    await waitFor(async () => (await psql(broken, "show archive_command")) === command, { what: "the new archive_command" });
  }

  beforeAll(async () => {
    const dir = await makeWorkDir("ops-check-switch");
    brokenEnv = {
      ...minioEnv(uniquePrefix("ops-check-switch")), WALNATIVE_UPLOADER: "off",
      WALNATIVE_LOCAL_ARCHIVE: await mkdirAsPostgres(join(dir, "wal_archive")), WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "",
    };
    broken = await initCluster({ workDir: dir });
    await configure(broken, { archive_mode: "off", archive_command: archiveCommand });
    await start(broken, brokenEnv);
  });

  afterAll(async () => {
    if (broken) await stop(broken).catch(() => undefined);
  });

  it("does not try while archive_mode is off, and says why (exit 2)", async () => {
    const run = await checkBroken([]);
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toMatch(/critical +settings +archive_mode = off: PostgreSQL archives nothing; set archive_mode = on and restart\n/);
    expect(run.stdout).toMatch(/critical +switch +not attempted: archive_mode = off: /);
    expect(run.stdout).toMatch(/ok +archiver +not running \(archive_mode = off, see settings\)/);
  });

  it("names a command that reports success without storing anything here", async () => {
    await configure(broken, { archive_mode: "on", archive_command: "true" });
    await stop(broken);
    await start(broken, brokenEnv);
    const run = await checkBroken([]);
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toMatch(/warning +settings +archive_command = 'true' does not run wal-archive/);
    expect(run.stdout).toMatch(/critical +switch +PostgreSQL reports ([0-9A-F]{24}) archived, but s3:\/\/\S+ does not hold it: archive_command writes somewhere else/);
  });

  it("gives up after PostgreSQL's three failed tries and points at the logs, well before the timeout", async () => {
    await setArchiveCommand(`WALG_S3_PREFIX=s3://${minioInfo().bucket}-missing/x ${archiveCommand}`);
    const started = Date.now();
    const run = await checkBroken(["--switch-timeout", "120s"]);
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toMatch(/critical +switch +archive_command failed [3-9] times since the switch, for [0-9A-F]{24}; the reason is in the server log and in wal-archive's log/);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("times out with what it saw when archive_command hangs", async () => {
    await setArchiveCommand("sleep 4");
    const run = await checkBroken(["--switch-timeout", "1s"]);
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toMatch(/critical +switch +[0-9A-F]{24} was not archived within 1 s of pg_switch_wal\(\): /);
  });

  it("passes again once archive_command is wal-archive (exit 1: no base backup yet, the only warning)", async () => {
    await setArchiveCommand(archiveCommand);
    const run = await checkBroken(["--switch-timeout", "90s"]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^wal-native check: WARNING \(1 warning\)\n/);
    expect(run.stdout).toMatch(/ok +switch +[0-9A-F]{24} archived \d+ ms after pg_switch_wal\(\), read back and verified in \d+ ms/);
    expect(run.stdout).toMatch(/warning +backups +no base backup in /);
  });
});
