// Restore scenario: a real PostgreSQL 15 recovery from the cached base backup through the N archived
// segments, to the end of the archive (no target: recovery ends when the next segment is not found, then
// the server promotes). Wall time runs from `pg_ctl start` to the log line of the promoted server
// "database system is ready to accept connections" (millisecond UTC log timestamps), after which
// pg_is_in_recovery() must be false and every one of the N segments must have been restored.
// The physical limit ("pg_wal"): the same base backup with all N segments already in pg_wal and no
// recovery.signal, so that PostgreSQL replays them in crash recovery from the backup's checkpoint without any
// restore_command; it must end at the same LSN as the recoveries.
import { chmodSync, copyFileSync, linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { copyTree } from "./archive.mjs";
import { scenarioCgroup } from "./lib/cgroup.mjs";
import { killMarked } from "./lib/cleanup.mjs";
import { setUp, toolEnv } from "./lib/peers.mjs";
import { clusterAt, configure, freePort, isRunning, logTail, logTimestamp, psql, start, stop } from "./lib/pg.mjs";
import { chownTreeToPostgres, median, mkdirForPostgres } from "./lib/proc.mjs";
import { cpuFacts, readWrapperFile } from "./lib/meter-facts.mjs";
import { meterPrefix, peakOf, sampleMarked } from "./lib/rss.mjs";
import { flushDirtyPages, warmPagePool } from "./lib/page-pool.mjs";

const READY = /database system is ready to accept connections\s*$/;
const FAILED = /\b(FATAL|PANIC):/;

/**
 * One recovery. scenario: { key, tool: "cp"|"pg_wal"|"wal-g"|"ours"|"wal-g daemon"|"pgbackrest", codec, endpoint?, prefix?, cpDir? }.
 * Returns { wallMs, restored, redoDone, callMs: { median }, cpuMs, cpuMsPerSegment, peakRssKb, peakWhere, helperRssKb }.
 */
export async function restoreRun(ctx, data, scenario) {
  const root = mkdirForPostgres(join(ctx.workDir, `restore-${scenario.key}`));
  const cluster = clusterAt(root, await freePort());
  const scenarioEnv = { WALNATIVE_BENCH_SCENARIO: `${ctx.runId}-restore-${scenario.key}` };
  const cgroup = scenarioCgroup(ctx.cgroupRun, `restore-${scenario.key}`);
  const limit = scenario.tool === "pg_wal";
  let tool;
  try {
    copyTree(data.base, cluster.data);
    if (limit) {
      // Copies, not links: PostgreSQL recycles and rewrites segments in pg_wal.
      for (const name of data.segments) copyFileSync(join(data.segmentsDir, name), join(cluster.data, "pg_wal", name));
    } else writeFileSync(join(cluster.data, "recovery.signal"), "");
    chownTreeToPostgres(cluster.data);
    chmodSync(cluster.data, 0o700);
    const remote = !["cp", "pg_wal"].includes(scenario.tool);
    const env = toolEnv(ctx, { scenarioEnv, endpoint: remote ? scenario.endpoint : undefined, prefix: scenario.prefix, codec: scenario.codec });
    const callsFile = join(root, "calls.time");
    writeFileSync(callsFile, "");
    chownTreeToPostgres(callsFile);
    if (!limit) tool = await setUp(ctx, scenario.tool, { root, dataDir: cluster.data, env, cgroup, stanza: false, ...scenario });
    configure(cluster, {
      // %% because PostgreSQL expands % sequences in restore_command.
      ...(limit ? {} : { restore_command: `${meterPrefix(ctx.tools, callsFile, cgroup)} ${tool.restore}` }),
      archive_mode: "off", hot_standby: "on", shared_buffers: "128MB", max_wal_size: "4GB",
    });
    // The floor reads its local copies from the page cache, as the other tools find MinIO's recently written objects.
    if (scenario.tool === "cp") for (const name of data.segments) readFileSync(join(scenario.cpDir, name));
    // The copies of the set-up are on disk before the clock starts, and every tool starts with the same recently
    // freed memory (lib/page-pool.mjs): twice what the N restored segments fill.
    flushDirtyPages();
    warmPagePool(ctx.workDir, 2 * data.segments.length * (16 << 20));
    const sampler = sampleMarked(scenarioEnv, 250, cgroup);
    const cpuBefore = cgroup.usageNs();
    const systemBefore = cgroup.systemMs();
    const started = Date.now();
    await start(cluster, env, { wait: false });
    const readyAt = await waitForPromotion(cluster);
    const cpuNs = cgroup.usageNs() - cpuBefore;
    const systemMs = cgroup.systemMs() - systemBefore;
    const helperRssKb = sampler.stop();
    const result = await verify(cluster, data, limit);
    const calls = readWrapperFile(readFileSync(callsFile, "utf8"));
    return {
      wallMs: readyAt - started, ...result, n: data.segments.length,
      callMs: { median: median(calls.map((c) => c.seconds * 1000)) },
      ...(limit ? {} : cpuFacts(cpuNs, data.segments.length, { calls, systemMs })),
      ...peakOf(calls, helperRssKb), helperRssKb,
    };
  } finally {
    if (isRunning(cluster)) await stop(cluster, "immediate").catch(() => undefined);
    tool?.stop();
    killMarked(`WALNATIVE_BENCH_SCENARIO=${scenarioEnv.WALNATIVE_BENCH_SCENARIO}`, 300);
    // The server log stays in the work dir (kept with --keep) for a look at each restore call's timing.
    try {
      copyFileSync(cluster.logFile, join(ctx.workDir, `restore-${scenario.key}.log`));
      copyFileSync(join(cluster.data, "pg_wal/.wal-native/prefetch/worker.log"), join(ctx.workDir, `restore-${scenario.key}.worker.log`));
    } catch {
      // no log: the server never started, or a peer
    }
    cgroup.remove();
    rmSync(root, { recursive: true, force: true });
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
    await sleep(50);
  }
}

async function verify(cluster, data, limit) {
  const inRecovery = await psql(cluster, "select pg_is_in_recovery()");
  if (inRecovery !== "f") throw new Error(`pg_is_in_recovery() = ${inRecovery} after promotion`);
  const log = readFileSync(cluster.logFile, "utf8");
  const redoDone = /redo done at (\S+)/.exec(log)?.[1];
  if (limit) {
    // Crash recovery names no restored files: it must have replayed into the last segment.
    const last = data.segments.at(-1);
    const reached = redoDone && (await psql(cluster, `select pg_walfile_name('${redoDone}'::pg_lsn)`)).slice(8);
    if (!reached || reached < last.slice(8)) throw new Error(`crash recovery ended at ${redoDone ?? "?"}, before segment ${last}\n${logTail(cluster)}`);
    return { restored: 0, redoDone };
  }
  const restored = new Set([...log.matchAll(/restored log file "([0-9A-F]{24})" from archive/g)].map((m) => m[1]));
  const missing = data.segments.filter((name) => !restored.has(name));
  if (missing.length > 0) {
    throw new Error(`recovery restored ${restored.size} segments; missing ${missing.length}, e.g. ${missing[0]}\n${logTail(cluster)}`);
  }
  return { restored: restored.size, redoDone };
}

/** The cp floor's local archive: hard links to the cached segments (copies across file systems). */
export function prepareCpArchive(ctx, data) {
  const dir = mkdirForPostgres(join(ctx.workDir, `cp-archive-${data.segments.length}`));
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
