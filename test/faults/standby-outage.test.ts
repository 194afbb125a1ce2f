// A standby that streams from its primary and reads the archive (restore_command = wal-restore), restarted while
// the store is down: it must come up and stream, stay up through a 2-minute outage, and catch up afterwards. Under
// the old default (exit 200 on a storage failure) PostgreSQL stopped it: `FATAL: could not restore file
// "00000002.history" from archive: child process exited with exit code 200`. The outage is a real one: this file's
// own MinIO, stopped and started again (the run's shared MinIO stays up for the other files).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBucket, freePort, killMinio, spawnMinio, type MinioInfo } from "../support/minio-server.js";
import { minioInfo } from "../support/minio.js";
import {
  type Cluster, basebackup, configure, initCluster, isRunning, logTail, makeWorkDir, psql, runAsPostgres, start, stop, waitFor,
} from "../support/postgres.js";
import { record } from "./results.js";
import { BIN } from "./tools.js";

const OUTAGE_MS = 120_000;

let store: MinioInfo;
let primary: Cluster;
let standby: Cluster;
let env: Record<string, string>;
let restoreLog: string;
let writer: pg.Client;

/** A MinIO of this file's own, on its own port and data directory. */
async function ownMinio(workDir: string): Promise<MinioInfo> {
  const shared = minioInfo();
  const stateDir = join(workDir, "minio");
  const port = await freePort();
  const info: MinioInfo = {
    ...shared,
    port,
    consolePort: await freePort(),
    endpoint: `http://127.0.0.1:${port}`,
    stateDir,
    dataDir: join(stateDir, "data"),
    pidFile: join(stateDir, "minio.pid"),
    logFile: join(stateDir, "minio.log"),
  };
  await spawnMinio(info);
  await createBucket(info);
  return info;
}

async function lsn(cluster: Cluster, expression: string): Promise<string> {
  return psql(cluster, `select ${expression}`);
}

/** True once the standby has replayed up to `target` (an LSN of the primary). */
async function replayedUpTo(target: string): Promise<boolean> {
  return (await psql(standby, `select pg_last_wal_replay_lsn() >= '${target}'::pg_lsn`)) === "t";
}

async function streaming(): Promise<boolean> {
  return (await psql(standby, "select count(*) from pg_stat_wal_receiver where status = 'streaming'")) === "1";
}

/** One small transaction on the primary, through a connection kept open for the whole file. */
async function write(round: number): Promise<void> {
  await writer.query("insert into t select g, $1 from generate_series(1, 200) g", [`round ${round}`]);
}

beforeAll(async () => {
  const workDir = await makeWorkDir("standby-outage");
  store = await ownMinio(workDir);
  env = {
    AWS_ENDPOINT: store.endpoint,
    AWS_ACCESS_KEY_ID: store.accessKey,
    AWS_SECRET_ACCESS_KEY: store.secretKey,
    AWS_REGION: store.region,
    AWS_S3_FORCE_PATH_STYLE: "true",
    WALG_S3_PREFIX: `s3://${store.bucket}/standby`,
    WALNATIVE_LOCAL_ARCHIVE: "",
    WALNATIVE_ARCHIVE_LOG: "",
  };
  primary = await initCluster({ workDir, walSegSizeMb: 1 });
  await configure(primary, { archive_mode: "on", archive_command: `${BIN}/wal-archive %p %f` });
  await start(primary, env);
  await psql(primary, "create table t (id int, pad text); insert into t select g, repeat('x', 200) from generate_series(1, 2000) g;");
  standby = await basebackup(primary, join(workDir, "standby"));
  // WAL the standby will read from the archive when it first starts.
  for (let round = 0; round < 4; round++) await psql(primary, "insert into t select g, repeat('y', 200) from generate_series(1, 2000) g; select pg_switch_wal();");
  const last = await psql(primary, "select pg_walfile_name(pg_switch_wal())");
  await waitFor(async () => (await psql(primary, "select last_archived_wal from pg_stat_archiver")) >= last, { what: "archiving", timeoutMs: 120_000 });

  const conninfo = `host=127.0.0.1 port=${primary.port} user=postgres application_name=standby`;
  await runAsPostgres(join(BIN, "wal-native"), ["restore-prepare", standby.data, "--standby", "--primary-conninfo", conninfo,
    "--restore-command", `${BIN}/wal-restore %f %p`, "--pg-bin", primary.bin]);
  await configure(standby, { archive_mode: "off", hot_standby: "on" });
  restoreLog = join(standby.root, "wal-restore.log");
  await start(standby, { ...env, WALNATIVE_RESTORE_LOG: restoreLog });
  await waitFor(streaming, { what: "the standby to stream" });
  const target = await lsn(primary, "pg_current_wal_lsn()");
  await waitFor(() => replayedUpTo(target), { what: "the standby to catch up" });
  writer = new pg.Client({ host: primary.root, port: primary.port, user: "postgres", database: "postgres" });
  writer.on("error", () => undefined); // the primary is stopped at the end, with the connection open
  await writer.connect();
}, 300_000);

afterAll(async () => {
  await writer?.end().catch(() => undefined);
  if (store) await killMinio(store);
});

describe("a standby that streams and reads the archive, restarted during a storage outage", () => {
  it("comes up and streams while the store is down for 2 minutes, and catches up after it", { timeout: 600_000 }, async () => {
    // Before the outage the standby did read the archive.
    expect(await readFile(restoreLog, "utf8")).toMatch(/restored [0-9A-F]{24} from (prefetch|s3:\/\/)/);

    await killMinio(store);
    const outageStarted = Date.now();
    let round = 0;
    let restarted: Awaited<ReturnType<typeof runAsPostgres>>;
    try {
      await stop(standby);
      await write(++round);
      restarted = await runAsPostgres(join(standby.bin, "pg_ctl"), ["-D", standby.data, "-l", standby.logFile, "-w", "-t", "120", "start"],
        { env: { ...env, WALNATIVE_RESTORE_LOG: restoreLog }, check: false });
      expect(restarted.code, `${restarted.stderr}\n${await logTail(standby)}`).toBe(0);
      const cameUpAfterMs = Date.now() - outageStarted;
      // One call waits out the short retry; the next ones (PostgreSQL asks the archive first for every segment it
      // replays from its own pg_wal) try once: 19 s here, against 66 s when each waited its own 10 s.
      expect(cameUpAfterMs).toBeLessThan(45_000);
      await waitFor(streaming, { what: "the standby to stream during the outage", timeoutMs: 60_000 });
      // For the rest of the outage the primary keeps writing, and the standby stays up and replays what it streams.
      let checks = 0;
      while (Date.now() - outageStarted < OUTAGE_MS) {
        await write(++round);
        const target = await lsn(primary, "pg_current_wal_lsn()");
        await waitFor(() => replayedUpTo(target), { what: `replay of ${target} during the outage`, timeoutMs: 30_000 });
        expect(await isRunning(standby)).toBe(true);
        checks += 1;
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
      expect(checks).toBeGreaterThan(10);
      record({
        scenario: "19 standbys",
        check: "standby restarted during a 2-minute MinIO outage",
        outcome: "wal-restore answered 'not found' (exit 1) after its short retry, the standby came up, streamed and stayed up",
        figures: { "outage (s)": Math.round((Date.now() - outageStarted) / 1000), "came up after (s)": Math.round(cameUpAfterMs / 1000) },
      });
    } finally {
      await spawnMinio(store);
    }
    const standbyLog = await readFile(standby.logFile, "utf8");
    expect(standbyLog).not.toMatch(/could not restore file .* from archive/);
    expect(standbyLog).toMatch(/wal-restore: error: .* \(exit 1, standby\.signal: "not in the archive" to PostgreSQL/);

    // After the outage: the primary's archiver catches up and the standby replays up to the primary's LSN.
    await write(++round);
    const after = await psql(primary, "select pg_walfile_name(pg_switch_wal())");
    await waitFor(async () => (await psql(primary, "select last_archived_wal from pg_stat_archiver")) >= after,
      { what: "the primary's archiver to catch up", timeoutMs: 120_000 });
    const target = await lsn(primary, "pg_current_wal_lsn()");
    await waitFor(() => replayedUpTo(target), { what: "the standby to catch up after the outage", timeoutMs: 60_000 });

    // And it reads the archive again: with streaming cut off, what the primary writes next reaches it through the archive.
    await configure(standby, { primary_conninfo: "" });
    await psql(standby, "select pg_reload_conf()");
    await waitFor(async () => !(await streaming()), { what: "streaming to stop" });
    const restoredBefore = (await readFile(restoreLog, "utf8")).match(/restored [0-9A-F]{24} from /g)?.length ?? 0;
    for (let i = 0; i < 3; i++) await psql(primary, "insert into t select g, 'z' from generate_series(1, 2000) g; select pg_switch_wal();");
    const archived = await psql(primary, "select pg_walfile_name(pg_switch_wal())");
    await waitFor(async () => (await psql(primary, "select last_archived_wal from pg_stat_archiver")) >= archived, { what: "archiving", timeoutMs: 120_000 });
    const rows = await psql(primary, "select count(*) from t");
    await waitFor(async () => (await psql(standby, "select count(*) from t")) === rows, { what: "replay from the archive", timeoutMs: 120_000 });
    const restoredAfter = (await readFile(restoreLog, "utf8")).match(/restored [0-9A-F]{24} from /g)?.length ?? 0;
    expect(restoredAfter).toBeGreaterThan(restoredBefore);
    expect(await streaming()).toBe(false);
    await stop(standby);
    await writer.end();
    await stop(primary);
  });
});
