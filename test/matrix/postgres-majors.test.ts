// The archive and restore paths on every PostgreSQL major from 13 to 18, on real servers (the npm
// packages postgres-bin-<major>): archiving under pgbench with wal-archive (lz4, then brotli), a base
// backup with the low-level API, recovery with restore-prepare + wal-restore to a restore point and to the
// latest state, a timeline switch, and the header check on that major's real WAL. Kept short: scale-1
// pgbench runs of a few seconds, and pg_switch_wal() to close segments.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BaseBackup, takeBaseBackup } from "../support/base-backup.js";
import { listKeys, minioEnv, uniquePrefix } from "../support/minio.js";
import { REPO_BIN } from "../support/paths.js";
import {
  type Cluster, clusterAt, configure, initCluster, isRunning, logTail, makeWorkDir, mkdirAsPostgres, pgbench, psql,
  runAsPostgres, start, stop, waitFor,
} from "../support/postgres.js";
import { PG_MAJORS } from "../support/tools.js";
import { WalSegment } from "../../src/wal/file-name.js";
import { PAGE_MAGIC_BY_VERSION, checkSegmentHeader, readSegmentHeader } from "../../src/wal/segment-check.js";

const ARCHIVE = `${REPO_BIN}/wal-archive %p %f`;
/** WALNATIVE_TEST_MAJORS=16,18 runs only those (while working on one); npm test runs all. */
const MAJORS = process.env["WALNATIVE_TEST_MAJORS"]?.split(",").map(Number) ?? [...PG_MAJORS];

describe.each(MAJORS)("PostgreSQL %i", (major) => {
  let workDir: string;
  let prefix: string;
  let env: Record<string, string>;
  let primary: Cluster;
  let backup: BaseBackup;
  const clusters: Cluster[] = [];

  async function switchAndArchive(cluster: Cluster): Promise<string> {
    const segment = await psql(cluster, "select pg_walfile_name(pg_switch_wal());");
    await waitFor(async () => (await psql(cluster, "select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment,
      { what: `${segment} to be archived (PostgreSQL ${major})`, timeoutMs: 90_000 })
      .catch(async (error: unknown) => { throw new Error(`${(error as Error).message}\n${await logTail(cluster)}`); });
    return segment;
  }

  async function labels(cluster: Cluster): Promise<string[]> {
    return (await psql(cluster, "select label from markers order by at;")).split("\n").filter(Boolean);
  }

  /** A copy of the base backup, prepared by restore-prepare against this major's binaries, started and promoted. */
  async function recover(label: string, target: string[], opts: { archive?: boolean } = {}): Promise<Cluster> {
    const cluster = await clusterAt(await mkdirAsPostgres(join(workDir, label)), primary);
    clusters.push(cluster);
    await runAsPostgres("cp", ["-a", backup.dir, cluster.data]);
    const prepared = await runAsPostgres(join(REPO_BIN, "wal-native"),
      ["restore-prepare", cluster.data, "--pg-bin", cluster.bin, ...target], { env, check: false });
    expect(prepared.code, prepared.stderr).toBe(0);
    await configure(cluster, {
      port: cluster.port, unix_socket_directories: cluster.root, archive_mode: opts.archive ? "on" : "off",
      archive_command: `WALG_COMPRESSION_METHOD=brotli ${ARCHIVE}`,
    });
    await start(cluster, env);
    await waitFor(async () => (await psql(cluster, "select pg_is_in_recovery()")) === "f", { what: `${label} to promote`, timeoutMs: 120_000 })
      .catch(async (error: unknown) => { throw new Error(`${(error as Error).message}\n${await logTail(cluster)}`); });
    return cluster;
  }

  beforeAll(async () => {
    workDir = await makeWorkDir(`matrix-${major}`);
    prefix = uniquePrefix(`matrix-pg${major}`);
    env = { ...minioEnv(prefix), WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "" };
    primary = await initCluster({ workDir, major });
    await configure(primary, { archive_mode: "on", archive_command: ARCHIVE, wal_level: "replica" });
    await start(primary, { ...env, WALG_COMPRESSION_METHOD: "lz4" });
  });

  afterAll(async () => {
    for (const cluster of [...clusters, primary]) {
      if (cluster && (await isRunning(cluster))) await stop(cluster, "immediate").catch(() => undefined);
    }
  });

  it("runs the npm package's server binaries of this major", async () => {
    expect(await psql(primary, "select current_setting('server_version_num')::int / 10000")).toBe(String(major));
  });

  it("archives under pgbench with wal-archive (lz4)", async () => {
    await pgbench(primary, ["-i", "-s", "1", "-q"]);
    await psql(primary, "create table markers (label text primary key, at timestamptz default clock_timestamp());");
    await pgbench(primary, ["-n", "-T", "2", "-c", "2"]);
    const last = await switchAndArchive(primary);
    const keys = await listKeys(`${prefix}/wal_005/`);
    expect(keys).toContain(`${prefix}/wal_005/${last}.lz4`);
    expect(keys.filter((key) => !key.endsWith(".lz4"))).toEqual([]);
  });

  it("takes a base backup with the low-level API while pgbench writes", async () => {
    await mkdirAsPostgres(join(workDir, "backup"));
    [backup] = await Promise.all([
      takeBaseBackup(primary, join(workDir, "backup", "data")),
      pgbench(primary, ["-n", "-T", "2", "-c", "2"]),
    ]);
    const label = await readFile(join(backup.dir, "backup_label"), "utf8");
    expect(label).toContain(`START WAL LOCATION: ${backup.startLsn} (file ${backup.startSegment})`);
    expect(await readFile(join(backup.dir, "PG_VERSION"), "utf8")).toBe(`${major}\n`);
    // The stop call waited for the backup history file and the last segment to be archived.
    const keys = await listKeys(`${prefix}/wal_005/${backup.startSegment}.`);
    expect(keys.some((key) => /\.[0-9A-F]{8}\.backup\.lz4$/.test(key)), keys.join("\n")).toBe(true);
    expect(await listKeys(`${prefix}/wal_005/${backup.stopSegment}.lz4`)).toHaveLength(1);
  });

  it("archives under pgbench with wal-archive (brotli), around a restore point", async () => {
    await psql(primary, "insert into markers values ('after-backup');");
    await configure(primary, { archive_command: `WALG_COMPRESSION_METHOD=brotli ${ARCHIVE}` });
    await psql(primary, "select pg_reload_conf();");
    await switchAndArchive(primary); // the next segment is the first one archived with brotli
    await psql(primary, "insert into markers values ('before-point');");
    await psql(primary, "select pg_create_restore_point('matrix_point');");
    await psql(primary, "insert into markers values ('after-point');");
    await pgbench(primary, ["-n", "-T", "2", "-c", "2"]);
    const last = await switchAndArchive(primary);
    const keys = await listKeys(`${prefix}/wal_005/`);
    expect(keys).toContain(`${prefix}/wal_005/${last}.br`);
    expect(keys.filter((key) => key.endsWith(".lz4")).length).toBeGreaterThan(0);
    expect(await psql(primary, "select failed_count from pg_stat_archiver")).toBe("0");
  });

  it("recovers to the restore point (restore-prepare --target-name, wal-restore from lz4 and brotli objects)", async () => {
    const cluster = await recover("to-point", ["--target-name", "matrix_point"]);
    expect(await labels(cluster)).toEqual(["after-backup", "before-point"]);
    await stop(cluster);
  });

  it("recovers to the latest state with every pgbench transaction", async () => {
    const cluster = await recover("to-latest", ["--target-latest"]);
    expect(await labels(cluster)).toEqual(["after-backup", "before-point", "after-point"]);
    const count = "select count(*) from pgbench_history";
    expect(await psql(cluster, count)).toBe(await psql(primary, count));
    await stop(cluster);
  });

  it("follows a timeline switch: a promoted recovery archives 00000002.history, a later recovery ends on its data", async () => {
    const branch = await recover("timeline-2", ["--target-latest"], { archive: true });
    expect(await psql(branch, "select timeline_id from pg_control_checkpoint();")).toBe("2");
    await psql(branch, "insert into markers values ('on-timeline-2');");
    const last = await switchAndArchive(branch);
    expect(last.slice(0, 8)).toBe("00000002");
    const keys = await listKeys(`${prefix}/wal_005/`);
    expect(keys).toContain(`${prefix}/wal_005/00000002.history.br`);
    expect(keys).toContain(`${prefix}/wal_005/${last}.br`);
    await stop(branch);

    const newest = await recover("timeline-latest", ["--target-latest", "--target-timeline", "latest"]);
    expect(await labels(newest)).toEqual(["after-backup", "before-point", "after-point", "on-timeline-2"]);
    expect(await psql(newest, "select timeline_id from pg_control_checkpoint();")).toBe("3");
    await stop(newest);
  });

  it(`writes WAL whose header passes our check, with this major's page magic`, async () => {
    const segments = (await readdir(join(primary.data, "pg_wal"))).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
    const name = segments[0] as string;
    const page = (await readFile(join(primary.data, "pg_wal", name))).subarray(0, 8192);
    const header = readSegmentHeader(page, name);
    // The table in src/wal/segment-check.ts names this major for the magic its real WAL carries.
    expect(`0x${header.magic.toString(16)}`).toBe(`0x${(PAGE_MAGIC_BY_VERSION[major] ?? 0).toString(16)}`);
    const segmentSize = 16 * 1024 * 1024;
    checkSegmentHeader(header, WalSegment.parse(name, segmentSize), segmentSize, name);
    expect(header.systemIdentifier).toBe(BigInt(await psql(primary, "select system_identifier from pg_control_system()")));
    expect(header.segmentSize).toBe(segmentSize);
  });
});
