// Archiver lag under full write speed: `pgbench -i -s <scale>` on a fresh cluster whose archive_command
// is the tool under test (MinIO, lz4). Every 100 ms the number of archive_status/*.ready files (segments
// complete but not yet archived) is sampled; the report gives the maximum, pgbench's duration and how
// long the archiver needed afterwards to drain the backlog.
import { copyFileSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { killMarked } from "./lib/cleanup.mjs";
import { s3Env } from "./lib/minio.mjs";
import { clusterAt, configure, freePort, initdb, isRunning, pgbench, psql, start, stop } from "./lib/pg.mjs";
import { mkdirForPostgres, postgresEnv, TIME_BIN } from "./lib/proc.mjs";
import { queueFacts, watchQueue } from "./lib/ready-queue.mjs";
import { readWrapperFile, sampleMarked } from "./lib/rss.mjs";
import { longestUpload } from "./lib/upload-log.mjs";

/**
 * tool: "ours" | "wal-g"; key names the run's files (default: the tool).
 * Returns { maxReady, pgbenchMs, drainMs, archived, failed, peakRssKb, ...queueFacts, longestUploadMs, longestUploadStorageMs (ours) }.
 */
export async function pgbenchLag(ctx, { tool, key = tool, endpoint, prefix, scale }) {
  const root = mkdirForPostgres(join(ctx.workDir, `pgbench-${key}`));
  const cluster = clusterAt(root, await freePort());
  const scenarioEnv = { WALNATIVE_BENCH_SCENARIO: `${ctx.runId}-pgbench-${key}` };
  const callsFile = join(root, "calls.time");
  const command = tool === "ours" ? `${ctx.tools.walArchive} %p %f` : `${ctx.tools.walg} wal-push %p`;
  try {
    await initdb(cluster);
    configure(cluster, {
      wal_level: "replica", archive_mode: "on", shared_buffers: "128MB",
      archive_command: `${TIME_BIN} -f '%%e %%M' -a -o ${callsFile} ${command}`,
    });
    // Debug level puts each upload's duration in the uploader's log (two lines per segment).
    const env = postgresEnv({
      ...ctx.markerEnv, ...scenarioEnv, ...ctx.toolSettings, ...s3Env(endpoint, prefix), WALG_COMPRESSION_METHOD: "lz4",
      ...(tool === "ours" ? { WALNATIVE_LOG_LEVEL: "debug" } : {}),
    }, ctx.toolsDir);
    await start(cluster, env);
    const status = join(cluster.data, "pg_wal", "archive_status");
    const readyCount = () => readdirSync(status).filter((f) => f.endsWith(".ready")).length;
    let maxReady = 0;
    // The whole series stays in results.json: [ms since the start, .ready files, .done files], to see where
    // in the load the archiver fell behind (results.json only).
    const series = [];
    const poll = setInterval(() => {
      const entries = readdirSync(status);
      const ready = entries.filter((f) => f.endsWith(".ready")).length;
      maxReady = Math.max(maxReady, ready);
      series.push([Math.round(performance.now() - started), ready, entries.filter((f) => f.endsWith(".done")).length]);
    }, 100);
    const started = performance.now();
    const queue = watchQueue(status, started);
    const sampler = sampleMarked(scenarioEnv);
    let pgbenchMs;
    let drainMs;
    try {
      await pgbench(cluster, ["-i", "-q", "-s", String(scale), "postgres"]);
      pgbenchMs = performance.now() - started;
      await psql(cluster, "select pg_switch_wal()");
      drainMs = await drain(readyCount, started + pgbenchMs);
    } finally {
      clearInterval(poll);
      queue.close();
    }
    const helperRssKb = sampler.stop();
    const [archived, failed] = (await psql(cluster, "select archived_count, failed_count from pg_stat_archiver")).split("|").map(Number);
    const calls = readWrapperFile(readFileSync(callsFile, "utf8"));
    return {
      maxReady, series, pgbenchMs, drainMs, archived, failed, helperRssKb, peakRssKb: Math.max(...calls.map((c) => c.kb), ...Object.values(helperRssKb)),
      ...queueFacts(queue.times),
      // [segment, ms when .ready appeared, ms when .done did], for a closer look (results.json only).
      queue: [...queue.times].map(([name, t]) => [name, t.ready === undefined ? null : Math.round(t.ready), t.done === undefined ? null : Math.round(t.done)]),
      // Of the longest upload, the time after compression: the store's write (and its checks).
      ...(tool === "ours" ? longestUploadOf(cluster.data) : {}),
    };
  } finally {
    if (isRunning(cluster)) await stop(cluster, "immediate").catch(() => undefined);
    killMarked(`WALNATIVE_BENCH_SCENARIO=${scenarioEnv.WALNATIVE_BENCH_SCENARIO}`, 3000);
    // The uploader's log and the server's (its checkpoints) stay in the work dir (kept with --keep).
    keepCopy(join(cluster.data, "pg_wal", ".wal-native", "uploader.log"), join(ctx.workDir, `pgbench-${key}.uploader.log`)); // wal-g: none
    keepCopy(cluster.logFile, join(ctx.workDir, `pgbench-${key}.postgres.log`));
    rmSync(root, { recursive: true, force: true });
  }
}

function keepCopy(from, to) {
  try {
    copyFileSync(from, to);
  } catch {
    // nothing to keep: the scenario's own error says why
  }
}

/** Waits until no .ready file is left; returns the ms since `since`. */
async function drain(readyCount, since, timeoutMs = 15 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (readyCount() > 0) {
    if (Date.now() > deadline) throw new Error(`archiver still ${readyCount()} files behind after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
  return performance.now() - since;
}

/** The slowest upload in our uploader's log, and its wait for the store. */
function longestUploadOf(dataDir) {
  try {
    return longestUpload(readFileSync(join(dataDir, "pg_wal", ".wal-native", "uploader.log"), "utf8"));
  } catch {
    return {};
  }
}
