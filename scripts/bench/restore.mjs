// Restore scenario: a real PostgreSQL 15 recovery from the cached base backup through the N archived
// segments, to the end of the archive (no target: recovery ends when the next segment is not found,
// then the server promotes). Wall time runs from `pg_ctl start` to the log line of the promoted server
// "database system is ready to accept connections" (millisecond UTC log timestamps), after which
// pg_is_in_recovery() must be false and every one of the N segments must have been restored.
import { chmodSync, copyFileSync, linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { copyTree } from "./archive.mjs";
import { killMarked } from "./lib/cleanup.mjs";
import { startDaemon } from "./lib/daemon.mjs";
import { s3Env } from "./lib/minio.mjs";
import { clusterAt, configure, freePort, isRunning, logTail, logTimestamp, psql, start, stop } from "./lib/pg.mjs";
import { chownTreeToPostgres, median, mkdirForPostgres, postgresEnv, TIME_BIN } from "./lib/proc.mjs";
import { readWrapperFile, sampleMarked } from "./lib/rss.mjs";
import { warmPagePool } from "./lib/page-pool.mjs";

const READY = /database system is ready to accept connections\s*$/;
const FAILED = /\b(FATAL|PANIC):/;

/**
 * One recovery. scenario: { key, tool: "cp"|"wal-g"|"ours"|"wal-g daemon", endpoint?, prefix?, cpDir? }.
 * Returns { wallMs, restored, redoDone, callMs: { median }, peakRssKb, helperRssKb }.
 */
export async function restoreRun(ctx, data, scenario) {
  const root = mkdirForPostgres(join(ctx.workDir, `restore-${scenario.key}`));
  const cluster = clusterAt(root, await freePort());
  const scenarioEnv = { WALNATIVE_BENCH_SCENARIO: `${ctx.runId}-${scenario.key}` };
  let daemon;
  try {
    copyTree(data.base, cluster.data);
    writeFileSync(join(cluster.data, "recovery.signal"), "");
    chownTreeToPostgres(cluster.data);
    chmodSync(cluster.data, 0o700);
    const env = postgresEnv({
      ...ctx.markerEnv, ...scenarioEnv, ...ctx.toolSettings, WALG_COMPRESSION_METHOD: "lz4",
      ...(scenario.tool === "cp" ? {} : s3Env(scenario.endpoint, scenario.prefix)),
    }, ctx.toolsDir);
    if (scenario.tool === "wal-g daemon") daemon = await startDaemon(ctx, root, cluster.data, env);
    const callsFile = join(root, "calls.time");
    configure(cluster, {
      // %% because PostgreSQL expands % sequences in restore_command.
      restore_command: `${TIME_BIN} -f '%%e %%M' -a -o ${callsFile} ${restoreCommand(ctx, scenario, daemon)}`,
      archive_mode: "off", hot_standby: "on", shared_buffers: "128MB", max_wal_size: "4GB",
    });
    // Every tool starts with the same recently freed memory (lib/page-pool.mjs): twice what the N restored segments fill.
    warmPagePool(ctx.workDir, 2 * data.segments.length * (16 << 20));
    const sampler = sampleMarked(scenarioEnv);
    const started = Date.now();
    await start(cluster, env, { wait: false });
    const readyAt = await waitForPromotion(cluster);
    const helperRssKb = sampler.stop();
    const result = await verify(cluster, data);
    const calls = readWrapperFile(readFileSync(callsFile, "utf8"));
    return {
      wallMs: readyAt - started, ...result,
      callMs: { median: median(calls.map((c) => c.seconds * 1000)) },
      peakRssKb: Math.max(...calls.map((c) => c.kb), ...Object.values(helperRssKb)),
      helperRssKb,
    };
  } finally {
    if (isRunning(cluster)) await stop(cluster, "immediate").catch(() => undefined);
    daemon?.stop();
    killMarked(`WALNATIVE_BENCH_SCENARIO=${scenarioEnv.WALNATIVE_BENCH_SCENARIO}`, 3000);
    // The server log stays in the work dir (kept with --keep) for a look at each restore call's timing.
    try {
      copyFileSync(cluster.logFile, join(ctx.workDir, `restore-${scenario.key}.log`));
      copyFileSync(join(cluster.data, "pg_wal/.wal-native/prefetch/worker.log"), join(ctx.workDir, `restore-${scenario.key}.worker.log`));
    } catch {
      // no log: the server never started
    }
    rmSync(root, { recursive: true, force: true });
  }
}

function restoreCommand(ctx, scenario, daemon) {
  switch (scenario.tool) {
    case "cp": return `cp ${scenario.cpDir}/%f %p`;
    case "wal-g": return `${ctx.tools.walg} wal-fetch %f %p`;
    case "ours": return `${ctx.tools.walRestore} %f %p`;
    case "wal-g daemon": return `${ctx.tools.daemonClient} ${daemon.socket} wal-fetch %f %p`;
    default: throw new Error(`unknown restore tool ${scenario.tool}`);
  }
}

/** Polls the server log until the promoted server is ready; returns that line's timestamp (epoch ms). */
async function waitForPromotion(cluster, timeoutMs = 20 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = readFileSync(cluster.logFile, "utf8").split("\n");
    const ready = lines.find((line) => READY.test(line));
    if (ready) return logTimestamp(ready) ?? Date.now();
    const failed = lines.find((line) => FAILED.test(line));
    if (failed) throw new Error(`recovery failed: ${failed}\n${logTail(cluster)}`);
    if (Date.now() > deadline) throw new Error(`recovery did not finish in ${timeoutMs / 1000} s\n${logTail(cluster)}`);
    await sleep(100);
  }
}

async function verify(cluster, data) {
  const inRecovery = await psql(cluster, "select pg_is_in_recovery()");
  if (inRecovery !== "f") throw new Error(`pg_is_in_recovery() = ${inRecovery} after promotion`);
  const log = readFileSync(cluster.logFile, "utf8");
  const restored = new Set([...log.matchAll(/restored log file "([0-9A-F]{24})" from archive/g)].map((m) => m[1]));
  const missing = data.segments.filter((name) => !restored.has(name));
  if (missing.length > 0) {
    throw new Error(`recovery restored ${restored.size} segments; missing ${missing.length}, e.g. ${missing[0]}\n${logTail(cluster)}`);
  }
  const redoDone = /redo done at (\S+)/.exec(log)?.[1];
  return { restored: restored.size, redoDone };
}

/** The cp floor's local archive: hard links to the cached segments (copies across file systems). */
export function prepareCpArchive(ctx, data) {
  const dir = mkdirForPostgres(join(ctx.workDir, "cp-archive"));
  for (const name of data.segments) {
    try {
      linkSync(join(data.segmentsDir, name), join(dir, name));
    } catch {
      copyFileSync(join(data.segmentsDir, name), join(dir, name));
    }
  }
  chownTreeToPostgres(dir);
  return dir;
}
