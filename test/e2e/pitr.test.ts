// The runbook's recovery procedures on real processes: while pgbench writes and wal-archive archives to
// MinIO, a base backup is taken with PostgreSQL's low-level backup API (no wal-g needed) and, where wal-g
// is installed, wal-g takes a full and a delta backup too. wal-native restore-prepare (on a copy of the
// low-level backup, or with --fetch through wal-g backup-fetch) plus wal-restore then recover to every
// target type, and through a timeline switch to the newest data.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listKeys, minioEnv, uniquePrefix } from "../support/minio.js";
import { type BaseBackup, takeBaseBackup } from "../support/base-backup.js";
import { REPO_BIN } from "../support/paths.js";
import {
  type Cluster, clusterAt, configure, initCluster, isRunning, logTail, makeWorkDir, mkdirAsPostgres, pgbench, psql,
  runAsPostgres, start, stop, waitFor,
} from "../support/postgres.js";
import { NO_WALG, type PostgresWalg, walgBinary, walgForPostgres } from "../support/walg.js";

const LABELS = ["before-time", "after-time", "before-xid", "after-xid", "before-name", "after-name", "before-lsn", "after-lsn", "latest"];

/** wal-g's backups are an extra where wal-g is installed; the low-level backup is the proof everywhere. */
const WALG = walgBinary;
const WALG_SKIP = WALG ? "" : ` ${NO_WALG}`;

let workDir: string;
let walg: PostgresWalg;
let backup: BaseBackup;
let primary: Cluster;
let prefix: string;
let env: Record<string, string>;
const targets: Record<"time" | "xid" | "lsn", string> = { time: "", xid: "", lsn: "" };
const recovered: Cluster[] = [];

async function switchAndArchive(cluster: Cluster): Promise<string> {
  const segment = await psql(cluster, "select pg_walfile_name(pg_switch_wal());");
  await waitFor(async () => (await psql(cluster, "select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment,
    { what: `${segment} to be archived` });
  return segment;
}

/** The low-level backup API while pgbench writes; WAL comes from the archive only. */
async function lowLevelBackup(): Promise<BaseBackup> {
  const [taken] = await Promise.all([
    takeBaseBackup(primary, join(workDir, "low-level-backup", "data")),
    pgbench(primary, ["-n", "-T", "3", "-c", "2"]),
  ]);
  return taken;
}

async function backupPush(): Promise<void> {
  // pgbench writes throughout the backup; wal-g's pg_backup_stop waits for wal-archive to archive the end.
  const [push] = await Promise.all([walg.run(["backup-push", primary.data], env), pgbench(primary, ["-n", "-T", "3", "-c", "2"])]);
  expect(push.code, push.stderr).toBe(0);
}

async function marker(label: string): Promise<void> {
  await psql(primary, `insert into markers values ('${label}');`);
}

beforeAll(async () => {
  workDir = await makeWorkDir("pitr");
  await mkdirAsPostgres(join(workDir, "low-level-backup"));
  prefix = uniquePrefix("pitr");
  primary = await initCluster({ workDir });
  env = {
    ...minioEnv(prefix),
    WALNATIVE_LOCAL_ARCHIVE: "", // every recovery reads the bucket, not a local copy
    WALNATIVE_ARCHIVE_LOG: "",
    WALNATIVE_RESTORE_LOG: "",
    WALG_DELTA_MAX_STEPS: "3",
    PGHOST: primary.root,
    PGPORT: String(primary.port),
    PGUSER: "postgres",
    PGDATA: primary.data,
  };
  await configure(primary, { archive_mode: "on", archive_command: `${REPO_BIN}/wal-archive %p %f`, wal_level: "replica" });
  await start(primary, env);
  await pgbench(primary, ["-i", "-s", "1", "-q"]);
  await psql(primary, "create table markers (label text primary key, at timestamptz default clock_timestamp());");
  backup = await lowLevelBackup();
  if (WALG) {
    walg = await walgForPostgres();
    await backupPush(); // full
    await backupPush(); // delta (WALG_DELTA_MAX_STEPS)
  }

  await marker("before-time");
  await sleep(20); // commit timestamps have microsecond resolution; keep the target clearly between the two
  targets.time = await psql(primary, "select clock_timestamp()::text;");
  await sleep(20);
  await marker("after-time");
  targets.xid = await psql(primary, "begin; insert into markers values ('before-xid'); select txid_current(); commit;");
  await marker("after-xid");
  await marker("before-name");
  await psql(primary, "select pg_create_restore_point('pitr_point');");
  await marker("after-name");
  await marker("before-lsn");
  targets.lsn = await psql(primary, "select pg_current_wal_insert_lsn();");
  await marker("after-lsn");
  await marker("latest");
  await switchAndArchive(primary);
});

afterAll(async () => {
  for (const cluster of [...recovered, primary]) {
    if (cluster && (await isRunning(cluster))) await stop(cluster, "immediate").catch(() => undefined);
  }
});

type Source = "low-level" | "wal-g";

/**
 * The runbook's recovery into a new directory: a copy of the low-level backup then restore-prepare on it,
 * or restore-prepare --fetch LATEST (wal-g backup-fetch); start it, and wait for the promotion.
 */
async function recover(
  label: string, prepare: string[], opts: { source?: Source; archive?: boolean; before?: (data: string) => Promise<void> } = {},
): Promise<Cluster> {
  const root = await mkdirAsPostgres(join(workDir, label));
  const cluster = await clusterAt(root, primary);
  let fetch: string[] = [];
  if (opts.source === "wal-g") fetch = ["--fetch", "LATEST", "--walg", walg.binary];
  else await runAsPostgres("cp", ["-a", backup.dir, cluster.data]);
  const prepared = await runAsPostgres(join(REPO_BIN, "wal-native"),
    ["restore-prepare", cluster.data, ...fetch, ...prepare], { env: { ...env, HOME: workDir }, check: false });
  expect(prepared.code, prepared.stderr).toBe(0);
  // Archiving stays off unless asked: each promotion would otherwise add a timeline to the shared bucket.
  await configure(cluster, { port: cluster.port, unix_socket_directories: root, archive_mode: opts.archive ? "on" : "off" });
  await opts.before?.(cluster.data);
  recovered.push(cluster);
  await start(cluster, env);
  await waitFor(async () => (await psql(cluster, "select pg_is_in_recovery()")) === "f", { what: `${label} to finish recovery`, timeoutMs: 120_000 })
    .catch(async (error: unknown) => { throw new Error(`${(error as Error).message}\n${await logTail(cluster)}`); });
  return cluster;
}

async function labels(cluster: Cluster): Promise<string[]> {
  return (await psql(cluster, "select label from markers order by at;")).split("\n").filter(Boolean);
}

describe.skipIf(!WALG)(`wal-g on an archive written only by wal-archive${WALG_SKIP}`, () => {
  it("lists the full and the delta backup", async () => {
    const list = await walg.run(["backup-list", "--json"], env);
    expect(list.code, list.stderr).toBe(0);
    const names = (JSON.parse(list.stdout) as Array<{ backup_name: string }>).map((b) => b.backup_name);
    expect(names).toHaveLength(2);
    // A delta is named after its own start segment, then _D_ and its base's segment.
    expect(names[1]).toMatch(new RegExp(`^base_[0-9A-F]{24}_D_${names[0]?.slice("base_".length)}$`));
  });

  it("passes wal-g wal-verify integrity timeline and shows in wal-g wal-show", async () => {
    await switchAndArchive(primary);
    const verify = await walg.run(["wal-verify", "integrity", "timeline", "--json"], env);
    expect(verify.code, verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout) as {
      integrity: { status: string; details: Array<{ timeline_id: number; status: string; segments_count: number }> };
      timeline: { status: string; details: { current_timeline_id: number; highest_storage_timeline_id: number } };
    };
    // Anything not yet archived can only be the segment in progress (a checkpoint may have started one).
    expect(report.integrity.status, verify.stdout).toMatch(/^(OK|WARNING)$/);
    expect(report.integrity.details.filter((d) => d.status !== "FOUND").reduce((n, d) => n + d.segments_count, 0)).toBeLessThanOrEqual(1);
    expect(report.integrity.details.find((d) => d.status === "FOUND")?.segments_count).toBeGreaterThanOrEqual(3);
    expect(report.timeline).toEqual({ status: "OK", details: { current_timeline_id: 1, highest_storage_timeline_id: 1 } });

    const show = await walg.run(["wal-show", "--detailed-json"], env);
    expect(show.code, show.stderr).toBe(0);
    const [timeline, ...others] = JSON.parse(show.stdout) as Array<{ id: number; status: string; missing_segments: string[] | null; backups?: unknown[] }>;
    expect(others).toEqual([]);
    expect(timeline).toMatchObject({ id: 1, status: "OK" });
    expect(timeline?.missing_segments ?? []).toEqual([]);
    expect(timeline?.backups).toHaveLength(2);
  });
});

describe.each([
  ["a base backup taken with the low-level API", "", "low-level"],
  ["wal-g backup-fetch LATEST (a delta)", WALG_SKIP, "wal-g"],
] as const)("point-in-time recovery from %s plus wal-restore%s", (_name, skip, source) => {
  it.skipIf(skip !== "").each([
    ["recovery_target_time", () => ["--target-time", targets.time], "before-time"],
    ["recovery_target_xid", () => ["--target-xid", targets.xid], "before-xid"],
    ["recovery_target_name", () => ["--target-name", "pitr_point"], "before-name"],
    ["recovery_target_lsn", () => ["--target-lsn", targets.lsn], "before-lsn"],
    ["latest", () => ["--target-latest"], "latest"],
  ] as const)("%s keeps exactly the rows up to the target", async (target, args, last) => {
    const cluster = await recover(`${source}-${target}`, [...args()], { source });
    expect(await labels(cluster)).toEqual(LABELS.slice(0, LABELS.indexOf(last) + 1));
    // The pgbench rows written during the backups came back too (not just the markers).
    expect(Number(await psql(cluster, "select count(*) from pgbench_history"))).toBeGreaterThan(0);
    await stop(cluster);
  });
});

describe("timeline switch", () => {
  it("recovers through 00000002.history to the newest data on timeline 2", async () => {
    // Site failure with pg_wal saved: the old primary's last segment was never archived. Recovery
    // takes it from pg_wal after wal-restore reports it absent (74), ends mid-segment and promotes:
    // timeline 2, with that segment archived as .partial next to 00000002.history.
    await psql(primary, "insert into markers values ('unarchived');");
    const open = await psql(primary, "select pg_walfile_name(pg_current_wal_lsn());");
    await stop(primary, "immediate"); // a crash: a clean shutdown would switch and archive that segment
    const branch = await recover("timeline-2", ["--target-latest"], {
      archive: true,
      before: async (data) => { await runAsPostgres("cp", [join(primary.data, "pg_wal", open), join(data, "pg_wal", open)]); },
    });
    expect(await psql(branch, "select timeline_id from pg_control_checkpoint();")).toBe("2");
    expect(await labels(branch)).toEqual([...LABELS, "unarchived"]);
    await psql(branch, "insert into markers values ('on-timeline-2');");
    await switchAndArchive(branch);
    const keys = await listKeys(`${prefix}/wal_005/`);
    expect(keys).toContain(`${prefix}/wal_005/00000002.history.lz4`);
    expect(keys, keys.join("\n")).toContain(`${prefix}/wal_005/${open}.partial.lz4`);
    expect(keys).toContain(`${prefix}/wal_005/00000002${open.slice(8)}.lz4`);
    await stop(branch);

    const newest = await recover("timeline-latest", ["--target-latest", "--target-timeline", "latest"]);
    expect(await labels(newest)).toEqual([...LABELS, "unarchived", "on-timeline-2"]);
    // It followed timeline 2 and then promoted to a new one.
    expect(await psql(newest, "select timeline_id from pg_control_checkpoint();")).toBe("3");
    await stop(newest);
  });
});
