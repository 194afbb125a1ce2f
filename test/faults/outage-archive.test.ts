// Storage outage while archiving: MinIO stopped for 30 s during a pgbench run on a real
// cluster whose archive_command is wal-archive. The archiver fails with a clear log line, pg_wal grows,
// nothing is lost, and the backlog drains once MinIO is back.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { listKeys, minioEnv, startMinio, stopMinio, uniquePrefix } from "../support/minio.js";
import { type Cluster, configure, initCluster, pgbench, psql, runAsPostgres, start, stop, waitFor } from "../support/postgres.js";
import { PG_BIN } from "../support/tools.js";
import { WalSegment } from "../../src/wal/file-name.js";
import { record } from "./results.js";
import { BIN } from "./tools.js";

const OUTAGE_S = 30;
const SEGMENT = 1024 * 1024;

async function readyCount(cluster: Cluster): Promise<number> {
  return (await readdir(join(cluster.data, "pg_wal", "archive_status"))).filter((name) => name.endsWith(".ready")).length;
}

async function walFiles(cluster: Cluster): Promise<number> {
  return (await readdir(join(cluster.data, "pg_wal"))).filter((name) => /^[0-9A-F]{24}$/.test(name)).length;
}

describe("MinIO stopped for 30 s while PostgreSQL archives", () => {
  it("fails loudly, keeps WAL, loses nothing, and drains the backlog when MinIO returns", async () => {
    const prefix = uniquePrefix("outage-archive");
    const cluster = await initCluster({ walSegSizeMb: 1 });
    await configure(cluster, { archive_mode: "on", archive_command: `${BIN}/wal-archive %p %f`, wal_keep_size: 0 });
    await start(cluster, {
      ...minioEnv(prefix),
      WALNATIVE_LOCAL_ARCHIVE: "",
      WALNATIVE_ARCHIVE_LOG: "",
      WALG_S3_MAX_RETRIES: "1",
      WALNATIVE_S3_TIMEOUT_SECONDS: "2",
    });
    // Segments completed by initdb were never archived; archiving starts with the one current at start-up.
    const startSegment = await psql(cluster, "select pg_walfile_name(pg_current_wal_lsn())");
    await pgbench(cluster, ["-i", "-s", "2", "-q"]);
    await psql(cluster, "select pg_switch_wal(); checkpoint;");
    await waitFor(async () => (await readyCount(cluster)) === 0, { what: "the initial archive to drain", timeoutMs: 60_000 });

    const bench = runAsPostgres(join(PG_BIN, "pgbench"), ["-h", cluster.root, "-p", String(cluster.port), "-c", "2", "-R", "600", "-T", String(OUTAGE_S + 25), "-n"]);
    await sleep(5_000);
    const baseline = { ready: await readyCount(cluster), wal: await walFiles(cluster) };
    let peak = { ready: 0, wal: 0 };
    const failedBefore = Number(await psql(cluster, "select failed_count from pg_stat_archiver"));
    await stopMinio();
    const stopped = Date.now();
    let back = 0;
    try {
      while (Date.now() - stopped < OUTAGE_S * 1000) {
        await sleep(1000);
        peak = { ready: Math.max(peak.ready, await readyCount(cluster)), wal: Math.max(peak.wal, await walFiles(cluster)) };
      }
    } finally {
      await startMinio();
      back = Date.now();
    }
    const failedDuring = Number(await psql(cluster, "select failed_count from pg_stat_archiver")) - failedBefore;
    await waitFor(async () => (await readyCount(cluster)) === 0, { what: "the backlog to drain", timeoutMs: 120_000, intervalMs: 250 });
    const catchUpMs = Date.now() - back;
    const benchResult = await bench;
    expect(benchResult.code, benchResult.stderr).toBe(0);

    // Nothing lost: after a final switch, every segment from the first to the last is in the archive.
    const last = await psql(cluster, "select pg_walfile_name(pg_switch_wal())");
    await waitFor(async () => (await psql(cluster, "select last_archived_wal from pg_stat_archiver")) >= last, {
      what: `${last} to be archived`,
      timeoutMs: 120_000,
    });
    const archived = (await listKeys(`${prefix}/wal_005/`)).map((key) => key.slice(key.lastIndexOf("/") + 1).replace(/\.lz4$/, ""));
    const segments = archived.filter((name) => /^[0-9A-F]{24}$/.test(name));
    const first = WalSegment.parse(segments[0] ?? "", SEGMENT).segmentNumber(SEGMENT);
    const lastNumber = WalSegment.parse(last, SEGMENT).segmentNumber(SEGMENT);
    const expected = Array.from({ length: Number(lastNumber - first) + 1 }, (_, i) =>
      WalSegment.fromSegmentNumber(1, first + BigInt(i), SEGMENT).toString(),
    );
    expect(segments[0]).toBe(startSegment);
    expect(segments).toEqual(expected);

    const log = await readFile(cluster.logFile, "utf8");
    const ourLines = log.split("\n").filter((line) => line.includes("wal-archive: error:"));
    const ourLine = ourLines.find((line) => /cannot .* s3:\/\/.*(ECONNREFUSED|connect)/.test(line)) ?? "";
    expect(ourLine, `wal-archive error lines in the server log:\n${ourLines.slice(0, 5).join("\n")}\n...log tail:\n${log.slice(-3000)}`).toMatch(
      /cannot .* s3:\/\/.*(ECONNREFUSED|connect)/,
    );
    expect(log).toMatch(/archive command failed with exit code 75/);
    expect(failedDuring).toBeGreaterThan(0);
    expect(peak.ready).toBeGreaterThan(baseline.ready + 3);
    await stop(cluster);
    record({
      scenario: "2 storage outage while archiving",
      check: `MinIO stopped ${OUTAGE_S} s during pgbench (1 MiB segments)`,
      outcome:
        "archive_command exited 75 with a one-line reason in PostgreSQL's log; .ready files and pg_wal grew; once MinIO was back the " +
        "backlog drained and the archive holds every segment from the first to the last, without a gap",
      figures: {
        "outage (s)": OUTAGE_S,
        "failed archive attempts": failedDuring,
        ".ready before outage": baseline.ready,
        ".ready peak": peak.ready,
        "pg_wal segments before / peak": `${baseline.wal} / ${peak.wal}`,
        "catch-up after MinIO returned (s)": catchUpMs / 1000,
        "segments archived": segments.length,
        "log line": ourLine.slice(0, 160),
      },
    });
  });
});
